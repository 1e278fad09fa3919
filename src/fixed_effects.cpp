// Absorbed fixed effects: (weighted) demeaning of columns within one or more
// fixed effects, and the estimated effects themselves.
//
// One fixed effect: one exact pass (subtract the weighted group means).
// Two or more: the column is first centred within the first effect (exact);
// then the coefficients of the other effects are found by Gauss-Seidel sweeps
// (alternating projections written in the space of the coefficients, as
// fixest does) accelerated by Irons and Tuck's extrapolation. A column stops
// when no coefficient moved by more than `tol` times the root mean square of
// the column centred within the first effect: a relative, scale- and
// shift-free criterion.
//
// Every column is demeaned on its own, by one fixed sequence of operations,
// so the result does not depend on the number of threads. The workers use
// no R API; the main thread checks for interrupts between chunks of sweeps.
#include "cluster_stats.h"  // optional_column()
#include <RcppParallel.h>
#include <algorithm>
#include <cmath>
#include <vector>

namespace {

struct Effects {
  std::size_t n = 0;
  std::vector<const int*> code;          // 0-based level of each row, per effect
  std::vector<int> L;                    // levels per effect
  std::vector<std::vector<double>> W;    // summed weights per level
  const double* w = nullptr;             // row weights, or null
  std::size_t coef_size = 0;             // levels of effects 2..Q
  std::vector<std::size_t> offset;       // where effect j (j >= 1) starts in the state
};

Effects make_effects(const Rcpp::List& codes, const Rcpp::IntegerVector& nlevels,
                     const double* w, std::size_t n) {
  Effects fe;
  fe.n = n;
  fe.w = w;
  const int Q = codes.size();
  fe.offset.assign(Q, 0);
  for (int j = 0; j < Q; ++j) {
    Rcpp::IntegerVector c = codes[j];
    if (static_cast<std::size_t>(c.size()) != n) Rcpp::stop("internal error: fixed-effect codes of the wrong length");
    fe.code.push_back(c.begin());
    fe.L.push_back(nlevels[j]);
    std::vector<double> Wj(nlevels[j], 0.0);
    for (std::size_t i = 0; i < n; ++i) Wj[c[i]] += w ? w[i] : 1.0;
    fe.W.push_back(Wj);
    if (j >= 1) {
      fe.offset[j] = fe.coef_size;
      fe.coef_size += nlevels[j];
    }
  }
  return fe;
}

// The state of one column: its values centred within the first effect (r),
// the sums of w r by level of effects 2..Q (Sr), the current coefficients of
// effects 2..Q (beta) and the work buffers.
struct ColumnState {
  std::vector<double> r, Sr, beta, alpha1;
  double scale = 0;
  double spread = 0;    // weighted root mean square of x about its mean
  double left = 0;      // weighted root mean square of the demeaned column
  int iterations = 0;
  bool done = false;
  double reached = 0;   // last relative change
};

// alpha_j = (S_j - sum over rows of w * (other effects)) / W_j, in turn for
// j = 1..Q (Gauss-Seidel); maps beta (effects 2..Q) to its next value `out`.
void sweep(const Effects& fe, const ColumnState& s, const std::vector<double>& beta,
           std::vector<double>& alpha1, std::vector<double>& out) {
  const std::size_t n = fe.n;
  const int Q = static_cast<int>(fe.code.size());
  const double* w = fe.w;
  // effect 1: its sums of w r are zero (r is centred within it)
  std::fill(alpha1.begin(), alpha1.end(), 0.0);
  const int* c1 = fe.code[0];
  if (Q == 2) {  // the common case, without the loops over other effects
    const int* c2 = fe.code[1];
    if (w) for (std::size_t i = 0; i < n; ++i) alpha1[c1[i]] -= w[i] * beta[c2[i]];
    else for (std::size_t i = 0; i < n; ++i) alpha1[c1[i]] -= beta[c2[i]];
    for (int l = 0; l < fe.L[0]; ++l) alpha1[l] /= fe.W[0][l];
    out.assign(s.Sr.begin(), s.Sr.end());
    if (w) for (std::size_t i = 0; i < n; ++i) out[c2[i]] -= w[i] * alpha1[c1[i]];
    else for (std::size_t i = 0; i < n; ++i) out[c2[i]] -= alpha1[c1[i]];
    for (int l = 0; l < fe.L[1]; ++l) out[l] /= fe.W[1][l];
    return;
  }
  for (std::size_t i = 0; i < n; ++i) {
    double other = 0;
    for (int k = 1; k < Q; ++k) other += beta[fe.offset[k] + fe.code[k][i]];
    alpha1[c1[i]] -= (w ? w[i] : 1.0) * other;
  }
  for (int l = 0; l < fe.L[0]; ++l) alpha1[l] /= fe.W[0][l];
  out = beta;
  for (int j = 1; j < Q; ++j) {
    const std::size_t off = fe.offset[j];
    const int* cj = fe.code[j];
    for (int l = 0; l < fe.L[j]; ++l) out[off + l] = s.Sr[off + l];
    for (std::size_t i = 0; i < n; ++i) {
      double other = alpha1[c1[i]];
      for (int k = 1; k < Q; ++k) if (k != j) other += out[fe.offset[k] + fe.code[k][i]];
      out[off + cj[i]] -= (w ? w[i] : 1.0) * other;
    }
    for (int l = 0; l < fe.L[j]; ++l) out[off + l] /= fe.W[j][l];
  }
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

// Up to `steps` accelerated iterations of one column (each counts the sweeps).
void iterate(const Effects& fe, ColumnState& s, int steps, int maxit, double tol) {
  std::vector<double> GX(fe.coef_size), GGX(fe.coef_size);
  const double limit = tol * s.scale;
  for (int step = 0; step < steps && !s.done; ++step) {
    if (s.iterations >= maxit) return;
    sweep(fe, s, s.beta, s.alpha1, GX);
    ++s.iterations;
    double change = max_abs_diff(GX, s.beta);
    s.reached = change / s.scale;
    if (change <= limit) { s.beta.swap(GX); s.done = true; return; }
    if (s.iterations >= maxit) { s.beta.swap(GX); return; }
    sweep(fe, s, GX, s.alpha1, GGX);
    ++s.iterations;
    change = max_abs_diff(GGX, GX);
    s.reached = change / s.scale;
    if (change <= limit) { s.beta.swap(GGX); s.done = true; return; }
    // Irons-Tuck: X' = GGX - (dGX . d2X / d2X . d2X) dGX
    double num = 0, den = 0;
    for (std::size_t a = 0; a < fe.coef_size; ++a) {
      const double d1 = GGX[a] - GX[a];
      const double d2 = d1 - (GX[a] - s.beta[a]);
      num += d1 * d2;
      den += d2 * d2;
    }
    if (den > 0 && std::isfinite(num / den)) {
      const double coef = num / den;
      for (std::size_t a = 0; a < fe.coef_size; ++a) s.beta[a] = GGX[a] - coef * (GGX[a] - GX[a]);
    } else {
      s.beta.swap(GGX);
    }
  }
}

// One pass: the weighted means of x by level of the first effect (m) and the
// spread of x (its weighted standard deviation, taken about a data value so
// that a large mean does not cancel it away); `sw` gets the sum of weights.
std::vector<double> first_effect_means(const Effects& fe, const double* x, double& spread,
                                       double& sw) {
  const std::size_t n = fe.n;
  const int* c = fe.code[0];
  const double* w = fe.w;
  std::vector<double> m(fe.L[0], 0.0);
  const double x0 = n ? x[0] : 0.0;
  double s1 = 0, s2 = 0;
  sw = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double wi = w ? w[i] : 1.0, dx = x[i] - x0;
    m[c[i]] += wi * x[i];
    sw += wi;
    s1 += wi * dx;
    s2 += wi * dx * dx;
  }
  const double mean_dx = s1 / sw;
  spread = std::sqrt(std::max(s2 / sw - mean_dx * mean_dx, 0.0));
  for (int l = 0; l < fe.L[0]; ++l) m[l] /= fe.W[0][l];
  return m;
}

// Two passes: the group sums of the first effect with the (shifted) sums for
// the spread of x; then r = x centred within the first effect, with its root
// mean square (the scale of the stopping rule) and its sums by level of the
// other effects.
void start_column(const Effects& fe, const double* x, ColumnState& s) {
  const std::size_t n = fe.n;
  const int Q = static_cast<int>(fe.code.size());
  const int* c1 = fe.code[0];
  const double* w = fe.w;
  double sw;
  const std::vector<double> m = first_effect_means(fe, x, s.spread, sw);
  s.r.resize(n);
  s.Sr.assign(fe.coef_size, 0.0);
  double ss = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double r = x[i] - m[c1[i]];
    s.r[i] = r;
    ss += r * r;
    const double wr = (w ? w[i] : 1.0) * r;
    for (int j = 1; j < Q; ++j) s.Sr[fe.offset[j] + fe.code[j][i]] += wr;
  }
  s.scale = std::sqrt(ss / static_cast<double>(n));
  if (Q == 1 || !(s.scale > 0)) { s.done = true; return; }
  s.beta.assign(fe.coef_size, 0.0);
  s.alpha1.assign(fe.L[0], 0.0);
}

// alpha_1 for the current beta: (- sum of w * (other effects)) / W_1.
void first_effect(const Effects& fe, ColumnState& s) {
  const std::size_t n = fe.n;
  const int Q = static_cast<int>(fe.code.size());
  std::fill(s.alpha1.begin(), s.alpha1.end(), 0.0);
  const int* c1 = fe.code[0];
  for (std::size_t i = 0; i < n; ++i) {
    double other = 0;
    for (int k = 1; k < Q; ++k) other += s.beta[fe.offset[k] + fe.code[k][i]];
    s.alpha1[c1[i]] -= (fe.w ? fe.w[i] : 1.0) * other;
  }
  for (int l = 0; l < fe.L[0]; ++l) s.alpha1[l] /= fe.W[0][l];
}

// r minus the effects of the current coefficients, into out, with the root
// mean square of the result.
void finish_column(const Effects& fe, ColumnState& s, double* out) {
  const std::size_t n = fe.n;
  const int Q = static_cast<int>(fe.code.size());
  const bool none = Q == 1 || !(s.scale > 0);
  if (!none) first_effect(fe, s);
  double sw = 0, ss = 0;
  for (std::size_t i = 0; i < n; ++i) {
    double e = s.r[i];
    if (!none) {
      e -= s.alpha1[fe.code[0][i]];
      for (int k = 1; k < Q; ++k) e -= s.beta[fe.offset[k] + fe.code[k][i]];
    }
    out[i] = e;
    const double wi = fe.w ? fe.w[i] : 1.0;
    sw += wi;
    ss += wi * e * e;
  }
  s.left = std::sqrt(ss / sw);
  std::vector<double>().swap(s.r);
}

// One effect: x minus its weighted group means, straight into out (two
// passes), with the spread of x (about a data value, then its mean) and of
// the result.
void demean_one(const Effects& fe, const double* x, ColumnState& s, double* out) {
  const std::size_t n = fe.n;
  const int* c = fe.code[0];
  const double* w = fe.w;
  double sw;
  const std::vector<double> m = first_effect_means(fe, x, s.spread, sw);
  double ss = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double e = x[i] - m[c[i]];
    out[i] = e;
    ss += (w ? w[i] : 1.0) * e * e;
  }
  s.left = std::sqrt(ss / sw);
  s.done = true;
}

struct DemeanWorker : public RcppParallel::Worker {
  const Effects& fe;
  std::vector<ColumnState>& states;
  const std::vector<const double*>& x;
  const std::vector<int>& todo;
  int phase, steps, maxit;
  double tol;
  std::vector<double*>& out;
  const int* rows;  // 1-based rows of x to use (singletons dropped), or null
  DemeanWorker(const Effects& fe, std::vector<ColumnState>& states,
               const std::vector<const double*>& x, const std::vector<int>& todo, int phase,
               int steps, int maxit, double tol, std::vector<double*>& out, const int* rows)
    : fe(fe), states(states), x(x), todo(todo), phase(phase), steps(steps), maxit(maxit),
      tol(tol), out(out), rows(rows) {}
  void operator()(std::size_t begin, std::size_t end) {
    std::vector<double> gathered;
    for (std::size_t t = begin; t < end; ++t) {
      const int c = todo[t];
      const double* xc = x[c];
      if (phase == 0 && rows) {
        gathered.resize(fe.n);
        for (std::size_t i = 0; i < fe.n; ++i) gathered[i] = xc[rows[i] - 1];
        xc = gathered.data();
      }
      if (fe.code.size() == 1) {
        if (phase == 0) demean_one(fe, xc, states[c], out[c]);
      } else if (phase == 0) start_column(fe, xc, states[c]);
      else if (phase == 1) iterate(fe, states[c], steps, maxit, tol);
      else finish_column(fe, states[c], out[c]);
    }
  }
};

}  // namespace

// Demeans every column of `columns` (a list of double vectors of length n)
// within the fixed effects `codes` (a list of 0-based integer codes, with
// `nlevels` levels each), weighted by `w` (NULL or a double vector). Returns
// the demeaned columns, and per column the sweeps used, whether it converged
// and the relative change reached.
// [[Rcpp::export]]
Rcpp::List cpp_demean(Rcpp::List columns, Rcpp::List codes, Rcpp::IntegerVector nlevels,
                      Rcpp::Nullable<Rcpp::NumericVector> w, double tol, int maxit,
                      int threads, Rcpp::Nullable<Rcpp::IntegerVector> rows = R_NilValue) {
  const int m = columns.size();
  std::size_t n = 0, n_in = 0;
  Rcpp::IntegerVector rv;
  const int* rp = nullptr;
  if (rows.isNotNull()) {
    rv = Rcpp::IntegerVector(rows.get());
    rp = rv.begin();
  }
  std::vector<const double*> x(m);
  Rcpp::List result(m);
  std::vector<double*> out(m);
  for (int c = 0; c < m; ++c) {
    Rcpp::NumericVector col = columns[c];
    if (c == 0) {
      n_in = col.size();
      n = rp ? static_cast<std::size_t>(rv.size()) : n_in;
    }
    if (static_cast<std::size_t>(col.size()) != n_in) Rcpp::stop("internal error: columns of different lengths");
    x[c] = col.begin();
    Rcpp::NumericVector o(Rcpp::no_init(n));
    out[c] = o.begin();
    result[c] = o;
  }
  Rcpp::NumericVector wv;
  const double* wp = clusterab::optional_column(w, wv);
  if (rp) for (std::size_t i = 0; i < n; ++i)
    if (rp[i] < 1 || static_cast<std::size_t>(rp[i]) > n_in) Rcpp::stop("internal error: row out of range");
  Effects fe = make_effects(codes, nlevels, wp, n);
  std::vector<ColumnState> states(m);
  std::vector<int> all(m);
  for (int c = 0; c < m; ++c) all[c] = c;
  if (threads < 1) threads = 1;
  {
    DemeanWorker start(fe, states, x, all, 0, 0, maxit, tol, out, rp);
    RcppParallel::parallelFor(0, m, start, 1, threads);
  }
  Rcpp::checkUserInterrupt();
  // chunks of accelerated steps, interrupts checked between them
  const int steps = 10;
  while (true) {
    std::vector<int> todo;
    for (int c = 0; c < m; ++c) if (!states[c].done && states[c].iterations < maxit) todo.push_back(c);
    if (todo.empty()) break;
    DemeanWorker it(fe, states, x, todo, 1, steps, maxit, tol, out, nullptr);
    RcppParallel::parallelFor(0, todo.size(), it, 1, threads);
    Rcpp::checkUserInterrupt();
  }
  {
    DemeanWorker finish(fe, states, x, all, 2, 0, maxit, tol, out, nullptr);
    RcppParallel::parallelFor(0, m, finish, 1, threads);
  }
  Rcpp::IntegerVector iterations(m);
  Rcpp::LogicalVector converged(m);
  Rcpp::NumericVector reached(m);
  Rcpp::NumericVector scale(m), spread(m), left(m);
  for (int c = 0; c < m; ++c) {
    spread[c] = states[c].spread;
    left[c] = states[c].left;
    iterations[c] = states[c].iterations;
    converged[c] = states[c].done;
    reached[c] = states[c].reached;
    scale[c] = states[c].scale;
  }
  return Rcpp::List::create(Rcpp::Named("columns") = result,
                            Rcpp::Named("iterations") = iterations,
                            Rcpp::Named("converged") = converged,
                            Rcpp::Named("reached") = reached,
                            Rcpp::Named("scale") = scale,
                            Rcpp::Named("spread") = spread,
                            Rcpp::Named("left") = left);
}

// The fixed effects alpha_j (one vector per effect) whose sum over effects
// reproduces `d`, a vector that lies in the span of the effects' dummies
// (the fitted fixed-effect part y - X b - residuals): weighted group means for
// one effect; Gauss-Seidel sweeps for more, to relative change `tol`.
// Not normalised (the R side sets the references).
// [[Rcpp::export]]
Rcpp::List cpp_fixef_coefs(Rcpp::NumericVector d, Rcpp::List codes, Rcpp::IntegerVector nlevels,
                           Rcpp::Nullable<Rcpp::NumericVector> w, double tol, int maxit) {
  const std::size_t n = d.size();
  Rcpp::NumericVector wv;
  const double* wp = clusterab::optional_column(w, wv);
  Effects fe = make_effects(codes, nlevels, wp, n);
  const int Q = codes.size();
  ColumnState s;
  // d itself, not centred: the first effect takes its group means
  std::vector<double> mean1(fe.L[0], 0.0);
  for (std::size_t i = 0; i < n; ++i) mean1[fe.code[0][i]] += (wp ? wp[i] : 1.0) * d[i];
  for (int l = 0; l < fe.L[0]; ++l) mean1[l] /= fe.W[0][l];
  start_column(fe, d.begin(), s);
  int iterations = 0;
  bool converged = true;
  if (Q > 1 && !s.done) {
    while (!s.done && s.iterations < maxit) {
      iterate(fe, s, 10, maxit, tol);
      Rcpp::checkUserInterrupt();
    }
    converged = s.done;
    iterations = s.iterations;
    std::vector<double> next(fe.coef_size);
    sweep(fe, s, s.beta, s.alpha1, next);
  }
  Rcpp::List out(Q);
  Rcpp::NumericVector a1(fe.L[0]);
  for (int l = 0; l < fe.L[0]; ++l) a1[l] = mean1[l] + (Q > 1 && s.alpha1.size() ? s.alpha1[l] : 0.0);
  out[0] = a1;
  for (int j = 1; j < Q; ++j) {
    Rcpp::NumericVector aj(fe.L[j]);
    for (int l = 0; l < fe.L[j]; ++l) aj[l] = s.beta.size() ? s.beta[fe.offset[j] + l] : 0.0;
    out[j] = aj;
  }
  return Rcpp::List::create(Rcpp::Named("effects") = out, Rcpp::Named("iterations") = iterations,
                            Rcpp::Named("converged") = converged);
}

// The number of connected components of the bipartite graph whose nodes are
// the levels of two fixed effects, linked when they share a row: the number
// of redundant dummies of the second effect given the first (lm()'s rank
// deficiency), as fixest's exact count of references.
// [[Rcpp::export]]
int cpp_fixef_components(Rcpp::IntegerVector c1, Rcpp::IntegerVector c2, int L1, int L2) {
  std::vector<int> parent(static_cast<std::size_t>(L1) + L2);
  for (std::size_t a = 0; a < parent.size(); ++a) parent[a] = static_cast<int>(a);
  auto find = [&](int a) {
    while (parent[a] != a) {
      parent[a] = parent[parent[a]];
      a = parent[a];
    }
    return a;
  };
  const std::size_t n = c1.size();
  int components = L1 + L2;
  for (std::size_t i = 0; i < n; ++i) {
    const int a = find(c1[i]), b = find(L1 + c2[i]);
    if (a != b) {
      parent[a] = b;
      --components;
    }
  }
  return components;
}

// Is every level of the fixed effect `fe` (0-based codes, L levels) within
// one cluster of `cl` (0-based codes)?
// [[Rcpp::export]]
bool cpp_nested_in(Rcpp::IntegerVector fe, Rcpp::IntegerVector cl, int L) {
  std::vector<int> first(L, -1);
  const std::size_t n = fe.size();
  for (std::size_t i = 0; i < n; ++i) {
    int& f = first[fe[i]];
    if (f < 0) f = cl[i];
    else if (f != cl[i]) return false;
  }
  return true;
}

// Drops, repeatedly, the rows alone in their level of some fixed effect
// (singletons) and recodes the levels that are left to 0..L-1 in order of
// first appearance. `codes` are 0-based codes with `nlevels` levels. Returns
// the new codes and levels and the rows kept (1-based; NULL when none was
// dropped).
// [[Rcpp::export]]
Rcpp::List cpp_fixef_prepare(Rcpp::List codes, Rcpp::IntegerVector nlevels) {
  const int Q = codes.size();
  std::vector<const int*> c(Q);
  std::size_t n = 0;
  for (int j = 0; j < Q; ++j) {
    Rcpp::IntegerVector cj = codes[j];
    c[j] = cj.begin();
    n = cj.size();
  }
  // counts per level; a row is dropped when one of its levels has count 1,
  // and dropping it lowers the counts of its other levels (which may then
  // become singletons: repeat until none is left)
  std::vector<std::vector<int>> count(Q);
  for (int j = 0; j < Q; ++j) {
    count[j].assign(nlevels[j], 0);
    const int* cj = c[j];
    for (std::size_t i = 0; i < n; ++i) ++count[j][cj[i]];
  }
  std::vector<unsigned char> gone(n, 0);
  std::size_t removed = 0;
  bool changed = true;
  while (changed) {
    changed = false;
    for (std::size_t i = 0; i < n; ++i) {
      if (gone[i]) continue;
      bool single = false;
      for (int j = 0; j < Q && !single; ++j) single = count[j][c[j][i]] == 1;
      if (!single) continue;
      gone[i] = 1;
      ++removed;
      for (int j = 0; j < Q; ++j) --count[j][c[j][i]];
      changed = Q > 1;  // with one effect no new singleton can appear
    }
  }
  const bool dropped = removed > 0;
  std::vector<int> rows;
  if (dropped) {
    rows.reserve(n - removed);
    for (std::size_t i = 0; i < n; ++i) if (!gone[i]) rows.push_back(static_cast<int>(i));
  }
  const std::size_t m = dropped ? rows.size() : n;
  Rcpp::List out_codes(Q);
  Rcpp::IntegerVector levels(Q);
  for (int j = 0; j < Q; ++j) {
    if (!dropped) {
      out_codes[j] = codes[j];
      levels[j] = nlevels[j];
      continue;
    }
    std::vector<int> map(nlevels[j], -1);
    Rcpp::IntegerVector cj(m);
    int next = 0;
    for (std::size_t t = 0; t < m; ++t) {
      int& slot = map[c[j][dropped ? rows[t] : t]];
      if (slot < 0) slot = next++;
      cj[t] = slot;
    }
    out_codes[j] = cj;
    levels[j] = next;
  }
  SEXP keep = R_NilValue;
  Rcpp::IntegerVector kv;
  if (dropped) {
    kv = Rcpp::IntegerVector(rows.size());
    for (std::size_t t = 0; t < rows.size(); ++t) kv[t] = rows[t] + 1;
    keep = kv;
  }
  return Rcpp::List::create(Rcpp::Named("codes") = out_codes, Rcpp::Named("levels") = levels,
                            Rcpp::Named("keep") = keep,
                            Rcpp::Named("singletons") = static_cast<int>(n - m));
}

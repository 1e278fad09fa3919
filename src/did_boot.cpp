// The difference-in-differences bootstrap: every replicate is a sum of
// per-cluster (or per-row) cross-products followed by a small solve for the
// group:period coefficient, so a cluster replicate costs O(G p^2) and never
// touches the rows.
#include "cluster_stats.h"
#include "resampling.h"
#include <cmath>
#include <limits>
#include <vector>

using namespace clusterab;

namespace {

const double not_estimable = std::numeric_limits<double>::quiet_NaN();

// The group:period coefficient of least squares from summed cross-products S
// (packed, of z = (1, x - shift_x, y - shift_y)). The design columns are
// taken in `design` order, the interaction last, as lm() orders them. Columns
// are aliased as lm() decides it (a pivot-free Cholesky drops a column whose
// residual norm is below tol times its norm before centring), so a replicate
// in which a covariate is constant drops it, as lm() would. NaN when the
// interaction itself is aliased (an empty cell of the 2x2).
struct DidSolver {
  std::vector<int> design;    // positions in z of the design columns
  std::vector<double> shift;  // shift of each position of z (0 for the intercept)
  int y_index;
  double tol;

  double operator()(const double* S) const {
    const std::size_t p = design.size();
    std::vector<double> L(p * p, 0.0);  // row a: row a of the Cholesky factor of the kept columns
    std::vector<double> c(p, 0.0);      // L^-1 X'y over the kept columns
    std::vector<double> l(p, 0.0);
    std::vector<int> kept(p, 0);
    std::size_t k = 0;
    bool last_kept = false;
    for (std::size_t j = 0; j < p; ++j) {
      const int dj = design[j];
      const double sjj = S[packed_index(dj, dj)];
      const double norm2 = sjj + 2.0 * shift[dj] * S[packed_index(0, dj)] +
                           shift[dj] * shift[dj] * S[0];
      double d = sjj;
      double cy = S[packed_index(dj, y_index)];
      for (std::size_t a = 0; a < k; ++a) {
        double v = S[packed_index(kept[a], dj)];
        for (std::size_t b = 0; b < a; ++b) v -= L[a * p + b] * l[b];
        l[a] = v / L[a * p + a];
        d -= l[a] * l[a];
        cy -= l[a] * c[a];
      }
      last_kept = norm2 > 0 && d > tol * tol * norm2;
      if (!last_kept) continue;
      for (std::size_t a = 0; a < k; ++a) L[k * p + a] = l[a];
      L[k * p + k] = std::sqrt(d);
      c[k] = cy / L[k * p + k];
      kept[k] = dj;
      ++k;
    }
    if (!last_kept) return not_estimable;
    // beta = L'^-1 c; the interaction is the last kept column
    return c[k - 1] / L[(k - 1) * p + (k - 1)];
  }
};

DidSolver make_solver(const Rcpp::IntegerVector& design, const Rcpp::NumericVector& shift,
                      int y_index, double tol) {
  DidSolver s;
  s.design.assign(design.begin(), design.end());
  s.shift.assign(shift.begin(), shift.end());
  s.y_index = y_index;
  s.tol = tol;
  if (static_cast<int>(s.shift.size()) != y_index + 1)
    Rcpp::stop("internal error: shift must have one value per position of z");
  for (int d : s.design)
    if (d < 0 || d >= y_index) Rcpp::stop("internal error: design position out of range");
  return s;
}

// Cluster bootstrap replicate r: G clusters drawn with replacement, their
// cross-products summed.
struct ClusterReplicate {
  const double* moments;  // K x G, packed per cluster
  std::size_t K, G, begin;
  std::uint64_t seed;
  const DidSolver& solve;
  RcppParallel::RVector<double> out;

  void operator()(std::size_t r) {
    ReplicateRng rng(seed, r);
    std::vector<double> S(K, 0.0);
    for (std::size_t draw = 0; draw < G; ++draw) {
      const double* Sg = moments + rng.below(G) * K;
      for (std::size_t k = 0; k < K; ++k) S[k] += Sg[k];
    }
    out[r - begin] = solve(S.data());
  }
};

// Row (iid) bootstrap replicate r without covariates: n rows drawn with
// replacement; the estimate is the 2x2 difference of cell means, which is
// the interaction coefficient of the saturated model.
struct CellReplicate {
  const double* y;    // centred outcome
  const int* cell;    // 2 * group + period
  std::size_t n, begin;
  std::uint64_t seed;
  RcppParallel::RVector<double> out;

  void operator()(std::size_t r) {
    ReplicateRng rng(seed, r);
    double count[4] = {0, 0, 0, 0}, sum[4] = {0, 0, 0, 0};
    for (std::size_t draw = 0; draw < n; ++draw) {
      const std::size_t i = rng.below(n);
      count[cell[i]] += 1.0;
      sum[cell[i]] += y[i];
    }
    if (count[0] == 0 || count[1] == 0 || count[2] == 0 || count[3] == 0) {
      out[r - begin] = not_estimable;
    } else {
      out[r - begin] = (sum[3] / count[3] - sum[2] / count[2]) -
                       (sum[1] / count[1] - sum[0] / count[0]);
    }
  }
};

// z_i = (1, x_i - shift, y_i - shift_y) of row i.
inline void row_z(const std::vector<const double*>& x, const double* y,
                  const std::vector<double>& shift, std::size_t i, double* z) {
  const std::size_t q = x.size() + 2;
  z[0] = 1.0;
  for (std::size_t j = 0; j < x.size(); ++j) z[j + 1] = x[j][i] - shift[j + 1];
  z[q - 1] = y[i] - shift[q - 1];
}

// Adds (sign = 1) or removes (sign = -1) z z' to packed S.
inline void add_outer(double* S, const double* z, std::size_t q, double sign) {
  for (std::size_t b = 0; b < q; ++b) {
    const double szb = sign * z[b];
    double* col = S + b * (b + 1) / 2;
    for (std::size_t a = 0; a <= b; ++a) col[a] += szb * z[a];
  }
}

// Row (iid) bootstrap replicate r with covariates: n rows drawn with
// replacement, their cross-products accumulated.
struct RowReplicate {
  const std::vector<const double*>& x;
  const double* y;
  std::size_t n, begin;
  std::uint64_t seed;
  const DidSolver& solve;
  RcppParallel::RVector<double> out;

  void operator()(std::size_t r) {
    ReplicateRng rng(seed, r);
    const std::size_t q = x.size() + 2;
    std::vector<double> S(packed_size(q), 0.0), z(q);
    for (std::size_t draw = 0; draw < n; ++draw) {
      row_z(x, y, solve.shift, rng.below(n), z.data());
      add_outer(S.data(), z.data(), q, 1.0);
    }
    out[r - begin] = solve(S.data());
  }
};

// Leave-one-cluster-out estimate for cluster g: the total minus cluster g.
struct ClusterJackknife {
  const double* moments;
  const std::vector<double>& total;
  std::size_t K;
  const DidSolver& solve;
  RcppParallel::RVector<double> out;

  void operator()(std::size_t g) {
    std::vector<double> S(total);
    const double* Sg = moments + g * K;
    for (std::size_t k = 0; k < K; ++k) S[k] -= Sg[k];
    out[g] = solve(S.data());
  }
};

// Leave-one-row-out estimate for row i: the total minus row i.
struct RowJackknife {
  const std::vector<const double*>& x;
  const double* y;
  const std::vector<double>& total;
  const DidSolver& solve;
  RcppParallel::RVector<double> out;

  void operator()(std::size_t i) {
    const std::size_t q = x.size() + 2;
    std::vector<double> S(total), z(q);
    row_z(x, y, solve.shift, i, z.data());
    add_outer(S.data(), z.data(), q, -1.0);
    out[i] = solve(S.data());
  }
};

std::vector<double> row_sums(const Rcpp::NumericMatrix& moments) {
  const std::size_t K = moments.nrow(), G = moments.ncol();
  std::vector<double> total(K, 0.0);
  for (std::size_t g = 0; g < G; ++g)
    for (std::size_t k = 0; k < K; ++k) total[k] += moments[g * K + k];
  return total;
}

}  // namespace

// Cluster bootstrap replicates [begin, end).
// [[Rcpp::export]]
Rcpp::NumericVector cpp_did_boot_clusters(Rcpp::NumericMatrix moments, Rcpp::IntegerVector design,
                                          Rcpp::NumericVector shift, int y_index, double tol,
                                          Rcpp::IntegerVector seed, double begin, double end,
                                          int threads) {
  const DidSolver solve = make_solver(design, shift, y_index, tol);
  if (packed_size(y_index + 1) != static_cast<std::size_t>(moments.nrow()))
    Rcpp::stop("internal error: moments do not match the design");
  const std::size_t b = static_cast<std::size_t>(begin), e = static_cast<std::size_t>(end);
  Rcpp::NumericVector out(e - b);
  ClusterReplicate run{moments.begin(), static_cast<std::size_t>(moments.nrow()),
                       static_cast<std::size_t>(moments.ncol()), b,
                       seed_from_r(seed[0], seed[1]), solve, RcppParallel::RVector<double>(out)};
  for_replicates(b, e, threads, run);
  return out;
}

// Row bootstrap replicates [begin, end) without covariates, from the centred
// outcome and the cell (2 * group + period) of every row.
// [[Rcpp::export]]
Rcpp::NumericVector cpp_did_boot_cells(Rcpp::NumericVector y, Rcpp::IntegerVector cell,
                                       Rcpp::IntegerVector seed, double begin, double end,
                                       int threads) {
  if (y.size() != cell.size()) Rcpp::stop("internal error: y and cell differ in length");
  for (R_xlen_t i = 0; i < cell.size(); ++i)
    if (cell[i] < 0 || cell[i] > 3) Rcpp::stop("internal error: cell out of range");
  const std::size_t b = static_cast<std::size_t>(begin), e = static_cast<std::size_t>(end);
  Rcpp::NumericVector out(e - b);
  CellReplicate run{y.begin(), cell.begin(), static_cast<std::size_t>(y.size()), b,
                    seed_from_r(seed[0], seed[1]), RcppParallel::RVector<double>(out)};
  for_replicates(b, e, threads, run);
  return out;
}

// Row bootstrap replicates [begin, end) with covariates: `cols` are the
// design columns (group, period, covariates, group:period), uncentred.
// [[Rcpp::export]]
Rcpp::NumericVector cpp_did_boot_rows(Rcpp::List cols, Rcpp::NumericVector y,
                                      Rcpp::IntegerVector design, Rcpp::NumericVector shift,
                                      double tol, Rcpp::IntegerVector seed, double begin,
                                      double end, int threads) {
  const std::size_t n = y.size();
  std::vector<const double*> x = column_pointers(cols, n);
  const DidSolver solve = make_solver(design, shift, static_cast<int>(x.size()) + 1, tol);
  const std::size_t b = static_cast<std::size_t>(begin), e = static_cast<std::size_t>(end);
  Rcpp::NumericVector out(e - b);
  RowReplicate run{x, y.begin(), n, b, seed_from_r(seed[0], seed[1]), solve,
                   RcppParallel::RVector<double>(out)};
  for_replicates(b, e, threads, run);
  return out;
}

// Leave-one-cluster-out estimates (the jackknife behind the BCa acceleration).
// [[Rcpp::export]]
Rcpp::NumericVector cpp_did_jackknife_clusters(Rcpp::NumericMatrix moments,
                                               Rcpp::IntegerVector design,
                                               Rcpp::NumericVector shift, int y_index,
                                               double tol, int threads) {
  const DidSolver solve = make_solver(design, shift, y_index, tol);
  const std::vector<double> total = row_sums(moments);
  Rcpp::NumericVector out(moments.ncol());
  ClusterJackknife run{moments.begin(), total, static_cast<std::size_t>(moments.nrow()), solve,
                       RcppParallel::RVector<double>(out)};
  for_replicates(0, moments.ncol(), threads, run);
  return out;
}

// Leave-one-row-out estimates: `moments` are the whole data's cross-products
// (one column), `cols` and `y` the rows.
// [[Rcpp::export]]
Rcpp::NumericVector cpp_did_jackknife_rows(Rcpp::List cols, Rcpp::NumericVector y,
                                           Rcpp::NumericMatrix moments,
                                           Rcpp::IntegerVector design,
                                           Rcpp::NumericVector shift, double tol, int threads) {
  const std::size_t n = y.size();
  std::vector<const double*> x = column_pointers(cols, n);
  const DidSolver solve = make_solver(design, shift, static_cast<int>(x.size()) + 1, tol);
  const std::vector<double> total = row_sums(moments);
  if (total.size() != packed_size(x.size() + 2))
    Rcpp::stop("internal error: moments do not match the columns");
  Rcpp::NumericVector out(n);
  RowJackknife run{x, y.begin(), total, solve, RcppParallel::RVector<double>(out)};
  for_replicates(0, n, threads, run);
  return out;
}

// The further terms of multiway clustering, from the rows, in one call: the
// residuals once for all terms, the per-cluster scores of every term, and
// the sum over terms of factor_t * sum_g (B s_tg)(B s_tg)'. Only the types
// whose meat needs no leverages (the scores X_g' W e_g) come here.
#include "cluster_stats.h"  // RcppEigen, optional_column()
#include <RcppParallel.h>
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace {

// Clusters per block of the meat: fixed, so that the order of the sums, and
// hence the result, does not depend on the number of threads.
const std::size_t kMeatBlock = 4096;  // also rows per block of one-row clusters
const std::size_t kRowBlock = 1 << 16;

struct ResidualWorker : public RcppParallel::Worker {
  const std::vector<const double*>& x;
  const double* y;
  const double* w;
  const std::vector<double>& beta;
  const std::vector<double>& shift;
  bool intercept;
  double y_shift, wscale, escale;
  std::size_t n;
  double* r;

  ResidualWorker(const std::vector<const double*>& x_, const double* y_, const double* w_,
                 const std::vector<double>& beta_, const std::vector<double>& shift_,
                 bool intercept_, double y_shift_, double wscale_, double escale_,
                 std::size_t n_, double* r_)
      : x(x_), y(y_), w(w_), beta(beta_), shift(shift_), intercept(intercept_),
        y_shift(y_shift_), wscale(wscale_), escale(escale_), n(n_), r(r_) {}

  // The same operations, in the same order, as fitted_residuals() and
  // scores_from_rows() in R: e = y - shift_y - sum_j beta_j (x_j - shift_j),
  // r = (w * wscale) * (e * escale).
  void operator()(std::size_t begin, std::size_t end) {
    for (std::size_t block = begin; block < end; ++block) {
      const std::size_t lo = block * kRowBlock;
      const std::size_t hi = lo + kRowBlock;
      for (std::size_t i = lo; i < hi && i < n; ++i) {
        double e = y[i];
        if (!beta.empty()) {  // else y holds the residuals
          e = e - y_shift;
          std::size_t k = 0;
          if (intercept) e = e - beta[k++];
          for (std::size_t j = 0; j < x.size(); ++j) e = e - beta[k++] * (x[j][i] - shift[j]);
        }
        e = e * escale;
        r[i] = w ? (w[i] * wscale) * e : e;
      }
    }
  }
};

// Runs body(item) for items [0, n) in parallel; each item independent.
template <class Body>
struct ItemWorker : public RcppParallel::Worker {
  Body& body;
  explicit ItemWorker(Body& body_) : body(body_) {}
  void operator()(std::size_t begin, std::size_t end) {
    for (std::size_t item = begin; item < end; ++item) body(item);
  }
};

template <class Body>
void parallel_items(Body& body, std::size_t n, int threads) {
  ItemWorker<Body> worker(body);
  if (threads <= 1) worker(0, n);
  else RcppParallel::parallelFor(0, n, worker, 1, threads);
  Rcpp::checkUserInterrupt();
}

// The rows' quantities shared by all terms: z_i = ([1,] scale_j (x_ij -
// shift_j)) times r_i, written into column `at` of Z.
struct RowScores {
  const std::vector<const double*>& x;
  const double* r;
  const std::vector<double>& shift;
  const std::vector<double>& scale;
  bool intercept;
  std::size_t p;

  // Writes z_i r_i to s[0], s[stride], ... (the score of a one-row cluster).
  void set(std::size_t i, double* s, std::size_t stride) const {
    const double ri = r[i];
    std::size_t k = 0;
    if (intercept) s[stride * k++] = ri;
    for (std::size_t j = 0; j < x.size(); ++j) s[stride * k++] = (x[j][i] - shift[j]) * scale[j] * ri;
  }

  // Adds z_i r_i to s (the same operations as cpp_cluster_scores()).
  void add(std::size_t i, double* s) const {
    const double ri = r[i];
    std::size_t k = 0;
    if (intercept) s[k++] += ri;
    for (std::size_t j = 0; j < x.size(); ++j) s[k++] += (x[j][i] - shift[j]) * scale[j] * ri;
  }
};

// One clustering term: clusters of one row (most of an intersection of two
// many-valued variables) are never stored: their scores are formed block by
// block from the rows; the others get a compact score matrix.
struct Term {
  const int* code;
  std::size_t G;
  std::vector<int> slot;   // compact column of a cluster of several rows, or -1
  std::size_t several = 0; // clusters of several rows
  std::size_t singles = 0; // clusters of one row
  Eigen::MatrixXd S;       // their scores, p x several
};

// The meat of the columns of S (scores), sum_g (B s_g)(B s_g)', added to a
// block's partials: when every score entry is zero or between 2^-200 and
// 2^200 (ordinary data, in the scaled units of the statistics), no product
// of two entries can underflow or overflow and C += S S' suffices (B C B is
// formed once per term); otherwise M += (B S)(B S)' (B S first: the scores of
// clusters with tiny weights would underflow when squared, B s_g does not;
// see bread_meat_bread()).
struct Partial {
  Eigen::MatrixXd C, M;  // lower triangles
  explicit Partial(std::size_t p = 0) : C(Eigen::MatrixXd::Zero(p, p)), M(Eigen::MatrixXd::Zero(p, p)) {}
};

bool squares_safe(const double* S, std::size_t len) {
  const double lo = std::ldexp(1.0, -200), hi = std::ldexp(1.0, 200);
  for (std::size_t i = 0; i < len; ++i) {
    const double a = std::fabs(S[i]);
    if (!(a <= hi) || (a != 0.0 && a < lo)) return false;
  }
  return true;
}

void add_meat(const Eigen::MatrixXd& B, const double* S, std::size_t p, std::size_t cols,
              Partial& part) {
  Eigen::Map<const Eigen::MatrixXd> Sm(S, p, cols);
  if (squares_safe(S, p * cols)) {
    part.C.selfadjointView<Eigen::Lower>().rankUpdate(Sm);
  } else {
    Eigen::MatrixXd U = B * Sm;
    part.M.selfadjointView<Eigen::Lower>().rankUpdate(U);
  }
}

// add_meat() for scores given one cluster per row (St: clusters x p).
void add_meat_rows(const Eigen::MatrixXd& B, const Eigen::MatrixXd& St, Partial& part) {
  const Eigen::Index p = St.cols();
  if (squares_safe(St.data(), static_cast<std::size_t>(St.size()))) {
    for (Eigen::Index j = 0; j < p; ++j)
      for (Eigen::Index i = j; i < p; ++i) part.C(i, j) += St.col(i).dot(St.col(j));
  } else {
    Eigen::MatrixXd U = B * St.transpose();
    part.M.selfadjointView<Eigen::Lower>().rankUpdate(U);
  }
}

}  // namespace

// sum_t factor[t] * sum_g (B s_tg)(B s_tg)' for the clustering terms given by
// `codes` (a list of 0-based integer codes) and `G`, with s_tg the score of
// cluster g of term t: sum over its rows of z_i r_i, z_i = ([1,] scale_j
// (x_ij - shift_j)) and r_i = (w_i wscale) (e_i escale), e_i = y_i - y_shift
// - sum beta (1, x_i - shift), or e = y when `beta` is empty (y holds the
// residuals). `bread` is p x p in the scaled units. Terms run
// in parallel, each in one fixed order, so the result does not depend on
// `threads`.
// [[Rcpp::export]]
Rcpp::NumericMatrix cpp_multiway_meat(Rcpp::List cols, bool intercept, Rcpp::NumericVector y,
                                      double y_shift, Rcpp::NumericVector beta,
                                      Rcpp::NumericVector shift, Rcpp::NumericVector scale,
                                      Rcpp::Nullable<Rcpp::NumericVector> w, double wscale,
                                      double escale, Rcpp::List codes, Rcpp::IntegerVector G,
                                      Rcpp::NumericVector factor, Rcpp::NumericMatrix bread,
                                      int threads) {
  const std::size_t n = static_cast<std::size_t>(y.size());
  const std::size_t m = static_cast<std::size_t>(cols.size());
  const std::size_t p = m + (intercept ? 1 : 0);
  if ((beta.size() != 0 && static_cast<std::size_t>(beta.size()) != p) || static_cast<std::size_t>(shift.size()) != m ||
      static_cast<std::size_t>(scale.size()) != m || bread.nrow() != static_cast<int>(p) ||
      bread.ncol() != static_cast<int>(p) || codes.size() != G.size() ||
      factor.size() != G.size())
    Rcpp::stop("internal error: cpp_multiway_meat arguments of the wrong size");
  std::vector<const double*> x;
  for (std::size_t j = 0; j < m; ++j) {
    SEXP col = cols[j];
    if (TYPEOF(col) != REALSXP || static_cast<std::size_t>(XLENGTH(col)) != n)
      Rcpp::stop("internal error: column %d is not a double vector of length %d",
                 static_cast<int>(j + 1), static_cast<int>(n));
    x.push_back(REAL(col));
  }
  Rcpp::NumericVector wv;
  const double* wp = clusterab::optional_column(w, wv, n);
  const std::size_t terms = static_cast<std::size_t>(G.size());
  if (terms == 0) return Rcpp::NumericMatrix(p, p);
  std::vector<const int*> code_ptr(terms);
  std::vector<int> g_count(G.begin(), G.end());
  for (std::size_t t = 0; t < terms; ++t) {
    Rcpp::IntegerVector ct = codes[t];
    if (static_cast<std::size_t>(ct.size()) != n) Rcpp::stop("internal error: codes of the wrong length");
    for (std::size_t i = 0; i < n; ++i)
      if (ct[i] < 0 || ct[i] >= g_count[t]) Rcpp::stop("internal error: cluster code out of range");
    code_ptr[t] = ct.begin();
  }
  std::vector<double> b(beta.begin(), beta.end()), sh(shift.begin(), shift.end()),
      sc(scale.begin(), scale.end());
  const int nthreads = threads < 1 ? 1 : threads;

  std::vector<double> r(n);
  ResidualWorker residuals(x, y.begin(), wp, b, sh, intercept, y_shift, wscale, escale, n,
                           r.data());
  const std::size_t row_blocks = (n + kRowBlock - 1) / kRowBlock;
  if (nthreads == 1) residuals(0, row_blocks);
  else RcppParallel::parallelFor(0, row_blocks, residuals, 1, nthreads);
  Rcpp::checkUserInterrupt();

  Eigen::MatrixXd B = Rcpp::as<Eigen::MatrixXd>(bread);
  const RowScores rows{x, r.data(), sh, sc, intercept, p};

  // Cluster sizes, and compact columns for the clusters of several rows.
  std::vector<Term> term(terms);
  auto count = [&](std::size_t t) {
    Term& tm = term[t];
    tm.code = code_ptr[t];
    tm.G = static_cast<std::size_t>(g_count[t]);
    tm.slot.assign(tm.G, 0);
    for (std::size_t i = 0; i < n; ++i) ++tm.slot[static_cast<std::size_t>(tm.code[i])];
    int next = 0;
    for (std::size_t g = 0; g < tm.G; ++g) tm.slot[g] = tm.slot[g] > 1 ? next++ : -1;
    tm.several = static_cast<std::size_t>(next);
    tm.singles = tm.G - tm.several;
  };
  parallel_items(count, terms, nthreads);

  // Work items, in a fixed order: per term, ranges of blocks of rows (their
  // one-row clusters) and of the clusters of several rows (whose scores are
  // summed first, one term per task). Each item adds its blocks, in order,
  // to its own partial meat. The number of items depends only on n, p and
  // the terms (never on the threads), and is capped so that the partials
  // take at most about 64 MB.
  const std::size_t per_partial = 2 * p * p * sizeof(double);
  const std::size_t cap = std::max<std::size_t>(1, (std::size_t(64) << 20) / (terms * per_partial));
  auto block_range = [](std::size_t item, std::size_t items, std::size_t blocks, std::size_t* b0,
                        std::size_t* b1) {
    *b0 = item * blocks / items;
    *b1 = (item + 1) * blocks / items;
  };
  const std::size_t row_blocks_meat = (n + kMeatBlock - 1) / kMeatBlock;
  const std::size_t row_items = std::max<std::size_t>(1, std::min(row_blocks_meat, cap));
  std::vector<Partial> single(terms * row_items, Partial(p));
  auto singles = [&](std::size_t item) {
    const Term& tm = term[item / row_items];
    if (!tm.singles) return;
    std::size_t b0, b1;
    block_range(item % row_items, row_items, row_blocks_meat, &b0, &b1);
    for (std::size_t b = b0; b < b1; ++b) {
      const std::size_t lo = b * kMeatBlock;
      const std::size_t hi = lo + kMeatBlock < n ? lo + kMeatBlock : n;
      std::size_t cols = 0;
      for (std::size_t i = lo; i < hi; ++i) cols += tm.slot[static_cast<std::size_t>(tm.code[i])] < 0;
      if (!cols) continue;
      // one row per cluster (cols x p): the cross-products are then dot
      // products of contiguous columns, about twice as fast as a rank update
      Eigen::MatrixXd Zt(cols, p);
      std::size_t c = 0;
      for (std::size_t i = lo; i < hi; ++i) {
        if (tm.slot[static_cast<std::size_t>(tm.code[i])] < 0) rows.set(i, Zt.data() + c++, cols);
      }
      add_meat_rows(B, Zt, single[item]);
    }
  };
  auto several = [&](std::size_t t) {
    Term& tm = term[t];
    tm.S = Eigen::MatrixXd::Zero(p, tm.several);
    if (!tm.several) return;
    double* s0 = tm.S.data();
    for (std::size_t i = 0; i < n; ++i) {
      const int c = tm.slot[static_cast<std::size_t>(tm.code[i])];
      if (c >= 0) rows.add(i, s0 + static_cast<std::size_t>(c) * p);
    }
  };
  parallel_items(several, terms, nthreads);
  parallel_items(singles, terms * row_items, nthreads);
  std::vector<std::size_t> blocks(terms), items(terms), first_item(terms + 1, 0);
  for (std::size_t t = 0; t < terms; ++t) {
    blocks[t] = (term[t].several + kMeatBlock - 1) / kMeatBlock;
    items[t] = std::min(blocks[t], cap);
    first_item[t + 1] = first_item[t] + items[t];
  }
  std::vector<Partial> multi(first_item[terms], Partial(p));
  auto multis = [&](std::size_t item) {
    std::size_t t = 0;
    while (first_item[t + 1] <= item) ++t;
    const Term& tm = term[t];
    std::size_t b0, b1;
    block_range(item - first_item[t], items[t], blocks[t], &b0, &b1);
    for (std::size_t b = b0; b < b1; ++b) {
      const std::size_t lo = b * kMeatBlock;
      const std::size_t cols = lo + kMeatBlock < tm.several ? kMeatBlock : tm.several - lo;
      add_meat(B, tm.S.data() + lo * p, p, cols, multi[item]);
    }
  };
  parallel_items(multis, first_item[terms], nthreads);

  std::vector<Eigen::MatrixXd> meat(terms);
  for (std::size_t t = 0; t < terms; ++t) {
    Partial sum(p);
    for (std::size_t b = 0; b < row_items; ++b) {
      sum.C += single[t * row_items + b].C;
      sum.M += single[t * row_items + b].M;
    }
    for (std::size_t b = first_item[t]; b < first_item[t + 1]; ++b) {
      sum.C += multi[b].C;
      sum.M += multi[b].M;
    }
    const Eigen::MatrixXd C = sum.C.selfadjointView<Eigen::Lower>();
    meat[t] = Eigen::MatrixXd(sum.M.selfadjointView<Eigen::Lower>()) + B * C * B;
  }
  Eigen::MatrixXd total = Eigen::MatrixXd::Zero(p, p);
  for (std::size_t t = 0; t < terms; ++t) total += factor[t] * meat[t];
  return Rcpp::wrap(total);
}

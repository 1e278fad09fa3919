// The further terms of multiway clustering, from the rows, in one call: the
// residuals once for all terms, the per-cluster scores of every term, and
// the sum over terms of factor_t * sum_g (B s_tg)(B s_tg)'. Only the types
// whose meat needs no leverages (the scores X_g' W e_g) come here.
#include <RcppEigen.h>
#include <RcppParallel.h>
#include <cstddef>
#include <vector>

namespace {

// Clusters per block of the meat: fixed, so that the order of the sums, and
// hence the result, does not depend on the number of threads.
const std::size_t kMeatBlock = 4096;
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
        double e = y[i] - y_shift;
        std::size_t k = 0;
        if (intercept) e = e - beta[k++];
        for (std::size_t j = 0; j < x.size(); ++j) e = e - beta[k++] * (x[j][i] - shift[j]);
        e = e * escale;
        r[i] = w ? (w[i] * wscale) * e : e;
      }
    }
  }
};

// Scores of each term (one term per task) and the term's meat, block by block.
struct TermWorker : public RcppParallel::Worker {
  const std::vector<const double*>& x;
  const double* r;
  const std::vector<double>& shift;
  const std::vector<double>& scale;
  bool intercept;
  std::size_t n, p;
  const std::vector<const int*>& codes;
  const std::vector<int>& G;
  const Eigen::MatrixXd& bread;
  std::vector<Eigen::MatrixXd>& meat;

  TermWorker(const std::vector<const double*>& x_, const double* r_,
             const std::vector<double>& shift_, const std::vector<double>& scale_,
             bool intercept_, std::size_t n_, std::size_t p_,
             const std::vector<const int*>& codes_, const std::vector<int>& G_,
             const Eigen::MatrixXd& bread_, std::vector<Eigen::MatrixXd>& meat_)
      : x(x_), r(r_), shift(shift_), scale(scale_), intercept(intercept_), n(n_), p(p_),
        codes(codes_), G(G_), bread(bread_), meat(meat_) {}

  void operator()(std::size_t begin, std::size_t end) {
    for (std::size_t t = begin; t < end; ++t) term(t);
  }

  void term(std::size_t t) {
    const int* code = codes[t];
    const std::size_t g_count = static_cast<std::size_t>(G[t]);
    Eigen::MatrixXd S = Eigen::MatrixXd::Zero(p, g_count);
    double* s0 = S.data();
    const std::size_t m = x.size();
    for (std::size_t i = 0; i < n; ++i) {
      double* s = s0 + static_cast<std::size_t>(code[i]) * p;
      const double ri = r[i];
      std::size_t k = 0;
      if (intercept) s[k++] += ri;
      for (std::size_t j = 0; j < m; ++j) s[k++] += (x[j][i] - shift[j]) * scale[j] * ri;
    }
    // B S first, then its outer products: the scores of clusters with tiny
    // weights would underflow when squared, B s_g does not (bread_meat_bread()).
    Eigen::MatrixXd M = Eigen::MatrixXd::Zero(p, p);
    Eigen::MatrixXd U(p, kMeatBlock);
    for (std::size_t lo = 0; lo < g_count; lo += kMeatBlock) {
      const std::size_t width = lo + kMeatBlock < g_count ? kMeatBlock : g_count - lo;
      U.leftCols(width).noalias() = bread * S.middleCols(lo, width);
      M.selfadjointView<Eigen::Lower>().rankUpdate(U.leftCols(width));
    }
    meat[t] = M.selfadjointView<Eigen::Lower>();
  }
};

}  // namespace

// sum_t factor[t] * sum_g (B s_tg)(B s_tg)' for the clustering terms given by
// `codes` (a list of 0-based integer codes) and `G`, with s_tg the score of
// cluster g of term t: sum over its rows of z_i r_i, z_i = ([1,] scale_j
// (x_ij - shift_j)) and r_i = (w_i wscale) (e_i escale), e_i = y_i - y_shift
// - sum beta (1, x_i - shift). `bread` is p x p in the scaled units. Terms run
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
  if (static_cast<std::size_t>(beta.size()) != p || static_cast<std::size_t>(shift.size()) != m ||
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
  const double* wp = nullptr;
  Rcpp::NumericVector wv;
  if (w.isNotNull()) {
    wv = w.get();
    if (static_cast<std::size_t>(wv.size()) != n) Rcpp::stop("internal error: w has the wrong length");
    wp = wv.begin();
  }
  const std::size_t terms = static_cast<std::size_t>(G.size());
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
  std::vector<Eigen::MatrixXd> meat(terms);
  TermWorker worker(x, r.data(), sh, sc, intercept, n, p, code_ptr, g_count, B, meat);
  if (nthreads == 1) worker(0, terms);
  else RcppParallel::parallelFor(0, terms, worker, 1, nthreads);
  Rcpp::checkUserInterrupt();

  Eigen::MatrixXd total = Eigen::MatrixXd::Zero(p, p);
  for (std::size_t t = 0; t < terms; ++t) total += factor[t] * meat[t];
  return Rcpp::wrap(total);
}

// Which columns hold a missing value (NA or NaN), for the NA handling of
// model_columns(): one parallel pass over the double columns of a list.
#include <Rcpp.h>
#include <RcppParallel.h>
#include <cstddef>
#include <vector>

namespace {

// Task t covers rows [b * block, (b + 1) * block) of column j, t = j * blocks + b;
// found[t] is set when that piece holds a NaN (R's NA_real_ is one).
struct AnyNaWorker : public RcppParallel::Worker {
  const std::vector<const double*>& x;
  std::size_t n, block, blocks;
  std::vector<int>& found;

  AnyNaWorker(const std::vector<const double*>& x_, std::size_t n_, std::size_t block_,
              std::vector<int>& found_)
      : x(x_), n(n_), block(block_), blocks((n_ + block_ - 1) / block_), found(found_) {}

  void operator()(std::size_t begin, std::size_t end) {
    for (std::size_t t = begin; t < end; ++t) {
      const double* col = x[t / blocks];
      const std::size_t lo = (t % blocks) * block, hi = lo + block < n ? lo + block : n;
      // no early exit within a piece: a branch-free loop the compiler vectorises
      int nan = 0;
      for (std::size_t i = lo; i < hi; ++i) nan |= col[i] != col[i];
      found[t] = nan;
    }
  }
};

}  // namespace

// For each element of `cols`: TRUE if it holds a NA or NaN. Only double
// vectors are scanned (in parallel); other elements give NA, for the caller
// to check them itself.
// [[Rcpp::export]]
Rcpp::LogicalVector cpp_columns_any_na(Rcpp::List cols, int threads) {
  const std::size_t m = cols.size();
  Rcpp::LogicalVector out(m);
  std::vector<const double*> x;
  std::vector<std::size_t> which;
  std::size_t n = 0;
  for (std::size_t j = 0; j < m; ++j) {
    SEXP col = cols[j];
    if (TYPEOF(col) != REALSXP || (!x.empty() && static_cast<std::size_t>(XLENGTH(col)) != n)) {
      out[j] = NA_LOGICAL;
      continue;
    }
    n = static_cast<std::size_t>(XLENGTH(col));
    x.push_back(REAL_RO(col));
    which.push_back(j);
  }
  if (x.empty()) return out;
  const std::size_t block = 1u << 16;
  const std::size_t blocks = n == 0 ? 0 : (n + block - 1) / block;
  std::vector<int> found(x.size() * blocks, 0);
  AnyNaWorker worker(x, n, block, found);
  if (threads <= 1) worker(0, found.size());
  else RcppParallel::parallelFor(0, found.size(), worker, 1, threads);
  for (std::size_t k = 0; k < x.size(); ++k) {
    int any = 0;
    for (std::size_t b = 0; b < blocks; ++b) any |= found[k * blocks + b];
    out[which[k]] = any != 0;
  }
  return out;
}

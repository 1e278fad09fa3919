// B (S S') B as (B S)(B S)' for a p x k bread B and k x G scores S, the
// product R computed as tcrossprod(B %*% S) with the reference BLAS, in the
// same order of operations: u_g = B s_g with the terms added in column order
// (dgemm), and each entry of the p x p result summed over the clusters in
// cluster order (dsyrk). The entries are shared out between threads, each
// summing its own entries over all clusters, so no sum is split: the result
// is the same for any thread count (and R's with the reference BLAS).
#include <Rcpp.h>
#include <RcppParallel.h>
#include <cstddef>
#include <vector>

namespace {

struct BreadMeatWorker : public RcppParallel::Worker {
  const double* B;
  const double* S;
  std::size_t p, k, G;
  const std::vector<std::size_t>& row;  // upper-triangle entries (row[e], col[e])
  const std::vector<std::size_t>& col;
  std::size_t tasks;
  double* out;  // p x p

  BreadMeatWorker(const double* B_, const double* S_, std::size_t p_, std::size_t k_,
                  std::size_t G_, const std::vector<std::size_t>& row_,
                  const std::vector<std::size_t>& col_, std::size_t tasks_, double* out_)
      : B(B_), S(S_), p(p_), k(k_), G(G_), row(row_), col(col_), tasks(tasks_), out(out_) {}

  void operator()(std::size_t begin, std::size_t end) {
    const std::size_t E = row.size();
    std::vector<double> u(p), acc;
    for (std::size_t t = begin; t < end; ++t) {
      const std::size_t e0 = E * t / tasks, e1 = E * (t + 1) / tasks;
      if (e0 == e1) continue;
      acc.assign(e1 - e0, 0.0);
      const std::size_t m = e1 - e0;
      const std::size_t* __restrict ri = row.data() + e0;
      const std::size_t* __restrict ci = col.data() + e0;
      double* __restrict a = acc.data();
      double* __restrict uu = u.data();
      const double* __restrict Bp = B;
      for (std::size_t g = 0; g < G; ++g) {
        const double* __restrict s = S + g * k;
        for (std::size_t i = 0; i < p; ++i) uu[i] = 0.0;
        for (std::size_t l = 0; l < k; ++l) {
          const double sl = s[l];
          const double* __restrict b = Bp + l * p;
          for (std::size_t i = 0; i < p; ++i) uu[i] = uu[i] + sl * b[i];
        }
        for (std::size_t e = 0; e < m; ++e) a[e] = a[e] + uu[ci[e]] * uu[ri[e]];
      }
      for (std::size_t e = e0; e < e1; ++e) {
        out[row[e] + col[e] * p] = acc[e - e0];
        out[col[e] + row[e] * p] = acc[e - e0];
      }
    }
  }
};

}  // namespace

// [[Rcpp::export]]
Rcpp::NumericMatrix cpp_bread_meat_bread(Rcpp::NumericMatrix bread, Rcpp::NumericMatrix scores,
                                         int threads) {
  const std::size_t p = bread.nrow(), k = bread.ncol(), G = scores.ncol();
  if (static_cast<std::size_t>(scores.nrow()) != k)
    Rcpp::stop("internal error: bread and scores do not conform");
  std::vector<std::size_t> row, col;
  for (std::size_t j = 0; j < p; ++j)
    for (std::size_t i = 0; i <= j; ++i) {
      row.push_back(i);
      col.push_back(j);
    }
  Rcpp::NumericMatrix out(p, p);
  if (row.empty()) return out;
  // a thread for every ~1e5 clusters at most: waking threads costs more than
  // a small sum
  std::size_t tasks = threads < 1 ? 1 : static_cast<std::size_t>(threads);
  if (tasks > row.size()) tasks = row.size();
  if (G < 100000) tasks = 1;
  BreadMeatWorker worker(bread.begin(), scores.begin(), p, k, G, row, col, tasks, out.begin());
  if (tasks == 1) worker(0, 1);
  else RcppParallel::parallelFor(0, tasks, worker, 1, static_cast<int>(tasks));
  return out;
}

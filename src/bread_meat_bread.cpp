// B (S S') B as (B S)(B S)' for a p x k bread B and k x G scores S, the
// product R computed as tcrossprod(B %*% S) with the reference BLAS, in the
// same order of operations: u_g = B s_g with the terms added in column order
// (dgemm), and each entry of the p x p result summed over the clusters in
// cluster order (dsyrk). Clusters are taken in chunks: the u_g of a chunk are
// computed in parallel over clusters, then the entries are shared out between
// threads, each adding the chunk's terms to its own entries. No sum is split,
// so the result is the same for any thread count (and R's with the reference
// BLAS).
#include <Rcpp.h>
#include <RcppParallel.h>
#include <cstddef>
#include <vector>

namespace {

// U[i * chunk + c] = (B s_{g0 + c})_i for clusters [g0 + begin, g0 + end).
struct ChunkScoresWorker : public RcppParallel::Worker {
  const double* B;
  const double* S;
  std::size_t p, k, chunk, g0;
  double* U;
  ChunkScoresWorker(const double* B_, const double* S_, std::size_t p_, std::size_t k_,
                    std::size_t chunk_, double* U_)
      : B(B_), S(S_), p(p_), k(k_), chunk(chunk_), g0(0), U(U_) {}
  void operator()(std::size_t begin, std::size_t end) {
    const double* Sg = S + g0 * k;
    for (std::size_t i = 0; i < p; ++i) {
      double* __restrict ui = U + i * chunk;
      for (std::size_t c = begin; c < end; ++c) ui[c] = 0.0;
      for (std::size_t l = 0; l < k; ++l) {   // terms in column order, as dgemm
        const double bil = B[l * p + i];
        for (std::size_t c = begin; c < end; ++c) ui[c] = ui[c] + Sg[c * k + l] * bil;
      }
    }
  }
};

// acc[e] += sum over the chunk's clusters, in order, of U[col[e]] U[row[e]],
// for the entries e of tasks [begin, end); four entries side by side.
struct ChunkEntriesWorker : public RcppParallel::Worker {
  const double* U;
  const std::vector<std::size_t>& row;
  const std::vector<std::size_t>& col;
  std::size_t chunk, len, tasks;
  double* acc;
  ChunkEntriesWorker(const double* U_, const std::vector<std::size_t>& row_,
                     const std::vector<std::size_t>& col_, std::size_t chunk_,
                     std::size_t tasks_, double* acc_)
      : U(U_), row(row_), col(col_), chunk(chunk_), len(0), tasks(tasks_), acc(acc_) {}
  void operator()(std::size_t begin, std::size_t end) {
    const std::size_t E = row.size();
    for (std::size_t t = begin; t < end; ++t) {
      const std::size_t e1 = E * (t + 1) / tasks;
      std::size_t e = E * t / tasks;
      for (; e + 4 <= e1; e += 4) {
        const double* __restrict x0 = U + row[e] * chunk;
        const double* __restrict y0 = U + col[e] * chunk;
        const double* __restrict x1 = U + row[e + 1] * chunk;
        const double* __restrict y1 = U + col[e + 1] * chunk;
        const double* __restrict x2 = U + row[e + 2] * chunk;
        const double* __restrict y2 = U + col[e + 2] * chunk;
        const double* __restrict x3 = U + row[e + 3] * chunk;
        const double* __restrict y3 = U + col[e + 3] * chunk;
        double s0 = acc[e], s1 = acc[e + 1], s2 = acc[e + 2], s3 = acc[e + 3];
        for (std::size_t c = 0; c < len; ++c) {  // clusters in order, as dsyrk
          s0 = s0 + y0[c] * x0[c];
          s1 = s1 + y1[c] * x1[c];
          s2 = s2 + y2[c] * x2[c];
          s3 = s3 + y3[c] * x3[c];
        }
        acc[e] = s0; acc[e + 1] = s1; acc[e + 2] = s2; acc[e + 3] = s3;
      }
      for (; e < e1; ++e) {
        const double* x0 = U + row[e] * chunk;
        const double* y0 = U + col[e] * chunk;
        double s0 = acc[e];
        for (std::size_t c = 0; c < len; ++c) s0 = s0 + y0[c] * x0[c];
        acc[e] = s0;
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
  // threads only for many clusters: waking them costs more than a small sum
  int th = threads < 1 ? 1 : threads;
  if (G < 100000) th = 1;
  std::size_t tasks = static_cast<std::size_t>(th);
  if (tasks > row.size()) tasks = row.size();
  const std::size_t chunk = 8192;
  std::vector<double> U(p * chunk), acc(row.size(), 0.0);
  ChunkScoresWorker scores_worker(bread.begin(), scores.begin(), p, k, chunk, U.data());
  ChunkEntriesWorker entries_worker(U.data(), row, col, chunk, tasks, acc.data());
  for (std::size_t g0 = 0; g0 < G; g0 += chunk) {
    const std::size_t len = g0 + chunk < G ? chunk : G - g0;
    scores_worker.g0 = g0;
    entries_worker.len = len;
    if (th == 1) {
      scores_worker(0, len);
      entries_worker(0, tasks);
    } else {
      RcppParallel::parallelFor(0, len, scores_worker, 1024, th);
      RcppParallel::parallelFor(0, tasks, entries_worker, 1, th);
    }
  }
  for (std::size_t e = 0; e < row.size(); ++e) {
    out[row[e] + col[e] * p] = acc[e];
    out[col[e] + row[e] * p] = acc[e];
  }
  return out;
}

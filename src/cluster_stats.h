// Shared pieces of the compress step: packed storage of per-cluster
// cross-products and the parallel driver that visits every row once.
#ifndef CLUSTERAB_CLUSTER_STATS_H
#define CLUSTERAB_CLUSTER_STATS_H

#include <RcppEigen.h>
#include <RcppParallel.h>
#include <cstddef>
#include <vector>

namespace clusterab {

// Position of entry (i, j), i <= j, of a symmetric q x q matrix stored as its
// upper triangle, column by column.
inline std::size_t packed_index(std::size_t i, std::size_t j) {
  return i <= j ? j * (j + 1) / 2 + i : i * (i + 1) / 2 + j;
}

inline std::size_t packed_size(std::size_t q) { return q * (q + 1) / 2; }

// The p x p block with rows and columns `index` of a packed symmetric matrix.
inline Eigen::MatrixXd unpack_block(const double* packed,
                                    const std::vector<int>& index) {
  const std::size_t p = index.size();
  Eigen::MatrixXd out(p, p);
  for (std::size_t b = 0; b < p; ++b)
    for (std::size_t a = 0; a <= b; ++a)
      out(a, b) = out(b, a) = packed[packed_index(index[a], index[b])];
  return out;
}

// Calls visit(i, g, t) for every row i of cluster g; t is the partition, so a
// visitor may keep scratch space per partition.
// Rows are visited in chunks; between chunks the main thread checks for a
// user interrupt. Within a chunk, partition t owns the clusters with codes in
// [G t / T, G (t + 1) / T) and visits their rows in row order, so every
// cluster's sums are accumulated in the same order whatever the thread count.
template <class RowVisitor>
struct ClusterPartitionWorker : public RcppParallel::Worker {
  RowVisitor& visit;
  const int* codes;
  std::size_t row_begin, row_end;
  int G, partitions;

  ClusterPartitionWorker(RowVisitor& visit_, const int* codes_, int G_,
                         int partitions_)
      : visit(visit_), codes(codes_), row_begin(0), row_end(0), G(G_),
        partitions(partitions_) {}

  void operator()(std::size_t begin, std::size_t end) {
    for (std::size_t t = begin; t < end; ++t) {
      const int lo = static_cast<int>((static_cast<long long>(G) * t) / partitions);
      const int hi = static_cast<int>((static_cast<long long>(G) * (t + 1)) / partitions);
      if (lo == hi) continue;
      for (std::size_t i = row_begin; i < row_end; ++i) {
        const int g = codes[i];
        if (g >= lo && g < hi) visit(i, g, t);
      }
    }
  }
};

template <class RowVisitor>
void for_rows_by_cluster(RowVisitor& visit, const int* codes, std::size_t n,
                         int G, int threads) {
  const std::size_t chunk = 1u << 20;
  const int partitions = threads < 1 ? 1 : threads;
  ClusterPartitionWorker<RowVisitor> worker(visit, codes, G, partitions);
  for (std::size_t start = 0; start < n; start += chunk) {
    worker.row_begin = start;
    worker.row_end = start + chunk < n ? start + chunk : n;
    if (partitions == 1) {
      worker(0, 1);
    } else {
      RcppParallel::parallelFor(0, partitions, worker, 1, partitions);
    }
    Rcpp::checkUserInterrupt();
  }
}

// Runs body(begin, end) over items [0, n) in parallel, in chunks, checking for
// a user interrupt between chunks. Each item must be independent of the others.
template <class Body>
struct RangeWorker : public RcppParallel::Worker {
  Body& body;
  explicit RangeWorker(Body& body_) : body(body_) {}
  void operator()(std::size_t begin, std::size_t end) { body(begin, end); }
};

template <class Body>
void parallel_chunks(Body& body, std::size_t n, int threads,
                     std::size_t chunk = 4096) {
  RangeWorker<Body> worker(body);
  for (std::size_t start = 0; start < n; start += chunk) {
    const std::size_t stop = start + chunk < n ? start + chunk : n;
    if (threads <= 1) worker(start, stop);
    else RcppParallel::parallelFor(start, stop, worker, 16, threads);
    Rcpp::checkUserInterrupt();
  }
}

// Pointers to the numeric columns of a list (no copies).
inline std::vector<const double*> column_pointers(const Rcpp::List& cols,
                                                  std::size_t n) {
  std::vector<const double*> out;
  out.reserve(cols.size());
  for (R_xlen_t j = 0; j < cols.size(); ++j) {
    SEXP col = cols[j];
    if (TYPEOF(col) != REALSXP || static_cast<std::size_t>(XLENGTH(col)) != n)
      Rcpp::stop("internal error: column %d is not a double vector of length %d",
                 static_cast<int>(j + 1), static_cast<int>(n));
    out.push_back(REAL_RO(col));
  }
  return out;
}

}  // namespace clusterab

#endif

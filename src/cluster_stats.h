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
// Rows are visited in chunks of a few MB, which the threads scan nearly
// together, so that they read it from memory about once (the rest from the
// shared cache); between chunks the main thread checks for a user interrupt
// (one parallel call per chunk: waking the threads costs). Within a chunk,
// partition t owns the clusters with codes in [G t / T, G (t + 1) / T) and
// visits their rows in row order, so every cluster's sums are accumulated in
// the same order whatever the thread count.
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
      if (partitions == 1) {
        for (std::size_t i = row_begin; i < row_end; ++i) visit(i, codes[i], t);
        continue;
      }
      const unsigned span = static_cast<unsigned>(hi - lo);
      for (std::size_t i = row_begin; i < row_end; ++i) {
        const int g = codes[i];
        if (static_cast<unsigned>(g - lo) < span) visit(i, g, t);
      }
    }
  }
};

template <class RowVisitor>
void for_rows_by_cluster(RowVisitor& visit, const int* codes, std::size_t n,
                         int G, int threads) {
  const std::size_t chunk = 1u << 18;
  int partitions = threads < 1 ? 1 : threads;
  if (partitions > G) partitions = G < 1 ? 1 : G;
  ClusterPartitionWorker<RowVisitor> worker(visit, codes, G, partitions);
  for (std::size_t start = 0; start < n; start += chunk) {
    worker.row_begin = start;
    worker.row_end = start + chunk < n ? start + chunk : n;
    if (partitions == 1) worker(0, 1);
    else RcppParallel::parallelFor(0, partitions, worker, 1, partitions);
    Rcpp::checkUserInterrupt();
  }
}

// Sums per cluster (G x width doubles at `out`, zeroed by the caller) to
// which visit.rows(idx, m, acc) adds the contributions of the m rows idx[0..m)
// (increasing) at acc + g * width, and visit.range(lo, hi, acc) those of rows
// lo..hi-1. With up to 2^18 sums (G = 1e4 clusters of 11 scores) the rows are
// split into blocks of a size fixed by G and width, each block
// summed into its own buffer in parallel and the buffers added to `out` in
// block order; otherwise each thread owns a range of cluster codes and, in
// cache-sized sub-chunks that all threads scan together, collects its rows
// and adds them, in row order. Either way (which depends on G and width
// only) every sum is formed in the same order for any thread count.
template <class Visitor>
struct ClusterSumWorker : public RcppParallel::Worker {
  Visitor& visit;
  const int* codes;
  std::size_t n, block, first, width;
  int G, partitions;
  bool blocked;
  std::vector<std::vector<double> >& buffers;
  double* out;
  std::size_t row_begin, row_end;

  ClusterSumWorker(Visitor& visit_, const int* codes_, std::size_t n_,
                   std::size_t block_, std::size_t width_, int G_, int partitions_,
                   bool blocked_, std::vector<std::vector<double> >& buffers_,
                   double* out_)
      : visit(visit_), codes(codes_), n(n_), block(block_), first(0),
        width(width_), G(G_), partitions(partitions_), blocked(blocked_),
        buffers(buffers_), out(out_), row_begin(0), row_end(0) {}

  void operator()(std::size_t begin, std::size_t end) {
    std::vector<std::size_t> idx;
    for (std::size_t b = begin; b < end; ++b) {
      if (blocked) {
        std::vector<double>& acc = buffers[b - first];
        std::fill(acc.begin(), acc.end(), 0.0);
        const std::size_t lo = b * block, hi = lo + block < n ? lo + block : n;
        visit.range(lo, hi, acc.data());
      } else {
        const int lo = static_cast<int>((static_cast<long long>(G) * b) / partitions);
        const int hi = static_cast<int>((static_cast<long long>(G) * (b + 1)) / partitions);
        if (lo == hi) continue;
        const unsigned span = static_cast<unsigned>(hi - lo);
        if (idx.size() < block) idx.resize(block);
        std::size_t* keep = idx.data();
        for (std::size_t s = row_begin; s < row_end; s += block) {
          const std::size_t stop = s + block < row_end ? s + block : row_end;
          // branch-free selection: with T threads a row is this thread's with
          // probability 1/T, which a branch would mispredict half the time
          std::size_t m = 0;
          for (std::size_t i = s; i < stop; ++i) {
            keep[m] = i;
            m += static_cast<unsigned>(codes[i] - lo) < span;
          }
          visit.rows(keep, m, out);
        }
      }
    }
  }
};

// Runs worker(first, last) over blocks [0, blocks) in rounds of
// buffers.size() blocks: block b of the round starting at `first` (the
// worker's member) writes buffers[b - first]; after each round the buffers are
// added to out in block order, so the sums do not depend on the thread count.
// Checks for a user interrupt between rounds.
template <class BlockWorker>
void sum_blocks_in_order(BlockWorker& worker, std::size_t blocks,
                         std::vector<std::vector<double> >& buffers, double* out,
                         int threads) {
  const std::size_t round = buffers.size();
  const std::size_t size = round ? buffers[0].size() : 0;
  for (std::size_t first = 0; first < blocks; first += round) {
    const std::size_t last = first + round < blocks ? first + round : blocks;
    worker.first = first;
    if (threads <= 1) worker(first, last);
    else RcppParallel::parallelFor(first, last, worker, 1, threads);
    for (std::size_t b = first; b < last; ++b) {
      const double* a = buffers[b - first].data();
      for (std::size_t k = 0; k < size; ++k) out[k] += a[k];
    }
    Rcpp::checkUserInterrupt();
  }
}

template <class Visitor>
void for_rows_cluster_sums(Visitor& visit, const int* codes, std::size_t n, int G,
                           std::size_t width, double* out, int threads) {
  // blocks of at least 4 G width rows (so that adding a block's buffer costs
  // little beside its rows), in rounds of 4 buffers (at most 8 MB)
  const std::size_t size_g = static_cast<std::size_t>(G) * width;
  const bool blocked = size_g <= (1u << 18);
  const std::size_t round = 4;
  std::size_t block = 1u << 14;
  while (block < 4 * size_g) block <<= 1;
  int partitions = threads < 1 ? 1 : threads;
  if (partitions > G) partitions = G < 1 ? 1 : G;
  const std::size_t size = blocked ? static_cast<std::size_t>(G) * width : 0;
  std::vector<std::vector<double> > buffers(blocked ? round : 0, std::vector<double>(size));
  ClusterSumWorker<Visitor> worker(visit, codes, n, block, width, G, partitions,
                                   blocked, buffers, out);
  if (blocked) {
    sum_blocks_in_order(worker, (n + block - 1) / block, buffers, out, threads);
    return;
  }
  // one parallel call per chunk (a few MB of rows, which the threads read
  // nearly together, so from the shared cache), each thread collecting its
  // rows block by block
  worker.block = 1u << 13;
  const std::size_t chunk = 1u << 18;
  for (std::size_t start = 0; start < n; start += chunk) {
    worker.row_begin = start;
    worker.row_end = start + chunk < n ? start + chunk : n;
    if (partitions == 1) worker(0, 1);
    else RcppParallel::parallelFor(0, partitions, worker, 1, partitions);
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

// Data pointer of an optional double vector (nullptr when it is NULL); `keep`
// holds the vector while the pointer is used. With n > 0 its length must be n.
inline const double* optional_column(const Rcpp::Nullable<Rcpp::NumericVector>& v,
                                     Rcpp::NumericVector& keep, std::size_t n = 0) {
  if (v.isNull()) return nullptr;
  keep = Rcpp::NumericVector(v.get());
  if (n > 0 && static_cast<std::size_t>(keep.size()) != n)
    Rcpp::stop("internal error: an optional column has the wrong length");
  return keep.begin();
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

// The memory-read floor of the compress pass: one pass that only sums the
// columns (the same numbers of rows and columns as the fit reads), split by
// rows over threads. bench/bench_vs_fixest.R compiles it with Rcpp::sourceCpp().
// [[Rcpp::depends(RcppParallel)]]
#include <Rcpp.h>
#include <RcppParallel.h>
#include <vector>

struct SumWorker : public RcppParallel::Worker {
  const std::vector<const double*>& cols;
  std::vector<double>& part;
  std::size_t n, blocks;
  SumWorker(const std::vector<const double*>& c, std::vector<double>& p, std::size_t n_,
            std::size_t b) : cols(c), part(p), n(n_), blocks(b) {}
  void operator()(std::size_t begin, std::size_t end) {
    for (std::size_t b = begin; b < end; ++b) {
      const std::size_t lo = n * b / blocks, hi = n * (b + 1) / blocks;
      for (std::size_t j = 0; j < cols.size(); ++j) {
        const double* x = cols[j];
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        std::size_t i = lo;
        for (; i + 4 <= hi; i += 4) { s0 += x[i]; s1 += x[i + 1]; s2 += x[i + 2]; s3 += x[i + 3]; }
        for (; i < hi; ++i) s0 += x[i];
        part[b * cols.size() + j] = (s0 + s1) + (s2 + s3);
      }
    }
  }
};

// [[Rcpp::export]]
Rcpp::NumericVector floor_column_sums(Rcpp::List columns, int threads) {
  const std::size_t m = columns.size();
  std::vector<const double*> cols(m);
  std::size_t n = 0;
    for (std::size_t j = 0; j < m; ++j) {
    SEXP v = columns[j];
    if (TYPEOF(v) != REALSXP) Rcpp::stop("floor_column_sums() takes double columns");
    cols[j] = REAL(v);
    n = XLENGTH(v);
  }
  const std::size_t blocks = 64;
  std::vector<double> part(blocks * m, 0.0);
  SumWorker worker(cols, part, n, blocks);
  RcppParallel::parallelFor(0, blocks, worker, 1, threads);
  Rcpp::NumericVector out(m);
  for (std::size_t b = 0; b < blocks; ++b)
    for (std::size_t j = 0; j < m; ++j) out[j] += part[b * m + j];
  return out;
}

// A trivially parallel CPU-bound loop: its speedup on `threads` threads shows
// whether the machine has those cores free (on a shared machine it may not).
struct SpinWorker : public RcppParallel::Worker {
  std::vector<double>& out;
  explicit SpinWorker(std::vector<double>& o) : out(o) {}
  void operator()(std::size_t begin, std::size_t end) {
    for (std::size_t k = begin; k < end; ++k) {
      double s = 0;
      for (int i = 0; i < 1000000; ++i) s += 1.0 / (1.0 + i + k);
      out[k] = s;
    }
  }
};

// [[Rcpp::export]]
double spin_parallel(int threads) {
  std::vector<double> out(64);
  SpinWorker worker(out);
  RcppParallel::parallelFor(0, out.size(), worker, 1, threads);
  double s = 0;
  for (double v : out) s += v;
  return s;
}

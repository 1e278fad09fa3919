// The shared resampling engine (src/resampling.h): the interrupt check between
// chunks, and a check of the per-replicate streams used by the tests.
#include "resampling.h"
#include <Rcpp.h>

using namespace clusterab;

namespace {

struct UniformDraws {
  std::uint64_t seed;
  std::size_t k;
  RcppParallel::RMatrix<double> out;
  void operator()(std::size_t r) {
    ReplicateRng rng(seed, r);
    for (std::size_t j = 0; j < k; ++j) out(j, r) = rng.uniform();
  }
};

}  // namespace

// k uniform draws for each replicate in [0, replicates): column r holds
// replicate r's draws, whatever the thread count.
// [[Rcpp::export]]
Rcpp::NumericMatrix cpp_replicate_uniforms(Rcpp::IntegerVector seed, int replicates, int k,
                                           int threads) {
  Rcpp::NumericMatrix out(k, replicates);
  UniformDraws draws{seed_from_r(seed[0], seed[1]), static_cast<std::size_t>(k),
                     RcppParallel::RMatrix<double>(out)};
  for_replicates(0, replicates, threads, draws);
  return out;
}

// Between chunks of replicates, on the main thread: a pending user interrupt
// stops the run here.
// [[Rcpp::export]]
void cpp_check_interrupt() { Rcpp::checkUserInterrupt(); }

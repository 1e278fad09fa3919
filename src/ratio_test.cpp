// Bootstrap of ratio-of-sums metrics (sum numerator / sum denominator per
// group), resampling units within group.
//
// Each group is stored as a run of "entries" (numerator, denominator, count):
// either one entry per unit (count 1) or one per distinct (numerator,
// denominator) pair, with count = the number of units sharing it. A
// replicate draws n_g units with replacement from the group's n_g units:
//   * units mode: n_g uniform indices, O(n_g);
//   * cells mode: the multinomial(n_g; count_k / n_g) over cells by
//     sequential binomials, O(cells). Drawing n_g units and counting how many
//     fall in each cell gives exactly this multinomial, so both modes have
//     the same distribution.
#include "resampling.h"
#include <Rcpp.h>
#include <boost/random/binomial_distribution.hpp>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

using namespace clusterab;

namespace {

struct RatioReplicates {
  RcppParallel::RVector<double> num;
  RcppParallel::RVector<double> den;
  RcppParallel::RVector<double> count;
  std::vector<std::size_t> start;  // entries of group g are [start[g], start[g + 1])
  std::vector<int> units;          // n_g
  std::vector<int> cells;          // 1 = cells mode, 0 = units mode
  std::uint64_t seed;
  std::size_t begin;
  RcppParallel::RMatrix<double> out;  // (replicates in chunk) x groups

  // Sums of the resampled numerators and denominators of group g.
  void units_draw(std::size_t g, ReplicateRng& rng, double& sx, double& sy) const {
    const std::size_t first = start[g];
    const std::uint64_t n = static_cast<std::uint64_t>(units[g]);
    for (std::uint64_t i = 0; i < n; ++i) {
      const std::size_t j = first + static_cast<std::size_t>(rng.below(n));
      sx += num[j];
      sy += den[j];
    }
  }

  void cells_draw(std::size_t g, ReplicateRng& rng, double& sx, double& sy) const {
    int remaining = units[g];           // units still to place
    double remaining_count = units[g];  // units in cells not yet visited
    const std::size_t last = start[g + 1] - 1;
    for (std::size_t k = start[g]; k <= last && remaining > 0; ++k) {
      int drawn;
      if (k == last) {
        drawn = remaining;
      } else {
        // The units left fall in cell k with probability count_k / (units in
        // cells k, k+1, ...): the conditional multinomial margin.
        boost::random::binomial_distribution<int, double> binom(remaining,
                                                                count[k] / remaining_count);
        drawn = binom(rng);
      }
      sx += drawn * num[k];
      sy += drawn * den[k];
      remaining -= drawn;
      remaining_count -= count[k];
    }
  }

  void operator()(std::size_t r) {
    // One stream per replicate; groups consume it in order, so a replicate's
    // draws do not depend on the thread that runs it.
    ReplicateRng rng(seed, r);
    for (std::size_t g = 0; g < units.size(); ++g) {
      double sx = 0.0, sy = 0.0;
      if (cells[g]) {
        cells_draw(g, rng, sx, sy);
      } else {
        units_draw(g, rng, sx, sy);
      }
      // A resample whose denominators are all zero has no ratio.
      out(r - begin, g) = sy != 0.0 ? sx / sy : std::numeric_limits<double>::quiet_NaN();
    }
  }
};

}  // namespace

// Group ratios sum(numerator*) / sum(denominator*) of bootstrap replicates
// [begin, end): row r - begin, column g. `start` has length G + 1 (entry
// offsets of the groups), `units` and `cells` length G.
// [[Rcpp::export]]
Rcpp::NumericMatrix cpp_ratio_boot(Rcpp::NumericVector num, Rcpp::NumericVector den,
                                   Rcpp::NumericVector count, Rcpp::IntegerVector start,
                                   Rcpp::IntegerVector units, Rcpp::IntegerVector cells,
                                   Rcpp::IntegerVector seed, int begin, int end, int threads) {
  const int G = units.size();
  if (start.size() != G + 1 || cells.size() != G || num.size() != den.size() ||
      num.size() != count.size() || start[G] != num.size()) {
    Rcpp::stop("cpp_ratio_boot: inconsistent group layout");
  }
  Rcpp::NumericMatrix out(end - begin, G);
  RatioReplicates work{RcppParallel::RVector<double>(num), RcppParallel::RVector<double>(den),
                       RcppParallel::RVector<double>(count),
                       std::vector<std::size_t>(start.begin(), start.end()),
                       std::vector<int>(units.begin(), units.end()),
                       std::vector<int>(cells.begin(), cells.end()),
                       seed_from_r(seed[0], seed[1]), static_cast<std::size_t>(begin),
                       RcppParallel::RMatrix<double>(out)};
  for_replicates(begin, end, threads, work);
  return out;
}

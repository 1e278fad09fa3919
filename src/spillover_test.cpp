// The randomisation distribution of spillover_test() (Athey, Eckles and
// Imbens 2018): the focal units keep their assignment, the other units (or
// clusters) are re-drawn under the design, and the statistic contrasts the
// focal units' outcomes by their exposure to treated neighbours.
#include "network.h"
#include <Rcpp.h>
#include <RcppParallel.h>
#include <limits>
#include <vector>

using namespace clusterab;

namespace {

typedef std::uint64_t u64;

// The mean outcome of the exposed focal units minus that of the unexposed
// ones, for the assignment z of the units; NaN when either group is empty.
double focal_contrast(const GraphView& g, const Mapping& mapping, const double* strength,
                      const int* focal, const double* y, int n_focal, const unsigned char* z) {
  double s1 = 0, s0 = 0;
  int n1 = 0, n0 = 0;
  for (int f = 0; f < n_focal; ++f) {
    const int i = focal[f];
    if (mapping.exposed(g, i, z, strength[i])) {
      s1 += y[f];
      ++n1;
    } else {
      s0 += y[f];
      ++n0;
    }
  }
  if (n1 == 0 || n0 == 0) return std::numeric_limits<double>::quiet_NaN();
  return s1 / n1 - s0 / n0;
}

struct SpilloverWorker : public RcppParallel::Worker {
  GraphView g;
  const int* block;
  const double* strength;
  const Design& design;
  Mapping mapping;
  const int* focal;
  const double* y;
  int n_focal;
  u64 seed, first;
  bool exact;
  const std::vector<double>& choose;
  double* stat;
  double* weight;

  SpilloverWorker(GraphView g_, const int* block_, const double* strength_, const Design& design_,
                  Mapping mapping_, const int* focal_, const double* y_, int n_focal_, u64 seed_,
                  u64 first_, bool exact_, const std::vector<double>& choose_, double* stat_,
                  double* weight_)
      : g(g_), block(block_), strength(strength_), design(design_), mapping(mapping_),
        focal(focal_), y(y_), n_focal(n_focal_), seed(seed_), first(first_), exact(exact_),
        choose(choose_), stat(stat_), weight(weight_) {}

  void operator()(std::size_t begin, std::size_t end) {
    std::vector<unsigned char> treated(design.fixed_value.size()), z(g.n);
    for (std::size_t k = begin; k < end; ++k) {
      const u64 r = first + k;
      if (exact) {
        weight[k] = design.enumerate(r, choose, treated.data());
      } else {
        ReplicateRng rng(seed, r);
        design.draw(rng, treated.data());
        weight[k] = 1;
      }
      unit_assignment(g.n, block, treated.data(), z.data());
      stat[k] = focal_contrast(g, mapping, strength, focal, y, n_focal, z.data());
    }
  }
};

}  // namespace

// Replicates [begin, end) of the re-randomisation: a 2 x (end - begin)
// matrix of the statistic and the replicate's probability (exact
// enumeration) or 1 (Monte Carlo draws).
// [[Rcpp::export]]
Rcpp::NumericMatrix cpp_spillover_draws(Rcpp::IntegerVector start, Rcpp::IntegerVector nbr,
                                        Rcpp::NumericVector wt, Rcpp::NumericVector strength,
                                        Rcpp::IntegerVector block, Rcpp::IntegerVector fixed,
                                        bool bernoulli, double p, int m, double threshold,
                                        Rcpp::IntegerVector focal, Rcpp::NumericVector y,
                                        Rcpp::IntegerVector seed, double begin, double end,
                                        bool exact, int threads) {
  const GraphView g = graph_view(start, nbr, wt);
  const int n = g.n;
  const Design design = make_design(bernoulli, p, m, fixed.begin(), fixed.size());
  const int nf = static_cast<int>(design.free_blocks.size());
  const std::vector<double> choose = exact && !bernoulli ? binomial_table(nf, m) : std::vector<double>();
  const std::size_t count = static_cast<std::size_t>(end - begin);
  std::vector<double> stat(count), weight(count);
  SpilloverWorker worker(g, block.begin(), strength.begin(), design, Mapping{threshold},
                         focal.begin(), y.begin(), focal.size(), seed_from_r(seed[0], seed[1]),
                         static_cast<u64>(begin), exact, choose, stat.data(), weight.data());
  if (threads <= 1 || count < 2) {
    worker(0, count);
  } else {
    RcppParallel::parallelFor(0, count, worker, 1, threads);
  }
  Rcpp::NumericMatrix out(2, count);
  for (std::size_t k = 0; k < count; ++k) {
    out(0, k) = stat[k];
    out(1, k) = weight[k];
  }
  return out;
}

// The statistic of one assignment (treated: one 0/1 per block).
// [[Rcpp::export]]
double cpp_spillover_statistic(Rcpp::IntegerVector start, Rcpp::IntegerVector nbr,
                               Rcpp::NumericVector wt, Rcpp::NumericVector strength,
                               Rcpp::IntegerVector block, Rcpp::IntegerVector treated,
                               double threshold, Rcpp::IntegerVector focal, Rcpp::NumericVector y) {
  const GraphView g = graph_view(start, nbr, wt);
  const int n = g.n;
  std::vector<unsigned char> flags(treated.begin(), treated.end()), z(n);
  unit_assignment(n, block.begin(), flags.data(), z.data());
  return focal_contrast(g, Mapping{threshold}, strength.begin(), focal.begin(), y.begin(),
                        focal.size(), z.data());
}

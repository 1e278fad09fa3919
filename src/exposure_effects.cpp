// Exposure probabilities under a randomisation design and the Aronow-Samii
// variance of Horvitz-Thompson estimators (exposure_effects()).
//
// The design's assignments are drawn (replicate r from its own stream, so
// results do not depend on the thread count) or enumerated with their
// probabilities. For each unit and condition the replicates that put the
// unit in that condition are kept as a bitset, 64 replicates per word; a
// joint probability is then the (weighted) popcount of the AND of two
// bitsets, so every pair of units costs R / 64 word operations.
#include "network.h"
#include <Rcpp.h>
#include <RcppParallel.h>
#include <mutex>
#include <vector>

using namespace clusterab;

namespace {

typedef std::uint64_t u64;

// Replicates [64 w, 64 w + 64) for words w in [begin, end): each unit's
// condition, as a bit of its condition's bitset, or as a count.
struct DrawWorker : public RcppParallel::Worker {
  GraphView g;
  GraphView out;  // out-neighbours (the transpose): treated units scatter to them
  bool scatter;
  const int* block;
  const double* strength;
  const Design& design;
  Mapping mapping;
  u64 seed;
  bool exact;
  const std::vector<double>& choose;
  u64 total, words;
  u64* bits;           // n * 4 * words, or null
  double* rep_weight;  // one per replicate (exact), or null
  long long* counts;   // n * 4, merged under the lock (counts only)
  std::mutex& lock;

  DrawWorker(GraphView g_, GraphView out_, bool scatter_, const int* block_,
             const double* strength_, const Design& design_,
             Mapping mapping_, u64 seed_, bool exact_, const std::vector<double>& choose_,
             u64 total_, u64 words_, u64* bits_, double* rep_weight_, long long* counts_,
             std::mutex& lock_)
      : g(g_), out(out_), scatter(scatter_), block(block_), strength(strength_), design(design_), mapping(mapping_),
        seed(seed_), exact(exact_), choose(choose_), total(total_), words(words_), bits(bits_),
        rep_weight(rep_weight_), counts(counts_), lock(lock_) {}

  void operator()(std::size_t begin, std::size_t end) {
    const int n = g.n;
    std::vector<unsigned char> treated(design.fixed_value.size()), z(n);
    std::vector<double> tw(scatter ? n : 0);
    std::vector<long long> local(counts ? static_cast<std::size_t>(n) * 4 : 0, 0);
    for (std::size_t w = begin; w < end; ++w) {
      const u64 r0 = static_cast<u64>(w) * 64;
      const u64 r1 = std::min(total, r0 + 64);
      for (u64 r = r0; r < r1; ++r) {
        if (exact) {
          rep_weight[r] = design.enumerate(r, choose, treated.data());
        } else {
          ReplicateRng rng(seed, r);
          design.draw(rng, treated.data());
        }
        const u64 bit = static_cast<u64>(1) << (r - r0);
        unit_assignment(n, block, treated.data(), z.data());
        if (scatter) {
          // O(n + edges of treated units) instead of O(n + all edges)
          std::fill(tw.begin(), tw.end(), 0.0);
          for (int t = 0; t < n; ++t) {
            if (!z[t]) continue;
            for (int e = out.start[t]; e < out.start[t + 1]; ++e) tw[out.nbr[e]] += out.weight(e);
          }
        }
        for (int i = 0; i < n; ++i) {
          const bool exposed = scatter ? mapping.exposed(tw[i], strength[i])
                                       : mapping.exposed(g, i, z.data(), strength[i]);
          const int c = condition(z[i], exposed);
          if (bits) {
            bits[(static_cast<u64>(i) * 4 + c) * words + w] |= bit;
          } else {
            ++local[static_cast<std::size_t>(i) * 4 + c];
          }
        }
      }
    }
    if (counts) {
      std::lock_guard<std::mutex> guard(lock);
      for (std::size_t k = 0; k < local.size(); ++k) counts[k] += local[k];
    }
  }
};

// The probability of the replicates set in both a and b (b = a for a
// marginal): a popcount times the common weight, or the sum of the
// replicates' weights in order.
inline double joint(const u64* a, const u64* b, u64 words, const double* rep_weight, double unit) {
  if (!rep_weight) {
    u64 c = 0;
    for (u64 w = 0; w < words; ++w) c += static_cast<u64>(__builtin_popcountll(a[w] & b[w]));
    return static_cast<double>(c) * unit;
  }
  double s = 0;
  for (u64 w = 0; w < words; ++w) {
    u64 x = a[w] & b[w];
    while (x) {
      s += rep_weight[w * 64 + static_cast<u64>(__builtin_ctzll(x))];
      x &= x - 1;
    }
  }
  return s;
}

inline bool any_joint(const u64* a, const u64* b, u64 words) {
  for (u64 w = 0; w < words; ++w) {
    if (a[w] & b[w]) return true;
  }
  return false;
}

}  // namespace

// Draws (or enumerates, `exact`) the design's assignments and returns each
// unit's probability of each condition (an n x 4 matrix: c0, c1, t0, t1);
// with `keep_bits` also the bitsets and the replicates' weights, for
// cpp_exposure_variance(). `fixed`: one value per block, -1 free. The
// `_t` lists are the transpose (out-neighbours; the same lists when
// undirected).
// [[Rcpp::export]]
Rcpp::List cpp_exposure_draws(Rcpp::IntegerVector start, Rcpp::IntegerVector nbr,
                              Rcpp::NumericVector wt, Rcpp::IntegerVector start_t,
                              Rcpp::IntegerVector nbr_t, Rcpp::NumericVector wt_t,
                              Rcpp::NumericVector strength,
                              Rcpp::IntegerVector block, Rcpp::IntegerVector fixed, bool bernoulli,
                              double p, int m, double threshold, Rcpp::IntegerVector seed,
                              double replicates, bool exact, bool keep_bits, int threads) {
  const GraphView g = graph_view(start, nbr, wt);
  const GraphView out = graph_view(start_t, nbr_t, wt_t);
  const int n = g.n;
  // Scattering from the treated units sums the weights in another order than
  // the in-lists: used only where the order cannot change a condition ("any",
  // or whole-number counts).
  const bool scatter = threshold <= 0 || wt.size() == 0;
  const Design design = make_design(bernoulli, p, m, fixed.begin(), fixed.size());
  const int nf = static_cast<int>(design.free_blocks.size());
  const std::vector<double> choose = exact && !bernoulli ? binomial_table(nf, m) : std::vector<double>();
  const u64 total = static_cast<u64>(replicates);
  const u64 words = (total + 63) / 64;
  const bool store = keep_bits || exact;
  Rcpp::RawVector bits_raw(store ? static_cast<R_xlen_t>(n * 4 * words * 8) : 0);
  u64* bits = store ? reinterpret_cast<u64*>(RAW(bits_raw)) : nullptr;
  Rcpp::NumericVector rep_weight(exact ? static_cast<R_xlen_t>(total) : 0);
  std::vector<long long> counts(store ? 0 : static_cast<std::size_t>(n) * 4, 0);
  std::mutex lock;
  DrawWorker worker(g, out, scatter, block.begin(), strength.begin(), design, Mapping{threshold},
                    seed_from_r(seed[0], seed[1]), exact, choose, total, words, bits,
                    exact ? rep_weight.begin() : nullptr, store ? nullptr : counts.data(), lock);
  // Chunks of words (about 1e8 neighbour visits each) between interrupt checks.
  const double per_word = 64.0 * (static_cast<double>(n) + static_cast<double>(nbr.size()));
  const u64 chunk = std::max<u64>(2 * static_cast<u64>(std::max(threads, 1)),
                                  static_cast<u64>(1e8 / per_word));
  for (u64 w0 = 0; w0 < words; w0 += chunk) {
    const u64 w1 = std::min(words, w0 + chunk);
    if (threads <= 1 || w1 - w0 < 2) {
      worker(w0, w1);
    } else {
      RcppParallel::parallelFor(w0, w1, worker, 1, threads);
    }
    Rcpp::checkUserInterrupt();
  }
  Rcpp::NumericMatrix prob(n, 4);
  const double unit = exact ? 0 : 1 / replicates;
  for (int i = 0; i < n; ++i) {
    for (int c = 0; c < 4; ++c) {
      if (store) {
        const u64* a = bits + (static_cast<u64>(i) * 4 + c) * words;
        prob(i, c) = joint(a, a, words, exact ? rep_weight.begin() : nullptr, unit);
      } else {
        prob(i, c) = static_cast<double>(counts[static_cast<std::size_t>(i) * 4 + c]) * unit;
      }
    }
  }
  return Rcpp::List::create(Rcpp::_["prob"] = prob, Rcpp::_["bits"] = bits_raw,
                            Rcpp::_["weights"] = rep_weight, Rcpp::_["words"] = static_cast<double>(words),
                            Rcpp::_["total"] = replicates);
}

namespace {

// One row i of the variance sums: for each estimand m,
//   (1 - pi_i) x_i^2 + x_i^2 pi_i N0_i + sum_j (1 - pi_i pi_j / pi_ij) x_i x_j
// over dependent units j observed with pi_ij > 0, where x = a / pi and N0_i
// counts the (unit, condition) pairs in estimand m's support that can never
// occur together with unit i's observed condition.
struct VarianceWorker : public RcppParallel::Worker {
  int n, M;
  const u64* bits;
  u64 words;
  const double* rep_weight;
  double unit;
  const int* cond;
  const double* pi;
  const double* x;        // n x M, column-major
  const int* support;     // n x M condition masks
  const int* dep_start;   // dependent units of i (all units when null)
  const int* dep;
  double* rows;           // n x M results
  double* sizes;          // n x M sums of the terms' magnitudes

  VarianceWorker(int n_, int M_, const u64* bits_, u64 words_, const double* rep_weight_,
                 double unit_, const int* cond_, const double* pi_, const double* x_,
                 const int* support_, const int* dep_start_, const int* dep_, double* rows_,
                 double* sizes_)
      : n(n_), M(M_), bits(bits_), words(words_), rep_weight(rep_weight_), unit(unit_),
        cond(cond_), pi(pi_), x(x_), support(support_), dep_start(dep_start_), dep(dep_),
        rows(rows_), sizes(sizes_) {}

  const u64* bitset(int i, int c) const { return bits + (static_cast<u64>(i) * 4 + c) * words; }

  void operator()(std::size_t begin, std::size_t end) {
    std::vector<double> cross(M), cross_size(M), zero(M);
    for (std::size_t ii = begin; ii < end; ++ii) {
      const int i = static_cast<int>(ii);
      bool any = false;
      for (int k = 0; k < M; ++k) any = any || x[i + static_cast<std::size_t>(k) * n] != 0;
      if (!any) continue;
      std::fill(cross.begin(), cross.end(), 0.0);
      std::fill(cross_size.begin(), cross_size.end(), 0.0);
      std::fill(zero.begin(), zero.end(), 0.0);
      const u64* a = bitset(i, cond[i]);
      // the unit's other conditions never occur with its observed one
      for (int k = 0; k < M; ++k) {
        const int mask = support[i + static_cast<std::size_t>(k) * n] & ~(1 << cond[i]);
        zero[k] += __builtin_popcount(static_cast<unsigned>(mask));
      }
      const int jn = dep_start ? dep_start[i + 1] - dep_start[i] : n;
      for (int jj = 0; jj < jn; ++jj) {
        const int j = dep_start ? dep[dep_start[i] + jj] : jj;
        if (j == i) continue;
        int mask_all = 0;
        for (int k = 0; k < M; ++k) mask_all |= support[j + static_cast<std::size_t>(k) * n];
        for (int c = 0; c < 4; ++c) {
          if (!((mask_all >> c) & 1)) continue;
          const u64* b = bitset(j, c);
          if (c == cond[j]) {
            const double pij = joint(a, b, words, rep_weight, unit);
            if (pij > 0) {
              const double f = 1 - pi[i] * pi[j] / pij;
              for (int k = 0; k < M; ++k) {
                const double t = f * x[j + static_cast<std::size_t>(k) * n];
                cross[k] += t;
                cross_size[k] += std::fabs(t);
              }
              continue;
            }
          } else if (any_joint(a, b, words)) {
            continue;
          }
          for (int k = 0; k < M; ++k) {
            if ((support[j + static_cast<std::size_t>(k) * n] >> c) & 1) zero[k] += 1;
          }
        }
      }
      for (int k = 0; k < M; ++k) {
        const double xi = x[i + static_cast<std::size_t>(k) * n];
        const double diag = (1 - pi[i]) * xi * xi + xi * xi * pi[i] * zero[k];
        rows[i + static_cast<std::size_t>(k) * n] = diag + xi * cross[k];
        sizes[i + static_cast<std::size_t>(k) * n] = diag + std::fabs(xi) * cross_size[k];
      }
    }
  }
};

}  // namespace

// The Aronow-Samii (2017) conservative variance of M Horvitz-Thompson
// estimators sum_i a[i, m] / pi[i] from the bitsets of cpp_exposure_draws():
// `cond` each unit's observed condition (0-3), `pi` its probability, `a` the
// n x M observed terms, `support` the n x M masks of the conditions each
// estimand gives a unit a coefficient in. `dep_start`/`dep` list the units
// whose condition depends on the same assignments as unit i's (under
// Bernoulli designs; other pairs are independent and add nothing); empty:
// every pair is dependent. Returns the M variances, summed over units in
// order (the same for any thread count), and the sums of the magnitudes of
// their terms (the scale of their rounding error).
// [[Rcpp::export]]
Rcpp::List cpp_exposure_variance(Rcpp::RawVector bits, double words, Rcpp::NumericVector weights,
                                          double total, Rcpp::IntegerVector cond, Rcpp::NumericVector pi,
                                          Rcpp::NumericMatrix a, Rcpp::IntegerMatrix support,
                                          Rcpp::IntegerVector dep_start, Rcpp::IntegerVector dep,
                                          int threads) {
  const int n = cond.size(), M = a.ncol();
  std::vector<double> x(static_cast<std::size_t>(n) * M);
  for (int k = 0; k < M; ++k) {
    for (int i = 0; i < n; ++i) {
      const double ai = a(i, k);
      x[i + static_cast<std::size_t>(k) * n] = ai == 0 ? 0 : ai / pi[i];
    }
  }
  std::vector<double> rows(static_cast<std::size_t>(n) * M, 0.0), sizes(rows.size(), 0.0);
  const bool has_dep = dep_start.size() > 0;
  VarianceWorker worker(n, M, reinterpret_cast<const u64*>(RAW(bits)), static_cast<u64>(words),
                        weights.size() ? weights.begin() : nullptr, 1 / total, cond.begin(),
                        pi.begin(), x.data(), support.begin(),
                        has_dep ? dep_start.begin() : nullptr, has_dep ? dep.begin() : nullptr,
                        rows.data(), sizes.data());
  const int chunk = 256;
  for (int i0 = 0; i0 < n; i0 += chunk) {
    const int i1 = std::min(n, i0 + chunk);
    if (threads <= 1) {
      worker(i0, i1);
    } else {
      RcppParallel::parallelFor(i0, i1, worker, 1, threads);
    }
    Rcpp::checkUserInterrupt();
  }
  Rcpp::NumericVector out(M), size(M);
  for (int k = 0; k < M; ++k) {
    double s = 0, a = 0;
    for (int i = 0; i < n; ++i) {
      s += rows[i + static_cast<std::size_t>(k) * n];
      a += sizes[i + static_cast<std::size_t>(k) * n];
    }
    out[k] = s;
    size[k] = a;
  }
  return Rcpp::List::create(Rcpp::_["variance"] = out, Rcpp::_["size"] = size);
}

// The units whose condition shares an assignment with unit i's under a
// design that assigns units independently: the units within two steps,
// {v} and the out-neighbours of v for every v in {i} and i's in-neighbours.
// Returns list(start, dep) in the compressed-row layout.
// [[Rcpp::export]]
Rcpp::List cpp_exposure_dependent(Rcpp::IntegerVector start, Rcpp::IntegerVector nbr,
                                  Rcpp::IntegerVector start_t, Rcpp::IntegerVector nbr_t) {
  const int n = start.size() - 1;
  std::vector<int> stamp(n, -1), out;
  Rcpp::IntegerVector dep_start(n + 1);
  for (int i = 0; i < n; ++i) {
    dep_start[i] = static_cast<int>(out.size());
    auto add_reach = [&](int v) {
      if (stamp[v] != i) {
        stamp[v] = i;
        out.push_back(v);
      }
      for (int e = start_t[v]; e < start_t[v + 1]; ++e) {
        const int u = nbr_t[e];
        if (stamp[u] != i) {
          stamp[u] = i;
          out.push_back(u);
        }
      }
    };
    add_reach(i);
    for (int e = start[i]; e < start[i + 1]; ++e) add_reach(nbr[e]);
  }
  dep_start[n] = static_cast<int>(out.size());
  return Rcpp::List::create(Rcpp::_["start"] = dep_start,
                            Rcpp::_["dep"] = Rcpp::IntegerVector(out.begin(), out.end()));
}

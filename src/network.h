// Shared pieces of the network functions (network_exposure(),
// exposure_effects(), spillover_test()): the graph as in-neighbour lists, a
// unit's exposure and condition, and the randomisation designs whose
// assignments are drawn (one stream per replicate) or enumerated.
//
// Units are integer codes 0..n-1. The graph is stored as compressed rows of
// in-neighbours: the neighbours of unit i, whose treatment reaches i, are
// nbr[start[i]] ... nbr[start[i + 1] - 1] with edge weights wt[...] (none
// for an unweighted graph). Self-loops are dropped and duplicate edges merged
// (their weights summed) when the graph is built, so each neighbour appears
// once.
#ifndef CLUSTERAB_NETWORK_H
#define CLUSTERAB_NETWORK_H

#include "resampling.h"
#include <cmath>
#include <cstdint>
#include <vector>

namespace clusterab {

struct GraphView {
  int n;
  const int* start;
  const int* nbr;
  const double* wt;  // null: unweighted, every neighbour counts 1
  double weight(int e) const { return wt ? wt[e] : 1.0; }
};

// The view of an R graph's lists (an empty wt is an unweighted graph).
template <class IntVec, class NumVec>
GraphView graph_view(const IntVec& start, const IntVec& nbr, const NumVec& wt) {
  return GraphView{static_cast<int>(start.size()) - 1, start.begin(), nbr.begin(),
                   wt.size() ? wt.begin() : nullptr};
}

// The exposure mapping: exposed when the treated neighbours' weight is
// positive (threshold <= 0, "any"), or when their share of the unit's total
// weight is at least `threshold`. Isolated units are never exposed.
struct Mapping {
  double threshold;
  bool exposed(double treated, double total) const {
    if (threshold <= 0) return treated > 0;
    return total > 0 && treated / total >= threshold;
  }
  // Unit i's exposure under the assignment z (one 0/1 per unit); for "any"
  // the scan stops at the first treated neighbour with positive weight.
  bool exposed(const GraphView& g, int i, const unsigned char* z, double total) const;
};

// The weight of unit i's treated neighbours under z (one 0/1 per unit).
inline double treated_weight(const GraphView& g, int i, const unsigned char* z) {
  double s = 0;
  for (int e = g.start[i]; e < g.start[i + 1]; ++e) {
    if (z[g.nbr[e]]) s += g.weight(e);
  }
  return s;
}

inline bool Mapping::exposed(const GraphView& g, int i, const unsigned char* z, double total) const {
  if (threshold <= 0) {
    for (int e = g.start[i]; e < g.start[i + 1]; ++e) {
      if (z[g.nbr[e]] && g.weight(e) > 0) return true;
    }
    return false;
  }
  return exposed(treated_weight(g, i, z), total);
}

// The assignment of the units from that of their blocks.
inline void unit_assignment(int n, const int* block, const unsigned char* treated,
                            unsigned char* z) {
  for (int i = 0; i < n; ++i) z[i] = treated[block[i]];
}

// The four conditions: 0 = c0 (control, not exposed), 1 = c1 (control,
// exposed), 2 = t0, 3 = t1.
inline int condition(bool own, bool exposed) { return 2 * static_cast<int>(own) + exposed; }

// A randomisation design over assignment blocks (units, or the clusters of a
// cluster-randomised design). Blocks with fixed[b] = 0 or 1 keep that
// assignment (the focal units of spillover_test()); the free ones are drawn:
// each independently with probability p (Bernoulli), or exactly `m` of them
// (complete randomisation of units or of clusters).
struct Design {
  bool bernoulli;
  double p;
  int m;
  std::vector<int> free_blocks;
  std::vector<unsigned char> fixed_value;  // the assignment of fixed blocks, 0 for free ones

  // One draw of replicate r's assignment into treated (one flag per block).
  // Complete designs use Floyd's sampling of m of the free blocks, with
  // `mark` (one int per block, all < 0 initially) as scratch.
  void draw(ReplicateRng& rng, unsigned char* treated) const {
    const int nf = static_cast<int>(free_blocks.size());
    for (std::size_t b = 0; b < fixed_value.size(); ++b) treated[b] = fixed_value[b];
    if (bernoulli) {
      for (int j = 0; j < nf; ++j) treated[free_blocks[j]] = rng.uniform() < p;
      return;
    }
    for (int j = nf - m; j < nf; ++j) {
      const int t = static_cast<int>(rng.below(static_cast<std::uint64_t>(j) + 1));
      if (treated[free_blocks[t]]) {
        treated[free_blocks[j]] = 1;
      } else {
        treated[free_blocks[t]] = 1;
      }
    }
  }

  // Exact enumeration: assignment `index` of the free blocks, with its
  // probability. Bernoulli: the bits of index (2^nf assignments); complete:
  // the m-subset of rank index in the combinatorial number system
  // (C(nf, m) assignments, each 1 / C(nf, m)). `choose` holds C(x, i) for
  // x <= nf as choose[x * (m + 1) + i].
  double enumerate(std::uint64_t index, const std::vector<double>& choose,
                   unsigned char* treated) const {
    const int nf = static_cast<int>(free_blocks.size());
    for (std::size_t b = 0; b < fixed_value.size(); ++b) treated[b] = fixed_value[b];
    if (bernoulli) {
      int k = 0;
      for (int j = 0; j < nf; ++j) {
        const bool t = (index >> j) & 1U;
        treated[free_blocks[j]] = t;
        k += t;
      }
      return std::pow(p, k) * std::pow(1 - p, nf - k);
    }
    double r = static_cast<double>(index);
    int x = nf - 1;
    for (int i = m; i >= 1; --i) {
      while (x >= 0 && choose[x * (m + 1) + i] > r) --x;
      treated[free_blocks[x]] = 1;
      r -= choose[x * (m + 1) + i];
      --x;
    }
    return 1 / choose[nf * (m + 1) + m];
  }
};

// The design with blocks fixed[b] >= 0 kept at that value and the others
// (fixed[b] < 0) free.
inline Design make_design(bool bernoulli, double p, int m, const int* fixed, int n_blocks) {
  Design d;
  d.bernoulli = bernoulli;
  d.p = p;
  d.m = m;
  d.fixed_value.assign(n_blocks, 0);
  for (int b = 0; b < n_blocks; ++b) {
    if (fixed[b] < 0) {
      d.free_blocks.push_back(b);
    } else {
      d.fixed_value[b] = static_cast<unsigned char>(fixed[b]);
    }
  }
  return d;
}

// C(x, i) for 0 <= x <= nf, 0 <= i <= m, as Design::enumerate() reads them.
inline std::vector<double> binomial_table(int nf, int m) {
  std::vector<double> c((nf + 1) * (m + 1), 0.0);
  for (int x = 0; x <= nf; ++x) {
    c[x * (m + 1)] = 1;
    for (int i = 1; i <= m && i <= x; ++i) {
      c[x * (m + 1) + i] = c[(x - 1) * (m + 1) + i - 1] + (i <= x - 1 ? c[(x - 1) * (m + 1) + i] : 0);
    }
  }
  return c;
}

}  // namespace clusterab

#endif

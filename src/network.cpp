// The graph of network_exposure() and the functions built on it: edges as
// integer codes -> in-neighbour lists (self-loops dropped, duplicate edges
// merged with their weights summed), each unit's treated neighbours, and a
// greedy independent set (the default focal units of spillover_test()).
#include "network.h"
#include <Rcpp.h>
#include <RcppParallel.h>
#include <algorithm>
#include <vector>

using namespace clusterab;

namespace {

// The edge list split into `parts` consecutive pieces, one per thread. Every
// phase writes to places no other piece writes to, and the neighbours of a
// unit are kept in edge order (piece by piece), so the lists do not depend on
// the number of pieces.
struct GraphBuild {
  const int* a_code;  // the end whose treatment reaches ...
  const int* b_code;  // ... this end
  const double* weight;
  std::size_t m;
  int n, parts;
  bool directed;
  std::vector<std::vector<int>> count;  // per piece, entries per unit
  std::vector<long long> loops;         // per piece
  std::vector<long long> raw_start;     // n + 1: the entries before merging
  std::vector<std::vector<long long>> fill;  // per piece, next slot per unit
  std::vector<int> nbr;
  std::vector<double> wt;
  std::vector<int> kept;                // per unit, distinct neighbours
  std::vector<long long> merged;        // per unit range

  std::size_t piece_begin(int p) const { return m * static_cast<std::size_t>(p) / parts; }
};

struct CountWorker : public RcppParallel::Worker {
  GraphBuild& b;
  explicit CountWorker(GraphBuild& b_) : b(b_) {}
  void operator()(std::size_t begin, std::size_t end) {
    for (std::size_t p = begin; p < end; ++p) {
      std::vector<int>& c = b.count[p];
      c.assign(b.n, 0);
      long long loops = 0;
      for (std::size_t e = b.piece_begin(p); e < b.piece_begin(p + 1); ++e) {
        if (b.a_code[e] == b.b_code[e]) {
          ++loops;
          continue;
        }
        ++c[b.b_code[e]];
        if (!b.directed) ++c[b.a_code[e]];
      }
      b.loops[p] = loops;
    }
  }
};

struct FillWorker : public RcppParallel::Worker {
  GraphBuild& b;
  explicit FillWorker(GraphBuild& b_) : b(b_) {}
  void operator()(std::size_t begin, std::size_t end) {
    for (std::size_t p = begin; p < end; ++p) {
      std::vector<long long>& f = b.fill[p];
      const bool weighted = b.weight != nullptr;
      for (std::size_t e = b.piece_begin(p); e < b.piece_begin(p + 1); ++e) {
        const int x = b.a_code[e], y = b.b_code[e];
        if (x == y) continue;
        if (weighted) b.wt[f[y]] = b.weight[e];
        b.nbr[f[y]++] = x;
        if (!b.directed) {
          if (weighted) b.wt[f[x]] = b.weight[e];
          b.nbr[f[x]++] = y;
        }
      }
    }
  }
};

// Merges repeated neighbours within each unit's own slots (the first
// appearance kept, weights summed), for units in piece p of 0..n-1.
struct MergeWorker : public RcppParallel::Worker {
  GraphBuild& b;
  explicit MergeWorker(GraphBuild& b_) : b(b_) {}
  void operator()(std::size_t begin, std::size_t end) {
    std::vector<int> seen(b.n, -1);
    std::vector<long long> at(b.n, 0);
    const bool weighted = b.weight != nullptr;
    for (std::size_t p = begin; p < end; ++p) {
      const int i0 = static_cast<int>(static_cast<long long>(b.n) * p / b.parts);
      const int i1 = static_cast<int>(static_cast<long long>(b.n) * (p + 1) / b.parts);
      long long merged = 0;
      for (int i = i0; i < i1; ++i) {
        long long out = b.raw_start[i];
        for (long long e = b.raw_start[i]; e < b.raw_start[i + 1]; ++e) {
          const int v = b.nbr[e];
          if (seen[v] == i) {
            if (weighted) b.wt[at[v]] += b.wt[e];
            ++merged;
          } else {
            seen[v] = i;
            at[v] = out;
            if (weighted) b.wt[out] = b.wt[e];
            b.nbr[out++] = v;
          }
        }
        b.kept[i] = static_cast<int>(out - b.raw_start[i]);
      }
      b.merged[p] = merged;
    }
  }
};

template <class W>
void run_parts(W& worker, int parts) {
  if (parts <= 1) {
    worker(0, 1);
  } else {
    RcppParallel::parallelFor(0, parts, worker, 1, parts);
  }
}

}  // namespace

// The edges are codes[offset + e] -> codes[offset + m + e] for e < m
// (codes of the n nodes, 0..n-1; `reverse` swaps the ends, for the
// transpose), with weights `weight` (empty: unweighted, and the lists get no
// weights either). The treatment of the first end reaches the second;
// undirected edges reach both ends. Returns the in-neighbour lists (start,
// nbr, wt), each unit's number of distinct neighbours and total weight, the
// number of self-loops dropped and of duplicate edges merged. The same for
// any number of threads.
// [[Rcpp::export]]
Rcpp::List cpp_network_graph(Rcpp::IntegerVector codes, int n, double offset, double edges,
                             Rcpp::NumericVector weight, bool directed, bool reverse,
                             int threads) {
  GraphBuild b;
  b.m = static_cast<std::size_t>(edges);
  const std::size_t first = static_cast<std::size_t>(offset);
  b.a_code = codes.begin() + first + (reverse ? b.m : 0);
  b.b_code = codes.begin() + first + (reverse ? 0 : b.m);
  b.weight = weight.size() > 0 ? weight.begin() : nullptr;
  b.n = n;
  b.directed = directed;
  b.parts = std::max(1, std::min(threads, static_cast<int>(b.m / 100000) + 1));
  b.count.resize(b.parts);
  b.loops.assign(b.parts, 0);
  CountWorker counter(b);
  run_parts(counter, b.parts);
  // slots: unit by unit, and within a unit piece by piece
  b.raw_start.assign(static_cast<std::size_t>(n) + 1, 0);
  b.fill.assign(b.parts, std::vector<long long>(n));
  long long total = 0;
  for (int i = 0; i < n; ++i) {
    b.raw_start[i] = total;
    for (int p = 0; p < b.parts; ++p) {
      b.fill[p][i] = total;
      total += b.count[p][i];
    }
  }
  b.raw_start[n] = total;
  b.count.clear();
  b.count.shrink_to_fit();
  if (total > 2147483647LL) {
    Rcpp::stop("the graph has more than 2^31 - 1 neighbour entries; split it");
  }
  b.nbr.resize(static_cast<std::size_t>(total));
  if (b.weight) b.wt.resize(static_cast<std::size_t>(total));
  FillWorker filler(b);
  run_parts(filler, b.parts);
  b.fill.clear();
  b.fill.shrink_to_fit();
  b.kept.assign(n, 0);
  b.merged.assign(b.parts, 0);
  MergeWorker merger(b);
  run_parts(merger, b.parts);
  // the merged lists, packed
  Rcpp::IntegerVector start(n + 1), degree(n);
  Rcpp::NumericVector strength(n);
  long long out = 0;
  for (int i = 0; i < n; ++i) {
    start[i] = static_cast<int>(out);
    degree[i] = b.kept[i];
    out += b.kept[i];
  }
  start[n] = static_cast<int>(out);
  Rcpp::IntegerVector nbr(out);
  Rcpp::NumericVector wt(b.weight ? out : 0);
  for (int i = 0; i < n; ++i) {
    const long long from = b.raw_start[i];
    std::copy(b.nbr.begin() + from, b.nbr.begin() + from + b.kept[i], nbr.begin() + start[i]);
    double s = b.kept[i];
    if (b.weight) {
      std::copy(b.wt.begin() + from, b.wt.begin() + from + b.kept[i], wt.begin() + start[i]);
      s = 0;
      for (int e = start[i]; e < start[i + 1]; ++e) s += wt[e];
    }
    strength[i] = s;
  }
  long long loops = 0, merged = 0;
  for (int p = 0; p < b.parts; ++p) {
    loops += b.loops[p];
    merged += b.merged[p];
  }
  // An undirected edge given twice is one duplicate, not two: each end's list
  // counted it once.
  if (!directed) merged /= 2;
  return Rcpp::List::create(Rcpp::_["start"] = start, Rcpp::_["nbr"] = nbr, Rcpp::_["wt"] = wt,
                            Rcpp::_["degree"] = degree, Rcpp::_["strength"] = strength,
                            Rcpp::_["self_loops"] = static_cast<double>(loops),
                            Rcpp::_["duplicates"] = static_cast<double>(merged));
}

// The weight of each unit's treated neighbours (treated: one 0/1 per unit;
// an empty wt: each neighbour counts 1).
// [[Rcpp::export]]
Rcpp::NumericVector cpp_network_treated(Rcpp::IntegerVector start, Rcpp::IntegerVector nbr,
                                        Rcpp::NumericVector wt, Rcpp::IntegerVector treated) {
  const int n = start.size() - 1;
  const bool weighted = wt.size() > 0;
  Rcpp::NumericVector out(n);
  for (int i = 0; i < n; ++i) {
    double s = 0;
    for (int e = start[i]; e < start[i + 1]; ++e) {
      if (treated[nbr[e]]) s += weighted ? wt[e] : 1.0;
    }
    out[i] = s;
  }
  return out;
}

// A maximal independent set, greedily in the order `order` (a permutation of
// 0..n-1): a unit is taken when none of its neighbours (in either direction:
// the in-lists of the graph and of its transpose) was taken.
// [[Rcpp::export]]
Rcpp::LogicalVector cpp_network_independent_set(Rcpp::IntegerVector start, Rcpp::IntegerVector nbr,
                                                Rcpp::IntegerVector start_t, Rcpp::IntegerVector nbr_t,
                                                Rcpp::IntegerVector order) {
  const int n = start.size() - 1;
  std::vector<unsigned char> blocked(n, 0);
  Rcpp::LogicalVector taken(n, false);
  for (int k = 0; k < n; ++k) {
    const int i = order[k];
    if (blocked[i]) continue;
    taken[i] = true;
    blocked[i] = 1;
    for (int e = start[i]; e < start[i + 1]; ++e) blocked[nbr[e]] = 1;
    for (int e = start_t[i]; e < start_t[i + 1]; ++e) blocked[nbr_t[e]] = 1;
  }
  return taken;
}

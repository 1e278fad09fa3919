// The graph of network_exposure() and the functions built on it: edges as
// integer codes -> in-neighbour lists (self-loops dropped, duplicate edges
// merged with their weights summed), each unit's treated neighbours, and a
// greedy independent set (the default focal units of spillover_test()).
#include "network.h"
#include <Rcpp.h>
#include <algorithm>
#include <vector>

using namespace clusterab;

// The edges are codes[offset + e] -> codes[offset + m + e] for e < m
// (codes of the n nodes, 0..n-1;
// `reverse` swaps the ends, for the transpose), with weights `weight`
// (empty: unweighted, and the lists get no weights either). The treatment
// of the first end reaches the second; undirected edges reach both ends.
// Returns the in-neighbour lists (start, nbr, wt), each unit's number of
// distinct neighbours and total weight, the number of self-loops dropped and
// of duplicate edges merged.
// [[Rcpp::export]]
Rcpp::List cpp_network_graph(Rcpp::IntegerVector codes, int n, double offset, double edges,
                             Rcpp::NumericVector weight, bool directed, bool reverse) {
  const std::size_t m = static_cast<std::size_t>(edges);
  const std::size_t first = static_cast<std::size_t>(offset);
  const int* a_code = codes.begin() + first + (reverse ? m : 0);
  const int* b_code = codes.begin() + first + (reverse ? 0 : m);
  const bool weighted = weight.size() > 0;
  std::vector<long long> count(static_cast<std::size_t>(n) + 1, 0);
  long long loops = 0;
  for (std::size_t e = 0; e < m; ++e) {
    if (a_code[e] == b_code[e]) {
      ++loops;
      continue;
    }
    ++count[b_code[e] + 1];
    if (!directed) ++count[a_code[e] + 1];
  }
  for (int i = 0; i < n; ++i) count[i + 1] += count[i];
  const long long total = count[n];
  if (total > 2147483647LL) {
    Rcpp::stop("the graph has more than 2^31 - 1 neighbour entries; split it");
  }
  std::vector<int> nbr(static_cast<std::size_t>(total));
  std::vector<double> wt(weighted ? static_cast<std::size_t>(total) : 0);
  std::vector<long long> fill(count.begin(), count.end() - 1);
  for (std::size_t e = 0; e < m; ++e) {
    const int a = a_code[e], b = b_code[e];
    if (a == b) continue;
    if (weighted) {
      wt[fill[b]] = weight[e];
      if (!directed) wt[fill[a]] = weight[e];
    }
    nbr[fill[b]++] = a;
    if (!directed) nbr[fill[a]++] = b;
  }
  // Merge repeated neighbours of each unit, keeping the first appearance
  // (with weights, summing them). `seen[v]` is the unit whose list last held
  // v, `at[v]` where it is kept.
  std::vector<int> seen(n, -1), at(n, 0);
  Rcpp::IntegerVector start(n + 1);
  Rcpp::IntegerVector degree(n);
  Rcpp::NumericVector strength(n);
  long long out = 0, merged = 0;
  for (int i = 0; i < n; ++i) {
    start[i] = static_cast<int>(out);
    for (long long e = count[i]; e < count[i + 1]; ++e) {
      const int v = nbr[e];
      if (seen[v] == i) {
        if (weighted) wt[at[v]] += wt[e];
        ++merged;
      } else {
        seen[v] = i;
        at[v] = static_cast<int>(out);
        if (weighted) wt[out] = wt[e];
        nbr[out++] = v;
      }
    }
    degree[i] = static_cast<int>(out - start[i]);
    double s = degree[i];
    if (weighted) {
      s = 0;
      for (long long e = start[i]; e < out; ++e) s += wt[e];
    }
    strength[i] = s;
  }
  start[n] = static_cast<int>(out);
  // An undirected edge given twice is one duplicate, not two: each end's list
  // counted it once.
  if (!directed) merged /= 2;
  return Rcpp::List::create(
      Rcpp::_["start"] = start,
      Rcpp::_["nbr"] = Rcpp::IntegerVector(nbr.begin(), nbr.begin() + out),
      Rcpp::_["wt"] = Rcpp::NumericVector(wt.begin(), wt.begin() + (weighted ? out : 0)),
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

// Randomisation inference for cluster-randomised experiments: the statistic
// of an assignment from per-cluster summaries, exact enumeration of all
// assignments (within blocks) in revolving-door order, and Monte Carlo draws.
//
// The R layer sorts the clusters by block (block 0 first, the block with the
// most combinations) and centres the cluster means within each block. An
// assignment is, per block, the set of its clusters in the enumerated arm:
// the treated clusters, or the control clusters when there are fewer of
// those ("flipped"), which keeps every binomial coefficient below the block's
// number of combinations.
#include "resampling.h"
#include <Rcpp.h>
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

using namespace clusterab;

namespace {

typedef std::uint64_t u64;

// Binomial coefficients C(x, i) for 0 <= x <= n, saturating at 2^64 - 1.
class Binomials {
 public:
  explicit Binomials(int n) : n_(n), c_((n + 1) * (n + 1), 0) {
    for (int x = 0; x <= n; ++x) {
      c_[x * (n + 1)] = 1;
      for (int i = 1; i <= x; ++i) {
        const u64 a = c_[(x - 1) * (n + 1) + i - 1], b = c_[(x - 1) * (n + 1) + i];
        c_[x * (n + 1) + i] = (a > ~static_cast<u64>(0) - b) ? ~static_cast<u64>(0) : a + b;
      }
    }
  }
  u64 operator()(int x, int i) const {
    if (x < 0 || i < 0 || i > x) return 0;
    return c_[x * (n_ + 1) + i];
  }

 private:
  int n_;
  std::vector<u64> c_;
};

// The k-subsets of {0, ..., m - 1} in revolving-door order (Knuth, TAOCP
// 7.2.1.3, Algorithm R): consecutive subsets differ by one element leaving and
// one entering, so sums over the subset update in O(1). c[1..k] ascending,
// c[k + 1] = m as a sentinel.
class RevolvingDoor {
 public:
  RevolvingDoor(int m, int k) : m_(m), k_(k), c_(k + 2, 0) {}

  // The subset of rank r (Kreher and Stinson, Combinatorial Algorithms, 2.3).
  void unrank(u64 r, const Binomials& C) {
    int x = m_;
    for (int i = k_; i >= 1; --i) {
      while (C(x, i) > r) --x;
      c_[i] = x;
      r = C(x + 1, i) - r - 1;
    }
    c_[k_ + 1] = m_;
  }

  // Moves to the next subset; `out` leaves it and `in` enters. Must not be
  // called on the last subset.
  void next(int& out, int& in) {
    int* c = c_.data();
    int j = 2;
    bool increase;  // false: try to decrease c[j] (R4); true: increase (R5)
    if (k_ % 2 == 1) {
      if (c[1] + 1 < c[2]) { out = c[1]; in = ++c[1]; return; }
      increase = false;
    } else {
      if (c[1] > 0) { out = c[1]; in = --c[1]; return; }
      increase = true;
    }
    for (;;) {
      if (!increase) {
        if (c[j] >= j) {
          out = c[j]; in = j - 2;
          c[j] = c[j - 1]; c[j - 1] = j - 2;
          return;
        }
        ++j;
        increase = true;
      } else {
        if (c[j] + 1 < c[j + 1]) {
          out = c[j - 1]; in = c[j] + 1;
          c[j - 1] = c[j]; ++c[j];
          return;
        }
        ++j;
        increase = false;
        if (j > k_) { out = in = -1; return; }  // past the last subset
      }
    }
  }

  int operator[](int i) const { return c_[i + 1]; }  // 0-based access
  int size() const { return k_; }

 private:
  int m_, k_;
  std::vector<int> c_;
};

// Treated sums of one block: weights w, weighted centred means w y, weighted
// observed treatment w z_obs, and w y^2 (for the t statistic).
struct Sums {
  double w = 0, wy = 0, wz = 0, wyy = 0;
};

// A block's share of the statistic: omega_b (difference of means), the same
// for the observed treatment indicator (B, for the confidence interval), and
// omega_b^2 (variance of the difference) for Welch t.
struct Part {
  double diff = 0, b = 0, var = 0;
  void add(const Part& o) { diff += o.diff; b += o.b; var += o.var; }
};

struct Design {
  int G, blocks;
  bool welch;
  std::vector<double> y, w, zobs;
  std::vector<int> start, size, k;  // per block: first cluster, clusters, enumerated count
  std::vector<bool> flipped;        // the enumerated set is the control arm
  std::vector<double> omega;
  std::vector<Sums> total;          // sums over all clusters of the block
  bool equal_weights;               // w = 1: the arm weights are the fixed counts
  std::vector<double> inv_treated, inv_control;  // their inverses, per block
  bool need_b = true;               // compute B (for the confidence interval)

  explicit Design(const Rcpp::List& d)
      : y(Rcpp::as<std::vector<double>>(d["y"])), w(Rcpp::as<std::vector<double>>(d["w"])),
        zobs(Rcpp::as<std::vector<double>>(d["zobs"])),
        start(Rcpp::as<std::vector<int>>(d["start"])), size(Rcpp::as<std::vector<int>>(d["size"])),
        k(Rcpp::as<std::vector<int>>(d["k"])), flipped(Rcpp::as<std::vector<bool>>(d["flipped"])),
        omega(Rcpp::as<std::vector<double>>(d["omega"])) {
    G = static_cast<int>(y.size());
    blocks = static_cast<int>(start.size());
    welch = Rcpp::as<bool>(d["welch"]);
    total.resize(blocks);
    equal_weights = true;
    for (int b = 0; b < blocks; ++b) {
      for (int i = start[b]; i < start[b] + size[b]; ++i) {
        add(total[b], i, 1.0);
        equal_weights = equal_weights && w[i] == 1.0;
      }
      const int treated = flipped[b] ? size[b] - k[b] : k[b];
      inv_treated.push_back(1.0 / treated);
      inv_control.push_back(1.0 / (size[b] - treated));
    }
  }

  void add(Sums& s, int i, double sign) const {
    s.w += sign * w[i];
    s.wy += sign * w[i] * y[i];
    s.wz += sign * w[i] * zobs[i];
    s.wyy += sign * w[i] * y[i] * y[i];
  }

  // Block b's part of the statistic when `s` sums its enumerated clusters.
  Part part(int b, const Sums& s) const {
    const Sums& t = total[b];
    Sums tr = s, ct;
    if (flipped[b]) { tr.w = t.w - s.w; tr.wy = t.wy - s.wy; tr.wz = t.wz - s.wz; tr.wyy = t.wyy - s.wyy; }
    ct.w = t.w - tr.w; ct.wy = t.wy - tr.wy; ct.wz = t.wz - tr.wz; ct.wyy = t.wyy - tr.wyy;
    // Multiplying by inverses saves divisions in the inner loop.
    const double it = equal_weights ? inv_treated[b] : 1.0 / tr.w;
    const double ic = equal_weights ? inv_control[b] : 1.0 / ct.w;
    const double mt = tr.wy * it, mc = ct.wy * ic;
    Part p;
    p.diff = omega[b] * (mt - mc);
    if (need_b) p.b = omega[b] * (tr.wz * it - ct.wz * ic);
    if (welch) {  // equal weights: tr.w and ct.w are the cluster counts
      const double vt = (tr.wyy - tr.wy * mt) / (tr.w - 1), vc = (ct.wyy - ct.wy * mc) / (ct.w - 1);
      p.var = omega[b] * omega[b] * (vt / tr.w + vc / ct.w);
    }
    return p;
  }

  double statistic(const Part& p) const { return welch ? p.diff / std::sqrt(p.var) : p.diff; }
};

// What is counted for each assignment: the statistic against the observed
// one (two-sided, greater, less, with the tolerances folded into the
// thresholds), its range, a histogram, and for each shift tau whether
// |A - tau B| >= threshold (the p-value curve of the confidence interval).
struct Tally {
  double thr_abs, thr_hi, thr_lo;
  int bins;          // equal-width histogram bins over [lo, hi), plus one below and one above
  double lo, inv_width;
  std::vector<double> tau, tau_thr;

  int rows() const { return 5 + bins + 2 + static_cast<int>(tau.size()); }
};

// Running tallies of one piece. Integer counters: they cannot alias the
// design's doubles, so the compiler keeps those in registers.
struct Counter {
  const Tally& t;
  u64 n_abs = 0, n_hi = 0, n_lo = 0;
  double tmin = std::numeric_limits<double>::infinity(), tmax = -std::numeric_limits<double>::infinity();
  std::vector<u64> hist, shift;

  explicit Counter(const Tally& t_) : t(t_), hist(t_.bins + 2, 0), shift(t_.tau.size(), 0) {}

  void count(double T, double A, double B) {
    n_abs += std::fabs(T) >= t.thr_abs;
    n_hi += T >= t.thr_hi;
    n_lo += T <= t.thr_lo;
    tmin = std::min(tmin, T);
    tmax = std::max(tmax, T);
    // A NaN statistic (Inf/Inf) has no bin: it is counted by none of the
    // tallies, and R sees it as the histogram's shortfall.
    if (t.bins > 0 && !std::isnan(T)) {
      const double pos = (T - t.lo) * t.inv_width;
      const int bin = pos < 0 ? 0 : (pos >= t.bins ? t.bins + 1 : 1 + static_cast<int>(pos));
      ++hist[bin];
    }
    for (std::size_t j = 0; j < shift.size(); ++j) shift[j] += std::fabs(A - t.tau[j] * B) >= t.tau_thr[j];
  }

  void write(double* out) const {
    out[0] = static_cast<double>(n_abs);
    out[1] = static_cast<double>(n_hi);
    out[2] = static_cast<double>(n_lo);
    out[3] = tmin;
    out[4] = tmax;
    for (std::size_t i = 0; i < hist.size(); ++i) out[5 + i] = static_cast<double>(hist[i]);
    for (std::size_t j = 0; j < shift.size(); ++j) out[5 + hist.size() + j] = static_cast<double>(shift[j]);
  }
};

// Enumeration of the assignments with global index in [begin, end): the
// index is a mixed-radix number, block 0 the fastest digit.
struct Enumerator {
  const Design& d;
  const Tally& tally;
  const Binomials& C;
  std::vector<u64> radix;  // combinations per block
  u64 begin, end, piece;
  RcppParallel::RMatrix<double> out;  // one column per piece
  double* pair_a;  // if not null: the statistic A and B of every assignment
  double* pair_b;

  void operator()(std::size_t p) {
    const u64 lo = begin + p * piece, hi = std::min(end, lo + piece);
    Counter counter(tally);
    const int B = d.blocks;
    std::vector<RevolvingDoor> door;
    std::vector<u64> rank(B);
    std::vector<Sums> sums(B);
    u64 rest_index = lo;
    for (int b = 0; b < B; ++b) {
      door.emplace_back(d.size[b], d.k[b]);
      rank[b] = rest_index % radix[b];
      rest_index /= radix[b];
      reset(b, rank[b], door[b], sums[b]);
    }
    Part rest = others(sums);
    Part first = d.part(0, sums[0]);
    for (u64 idx = lo;;) {
      Part all = rest;
      all.add(first);
      const double T = d.statistic(all);
      counter.count(T, all.diff, all.b);
      if (pair_a) { pair_a[idx] = all.diff; pair_b[idx] = all.b; }
      if (++idx >= hi) break;
      // Advance the odometer: block 0 steps; when it wraps it restarts at
      // rank 0 and the carry moves the next block one step.
      int b = 0;
      for (;; ++b) {
        if (++rank[b] < radix[b]) {
          step(b, door[b], sums[b]);
          break;
        }
        rank[b] = 0;
        reset(b, 0, door[b], sums[b]);
      }
      if (b > 0) rest = others(sums);
      first = d.part(0, sums[0]);
    }
    counter.write(&out(0, p));
  }

  // Block b at rank r, its sums from scratch (this also bounds the rounding
  // drift of the running sums to one piece).
  void reset(int b, u64 r, RevolvingDoor& door_b, Sums& s) const {
    door_b.unrank(r, C);
    s = Sums();
    for (int i = 0; i < door_b.size(); ++i) d.add(s, d.start[b] + door_b[i], 1.0);
  }

  void step(int b, RevolvingDoor& door_b, Sums& s) const {
    int leaving, entering;
    door_b.next(leaving, entering);
    d.add(s, d.start[b] + leaving, -1.0);
    d.add(s, d.start[b] + entering, 1.0);
  }

  Part others(const std::vector<Sums>& sums) const {
    Part p;
    for (int b = 1; b < d.blocks; ++b) p.add(d.part(b, sums[b]));
    return p;
  }
};

Tally make_tally(Rcpp::NumericVector thresholds, Rcpp::NumericVector breaks,
                 Rcpp::NumericVector tau, Rcpp::NumericVector tau_thr) {
  Tally t;
  t.thr_abs = thresholds[0];
  t.thr_hi = thresholds[1];
  t.thr_lo = thresholds[2];
  // breaks are equally spaced (rand_breaks() in R)
  t.bins = breaks.size() >= 2 ? static_cast<int>(breaks.size()) - 1 : 0;
  t.lo = t.bins > 0 ? breaks[0] : 0;
  t.inv_width = t.bins > 0 ? t.bins / (breaks[breaks.size() - 1] - breaks[0]) : 0;
  t.tau.assign(tau.begin(), tau.end());
  t.tau_thr.assign(tau_thr.begin(), tau_thr.end());
  return t;
}

// A uniformly random assignment with the design's treated count per block
// (a partial Fisher-Yates shuffle within each block), as treated sums.
struct MonteCarlo {
  const Design& d;
  std::uint64_t seed;
  std::size_t offset;
  RcppParallel::RMatrix<double> out;  // rows: statistic, A, B

  void operator()(std::size_t r) {
    ReplicateRng rng(seed, offset + r);
    Part all;
    std::vector<int> idx;
    for (int b = 0; b < d.blocks; ++b) {
      const int m = d.size[b];
      idx.resize(m);
      for (int i = 0; i < m; ++i) idx[i] = i;
      Sums s;
      for (int i = 0; i < d.k[b]; ++i) {
        const int j = i + static_cast<int>(rng.below(static_cast<std::uint64_t>(m - i)));
        std::swap(idx[i], idx[j]);
        d.add(s, d.start[b] + idx[i], 1.0);
      }
      all.add(d.part(b, s));
    }
    out(0, r) = d.statistic(all);
    out(1, r) = all.diff;
    out(2, r) = all.b;
  }
};

// Counts |A - tau B| >= threshold over stored (A, B) pairs, in pieces.
struct ShiftCounts {
  const double *a, *b;
  std::size_t n, piece;
  const std::vector<double>& tau;
  const std::vector<double>& thr;
  RcppParallel::RMatrix<double> out;

  void operator()(std::size_t p) {
    const std::size_t lo = p * piece, hi = std::min(n, lo + piece);
    for (std::size_t j = 0; j < tau.size(); ++j) {
      double c = 0;
      for (std::size_t i = lo; i < hi; ++i) c += std::fabs(a[i] - tau[j] * b[i]) >= thr[j];
      out(j, p) = c;
    }
  }
};

}  // namespace

// The statistic, A and B of one assignment (z: 1 for the clusters of the
// enumerated set, in the design's order).
// [[Rcpp::export]]
Rcpp::NumericVector cpp_rand_statistic(Rcpp::List design, Rcpp::IntegerVector z) {
  Design d(design);
  Part all;
  for (int b = 0; b < d.blocks; ++b) {
    Sums s;
    for (int i = d.start[b]; i < d.start[b] + d.size[b]; ++i) {
      if (z[i]) d.add(s, i, 1.0);
    }
    all.add(d.part(b, s));
  }
  return Rcpp::NumericVector::create(d.statistic(all), all.diff, all.b);
}

// Tallies (see Tally) of the assignments with index in [begin, end), split
// in pieces of fixed length (so the sums do not depend on threads). When
// pair_a and pair_b have length `total`, A and B are stored at each index.
// [[Rcpp::export]]
Rcpp::NumericVector cpp_rand_enumerate(Rcpp::List design, double begin, double end,
                                     Rcpp::NumericVector thresholds, Rcpp::NumericVector breaks,
                                     Rcpp::NumericVector tau, Rcpp::NumericVector tau_thr,
                                     Rcpp::NumericVector pair_a, Rcpp::NumericVector pair_b,
                                     double piece, int threads) {
  Design d(design);
  d.need_b = tau.size() > 0 || pair_a.size() > 0;
  Tally tally = make_tally(thresholds, breaks, tau, tau_thr);
  int max_size = 0;
  for (int b = 0; b < d.blocks; ++b) max_size = std::max(max_size, d.size[b]);
  Binomials C(max_size + 1);
  std::vector<u64> radix(d.blocks);
  for (int b = 0; b < d.blocks; ++b) radix[b] = C(d.size[b], d.k[b]);
  const u64 lo = static_cast<u64>(begin), hi = static_cast<u64>(end), len = static_cast<u64>(piece);
  const std::size_t pieces = static_cast<std::size_t>((hi - lo + len - 1) / len);
  Rcpp::NumericMatrix res(tally.rows(), pieces);
  const bool store = pair_a.size() > 0;
  Enumerator run{d, tally, C, radix, lo, hi, len, RcppParallel::RMatrix<double>(res),
                 store ? pair_a.begin() : nullptr, store ? pair_b.begin() : nullptr};
  for_replicates(0, pieces, threads, run);
  // Serial reduction: counts are whole numbers, so the sums are exact.
  Rcpp::NumericVector total(tally.rows());
  total[3] = R_PosInf;
  total[4] = R_NegInf;
  for (std::size_t p = 0; p < pieces; ++p) {
    for (int i = 0; i < tally.rows(); ++i) {
      if (i == 3) total[i] = std::min(total[i], res(i, p));
      else if (i == 4) total[i] = std::max(total[i], res(i, p));
      else total[i] += res(i, p);
    }
  }
  return total;
}

// Monte Carlo replicates [begin, end): a 3 x (end - begin) matrix of the
// statistic, A and B of each draw.
// [[Rcpp::export]]
Rcpp::NumericMatrix cpp_rand_monte_carlo(Rcpp::List design, Rcpp::IntegerVector seed, double begin,
                                       double end, int threads) {
  Design d(design);
  const std::size_t n = static_cast<std::size_t>(end - begin);
  Rcpp::NumericMatrix out(3, n);
  MonteCarlo run{d, seed_from_r(seed[0], seed[1]), static_cast<std::size_t>(begin),
                 RcppParallel::RMatrix<double>(out)};
  for_replicates(0, n, threads, run);
  return out;
}

// For each tau, the number of stored pairs with |A - tau B| >= thr.
// [[Rcpp::export]]
Rcpp::NumericVector cpp_rand_shift_counts(Rcpp::NumericVector a, Rcpp::NumericVector b,
                                        Rcpp::NumericVector tau, Rcpp::NumericVector thr,
                                        int threads) {
  const std::size_t n = a.size(), piece = 1 << 20;
  const std::size_t pieces = std::max<std::size_t>(1, (n + piece - 1) / piece);
  std::vector<double> t(tau.begin(), tau.end()), h(thr.begin(), thr.end());
  Rcpp::NumericMatrix res(t.size(), pieces);
  ShiftCounts run{a.begin(), b.begin(), n, piece, t, h, RcppParallel::RMatrix<double>(res)};
  for_replicates(0, pieces, threads, run);
  Rcpp::NumericVector out(t.size());
  for (std::size_t p = 0; p < pieces; ++p) {
    for (std::size_t j = 0; j < t.size(); ++j) out[j] += res(j, p);
  }
  return out;
}

// The revolving-door sequence of k-subsets of {0, ..., m - 1} (one row per
// subset) by stepping and by unranking each rank: a check for the tests.
// [[Rcpp::export]]
Rcpp::List cpp_rand_revolving_door(int m, int k) {
  Binomials C(m + 1);
  const u64 total = C(m, k);
  Rcpp::IntegerMatrix stepped(total, k), unranked(total, k);
  RevolvingDoor walk(m, k), jump(m, k);
  walk.unrank(0, C);
  for (u64 r = 0; r < total; ++r) {
    jump.unrank(r, C);
    for (int i = 0; i < k; ++i) {
      stepped(r, i) = walk[i];
      unranked(r, i) = jump[i];
    }
    if (r + 1 < total) {
      int out, in;
      walk.next(out, in);
    }
  }
  return Rcpp::List::create(Rcpp::Named("stepped") = stepped, Rcpp::Named("unranked") = unranked);
}

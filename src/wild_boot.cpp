// The wild cluster bootstrap from per-cluster statistics (R/wild_boot.R).
//
// A replicate with cluster weights v_g has
//   beta* - beta~ = delta = sum_g v_g u_g,            u_g = B s~_g,
//   c'(beta* - beta~) = sum_g v_g a_g,                a_g = c'u_g,
//   c'B s*_g = v_g a_g - d_g' delta,                  d_g = M_g B c,
// where s~_g are the scores of the residuals the bootstrap reuses (restricted
// for WCR, unrestricted for WCU) and M_g = X_g' W X_g. So a replicate costs
// O(G p): nothing touches the rows.
//
// For the confidence interval by test inversion the scores move with the
// null value along one direction, s~_g(h) = s~_g + h d_g (WCR), so every
// replicate's numerator is N0 + h N1 and its sum of squared scores
// Q0 + 2 h Q1 + h^2 Q2: five numbers per replicate give its t* at any null.
#include "cluster_stats.h"
#include "resampling.h"
#include <cmath>
#include <algorithm>
#include <cstdint>
#include <vector>

using namespace clusterab;

namespace {

enum WeightType { RADEMACHER = 0, WEBB = 1, MAMMEN = 2, NORMAL = 3 };

// Webb's six points; index 0 is 1 so that enumeration index 0 is the identity.
const double webb_points[6] = {1.0, -1.0, 0.70710678118654752440, -0.70710678118654752440,
                               1.22474487139158904910, -1.22474487139158904910};

// Replicate r's weights: from its own stream (random), or the r-th vector of
// the enumeration (Rademacher: bit g of r set means v_g = -1; Webb: base-6
// digit g of r indexes webb_points). Used by the replicates and by
// cpp_wild_weights(), so the tests can see the weights the replicates used.
struct WeightDraw {
  int type;
  bool enumerate;
  std::uint64_t seed;
  std::size_t G;

  void operator()(std::uint64_t r, double* v) const {
    if (enumerate) {
      std::uint64_t x = r;
      if (type == RADEMACHER) {
        for (std::size_t g = 0; g < G; ++g) {
          v[g] = (x & 1u) ? -1.0 : 1.0;
          x >>= 1;
        }
      } else {
        for (std::size_t g = 0; g < G; ++g) {
          v[g] = webb_points[x % 6u];
          x /= 6u;
        }
      }
      return;
    }
    ReplicateRng rng(seed, r);
    switch (type) {
      case RADEMACHER: {
        std::uint64_t bits = 0;
        for (std::size_t g = 0; g < G; ++g) {
          if (g % 64 == 0) bits = rng();
          v[g] = (bits & 1u) ? -1.0 : 1.0;
          bits >>= 1;
        }
        break;
      }
      case WEBB:
        for (std::size_t g = 0; g < G; ++g) v[g] = webb_points[rng.below(6)];
        break;
      case MAMMEN: {
        const double s5 = std::sqrt(5.0);
        const double low = -(s5 - 1.0) / 2.0, high = (s5 + 1.0) / 2.0;
        const double p_low = (s5 + 1.0) / (2.0 * s5);
        for (std::size_t g = 0; g < G; ++g) v[g] = rng.uniform() < p_low ? low : high;
        break;
      }
      default: {
        // Box-Muller, two normals per pair of uniforms; 1 - u is in (0, 1].
        const double two_pi = 6.283185307179586476925;
        for (std::size_t g = 0; g < G; g += 2) {
          const double radius = std::sqrt(-2.0 * std::log(1.0 - rng.uniform()));
          const double angle = two_pi * rng.uniform();
          v[g] = radius * std::cos(angle);
          if (g + 1 < G) v[g + 1] = radius * std::sin(angle);
        }
      }
    }
  }
};

// Replicates are computed in blocks of `block` consecutive indices aligned
// at multiples of `block` from `begin` (the R side chooses `block` from G
// alone and starts every chunk at a multiple of it), so each block's matrix
// products, and so every t*, are the same whatever the thread count.
// Per block of m replicates with weights V
// (G x m): Delta = U V (p x m), E = V * a - D' Delta (G x m), t* = a'V /
// sqrt(adj colSums(E^2)); with components also the direction's U1, a1.
struct WildBlocks : public RcppParallel::Worker {
  const WeightDraw& draw;
  Eigen::Map<const Eigen::VectorXd> a0, a1;
  Eigen::Map<const Eigen::MatrixXd> u, d;  // u: (u0; u1) stacked with components
  std::size_t G, p, begin, end, block;
  bool components;
  double adj;
  RcppParallel::RVector<double> t;
  RcppParallel::RMatrix<double> comps;  // 5 x (end - begin) when components

  WildBlocks(const WeightDraw& draw_, const double* a0_, const double* a1_, const double* u_,
             const double* d_, std::size_t G_, std::size_t p_, std::size_t begin_,
             std::size_t end_, std::size_t block_, bool components_, double adj_,
             Rcpp::NumericVector t_,
             Rcpp::NumericMatrix comps_)
      : draw(draw_), a0(a0_, G_), a1(components_ ? a1_ : a0_, G_),
        u(u_, components_ ? 2 * p_ : p_, G_), d(d_, p_, G_), G(G_), p(p_), begin(begin_),
        end(end_), block(block_), components(components_), adj(adj_), t(t_), comps(comps_) {}

  void operator()(std::size_t from, std::size_t to) {
    const std::size_t P = components ? 2 * p : p;
    Eigen::MatrixXd V(G, block), delta(P, block), E0(G, block), E1;
    if (components) E1.resize(G, block);
    for (std::size_t j = from; j < to; ++j) {
      const std::size_t r0 = begin + j * block;
      const std::size_t m = std::min(block, end - r0);
      if (static_cast<std::size_t>(V.cols()) != m) {
        V.resize(G, m);
        delta.resize(P, m);
        E0.resize(G, m);
        if (components) E1.resize(G, m);
      }
      for (std::size_t i = 0; i < m; ++i) draw(r0 + i, V.data() + i * G);
      const Eigen::RowVectorXd n0 = a0.transpose() * V;
      delta.noalias() = u * V;
      E0 = V.array().colwise() * a0.array();
      E0.noalias() -= d.transpose() * delta.topRows(p);
      const Eigen::RowVectorXd q0 = E0.colwise().squaredNorm();
      Eigen::RowVectorXd n1, q1, q2;
      if (components) {
        n1 = a1.transpose() * V;
        E1 = V.array().colwise() * a1.array();
        E1.noalias() -= d.transpose() * delta.bottomRows(p);
        q1 = (E0.array() * E1.array()).colwise().sum();
        q2 = E1.colwise().squaredNorm();
      }
      for (std::size_t i = 0; i < m; ++i) {
        const std::size_t out = r0 + i - begin;
        t[out] = n0[i] / std::sqrt(adj * q0[i]);
        if (components) {
          comps(0, out) = n0[i];
          comps(1, out) = n1[i];
          comps(2, out) = q0[i];
          comps(3, out) = q1[i];
          comps(4, out) = q2[i];
        }
      }
    }
  }
};

// Counts, for each null value h_k, the replicates with |t*(h_k)| >= bound_k.
struct PvalueCounts : public RcppParallel::Worker {
  const double* comps;
  const std::vector<double>& h;
  const std::vector<double>& bound2;
  double adj;
  std::vector<double> count;

  PvalueCounts(const double* comps_, const std::vector<double>& h_,
               const std::vector<double>& bound2_, double adj_)
      : comps(comps_), h(h_), bound2(bound2_), adj(adj_), count(h_.size(), 0.0) {}
  PvalueCounts(const PvalueCounts& other, RcppParallel::Split)
      : comps(other.comps), h(other.h), bound2(other.bound2), adj(other.adj),
        count(other.h.size(), 0.0) {}

  void operator()(std::size_t from, std::size_t to) {
    const std::size_t m = h.size();
    for (std::size_t r = from; r < to; ++r) {
      const double* x = comps + 5 * r;
      for (std::size_t k = 0; k < m; ++k) {
        const double hk = h[k];
        const double num = x[0] + hk * x[1];
        const double den = adj * (x[2] + 2.0 * hk * x[3] + hk * hk * x[4]);
        if (num * num >= bound2[k] * den) count[k] += 1.0;
      }
    }
  }
  void join(const PvalueCounts& other) {
    for (std::size_t k = 0; k < count.size(); ++k) count[k] += other.count[k];
  }
};

WeightDraw make_draw(int type, bool enumerate, Rcpp::IntegerVector seed, int G) {
  if (type < 0 || type > 3) Rcpp::stop("internal error: unknown weight type");
  if (enumerate && type != RADEMACHER && type != WEBB)
    Rcpp::stop("internal error: only Rademacher and Webb weights are enumerated");
  return WeightDraw{type, enumerate, seed_from_r(seed[0], seed[1]), static_cast<std::size_t>(G)};
}

}  // namespace

// Bootstrap t statistics of replicates [begin, end) (and, with a1, their
// five components for test inversion). a0, a1: length G; d: p x G; u: p x G,
// or with a1 the 2p x G stack of u0 (rows 1..p) and u1.
// [[Rcpp::export]]
Rcpp::List cpp_wild_boot(Rcpp::NumericVector a0, Rcpp::Nullable<Rcpp::NumericVector> a1,
                         Rcpp::NumericMatrix u, Rcpp::NumericMatrix d, double adj, int type,
                         bool enumerate, Rcpp::IntegerVector seed, double begin, double end,
                         int block_size, int threads) {
  const std::size_t G = a0.size(), p = d.nrow();
  const bool components = a1.isNotNull();
  Rcpp::NumericVector a1v;
  if (components) a1v = Rcpp::NumericVector(a1.get());
  if (static_cast<std::size_t>(d.ncol()) != G || static_cast<std::size_t>(u.ncol()) != G ||
      static_cast<std::size_t>(u.nrow()) != (components ? 2 * p : p) ||
      (components && static_cast<std::size_t>(a1v.size()) != G))
    Rcpp::stop("internal error: a0, a1, u and d do not match");
  const WeightDraw draw = make_draw(type, enumerate, seed, static_cast<int>(G));
  const std::size_t b = static_cast<std::size_t>(begin), e = static_cast<std::size_t>(end);
  Rcpp::NumericVector t(e - b);
  Rcpp::NumericMatrix comps(components ? 5 : 0, components ? e - b : 0);
  if (block_size < 1) Rcpp::stop("internal error: block_size must be positive");
  const std::size_t block = static_cast<std::size_t>(block_size);
  if (b % block != 0) Rcpp::stop("internal error: a chunk must start at a multiple of %d", static_cast<int>(block));
  WildBlocks run(draw, a0.begin(), components ? a1v.begin() : nullptr, u.begin(), d.begin(), G,
                 p, b, e, block, components, adj, t, comps);
  const std::size_t blocks = (e - b + block - 1) / block;
  if (threads <= 1 || blocks < 2) run(0, blocks);
  else RcppParallel::parallelFor(0, blocks, run, 1, threads);
  return Rcpp::List::create(Rcpp::Named("t") = t, Rcpp::Named("components") = comps);
}

// The G x (end - begin) weights of replicates [begin, end), as the
// replicates draw them (for the tests).
// [[Rcpp::export]]
Rcpp::NumericMatrix cpp_wild_weights(int G, int type, bool enumerate, Rcpp::IntegerVector seed,
                                     double begin, double end) {
  const WeightDraw draw = make_draw(type, enumerate, seed, G);
  const std::size_t b = static_cast<std::size_t>(begin), e = static_cast<std::size_t>(end);
  Rcpp::NumericMatrix out(G, e - b);
  for (std::size_t r = b; r < e; ++r) draw(r, out.begin() + (r - b) * G);
  return out;
}

// Bootstrap p-values at null values h (in the units of the direction of the
// components): the share of replicates with |t*(h)| >= |t0(h)| (1 - 1e-10),
// t*(h) = (N0 + h N1) / sqrt(adj (Q0 + 2 h Q1 + h^2 Q2)).
// [[Rcpp::export]]
Rcpp::NumericVector cpp_wild_pvalues(Rcpp::NumericMatrix comps, Rcpp::NumericVector h,
                                     Rcpp::NumericVector t0, double adj, int threads) {
  const std::size_t B = comps.ncol(), m = h.size();
  if (comps.nrow() != 5 || static_cast<std::size_t>(t0.size()) != m)
    Rcpp::stop("internal error: comps or t0 do not match");
  std::vector<double> hv(h.begin(), h.end()), bound2(m);
  for (std::size_t k = 0; k < m; ++k) {
    const double b = std::fabs(t0[k]) * (1.0 - 1e-10);
    bound2[k] = b * b;
  }
  PvalueCounts counts(comps.begin(), hv, bound2, adj);
  if (threads <= 1) counts(0, B);
  else RcppParallel::parallelReduce(0, B, counts, 4096, threads);
  Rcpp::NumericVector out(m);
  for (std::size_t k = 0; k < m; ++k) out[k] = counts.count[k] / static_cast<double>(B);
  return out;
}

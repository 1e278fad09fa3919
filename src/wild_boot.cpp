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

struct WildReplicates : public RcppParallel::Worker {
  const WeightDraw& draw;
  const double *a0, *u0, *a1, *u1, *d;  // a: G; u, d: p x G
  std::size_t G, p, begin;
  bool components;
  double adj;
  RcppParallel::RVector<double> t;
  RcppParallel::RMatrix<double> comps;  // 5 x (end - begin) when components

  WildReplicates(const WeightDraw& draw_, const double* a0_, const double* u0_,
                 const double* a1_, const double* u1_, const double* d_, std::size_t G_,
                 std::size_t p_, std::size_t begin_, bool components_, double adj_,
                 Rcpp::NumericVector t_, Rcpp::NumericMatrix comps_)
      : draw(draw_), a0(a0_), u0(u0_), a1(a1_), u1(u1_), d(d_), G(G_), p(p_),
        begin(begin_), components(components_), adj(adj_), t(t_), comps(comps_) {}

  void operator()(std::size_t from, std::size_t to) {
    std::vector<double> v(G), delta0(p), delta1(p);
    for (std::size_t r = from; r < to; ++r) {
      draw(r, v.data());
      double n0 = 0.0, n1 = 0.0;
      std::fill(delta0.begin(), delta0.end(), 0.0);
      std::fill(delta1.begin(), delta1.end(), 0.0);
      for (std::size_t g = 0; g < G; ++g) {
        const double vg = v[g];
        n0 += vg * a0[g];
        const double* ug = u0 + g * p;
        for (std::size_t j = 0; j < p; ++j) delta0[j] += vg * ug[j];
        if (components) {
          n1 += vg * a1[g];
          const double* wg = u1 + g * p;
          for (std::size_t j = 0; j < p; ++j) delta1[j] += vg * wg[j];
        }
      }
      double q0 = 0.0, q1 = 0.0, q2 = 0.0;
      for (std::size_t g = 0; g < G; ++g) {
        const double* dg = d + g * p;
        double e0 = v[g] * a0[g], e1 = components ? v[g] * a1[g] : 0.0;
        for (std::size_t j = 0; j < p; ++j) e0 -= dg[j] * delta0[j];
        if (components) {
          for (std::size_t j = 0; j < p; ++j) e1 -= dg[j] * delta1[j];
          q1 += e0 * e1;
          q2 += e1 * e1;
        }
        q0 += e0 * e0;
      }
      const std::size_t i = r - begin;
      t[i] = n0 / std::sqrt(adj * q0);
      if (components) {
        comps(0, i) = n0;
        comps(1, i) = n1;
        comps(2, i) = q0;
        comps(3, i) = q1;
        comps(4, i) = q2;
      }
    }
  }
};

WeightDraw make_draw(int type, bool enumerate, Rcpp::IntegerVector seed, int G) {
  if (type < 0 || type > 3) Rcpp::stop("internal error: unknown weight type");
  if (enumerate && type != RADEMACHER && type != WEBB)
    Rcpp::stop("internal error: only Rademacher and Webb weights are enumerated");
  return WeightDraw{type, enumerate, seed_from_r(seed[0], seed[1]), static_cast<std::size_t>(G)};
}

}  // namespace

// Bootstrap t statistics of replicates [begin, end) (and, with a1/u1, their
// five components for test inversion). a0, a1: length G; u0, u1, d: p x G.
// [[Rcpp::export]]
Rcpp::List cpp_wild_boot(Rcpp::NumericVector a0, Rcpp::NumericMatrix u0,
                         Rcpp::Nullable<Rcpp::NumericVector> a1,
                         Rcpp::Nullable<Rcpp::NumericMatrix> u1, Rcpp::NumericMatrix d,
                         double adj, int type, bool enumerate, Rcpp::IntegerVector seed,
                         double begin, double end, int threads) {
  const std::size_t G = a0.size(), p = u0.nrow();
  if (static_cast<std::size_t>(u0.ncol()) != G || d.nrow() != u0.nrow() || d.ncol() != u0.ncol())
    Rcpp::stop("internal error: a0, u0 and d do not match");
  const bool components = a1.isNotNull();
  Rcpp::NumericVector a1v;
  Rcpp::NumericMatrix u1m;
  if (components) {
    a1v = Rcpp::NumericVector(a1.get());
    u1m = Rcpp::NumericMatrix(u1.get());
    if (static_cast<std::size_t>(a1v.size()) != G || u1m.nrow() != u0.nrow() || u1m.ncol() != u0.ncol())
      Rcpp::stop("internal error: a1 and u1 do not match");
  }
  const WeightDraw draw = make_draw(type, enumerate, seed, static_cast<int>(G));
  const std::size_t b = static_cast<std::size_t>(begin), e = static_cast<std::size_t>(end);
  Rcpp::NumericVector t(e - b);
  Rcpp::NumericMatrix comps(components ? 5 : 0, components ? e - b : 0);
  WildReplicates run(draw, a0.begin(), u0.begin(), components ? a1v.begin() : nullptr,
                     components ? u1m.begin() : nullptr, d.begin(), G, p, b, components, adj, t,
                     comps);
  if (threads <= 1 || e - b < 2) run(b, e);
  else RcppParallel::parallelFor(b, e, run, 64, threads);
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
                                     Rcpp::NumericVector t0, double adj) {
  const std::size_t B = comps.ncol(), m = h.size();
  Rcpp::NumericVector out(m);
  const double* c = comps.begin();
  for (std::size_t i = 0; i < m; ++i) {
    const double hi = h[i], bound = std::fabs(t0[i]) * (1.0 - 1e-10);
    std::size_t count = 0;
    for (std::size_t r = 0; r < B; ++r) {
      const double* x = c + 5 * r;
      const double num = x[0] + hi * x[1];
      const double den = adj * (x[2] + 2.0 * hi * x[3] + hi * hi * x[4]);
      if (num * num >= bound * bound * den) ++count;
    }
    out[i] = static_cast<double>(count) / static_cast<double>(B);
  }
  return out;
}

// The infer step for the random-intercept linear mixed model
//   y_g = X_g beta + 1 b_g + e_g,  b_g ~ N(0, sigma^2 theta^2),  e_g ~ N(0, sigma^2 W_g^-1),
// from per-cluster statistics. With rho = theta^2 and n_g the cluster's weight
// sum, Sherman-Morrison gives sigma^2 X'V^-1X = M - sum_g w_g s_g s_g' with
// w_g = rho / (1 + rho n_g), and the same for X'V^-1y and y'V^-1y. Writing
// M = within + sum_g s_g s_g' / n_g turns every term positive:
//   X'V^-1X sigma^2 = within + sum_g v_g s_g s_g',   v_g = 1 / (n_g (1 + rho n_g)),
// so each evaluation of the profiled criterion costs O(G p^2) with no
// cancellation. See vignettes/methods.Rmd for the derivatives.
#include "cluster_stats.h"
#include <cmath>
#include <limits>

using namespace clusterab;

namespace {
const double kTwoPi = 6.283185307179586;
}  // namespace

// Within-cluster cross-products and per-cluster sums from packed moments.
// `index` holds the positions in z = (1, x, y) of the design columns followed
// by the outcome. Returns `within` (q x q: sum of the within-cluster
// cross-products, each cluster centred at its own weighted mean), `sums`
// (q x G: the weighted column sums of each cluster) and `n` (weight sums).
// [[Rcpp::export]]
Rcpp::List cpp_ri_prepare(Rcpp::NumericMatrix moments, Rcpp::IntegerVector index) {
  const int G = moments.ncol();
  const int q = index.size();
  Eigen::MatrixXd within = Eigen::MatrixXd::Zero(q, q);
  Rcpp::NumericMatrix sums(q, G);
  Rcpp::NumericVector n(G);
  std::vector<int> idx(index.begin(), index.end());
  for (int g = 0; g < G; ++g) {
    const double* packed = &moments(0, g);
    const double ng = packed[packed_index(0, 0)];
    n[g] = ng;
    double* s = &sums(0, g);
    for (int a = 0; a < q; ++a) s[a] = packed[packed_index(0, idx[a])];
    for (int b = 0; b < q; ++b)
      for (int a = 0; a <= b; ++a)
        // s_a (s_b / n_g): the product of two sums can overflow where the
        // sum times a mean cannot (one weight of 1e200)
        within(a, b) += packed[packed_index(idx[a], idx[b])] - s[a] * (s[b] / ng);
    if ((g & 0xFFFF) == 0) Rcpp::checkUserInterrupt();
  }
  within.triangularView<Eigen::StrictlyLower>() = within.transpose();
  return Rcpp::List::create(Rcpp::Named("within") = Rcpp::wrap(within),
                            Rcpp::Named("sums") = sums, Rcpp::Named("n") = n);
}

namespace {

// sum_g coef_g z_g z_g' over the columns z_g of `sums` (upper triangle only).
void add_weighted_outer(Eigen::MatrixXd& out, const Rcpp::NumericMatrix& sums,
                        const std::vector<double>& coef) {
  const int q = sums.nrow(), G = sums.ncol();
  const double* z = sums.begin();
  for (int g = 0; g < G; ++g, z += q) {
    const double c = coef[g];
    for (int b = 0; b < q; ++b) {
      const double cb = c * z[b];
      for (int a = 0; a <= b; ++a) out(a, b) += cb * z[a];
    }
  }
  out.triangularView<Eigen::StrictlyLower>() = out.transpose();
}

}  // namespace

// The profiled criterion at rho = theta^2 and its first (order >= 1) and
// second (order 2) derivatives with respect to rho. `within` and `sums` come
// from cpp_ri_prepare() (the outcome last); `nobs` is the number of rows.
// The constant -sum(log(weights)) is left to the caller. Returns the
// criterion's parts: ldL2 = log|L|^2, ldA = log det A, r2 (the penalised
// residual sum of squares), beta and A (in the coordinates of the
// statistics), each with derivatives "_1" and "_2", and dA (dA / drho).
// [[Rcpp::export]]
Rcpp::List cpp_ri_criterion(Rcpp::NumericMatrix within, Rcpp::NumericMatrix sums,
                            Rcpp::NumericVector n, double rho, double nobs,
                            bool reml, int order) {
  const int q = sums.nrow(), G = sums.ncol(), p = q - 1;
  std::vector<double> v(G), v1(order >= 1 ? G : 0), v2(order >= 2 ? G : 0);
  double ldL2 = 0, ldL2_1 = 0, ldL2_2 = 0;
  for (int g = 0; g < G; ++g) {
    const double ng = n[g], one = 1.0 + rho * ng;
    v[g] = 1.0 / (ng * one);
    ldL2 += std::log1p(rho * ng);
    if (order >= 1) {
      v1[g] = -1.0 / (one * one);
      ldL2_1 += ng / one;
    }
    if (order >= 2) {
      v2[g] = 2.0 * ng / (one * one * one);
      ldL2_2 -= (ng / one) * (ng / one);
    }
  }
  Eigen::MatrixXd full = Rcpp::as<Eigen::MatrixXd>(within);
  add_weighted_outer(full, sums, v);
  const Eigen::MatrixXd A = full.topLeftCorner(p, p);
  const Eigen::VectorXd b = full.topRightCorner(p, 1);
  Eigen::LLT<Eigen::MatrixXd> llt(A);
  if (llt.info() != Eigen::Success) {
    // numerically singular at this rho (far out on the grid): no candidate
    return Rcpp::List::create(Rcpp::Named("deviance") = R_PosInf);
  }
  const Eigen::VectorXd beta = llt.solve(b);
  const double r2 = full(p, p) - b.dot(beta);
  const Eigen::MatrixXd L = llt.matrixL();
  const double ldA = 2.0 * L.diagonal().array().log().sum();
  const double dfres = reml ? nobs - p : nobs;
  double deviance = ldL2 + dfres * (1.0 + std::log(kTwoPi * r2 / dfres));
  if (reml) deviance += ldA;

  Rcpp::List out = Rcpp::List::create(
      Rcpp::Named("deviance") = deviance, Rcpp::Named("ldL2") = ldL2,
      Rcpp::Named("ldA") = ldA, Rcpp::Named("r2") = r2,
      Rcpp::Named("beta") = Rcpp::wrap(beta), Rcpp::Named("A") = Rcpp::wrap(A));
  if (order < 1) return out;

  // gamma = (-beta, 1): r2 = gamma' full gamma at the optimum over beta.
  Eigen::MatrixXd full1 = Eigen::MatrixXd::Zero(q, q);
  add_weighted_outer(full1, sums, v1);
  const Eigen::MatrixXd A1 = full1.topLeftCorner(p, p);
  Eigen::VectorXd gamma(q);
  gamma.head(p) = -beta;
  gamma(p) = 1.0;
  const double r2_1 = gamma.dot(full1 * gamma);
  const Eigen::MatrixXd AiA1 = llt.solve(A1);
  const double ldA_1 = AiA1.trace();
  double d1 = ldL2_1 + dfres * r2_1 / r2;
  if (reml) d1 += ldA_1;
  out["ldL2_1"] = ldL2_1;
  out["ldA_1"] = ldA_1;
  out["r2_1"] = r2_1;
  out["dA"] = Rcpp::wrap(A1);
  out["d1"] = d1;
  if (order < 2) return out;

  Eigen::MatrixXd full2 = Eigen::MatrixXd::Zero(q, q);
  add_weighted_outer(full2, sums, v2);
  const Eigen::MatrixXd A2 = full2.topLeftCorner(p, p);
  // d beta / d rho = A^-1 (b' - A' beta); r2'' = gamma' full'' gamma - 2 beta_1' A beta_1
  const Eigen::VectorXd beta_1 = llt.solve(full1.topRightCorner(p, 1) - A1 * beta);
  const double r2_2 = gamma.dot(full2 * gamma) - 2.0 * beta_1.dot(A * beta_1);
  const double ldA_2 = llt.solve(A2).trace() - (AiA1 * AiA1).trace();
  double d2 = ldL2_2 + dfres * (r2_2 / r2 - (r2_1 / r2) * (r2_1 / r2));
  if (reml) d2 += ldA_2;
  out["ldL2_2"] = ldL2_2;
  out["ldA_2"] = ldA_2;
  out["r2_2"] = r2_2;
  out["d2"] = d2;
  return out;
}

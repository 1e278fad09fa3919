// The infer step for linear models: least squares from cross-products and the
// small-sample adjusted cluster scores of CR2/CR3 (HC2/HC3), all in p x p
// algebra on per-cluster statistics. See vignettes/methods.Rmd for the algebra.
#include "cluster_stats.h"
#include "cr2_basis.h"
#include <cmath>
#include <limits>

using namespace clusterab;

namespace {

std::vector<int> as_index(const Rcpp::IntegerVector& design) {
  return std::vector<int>(design.begin(), design.end());
}

}  // namespace

// Least squares from the q x q cross-product matrix S of z = (1, x, y): the
// design columns `design` (0-based) are taken in order and a column is aliased
// when its residual norm is below tol times its original norm (`norm2` holds
// the squared original norms), as lm()'s pivoting QR decides.
// [[Rcpp::export]]
Rcpp::List cpp_solve_stats(Rcpp::NumericMatrix S, Rcpp::IntegerVector design,
                           int y_index, Rcpp::NumericVector norm2, double tol) {
  const int p = design.size();
  Eigen::Map<Eigen::MatrixXd> Sm(S.begin(), S.nrow(), S.ncol());
  std::vector<int> kept;
  Eigen::MatrixXd L = Eigen::MatrixXd::Zero(p, p);  // Cholesky of kept block
  Rcpp::LogicalVector aliased(p);
  // d / S_jj: the share of a column's (centred) sum of squares left after
  // the columns before it, 1 / its variance inflation; the normal equations
  // lose about log10(S_jj / d) digits to it (scale-free).
  Rcpp::NumericVector pivot_ratio(p, NA_REAL);
  for (int j = 0; j < p; ++j) {
    const int k = static_cast<int>(kept.size());
    Eigen::VectorXd v(k);
    for (int a = 0; a < k; ++a) v(a) = Sm(design[kept[a]], design[j]);
    Eigen::VectorXd l = k > 0 ? L.topLeftCorner(k, k).triangularView<Eigen::Lower>().solve(v)
                              : Eigen::VectorXd(0);
    const double d = Sm(design[j], design[j]) - l.squaredNorm();
    if (Sm(design[j], design[j]) > 0) pivot_ratio[j] = d / Sm(design[j], design[j]);
    if (!(norm2[j] > 0) || d <= tol * tol * norm2[j]) {
      aliased[j] = true;
      continue;
    }
    L.block(k, 0, 1, k) = l.transpose();
    L(k, k) = std::sqrt(d);
    kept.push_back(j);
  }
  const int k = static_cast<int>(kept.size());
  Eigen::MatrixXd Lk = L.topLeftCorner(k, k);
  Eigen::MatrixXd Linv = Lk.triangularView<Eigen::Lower>().solve(Eigen::MatrixXd::Identity(k, k));
  Eigen::MatrixXd bread = Linv.transpose() * Linv;
  Rcpp::NumericVector coef(k);
  if (y_index >= 0) {
    Eigen::VectorXd t(k);
    for (int a = 0; a < k; ++a) t(a) = Sm(design[kept[a]], y_index);
    Eigen::VectorXd beta = bread * t;
    for (int a = 0; a < k; ++a) coef[a] = beta(a);
  }
  return Rcpp::List::create(Rcpp::Named("aliased") = aliased,
                            Rcpp::Named("coef") = coef,
                            Rcpp::Named("bread") = Rcpp::wrap(bread),
                            Rcpp::Named("pivot_ratio") = pivot_ratio);
}

// Scores s_g = S_g[design, ] gamma of every cluster from packed cross-products
// (with gamma = (-beta on the design, 1 on y) this is X_g' W_g e_g).
// [[Rcpp::export]]
Rcpp::NumericMatrix cpp_stats_scores(Rcpp::NumericMatrix packed,
                                     Rcpp::IntegerVector design,
                                     Rcpp::NumericVector gamma, int threads) {
  const std::size_t G = packed.ncol(), K = packed.nrow();
  const std::size_t p = design.size(), q = gamma.size();
  if (packed_size(q) != K) Rcpp::stop("internal error: gamma has the wrong length");
  Rcpp::NumericMatrix out(p, G);
  const double* src = packed.begin();
  double* dst = out.begin();
  const double* gm = gamma.begin();
  const int* idx = design.begin();
  auto body = [&](std::size_t begin, std::size_t end) {
    for (std::size_t g = begin; g < end; ++g) {
      const double* S = src + g * K;
      for (std::size_t a = 0; a < p; ++a) {
        double s = 0.0;
        for (std::size_t b = 0; b < q; ++b) s += S[packed_index(idx[a], b)] * gm[b];
        dst[g * p + a] = s;
      }
    }
  };
  parallel_chunks(body, G, threads);
  return out;
}

// Adjusted scores s*_g = r_g + P_g C_g u_g, where C_g is defined by
// (I - Z_g B Z_g')^power = I + Z_g C_g Z_g' with Z_g' Z_g = M_g. This covers
// HC2/HC3 and CR2/CR3 for unweighted fits (P = M, u = r), clubSandwich's CR3
// with weights (P = M, u = r) and sandwich's HC2/HC3 with weights
// (P = X_g' X_g, u = X_g' W_g^2 e_g). M, P are packed K x G, read at `design`.
// [[Rcpp::export]]
Rcpp::NumericMatrix cpp_adjusted_scores(Rcpp::NumericMatrix r, Rcpp::NumericMatrix u,
                                        Rcpp::NumericMatrix M, Rcpp::NumericMatrix P,
                                        Rcpp::IntegerVector design,
                                        Rcpp::NumericMatrix B, double power,
                                        int threads) {
  const std::size_t p = design.size(), G = r.ncol();
  const std::size_t K = M.nrow();
  if (static_cast<std::size_t>(r.nrow()) != p || u.nrow() != r.nrow() ||
      u.ncol() != r.ncol() || static_cast<std::size_t>(M.ncol()) != G ||
      M.nrow() != P.nrow() || M.ncol() != P.ncol() ||
      static_cast<std::size_t>(B.nrow()) != p || B.ncol() != B.nrow())
    Rcpp::stop("internal error: dimensions of the adjusted-score inputs disagree");
  if (p == 0) return Rcpp::NumericMatrix(0, G);  // nothing estimated
  Eigen::Map<Eigen::MatrixXd> Bm(B.begin(), p, p);
  const Eigen::MatrixXd L = lower_cholesky(Bm);
  const std::vector<int> idx = as_index(design);
  Rcpp::NumericMatrix out(p, G);
  const double* rp = r.begin();
  const double* up = u.begin();
  const double* Mp = M.begin();
  const double* Pp = P.begin();
  const bool same = Mp == Pp;
  double* op = out.begin();
  auto body = [&](std::size_t begin, std::size_t end) {
    for (std::size_t g = begin; g < end; ++g) {
      const Eigen::MatrixXd Mg = unpack_block(Mp + g * K, idx);
      Eigen::Map<Eigen::VectorXd> og(op + g * p, p);
      if (!Mg.allFinite()) {
        og.setConstant(std::numeric_limits<double>::quiet_NaN());
        continue;
      }
      // the factor and the score: leverage_adjusted_score() in cr2_basis.h
      Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(L.transpose() * Mg * L);
      if (same) og = leverage_adjusted_score(eig, L, Mg, rp + g * p, up + g * p, power);
      else og = leverage_adjusted_score(eig, L, unpack_block(Pp + g * K, idx), rp + g * p,
                                        up + g * p, power);
    }
  };
  parallel_chunks(body, G, threads, 1024);
  return out;
}

// clubSandwich's CR2 for weighted lm fits (target variance I): with U_g =
// [X_g, W_g X_g], G_g = I + U_g K U_g', K = [[Q, -B], [-B, 0]],
// Q = B (sum_g X_g' W_g^2 X_g) B, the adjusted score is X_g' W_g G_g^-1/2 e_g.
// Everything reduces to the Gram matrix of U_g: P0 = X'X, P1 = X'WX,
// P2 = X'W^2X and r0 = X'e, r1 = X'We.
// [[Rcpp::export]]
Rcpp::NumericMatrix cpp_adjusted_scores_cr2w(Rcpp::NumericMatrix r0, Rcpp::NumericMatrix r1,
                                             Rcpp::NumericMatrix P0, Rcpp::NumericMatrix P1,
                                             Rcpp::NumericMatrix P2,
                                             Rcpp::IntegerVector design,
                                             Rcpp::NumericMatrix B, Rcpp::NumericMatrix Q,
                                             int threads) {
  const std::size_t p = design.size(), G = r1.ncol(), K = P1.nrow();
  if (p == 0) return Rcpp::NumericMatrix(0, G);  // nothing estimated
  Eigen::Map<Eigen::MatrixXd> Bm(B.begin(), p, p), Qm(Q.begin(), p, p);
  Eigen::MatrixXd Kmat = Eigen::MatrixXd::Zero(2 * p, 2 * p);
  Kmat.topLeftCorner(p, p) = Qm;
  Kmat.topRightCorner(p, p) = -Bm;
  Kmat.bottomLeftCorner(p, p) = -Bm;
  const std::vector<int> idx = as_index(design);
  Rcpp::NumericMatrix out(p, G);
  const double *r0p = r0.begin(), *r1p = r1.begin();
  const double *P0p = P0.begin(), *P1p = P1.begin(), *P2p = P2.begin();
  double* op = out.begin();
  auto body = [&](std::size_t begin, std::size_t end) {
    for (std::size_t g = begin; g < end; ++g) {
      // the rank of U_g and the eigen-decompositions: cr2_basis.h
      const Cr2WeightedBasis basis =
          cr2_weighted_basis(P0p + g * K, P1p + g * K, P2p + g * K, idx, Kmat);
      Eigen::Map<Eigen::VectorXd> og(op + g * p, p);
      if (!basis.finite) {
        og.setConstant(std::numeric_limits<double>::quiet_NaN());
        continue;
      }
      if (basis.k == 0) {  // no rows with nonzero design: nothing to adjust
        og = Eigen::Map<const Eigen::VectorXd>(r1p + g * p, p);
        continue;
      }
      og = cr2_weighted_score(basis, r0p + g * p, r1p + g * p);
    }
  };
  parallel_chunks(body, G, threads, 256);
  return out;
}

// The per-cluster algebra shared by the CR2/CR3 adjustment (vcov_cluster.cpp)
// and the Satterthwaite df (satterthwaite.cpp): the Cholesky factor of the
// bread, the zero-eigenvalue cut-off and the eigen-decompositions behind the
// weighted CR2 (target variance I). Pure C++: it runs inside RcppParallel
// workers.
#ifndef CLUSTERAB_CR2_BASIS_H
#define CLUSTERAB_CR2_BASIS_H

#include "cluster_stats.h"
#include <cmath>
#include <cstddef>
#include <vector>

namespace clusterab {

// Eigenvalues of I - H_gg closer to zero than this are treated as zero and
// their directions dropped (a pseudo-inverse), as clubSandwich does.
const double kZeroEigen = 1e-12;

// B = L L' for the bread B (p x p). When B is not numerically positive
// definite, the symmetric square root instead (also B = L L').
inline Eigen::MatrixXd lower_cholesky(const Eigen::MatrixXd& B) {
  Eigen::LLT<Eigen::MatrixXd> llt(B);
  if (llt.info() == Eigen::Success) return llt.matrixL();
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(B);
  Eigen::VectorXd d = eig.eigenvalues().cwiseMax(0.0).cwiseSqrt();
  return eig.eigenvectors() * d.asDiagonal() * eig.eigenvectors().transpose();
}

// Factor g(lambda) with f(1 - lambda) = 1 + lambda g(lambda), where f is x^-1/2
// (power = -0.5, Bell-McCaffrey) or x^-1 (power = -1, jackknife); written so that
// small leverages lose no precision.
inline double leverage_factor(double lambda, double power) {
  if (lambda < 0) lambda = 0;
  const double rest = 1.0 - lambda;
  if (rest <= kZeroEigen) return -1.0 / lambda;  // f(0) := 0
  if (power == -1.0) return 1.0 / rest;
  const double root = std::sqrt(rest);
  return 1.0 / (root * (1.0 + root));
}

// The adjusted score s*_g = r_g + P_g C_g u_g of one cluster, where
// (I - Z_g B Z_g')^power = I + Z_g C_g Z_g', from `eig`, the
// eigen-decomposition of L' M_g L (B = L L', M_g = Z_g' Z_g): C_g =
// L V diag(g(lambda)) V' L'. r_g, u_g point at p values.
inline Eigen::VectorXd leverage_adjusted_score(
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>& eig, const Eigen::MatrixXd& L,
    const Eigen::MatrixXd& Pg, const double* rg, const double* ug, double power) {
  const std::size_t p = L.rows();
  const Eigen::VectorXd& lambda = eig.eigenvalues();
  const Eigen::MatrixXd& V = eig.eigenvectors();
  Eigen::Map<const Eigen::VectorXd> u(ug, p);
  Eigen::VectorXd v = V.transpose() * (L.transpose() * u);
  for (std::size_t a = 0; a < p; ++a) v(a) *= leverage_factor(lambda(a), power);
  const Eigen::VectorXd Cu = L * (V * v);
  return Eigen::Map<const Eigen::VectorXd>(rg, p) + Pg * Cu;
}

// With U_g = [X_g, W_g X_g] and D = diag(gram)^-1/2, U~ = U D = Q_u LGs' for
// an orthonormal Q_u (n_g x k) and LGs = E diag(root) (2p x k). Then
// U_g K U_g' = Q_u LGs' Ks LGs Q_u' with Ks = D^-1 K D^-1, whose
// eigen-decomposition is `ne`. `ne` is set only when finite and k > 0.
struct Cr2WeightedBasis {
  bool finite;             // false when a cross-product is not finite
  std::size_t k;           // rank of U_g
  Eigen::VectorXd dscale;  // the diagonal of D (2p)
  Eigen::MatrixXd E;       // kept eigenvectors of D gram D (2p x k)
  Eigen::VectorXd root;    // square roots of their eigenvalues (k)
  Eigen::MatrixXd LGs;     // E diag(root)
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> ne;  // of LGs' Ks LGs (k x k)
};

// From the packed X_g'X_g (P0g), X_g'W_g X_g (P1g), X_g'W_g^2 X_g (P2g),
// restricted to the columns `index`, and K (2p x 2p).
inline Cr2WeightedBasis cr2_weighted_basis(const double* P0g, const double* P1g,
                                           const double* P2g,
                                           const std::vector<int>& index,
                                           const Eigen::MatrixXd& Kmat) {
  const std::size_t p = index.size();
  Cr2WeightedBasis out;
  out.finite = true;
  out.k = 0;
  const Eigen::MatrixXd A0 = unpack_block(P0g, index);
  const Eigen::MatrixXd A1 = unpack_block(P1g, index);
  const Eigen::MatrixXd A2 = unpack_block(P2g, index);
  Eigen::MatrixXd gram(2 * p, 2 * p);
  gram << A0, A1, A1, A2;
  if (!gram.allFinite()) {
    out.finite = false;
    return out;
  }
  // The blocks X'X, X'WX and X'W^2X scale differently with the weights
  // (and each column with its units), so the rank of U_g = [X_g, W_g X_g]
  // is decided on its Gram matrix scaled to unit diagonal: U~ = U D, with
  // D = diag(gram)^-1/2, which makes the relative cut-off scale-free.
  out.dscale.resize(2 * p);
  for (std::size_t a = 0; a < 2 * p; ++a)
    out.dscale(a) = gram(a, a) > 0 ? 1.0 / std::sqrt(gram(a, a)) : 1.0;
  const Eigen::MatrixXd gs = out.dscale.asDiagonal() * gram * out.dscale.asDiagonal();
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> ge(gs);
  const double dmax = ge.eigenvalues().maxCoeff();
  std::vector<int> keep;
  for (std::size_t a = 0; a < 2 * p; ++a)
    if (ge.eigenvalues()(a) > 1e-12 * dmax && ge.eigenvalues()(a) > 0) keep.push_back(a);
  out.k = keep.size();
  if (out.k == 0) return out;
  out.E.resize(2 * p, out.k);
  out.root.resize(out.k);
  for (std::size_t a = 0; a < out.k; ++a) {
    out.E.col(a) = ge.eigenvectors().col(keep[a]);
    out.root(a) = std::sqrt(ge.eigenvalues()(keep[a]));
  }
  out.LGs = out.E * out.root.asDiagonal();
  const Eigen::VectorXd dinv = out.dscale.cwiseInverse();
  const Eigen::MatrixXd Ks = dinv.asDiagonal() * Kmat * dinv.asDiagonal();
  out.ne.compute(out.LGs.transpose() * Ks * out.LGs);
  return out;
}

// clubSandwich's weighted CR2 score X_g' W_g G_g^-1/2 e_g of one cluster from
// its basis (finite, k > 0) and r0 = X_g' e_g, r1 = X_g' W_g e_g (p values each).
inline Eigen::VectorXd cr2_weighted_score(const Cr2WeightedBasis& basis,
                                          const double* r0g, const double* r1g) {
  const std::size_t p = basis.dscale.size() / 2, k = basis.k;
  const Eigen::VectorXd& dscale = basis.dscale;
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>& ne = basis.ne;
  Eigen::Map<const Eigen::VectorXd> r1(r1g, p);
  Eigen::VectorXd re(2 * p);
  re << Eigen::Map<const Eigen::VectorXd>(r0g, p), r1;
  // Q_u' e = root^-1 E' D U' e
  Eigen::VectorXd v = ne.eigenvectors().transpose() *
                      ((basis.E.transpose() * (dscale.asDiagonal() * re)).array() /
                       basis.root.array()).matrix();
  for (std::size_t a = 0; a < k; ++a) {
    const double ev = 1.0 + ne.eigenvalues()(a);
    v(a) *= ev <= kZeroEigen ? -1.0 : 1.0 / std::sqrt(ev) - 1.0;
  }
  // X_g' W_g Q_u = [0 I] U' Q_u = [0 I] D^-1 LG~
  const Eigen::VectorXd t = basis.LGs * (ne.eigenvectors() * v);
  return r1 + (t.tail(p).array() / dscale.tail(p).array()).matrix();
}

}  // namespace clusterab

#endif

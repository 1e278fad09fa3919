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

}  // namespace clusterab

#endif

// Cluster diagnostics from per-cluster statistics: leverage, partial leverage
// and the leave-one-cluster-out change of linear functionals of the
// coefficients, all in p x p algebra per cluster (no refits, no n_g x n_g
// arrays). See R/cluster_diagnostics.R for the definitions.
#include "cluster_stats.h"
#include <cmath>
#include <limits>

using namespace clusterab;

// With B = (X'WX)^-1 = L L' and K_g = L' M_g L (eigenvalues in [0, 1], those
// of H_gg, free of the units of the columns):
//   leverage_g          = tr(K_g)
//   quad_g[j]           = f_j' B M_g B f_j = phi_j' K_g phi_j, phi_j = L' f_j
//   lin_g[j]            = f_j' B a_g, a_g = X_g' W 1 (row `one` of M_g), or NaN
//   delta_g[j]          = f_j' (M - M_g)^-1 s_g = phi_j' V (I - Lambda)^-1 V' L' s_g
// Directions with eigenvalue 1 (to `tol`) are seen by cluster g alone: without
// g the design is singular. A functional with a share above `tol` of its
// whitened image in those directions is not estimable without g (delta NaN,
// `lost` TRUE); otherwise those directions are dropped (the score has no
// component there, and any least-squares solution gives the same value).
// [[Rcpp::export]]
Rcpp::List cpp_cluster_influence(Rcpp::NumericMatrix packed, Rcpp::IntegerVector design,
                                 Rcpp::NumericMatrix B, Rcpp::NumericMatrix scores,
                                 Rcpp::NumericMatrix functionals, int one, double tol,
                                 int threads) {
  const std::size_t G = packed.ncol(), K = packed.nrow();
  const std::size_t p = design.size(), m = functionals.ncol();
  if (static_cast<std::size_t>(B.nrow()) != p || B.ncol() != B.nrow() ||
      static_cast<std::size_t>(scores.nrow()) != p ||
      static_cast<std::size_t>(scores.ncol()) != G ||
      static_cast<std::size_t>(functionals.nrow()) != p)
    Rcpp::stop("internal error: dimensions of the influence inputs disagree");
  Eigen::Map<Eigen::MatrixXd> Bm(B.begin(), p, p);
  Eigen::LLT<Eigen::MatrixXd> llt(Bm);
  if (llt.info() != Eigen::Success) Rcpp::stop("internal error: the bread is not positive definite");
  const Eigen::MatrixXd L = llt.matrixL();
  Eigen::Map<Eigen::MatrixXd> Fm(functionals.begin(), p, m);
  const Eigen::MatrixXd Phi = L.transpose() * Fm;            // p x m
  const Eigen::VectorXd phi_norm2 = Phi.colwise().squaredNorm().transpose();
  const std::vector<int> idx(design.begin(), design.end());
  const double nan = std::numeric_limits<double>::quiet_NaN();

  Rcpp::NumericVector leverage(G), max_eigen(G);
  Rcpp::NumericMatrix quad(G, m), lin(G, m), delta(G, m);
  Rcpp::LogicalMatrix lost(G, m);
  Rcpp::LogicalVector singular(G);
  const double* Mp = packed.begin();
  const double* Sp = scores.begin();
  double* lev = leverage.begin();
  double* mx = max_eigen.begin();
  double* qd = quad.begin();
  double* ln = lin.begin();
  double* dl = delta.begin();
  int* ls = lost.begin();
  int* sg = singular.begin();

  auto body = [&](std::size_t begin, std::size_t end) {
    Eigen::VectorXd a(p);
    for (std::size_t g = begin; g < end; ++g) {
      const double* Pg = Mp + g * K;
      const Eigen::MatrixXd Mg = unpack_block(Pg, idx);
      if (!Mg.allFinite()) {
        lev[g] = mx[g] = nan;
        for (std::size_t j = 0; j < m; ++j) qd[j * G + g] = ln[j * G + g] = dl[j * G + g] = nan;
        continue;
      }
      const Eigen::MatrixXd Kg = L.transpose() * Mg * L;
      Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(0.5 * (Kg + Kg.transpose()));
      const Eigen::VectorXd& lambda = eig.eigenvalues();
      const Eigen::MatrixXd& V = eig.eigenvectors();
      lev[g] = lambda.sum();
      mx[g] = p ? lambda(p - 1) : 0.0;
      Eigen::Map<const Eigen::VectorXd> sgv(Sp + g * p, p);
      const Eigen::VectorXd u = V.transpose() * (L.transpose() * sgv);
      const Eigen::MatrixXd PhiV = V.transpose() * Phi;       // p x m
      if (one >= 0) {
        for (std::size_t c = 0; c < p; ++c) a(c) = Pg[packed_index(one, idx[c])];
      }
      const Eigen::VectorXd La = L.transpose() * a;
      bool any_single = false;
      for (std::size_t j = 0; j < m; ++j) {
        double q = 0.0, d = 0.0, share = 0.0;
        for (std::size_t c = 0; c < p; ++c) {
          const double v = PhiV(c, j);
          const double l = lambda(c) < 0 ? 0.0 : lambda(c);
          q += l * v * v;
          if (1.0 - l <= tol) {
            share += v * v;
            any_single = true;
          } else {
            d += v * u(c) / (1.0 - l);
          }
        }
        qd[j * G + g] = q;
        ln[j * G + g] = one >= 0 ? Phi.col(j).dot(La) : nan;
        const bool gone = share > tol * phi_norm2(j);
        ls[j * G + g] = gone;
        dl[j * G + g] = gone ? nan : d;
      }
      sg[g] = any_single;
    }
  };
  parallel_chunks(body, G, threads, 1024);
  return Rcpp::List::create(Rcpp::Named("leverage") = leverage,
                            Rcpp::Named("max_eigen") = max_eigen,
                            Rcpp::Named("quad") = quad, Rcpp::Named("lin") = lin,
                            Rcpp::Named("delta") = delta, Rcpp::Named("lost") = lost,
                            Rcpp::Named("singular") = singular);
}

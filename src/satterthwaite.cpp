// Satterthwaite degrees of freedom of CR2 (Bell-McCaffrey; Pustejovsky and
// Tipton 2018) and the moments HTZ Wald tests need, from per-cluster
// cross-products only: no n_g x n_g, n x n or G x G arrays.
//
// For contrast c the CR2 variance estimate is sum_g (l_g' e_g)^2 with
// l_g = A_g W_g X_g B c, and under the working model (target variance I)
// e = (I - H) eps. With p_g the n-vector (I - H)[g, ]' l_g,
//   p_g' p_h = delta_gh l_g' l_g + z_g' K z_h,
// where (I - H)(I - H)'[g, h] = delta_gh I + U_g K U_h':
//   unweighted U_g = X_g, K = -B (in whitened coordinates K = -I),
//   weighted   U_g = [X_g, W_g X_g], K = [[Q, -B], [-B, 0]], Q = B X'W^2X B,
// and z_g = U_g' l_g. Then sums over pairs of clusters are traces of p x p
// (2p x 2p) sums: sum_{g,h} (z_g' K z_h)^2 = tr(K S K S), S = sum_g z_g z_g'.
// The per-cluster eigen-decompositions are those of the CR2 adjustment
// (cpp_adjusted_scores() and cpp_adjusted_scores_cr2w() in vcov_cluster.cpp;
// the shared pieces are in cr2_basis.h): given the scores, this function
// returns the adjusted scores too, so that a CR2 covariance with its df
// decomposes each cluster once.
#include "cluster_stats.h"
#include "cr2_basis.h"
#include <cmath>
#include <algorithm>
#include <limits>

using namespace clusterab;

namespace {

// tr(K A K A') style sums: tr(K X K Y) for m x m X, Y.
double trace_kxky(const Eigen::MatrixXd& K, const Eigen::MatrixXd& X,
                  const Eigen::MatrixXd& Y, bool identity_k) {
  if (identity_k) return (X.array() * Y.transpose().array()).sum();
  const Eigen::MatrixXd KX = K * X, KY = K * Y;
  return (KX.array() * KY.transpose().array()).sum();
}

}  // namespace

// For the q contrasts in the columns of Ct (p x q, in the coordinates of the
// bread B): omega = sum_g P_gg (q x q, the expected CR2 covariance of the
// contrasts under the working model; with `joint` only, else 0 x 0) and its
// diagonal omega_diag, and for each contrast j the Satterthwaite
// denominator sum_{g,h} (P_gh)_jj^2. With `joint`, also the HTZ sum
// sum_{g,h} [tr(P_gh P_gh) + tr(P_gh)^2] (clubSandwich's total_variance_mat
// summed, for contrasts already transformed by omega^-1/2).
// Unweighted: M1 = X_g'X_g packed. Weighted: M0 = X_g'X_g, M1 = X_g'W X_g,
// M2 = X_g'W^2 X_g and Q = B (sum M2) B.
// R0 = X_g'e_g and R1 = X_g'W_g e_g (p x G; unweighted R1 only, R0 unused):
// the scores whose CR2-adjusted versions are returned as `scores` (p x G, the
// same as the adjustment's); with 0 columns none are.
// [[Rcpp::export]]
Rcpp::List cpp_cr2_df_moments(Rcpp::NumericMatrix M0, Rcpp::NumericMatrix M1,
                              Rcpp::NumericMatrix M2, bool weighted,
                              Rcpp::IntegerVector design, Rcpp::NumericMatrix B,
                              Rcpp::NumericMatrix Q, Rcpp::NumericMatrix Ct,
                              bool joint, int threads,
                              Rcpp::NumericMatrix R0, Rcpp::NumericMatrix R1) {
  const std::size_t p = design.size(), G = M1.ncol(), Kp = M1.nrow();
  const std::size_t q = Ct.ncol();
  if (static_cast<std::size_t>(Ct.nrow()) != p || static_cast<std::size_t>(B.nrow()) != p)
    Rcpp::stop("internal error: dimensions of the Satterthwaite inputs disagree");
  const bool with_scores = R1.ncol() > 0;
  if (with_scores && (static_cast<std::size_t>(R1.ncol()) != G || static_cast<std::size_t>(R1.nrow()) != p ||
                      (weighted && (R0.ncol() != R1.ncol() || R0.nrow() != R1.nrow()))))
    Rcpp::stop("internal error: dimensions of the scores disagree");
  Rcpp::NumericMatrix scores(p, with_scores ? G : 0);
  double* sp = scores.begin();
  const double* r0p = R0.begin();
  const double* r1p = R1.begin();
  const std::size_t m = weighted ? 2 * p : p;
  const std::vector<int> idx(design.begin(), design.end());
  Eigen::Map<Eigen::MatrixXd> Bm(B.begin(), p, p);
  Eigen::Map<Eigen::MatrixXd> Cm(Ct.begin(), p, q);
  Eigen::MatrixXd L, D;  // unweighted: B = L L', D = L' C
  Eigen::MatrixXd Kmat;  // weighted: K, and the 2p x q [0; B C]
  Eigen::MatrixXd JBC;
  if (weighted) {
    Eigen::Map<Eigen::MatrixXd> Qm(Q.begin(), p, p);
    Kmat = Eigen::MatrixXd::Zero(2 * p, 2 * p);
    Kmat.topLeftCorner(p, p) = Qm;
    Kmat.topRightCorner(p, p) = -Bm;
    Kmat.bottomLeftCorner(p, p) = -Bm;
    JBC = Eigen::MatrixXd::Zero(2 * p, q);
    JBC.bottomRows(p) = Bm * Cm;
  } else {
    L = lower_cholesky(Bm);
    D = L.transpose() * Cm;
    Kmat = -Eigen::MatrixXd::Identity(p, p);
  }
  const double* p0 = M0.begin();
  const double* p1 = M1.begin();
  const double* p2 = M2.begin();

  // without `joint` only diagonals are kept: q values per cluster, not q x q
  Eigen::MatrixXd omega = joint ? Eigen::MatrixXd::Zero(q, q) : Eigen::MatrixXd(0, 0);
  Eigen::VectorXd omega_diag = Eigen::VectorXd::Zero(q);
  Eigen::VectorXd diag_d2 = Eigen::VectorXd::Zero(q), diag_p2 = Eigen::VectorXd::Zero(q);
  std::vector<Eigen::MatrixXd> Sjj(q, Eigen::MatrixXd::Zero(m, m));
  Eigen::MatrixXd Sall;
  if (joint) Sall = Eigen::MatrixXd::Zero(m * q, m * q);
  double joint_corr = 0.0;
  bool finite = true;

  // clusters per pass: the buffer of z_g holds at most about 4M doubles
  const std::size_t chunk = std::max<std::size_t>(1, std::min<std::size_t>(2048, (std::size_t(1) << 22) / (m * q + 1)));
  Eigen::MatrixXd Wbuf(m * q, chunk);          // z_g, contrast j in rows j*m..
  const std::size_t qq = joint ? q * q : q;
  Eigen::MatrixXd Pbuf(qq, chunk), Dbuf(qq, chunk);  // P_gg, z_g'K z_g (or their diagonals)
  std::vector<char> bad(chunk);
  for (std::size_t start = 0; start < G; start += chunk) {
    const std::size_t stop = std::min(G, start + chunk), nc = stop - start;
    auto body = [&](std::size_t begin, std::size_t end) {
      for (std::size_t g = begin; g < end; ++g) {
        const std::size_t c = g - start;
        bad[c] = 0;
        Eigen::Map<Eigen::MatrixXd> Wg(Wbuf.col(c).data(), m, q);
        double* pc = Pbuf.col(c).data();
        double* dc = Dbuf.col(c).data();
        if (!weighted) {
          const Eigen::MatrixXd Mg = unpack_block(p1 + g * Kp, idx);
          if (!Mg.allFinite()) { bad[c] = 1; continue; }
          Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(L.transpose() * Mg * L);
          if (with_scores) {
            Eigen::Map<Eigen::VectorXd>(sp + g * p, p) =
                leverage_adjusted_score(eig, L, Mg, r1p + g * p, r1p + g * p, -0.5);
          }
          const Eigen::VectorXd& lambda = eig.eigenvalues();
          const Eigen::MatrixXd& V = eig.eigenvectors();
          Eigen::MatrixXd Vd = V.transpose() * D;  // p x q
          Eigen::VectorXd lf(p), keep(p);
          for (std::size_t a = 0; a < p; ++a) {
            const double lam = lambda(a) < 0 ? 0.0 : lambda(a);
            const double rest = 1.0 - lam;
            const bool kept = rest > kZeroEigen;
            lf(a) = kept ? lam / std::sqrt(rest) : 0.0;  // lambda f(lambda)
            keep(a) = kept ? lam : 0.0;
          }
          // y_g = L' z_g = V diag(lambda f) V' d; P_gg = sum_kept lambda v v'
          Wg = V * (lf.asDiagonal() * Vd);
          if (joint) {
            Eigen::Map<Eigen::MatrixXd>(pc, q, q) = Vd.transpose() * keep.asDiagonal() * Vd;
            Eigen::Map<Eigen::MatrixXd>(dc, q, q) = -(Wg.transpose() * Wg);
          } else {  // the df of single contrasts need only the diagonals
            Eigen::Map<Eigen::VectorXd>(pc, q) = (keep.asDiagonal() * Vd.cwiseAbs2()).colwise().sum().transpose();
            Eigen::Map<Eigen::VectorXd>(dc, q) = -Wg.cwiseAbs2().colwise().sum().transpose();
          }
        } else {
          const Cr2WeightedBasis basis =
              cr2_weighted_basis(p0 + g * Kp, p1 + g * Kp, p2 + g * Kp, idx, Kmat);
          if (!basis.finite) { bad[c] = 1; continue; }
          const std::size_t k = basis.k;
          if (with_scores) {  // as cpp_adjusted_scores_cr2w()
            Eigen::Map<Eigen::VectorXd> sg(sp + g * p, p);
            if (k == 0) sg = Eigen::Map<const Eigen::VectorXd>(r1p + g * p, p);
            else sg = cr2_weighted_score(basis, r0p + g * p, r1p + g * p);
          }
          if (k == 0) { Wg.setZero(); Pbuf.col(c).setZero(); Dbuf.col(c).setZero(); continue; }
          const Eigen::MatrixXd& LGs = basis.LGs;
          const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>& ne = basis.ne;
          const Eigen::VectorXd dinv = basis.dscale.cwiseInverse();
          // U_g = Q_u LG', LG = D^-1 LGs; W_g X_g B c = Q_u LG' [0; B c]
          const Eigen::MatrixXd bvec = ne.eigenvectors().transpose() *
                                       (LGs.transpose() * (dinv.asDiagonal() * JBC));  // k x q
          Eigen::VectorXd f(k), fkeep(k), lf2(k);
          for (std::size_t a = 0; a < k; ++a) {
            const double ev = 1.0 + ne.eigenvalues()(a);
            const bool kept = ev > kZeroEigen;
            f(a) = kept ? 1.0 / std::sqrt(ev) : 0.0;
            fkeep(a) = kept ? 1.0 : 0.0;
            lf2(a) = ne.eigenvalues()(a) * f(a) * f(a);
          }
          // z_g = LG Ve diag(f) b; P_gg = sum_kept b b'; z_g'K z_g = sum lambda f^2 b b'
          Wg = dinv.asDiagonal() * (LGs * (ne.eigenvectors() * (f.asDiagonal() * bvec)));
          if (joint) {
            Eigen::Map<Eigen::MatrixXd>(pc, q, q) = bvec.transpose() * fkeep.asDiagonal() * bvec;
            Eigen::Map<Eigen::MatrixXd>(dc, q, q) = bvec.transpose() * lf2.asDiagonal() * bvec;
          } else {
            const Eigen::MatrixXd b2 = bvec.cwiseAbs2();
            Eigen::Map<Eigen::VectorXd>(pc, q) = (fkeep.asDiagonal() * b2).colwise().sum().transpose();
            Eigen::Map<Eigen::VectorXd>(dc, q) = (lf2.asDiagonal() * b2).colwise().sum().transpose();
          }
        }
      }
    };
    if (threads <= 1 || nc < 64) {
      body(start, stop);
    } else {
      RangeWorker<decltype(body)> worker(body);
      RcppParallel::parallelFor(start, stop, worker, 16, threads);
    }
    for (std::size_t c = 0; c < nc; ++c) {
      if (bad[c]) {
        finite = false;
        if (with_scores) {  // as the adjustment: NaN scores for that cluster
          for (std::size_t a = 0; a < p; ++a)
            sp[(start + c) * p + a] = std::numeric_limits<double>::quiet_NaN();
        }
        continue;
      }
      if (joint) {
        Eigen::Map<Eigen::MatrixXd> Pg(Pbuf.col(c).data(), q, q);
        Eigen::Map<Eigen::MatrixXd> Dg(Dbuf.col(c).data(), q, q);
        omega += Pg;
        omega_diag += Pg.diagonal();
        diag_p2 += Pg.diagonal().cwiseAbs2();
        diag_d2 += Dg.diagonal().cwiseAbs2();
        joint_corr += (Pg.array() * Pg.transpose().array()).sum() + Pg.trace() * Pg.trace()
                      - (Dg.array() * Dg.transpose().array()).sum() - Dg.trace() * Dg.trace();
      } else {
        Eigen::Map<Eigen::VectorXd> pd(Pbuf.col(c).data(), q);
        Eigen::Map<Eigen::VectorXd> dd(Dbuf.col(c).data(), q);
        omega_diag += pd;
        diag_p2 += pd.cwiseAbs2();
        diag_d2 += dd.cwiseAbs2();
      }
    }
    for (std::size_t c = 0; c < nc; ++c) if (bad[c]) Wbuf.col(c).setZero();
    const auto Wc = Wbuf.leftCols(nc);
    for (std::size_t j = 0; j < q; ++j) {
      Sjj[j].noalias() += Wc.middleRows(j * m, m) * Wc.middleRows(j * m, m).transpose();
    }
    if (joint) Sall.noalias() += Wc * Wc.transpose();
    Rcpp::checkUserInterrupt();
  }
  const bool identity_k = !weighted;  // K = -I: tr(K X K Y) = tr(X Y)
  Rcpp::NumericVector denom(q);
  for (std::size_t j = 0; j < q; ++j) {
    denom[j] = trace_kxky(Kmat, Sjj[j], Sjj[j].transpose(), identity_k) - diag_d2(j) + diag_p2(j);
  }
  double total = NA_REAL;
  if (joint) {
    total = joint_corr;
    for (std::size_t s = 0; s < q; ++s) {
      for (std::size_t t = 0; t < q; ++t) {
        const Eigen::MatrixXd Sst = Sall.block(s * m, t * m, m, m);
        // tr(K S_st K S_st) + tr(K S_st K S_ts), S_ts = S_st'
        total += trace_kxky(Kmat, Sst, Sst.transpose(), identity_k) +
                 trace_kxky(Kmat, Sst, Sst, identity_k);
      }
    }
  }
  if (!finite) {
    omega.setConstant(std::numeric_limits<double>::quiet_NaN());
    omega_diag.setConstant(std::numeric_limits<double>::quiet_NaN());
    for (std::size_t j = 0; j < q; ++j) denom[j] = NA_REAL;
    total = NA_REAL;
  }
  return Rcpp::List::create(Rcpp::Named("omega") = Rcpp::wrap(omega),
                            Rcpp::Named("omega_diag") = Rcpp::wrap(omega_diag),
                            Rcpp::Named("denom") = denom,
                            Rcpp::Named("total") = total,
                            Rcpp::Named("scores") = scores);
}

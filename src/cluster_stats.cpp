// The compress step: one pass over the rows -> per-cluster statistics.
#include "cluster_stats.h"
#include <algorithm>
#include <cmath>
#include <limits>

using namespace clusterab;

namespace {

// Mean (weighted when w is given), smallest and largest finite value and
// number of non-finite values of each column; one thread per column, so the
// sums do not depend on the thread count.
struct ColumnSummaryWorker : public RcppParallel::Worker {
  const std::vector<const double*>& cols;
  const double* w;
  std::size_t n;
  std::vector<double>& mean;
  std::vector<double>& nonfinite;
  std::vector<double>& lo;
  std::vector<double>& hi;

  ColumnSummaryWorker(const std::vector<const double*>& cols_, const double* w_,
                      std::size_t n_, std::vector<double>& mean_,
                      std::vector<double>& nonfinite_, std::vector<double>& lo_,
                      std::vector<double>& hi_)
      : cols(cols_), w(w_), n(n_), mean(mean_), nonfinite(nonfinite_), lo(lo_),
        hi(hi_) {}

  void operator()(std::size_t begin, std::size_t end) {
    for (std::size_t j = begin; j < end; ++j) {
      const double* x = cols[j];
      double sum = 0.0, wsum = 0.0, bad = 0.0;
      double mn = std::numeric_limits<double>::infinity(), mx = -mn;
      if (w) {
        for (std::size_t i = 0; i < n; ++i) {
          const double xi = x[i];
          if (std::isfinite(xi)) {
            sum += w[i] * xi;
            wsum += w[i];
            mn = std::min(mn, xi);
            mx = std::max(mx, xi);
          } else {
            bad += 1.0;
          }
        }
      } else {
        // the range may take in an infinite value: the column is then
        // rejected anyway (NaN, a missing value, leaves it unchanged)
        for (std::size_t i = 0; i < n; ++i) {
          const double xi = x[i];
          if (std::isfinite(xi)) sum += xi; else bad += 1.0;
          mn = xi < mn ? xi : mn;
          mx = xi > mx ? xi : mx;
        }
        wsum = static_cast<double>(n) - bad;
      }
      // A weighted sum can overflow where the values do not: fall back to
      // the mean of the values scaled by their largest magnitude.
      double m = wsum > 0 ? sum / wsum : 0.0;
      if (!std::isfinite(m) && wsum > 0) {
        const double big = std::max(std::fabs(mn), std::fabs(mx));
        const double wbig = w ? *std::max_element(w, w + n) : 1.0;
        double s = 0.0, ws = 0.0;
        for (std::size_t i = 0; i < n; ++i) {
          if (!std::isfinite(x[i])) continue;
          const double wi = (w ? w[i] : 1.0) / wbig;
          s += wi * (x[i] / big);
          ws += wi;
        }
        m = s / ws * big;
      }
      mean[j] = m;
      nonfinite[j] = bad;
      lo[j] = mn;
      hi[j] = mx;
    }
  }
};

// Accumulates sum_i v_i z_i z_i' per cluster (packed upper triangle) for
// v_i = (c_w w_i)^power, z_i = (1, c_x (x_i - shift_x), c_y (y_i - shift_y)).
// The scales c are powers of two, so scaling is exact: it only keeps squares
// of huge or tiny values from overflowing or underflowing.
struct MomentVisitor {
  const std::vector<const double*>& x;
  const double* y;
  const double* w;
  const std::vector<double>& shift;
  const std::vector<double>& scale;
  double wscale;
  const std::vector<int>& powers;
  std::vector<double*> out;  // one K x G matrix per power
  int* count;
  int* weight_varies;
  double* first_weight;
  std::size_t q, K;
  std::vector<std::vector<double> > scratch;  // z per partition

  MomentVisitor(const std::vector<const double*>& x_, const double* y_,
                const double* w_, const std::vector<double>& shift_,
                const std::vector<double>& scale_, double wscale_,
                const std::vector<int>& powers_, int partitions)
      : x(x_), y(y_), w(w_), shift(shift_), scale(scale_), wscale(wscale_),
        powers(powers_), count(nullptr),
        weight_varies(nullptr), first_weight(nullptr) {
    q = 1 + x.size() + (y ? 1 : 0);
    K = packed_size(q);
    scratch.assign(partitions, std::vector<double>(q));
  }

  void operator()(std::size_t i, int g, std::size_t t) {
    double* z = scratch[t].data();
    z[0] = 1.0;
    for (std::size_t j = 0; j < x.size(); ++j) z[j + 1] = (x[j][i] - shift[j]) * scale[j];
    if (y) z[q - 1] = (y[i] - shift[q - 2]) * scale[q - 2];
    const double wraw = w ? w[i] : 1.0;
    if (w) {
      if (count[g] == 0) first_weight[g] = wraw;
      else if (wraw != first_weight[g]) weight_varies[g] = 1;
    }
    const double wi = wraw * wscale;
    count[g] += 1;
    for (std::size_t k = 0; k < powers.size(); ++k) {
      const double v = powers[k] == 0 ? 1.0 : (powers[k] == 1 ? wi : wi * wi);
      double* S = out[k] + static_cast<std::size_t>(g) * K;
      for (std::size_t b = 0; b < q; ++b) {
        const double vzb = v * z[b];
        double* col = S + b * (b + 1) / 2;
        for (std::size_t a = 0; a <= b; ++a) col[a] += vzb * z[a];
      }
    }
  }
};

// Row positions of a group: from a list, or a range of consecutive rows.
struct RowList {
  const std::size_t* p;
  RowList from(std::size_t k) const { return RowList{p + k}; }
  std::size_t operator()(std::size_t k) const { return p[k]; }
};
struct RowRange {
  std::size_t first;
  RowRange from(std::size_t k) const { return RowRange{first + k}; }
  std::size_t operator()(std::size_t k) const { return first + k; }
};

// Accumulates sum_i z_i r_i per cluster, z_i = ([1,] c (x_i - shift)).
struct ScoreVisitor {
  const std::vector<const double*>& x;
  const double* r;
  const std::vector<double>& shift;
  const std::vector<double>& scale;
  bool intercept;
  const int* codes;
  std::size_t p;

  void rows(const std::size_t* idx, std::size_t m, double* out) {
    for (std::size_t k = 0; k < m; ++k) {
      const std::size_t i = idx[k];
      double* s = out + static_cast<std::size_t>(codes[i]) * p;
      const double ri = r[i];
      std::size_t c = 0;
      if (intercept) s[c++] += ri;
      for (std::size_t j = 0; j < x.size(); ++j) s[c++] += (x[j][i] - shift[j]) * scale[j] * ri;
    }
  }
  void range(std::size_t lo, std::size_t hi, double* out) {
    std::vector<std::size_t> idx(hi - lo);
    for (std::size_t i = lo; i < hi; ++i) idx[i - lo] = i;
    rows(idx.data(), idx.size(), out);
  }
};

// The scores of the scores plan, sum_i v_i z_i e_i per cluster, with the
// residual e_i = c_y (y_i - shift_y) - z_i' beta formed from the row itself
// (no vector of residuals is stored): z_i = ([1,] c (x_i - shift)) over the
// columns of the design, v_i = c_w w_i (1 without weights). Rows are taken
// in groups, column by column (streaming loads), for speed.
#if defined(__GNUC__) || defined(__clang__)
#define CLUSTERAB_PREFETCH(ptr) __builtin_prefetch((ptr), 1, 3)
#else
#define CLUSTERAB_PREFETCH(ptr) ((void)0)
#endif

struct ResidualScoreVisitor {
  const std::vector<const double*>& x;
  const double* y;
  const double* w;
  const std::vector<double>& shift;
  const std::vector<double>& scale;
  double yshift, yscale, wscale;
  bool intercept;
  const std::vector<double>& beta;
  const int* codes;
  std::size_t p;
  bool prefetch;  // G p doubles beyond the cache

  template <class Index>
  void rows_at(Index id, std::size_t m, double* out) {
    const std::size_t group = 256;
    double e[group];
    std::size_t off[group];
    const std::size_t mx = x.size(), c0 = intercept ? 1 : 0;
    std::vector<double> zbuf(mx * group);   // z of the group, column by column
    for (std::size_t start = 0; start < m; start += group) {
      const std::size_t len = start + group < m ? group : m - start;
      const Index at = id.from(start);
      const double b0 = intercept ? beta[0] : 0.0;
      for (std::size_t k = 0; k < len; ++k) {
        e[k] = (y[at(k)] - yshift) * yscale - b0;
        off[k] = static_cast<std::size_t>(codes[at(k)]) * p;
      }
      // the sums of many clusters (G p doubles) do not fit in the cache: ask
      // for the group's lines now, so that the misses overlap with the work
      // on the columns below instead of stalling the adds one by one
      if (prefetch) {
        for (std::size_t k = 0; k < len; ++k) {
          CLUSTERAB_PREFETCH(out + off[k]);
          CLUSTERAB_PREFETCH(out + off[k] + p - 1);
        }
      }
      for (std::size_t j = 0; j < mx; ++j) {
        const double* col = x[j];
        const double sh = shift[j], sc = scale[j], bj = beta[c0 + j];
        double* z = zbuf.data() + j * group;
        for (std::size_t k = 0; k < len; ++k) {
          z[k] = (col[at(k)] - sh) * sc;
          e[k] -= bj * z[k];
        }
      }
      if (w) for (std::size_t k = 0; k < len; ++k) e[k] *= w[at(k)] * wscale;
      // row by row: a cluster's p sums share a cache line or two
      const double* z = zbuf.data();
      for (std::size_t k = 0; k < len; ++k) {
        double* s = out + off[k];
        const double ek = e[k];
        if (intercept) s[0] += ek;
        double* sx = s + c0;
        for (std::size_t j = 0; j < mx; ++j) sx[j] += z[j * group + k] * ek;
      }
    }
  }
  void rows(const std::size_t* idx, std::size_t m, double* out) { rows_at(RowList{idx}, m, out); }
  void range(std::size_t lo, std::size_t hi, double* out) { rows_at(RowRange{lo}, hi - lo, out); }
};

// sum_k a_k b_k with eight independent partial sums (lanes) added in a fixed
// order at the end: the compiler can vectorise it without reassociating, and
// the result is the same on every call for the same inputs (whatever the
// thread count). On x86-64 with GCC or Clang a copy compiled for AVX2 and FMA
// is used when the processor has them (chosen once per process, so a machine
// always gives the same digits).
#define CLUSTERAB_LANE_DOT_BODY                                               \
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                  \
  std::size_t k = 0;                                                         \
  for (; k + 8 <= m; k += 8)                                                 \
    for (int l = 0; l < 8; ++l) acc[l] += a[k + l] * b[k + l];               \
  for (; k < m; ++k) acc[0] += a[k] * b[k];                                  \
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));

inline double lane_dot_plain(const double* a, const double* b, std::size_t m) {
  CLUSTERAB_LANE_DOT_BODY
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("avx2,fma"))) double lane_dot_avx2(const double* a, const double* b,
                                                          std::size_t m) {
  CLUSTERAB_LANE_DOT_BODY
}
bool has_avx2() {
  static const bool yes = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return yes;
}
inline double lane_dot(const double* a, const double* b, std::size_t m) {
  return has_avx2() ? lane_dot_avx2(a, b, m) : lane_dot_plain(a, b, m);
}
#else
inline double lane_dot(const double* a, const double* b, std::size_t m) {
  return lane_dot_plain(a, b, m);
}
#endif

// Global weighted cross-products of z = (1, c_x (x - shift_x), c_y (y -
// shift_y)), split by the parity of the cluster code: block b of `block` rows
// writes its two packed sums to partial[b]; they are added in block order, so
// the result does not depend on the thread count. The products run on a
// block copy of z (a matrix product, vectorised).
struct GlobalMomentWorker : public RcppParallel::Worker {
  const std::vector<const double*>& x;
  const double* y;
  const double* w;
  const int* codes;
  const std::vector<double>& shift;
  const std::vector<double>& scale;
  double wscale;
  std::size_t n, q, K, block, first;
  std::vector<std::vector<double> >& partial;

  GlobalMomentWorker(const std::vector<const double*>& x_, const double* y_,
                     const double* w_, const int* codes_,
                     const std::vector<double>& shift_, const std::vector<double>& scale_,
                     double wscale_, std::size_t n_, std::size_t block_,
                     std::vector<std::vector<double> >& partial_)
      : x(x_), y(y_), w(w_), codes(codes_), shift(shift_), scale(scale_),
        wscale(wscale_), n(n_), q(x_.size() + 2), K(packed_size(x_.size() + 2)),
        block(block_), first(0), partial(partial_) {}

  void operator()(std::size_t begin, std::size_t end) {
    std::vector<std::size_t> rows(block), odd_rows(block);
    Eigen::MatrixXd Z(block, q), Zv(w ? block : 0, q);
    for (std::size_t b = begin; b < end; ++b) {
      const std::size_t lo = b * block, hi = lo + block < n ? lo + block : n;
      // rows of even codes first, then odd, each in row order
      const std::size_t m = hi - lo;
      std::size_t mA = 0, mB = 0;
      for (std::size_t i = lo; i < hi; ++i) {   // branch-free partition
        const std::size_t odd = static_cast<std::size_t>(codes[i] & 1);
        rows[mA] = i;
        odd_rows[mB] = i;
        mA += 1 - odd;
        mB += odd;
      }
      std::copy(odd_rows.begin(), odd_rows.begin() + mB, rows.begin() + mA);
      const std::size_t* r = rows.data();
      Z.col(0).head(m).setOnes();
      for (std::size_t j = 0; j < x.size(); ++j) {
        const double* col = x[j];
        const double sh = shift[j], sc = scale[j];
        double* zc = Z.col(j + 1).data();
        for (std::size_t k = 0; k < m; ++k) zc[k] = (col[r[k]] - sh) * sc;
      }
      {
        const double sh = shift[q - 2], sc = scale[q - 2];
        double* zc = Z.col(q - 1).data();
        for (std::size_t k = 0; k < m; ++k) zc[k] = (y[r[k]] - sh) * sc;
      }
      if (w) {
        double* v = Zv.col(0).data();
        for (std::size_t k = 0; k < m; ++k) v[k] = w[r[k]] * wscale;
        for (std::size_t j = 1; j < q; ++j)
          Zv.col(j).head(m) = Z.col(j).head(m).cwiseProduct(Zv.col(0).head(m));
      }
      const Eigen::MatrixXd& L = w ? Zv : Z;
      double* out = partial[b - first].data();
      const std::size_t len[2] = {mA, m - mA}, at[2] = {0, mA};
      for (int half = 0; half < 2; ++half) {
        double* dest = out + half * K;
        for (std::size_t bb = 0; bb < q; ++bb) {
          const double* zb = Z.col(bb).data() + at[half];
          for (std::size_t a = 0; a <= bb; ++a)
            dest[packed_index(a, bb)] = lane_dot(L.col(a).data() + at[half], zb, len[half]);
        }
      }
    }
  }
};

void check_codes(const Rcpp::IntegerVector& codes, int G) {
  for (R_xlen_t i = 0; i < codes.size(); ++i)
    if (codes[i] < 0 || codes[i] >= G)
      Rcpp::stop("internal error: cluster code out of range");
}

}  // namespace

// Mean (weighted by w, if given), range of the finite values and count of
// non-finite values of each column of a list, in one pass.
// [[Rcpp::export]]
Rcpp::List cpp_column_summary(Rcpp::List cols, int threads,
                              Rcpp::Nullable<Rcpp::NumericVector> w = R_NilValue) {
  const std::size_t m = cols.size();
  const std::size_t n = m > 0 ? static_cast<std::size_t>(XLENGTH(cols[0])) : 0;
  std::vector<const double*> x = column_pointers(cols, n);
  Rcpp::NumericVector wv;
  const double* wp = optional_column(w, wv, n);
  std::vector<double> mean(m), nonfinite(m), lo(m), hi(m);
  ColumnSummaryWorker worker(x, wp, n, mean, nonfinite, lo, hi);
  RcppParallel::parallelFor(0, m, worker, 1, threads < 1 ? 1 : threads);
  return Rcpp::List::create(
      Rcpp::Named("mean") = Rcpp::NumericVector(mean.begin(), mean.end()),
      Rcpp::Named("nonfinite") = Rcpp::NumericVector(nonfinite.begin(), nonfinite.end()),
      Rcpp::Named("min") = Rcpp::NumericVector(lo.begin(), lo.end()),
      Rcpp::Named("max") = Rcpp::NumericVector(hi.begin(), hi.end()));
}

namespace {
// Scale factors: `scale` (one per shifted column, default 1) and its length check.
std::vector<double> scale_factors(const Rcpp::Nullable<Rcpp::NumericVector>& scale,
                                  std::size_t m) {
  if (scale.isNull()) return std::vector<double>(m, 1.0);
  Rcpp::NumericVector s(scale.get());
  if (static_cast<std::size_t>(s.size()) != m)
    Rcpp::stop("internal error: scale has the wrong length");
  return std::vector<double>(s.begin(), s.end());
}
}  // namespace

// Per-cluster weighted cross-products of z = (1, c_x (x - shift_x),
// c_y (y - shift_y)) with weights c_w w, one K x G matrix (packed upper
// triangles) for each weight power requested. `scale` (c_x, c_y) and `wscale`
// (c_w) default to 1.
// [[Rcpp::export]]
Rcpp::List cpp_cluster_moments(Rcpp::List cols, Rcpp::Nullable<Rcpp::NumericVector> y,
                               Rcpp::Nullable<Rcpp::NumericVector> w,
                               Rcpp::IntegerVector codes, int G,
                               Rcpp::NumericVector shift, Rcpp::IntegerVector powers,
                               int threads,
                               Rcpp::Nullable<Rcpp::NumericVector> scale = R_NilValue,
                               double wscale = 1.0) {
  const std::size_t n = codes.size();
  check_codes(codes, G);
  std::vector<const double*> x = column_pointers(cols, n);
  Rcpp::NumericVector yv, wv;
  const double* yp = optional_column(y, yv, n);
  const double* wp = optional_column(w, wv, n);
  std::vector<double> sh(shift.begin(), shift.end());
  if (sh.size() != x.size() + (yp ? 1 : 0))
    Rcpp::stop("internal error: shift has the wrong length");
  std::vector<int> pw(powers.begin(), powers.end());
  const std::vector<double> sc = scale_factors(scale, sh.size());

  const int partitions = threads < 1 ? 1 : threads;
  MomentVisitor visit(x, yp, wp, sh, sc, wscale, pw, partitions);
  Rcpp::List out;
  std::vector<Rcpp::NumericMatrix> mats;
  for (std::size_t k = 0; k < pw.size(); ++k) {
    mats.push_back(Rcpp::NumericMatrix(visit.K, G));
    visit.out.push_back(mats.back().begin());
  }
  Rcpp::IntegerVector count(G);
  Rcpp::IntegerVector varies(G);
  std::vector<double> first_weight(G, 0.0);
  visit.count = count.begin();
  visit.weight_varies = varies.begin();
  visit.first_weight = first_weight.data();
  for_rows_by_cluster(visit, codes.begin(), n, G, threads);

  Rcpp::List moments(pw.size());
  for (std::size_t k = 0; k < pw.size(); ++k) moments[k] = mats[k];
  return Rcpp::List::create(Rcpp::Named("n") = count,
                            Rcpp::Named("moments") = moments,
                            Rcpp::Named("weight_varies") = Rcpp::LogicalVector(varies));
}

// Per-cluster scores sum_i z_i r_i, z = ([1,] c (x - shift)): a p x G matrix.
// [[Rcpp::export]]
Rcpp::NumericMatrix cpp_cluster_scores(Rcpp::List cols, bool intercept,
                                       Rcpp::NumericVector r,
                                       Rcpp::IntegerVector codes, int G,
                                       Rcpp::NumericVector shift, int threads,
                                       Rcpp::Nullable<Rcpp::NumericVector> scale = R_NilValue) {
  const std::size_t n = codes.size();
  check_codes(codes, G);
  if (static_cast<std::size_t>(r.size()) != n)
    Rcpp::stop("internal error: r has the wrong length");
  std::vector<const double*> x = column_pointers(cols, n);
  std::vector<double> sh(shift.begin(), shift.end());
  if (sh.size() != x.size()) Rcpp::stop("internal error: shift has the wrong length");
  const std::vector<double> sc = scale_factors(scale, sh.size());
  const std::size_t p = x.size() + (intercept ? 1 : 0);
  Rcpp::NumericMatrix out(p, G);
  ScoreVisitor visit{x, r.begin(), sh, sc, intercept, codes.begin(), p};
  for_rows_cluster_sums(visit, codes.begin(), n, G, p, out.begin(), threads);
  return out;
}

// The scores plan's per-cluster scores sum_i v_i z_i e_i (a p x G matrix) of
// the design z = ([1,] c (x - shift)) of the columns `cols`, with the
// residuals e = c_y (y - shift_y) - z' beta computed row by row and v = c_w w.
// [[Rcpp::export]]
Rcpp::NumericMatrix cpp_residual_scores(Rcpp::List cols, bool intercept,
                                        Rcpp::NumericVector y,
                                        Rcpp::Nullable<Rcpp::NumericVector> w,
                                        Rcpp::IntegerVector codes, int G,
                                        Rcpp::NumericVector shift, Rcpp::NumericVector scale,
                                        double yshift, double yscale, double wscale,
                                        Rcpp::NumericVector beta, int threads) {
  const std::size_t n = codes.size();
  check_codes(codes, G);
  if (static_cast<std::size_t>(y.size()) != n)
    Rcpp::stop("internal error: y has the wrong length");
  std::vector<const double*> x = column_pointers(cols, n);
  Rcpp::NumericVector wv;
  const double* wp = optional_column(w, wv, n);
  std::vector<double> sh(shift.begin(), shift.end()), sc(scale.begin(), scale.end());
  std::vector<double> b(beta.begin(), beta.end());
  const std::size_t p = x.size() + (intercept ? 1 : 0);
  if (sh.size() != x.size() || sc.size() != x.size() || b.size() != p)
    Rcpp::stop("internal error: shift, scale or beta has the wrong length");
  Rcpp::NumericMatrix out(p, G);
  ResidualScoreVisitor visit{x, y.begin(), wp, sh, sc, yshift, yscale, wscale,
                             intercept, b, codes.begin(), p,
                             static_cast<double>(G) * p * sizeof(double) > 4.0e6};
  for_rows_cluster_sums(visit, codes.begin(), n, G, p, out.begin(), threads);
  return out;
}

// Global weighted cross-products (packed) of z = (1, c_x (x - shift_x), c_y
// (y - shift_y)) with weights c_w w: `moments`, a K x 1 matrix, and `split`,
// K x 2, the same sums over the clusters of even and of odd code (their sum
// is `moments`); the few-cluster screen reads the split.
// [[Rcpp::export]]
Rcpp::List cpp_global_moments(Rcpp::List cols, Rcpp::NumericVector y,
                              Rcpp::Nullable<Rcpp::NumericVector> w,
                              Rcpp::IntegerVector codes, Rcpp::NumericVector shift,
                              int threads,
                              Rcpp::Nullable<Rcpp::NumericVector> scale = R_NilValue,
                              double wscale = 1.0) {
  const std::size_t n = codes.size();
  std::vector<const double*> x = column_pointers(cols, n);
  Rcpp::NumericVector wv;
  const double* wp = optional_column(w, wv, n);
  if (static_cast<std::size_t>(y.size()) != n)
    Rcpp::stop("internal error: y has the wrong length");
  std::vector<double> sh(shift.begin(), shift.end());
  if (sh.size() != x.size() + 1) Rcpp::stop("internal error: shift has the wrong length");
  const std::vector<double> sc = scale_factors(scale, sh.size());
  const std::size_t block = 1024, round = 256;
  const std::size_t blocks = (n + block - 1) / block;
  const std::size_t K = packed_size(x.size() + 2);
  std::vector<std::vector<double> > partial(round, std::vector<double>(2 * K));
  GlobalMomentWorker worker(x, y.begin(), wp, codes.begin(), sh, sc, wscale, n, block,
                            partial);
  Rcpp::NumericMatrix split(K, 2);
  double* tot = split.begin();
  sum_blocks_in_order(worker, blocks, partial, tot, threads);
  Rcpp::NumericMatrix moments(K, 1);
  for (std::size_t k = 0; k < K; ++k) moments[k] = split[k] + split[K + k];
  return Rcpp::List::create(Rcpp::Named("moments") = moments,
                            Rcpp::Named("split") = split);
}

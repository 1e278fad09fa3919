// Cluster identifiers of any type -> integer codes 0..G-1 in order of first
// appearance. Missing values are rejected by the R layer before this runs.
#include <Rcpp.h>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <unordered_map>
#include <vector>

namespace {

struct Codes {
  std::vector<int> code;
  std::vector<int> first;  // 1-based row of each cluster's first appearance
};

template <class Key, class GetKey>
Codes codes_by_hash(std::size_t n, GetKey key_of) {
  Codes out;
  out.code.resize(n);
  std::unordered_map<Key, int> seen;
  seen.reserve(1024);
  for (std::size_t i = 0; i < n; ++i) {
    auto it = seen.emplace(key_of(i), static_cast<int>(out.first.size()));
    if (it.second) out.first.push_back(static_cast<int>(i) + 1);
    out.code[i] = it.first->second;
  }
  return out;
}

// Integer ids with a compact range use a lookup table, which is several times
// faster than hashing; wide ranges fall back to a hash map.
template <class GetValue>
Codes codes_of_integers(std::size_t n, long long lo, long long hi,
                        GetValue value_of) {
  const long long range = hi - lo + 1;
  if (range <= static_cast<long long>(2 * n + 1024)) {
    Codes out;
    out.code.resize(n);
    std::vector<int> table(static_cast<std::size_t>(range), -1);
    for (std::size_t i = 0; i < n; ++i) {
      int& slot = table[static_cast<std::size_t>(value_of(i) - lo)];
      if (slot < 0) {
        slot = static_cast<int>(out.first.size());
        out.first.push_back(static_cast<int>(i) + 1);
      }
      out.code[i] = slot;
    }
    return out;
  }
  return codes_by_hash<long long>(n, value_of);
}

bool all_whole_numbers(const double* x, std::size_t n, double* lo, double* hi) {
  *lo = R_PosInf;
  *hi = R_NegInf;
  for (std::size_t i = 0; i < n; ++i) {
    const double v = x[i];
    if (!(std::fabs(v) < 4.0e15) || v != std::floor(v)) return false;
    if (v < *lo) *lo = v;
    if (v > *hi) *hi = v;
  }
  return true;
}

}  // namespace

// Integer codes (0-based) of cluster ids; `first` gives the 1-based row of
// each cluster's first appearance, so the R layer can recover the labels.
// [[Rcpp::export]]
Rcpp::List cpp_cluster_codes(SEXP x) {
  const std::size_t n = static_cast<std::size_t>(XLENGTH(x));
  Codes out;
  switch (TYPEOF(x)) {
  case INTSXP:
  case LGLSXP: {
    const int* v = TYPEOF(x) == INTSXP ? INTEGER(x) : LOGICAL(x);
    long long lo = 0, hi = -1;
    for (std::size_t i = 0; i < n; ++i) {
      if (i == 0 || v[i] < lo) lo = v[i];
      if (i == 0 || v[i] > hi) hi = v[i];
    }
    out = codes_of_integers(n, lo, hi,
                            [v](std::size_t i) { return static_cast<long long>(v[i]); });
    break;
  }
  case REALSXP: {
    const double* v = REAL(x);
    double lo, hi;
    if (n > 0 && all_whole_numbers(v, n, &lo, &hi)) {
      out = codes_of_integers(n, static_cast<long long>(lo), static_cast<long long>(hi),
                              [v](std::size_t i) { return static_cast<long long>(v[i]); });
    } else {
      out = codes_by_hash<std::uint64_t>(n, [v](std::size_t i) {
        double d = v[i] == 0.0 ? 0.0 : v[i];  // -0 and +0 are one cluster
        std::uint64_t bits;
        std::memcpy(&bits, &d, sizeof bits);
        return bits;
      });
    }
    break;
  }
  case STRSXP: {
    // The R layer converts to UTF-8 first, so equal strings share one CHARSXP.
    out = codes_by_hash<SEXP>(n, [x](std::size_t i) { return STRING_ELT(x, i); });
    break;
  }
  default:
    Rcpp::stop("cluster ids must be integer, numeric, character, logical or factor");
  }
  return Rcpp::List::create(
      Rcpp::Named("codes") = Rcpp::IntegerVector(out.code.begin(), out.code.end()),
      Rcpp::Named("first") = Rcpp::IntegerVector(out.first.begin(), out.first.end()));
}

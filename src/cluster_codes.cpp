// Cluster identifiers of any type -> integer codes 0..G-1 in order of first
// appearance. Missing values are rejected by the R layer before this runs.
#include <Rcpp.h>
#include <RcppParallel.h>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <cstdlib>
#include <memory>
#include <new>
#include <unordered_map>
#include <vector>

namespace {

struct Codes {
  Rcpp::IntegerVector code;  // written in place: no copy into an R vector at the end
  std::vector<int> first;  // 1-based row of each cluster's first appearance
};

template <class Key, class GetKey>
Codes codes_by_hash(std::size_t n, GetKey key_of) {
  Codes out;
  out.code = Rcpp::IntegerVector(Rcpp::no_init(n));
  std::unordered_map<Key, int> seen;
  seen.reserve(1024);
  for (std::size_t i = 0; i < n; ++i) {
    // find() first: emplace() allocates a node even for a key already seen
    const Key key = key_of(i);
    auto it = seen.find(key);
    if (it == seen.end()) {
      it = seen.emplace(key, static_cast<int>(out.first.size())).first;
      out.first.push_back(static_cast<int>(i) + 1);
    }
    out.code[i] = it->second;
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
    out.code = Rcpp::IntegerVector(Rcpp::no_init(n));
    int* code = out.code.begin();
    std::vector<int> table(static_cast<std::size_t>(range), -1);
    for (std::size_t i = 0; i < n; ++i) {
      int& slot = table[static_cast<std::size_t>(value_of(i) - lo)];
      if (slot < 0) {
        slot = static_cast<int>(out.first.size());
        out.first.push_back(static_cast<int>(i) + 1);
      }
      code[i] = slot;
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

// Codes of the intersection of two clusterings given by their codes a (0..Ga-1)
// and b (0..Gb-1): the pair (a, b) as one integer key a * Gb + b, numbered in
// order of first appearance (as cpp_cluster_codes numbers any ids). A dense
// table of all Ga * Gb keys when that is small next to n; else an open-
// addressing hash of the integer keys (no strings, no pairs). Both tables come
// from calloc: zero means unseen, so untouched pages cost nothing.
struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

void intersect_dense(const int* a, const int* b, std::size_t n, std::uint64_t Gb,
                     std::uint64_t keys, int* code, std::vector<int>& first) {
  std::unique_ptr<int[], FreeDeleter> table(
      static_cast<int*>(std::calloc(static_cast<std::size_t>(keys), sizeof(int))));
  if (!table) throw std::bad_alloc();
  for (std::size_t i = 0; i < n; ++i) {
    int& slot = table[static_cast<std::size_t>(a[i] * Gb + b[i])];  // code + 1
    if (slot == 0) {
      first.push_back(static_cast<int>(i) + 1);
      slot = static_cast<int>(first.size());
    }
    code[i] = slot - 1;
  }
}

template <class Key>
void intersect_hashed(const int* a, const int* b, std::size_t n, std::uint64_t Gb,
                      int* code, std::vector<int>& first) {
  struct Slot {
    Key key;  // key + 1; 0 = empty
    int code;
  };
  int bits = 4;
  while ((std::size_t(1) << bits) < 2 * n) ++bits;  // load factor <= 1/2
  const std::size_t mask = (std::size_t(1) << bits) - 1;
  std::unique_ptr<Slot[], FreeDeleter> table(
      static_cast<Slot*>(std::calloc(mask + 1, sizeof(Slot))));
  if (!table) throw std::bad_alloc();
  for (std::size_t i = 0; i < n; ++i) {
    const Key k = static_cast<Key>(static_cast<std::uint64_t>(a[i]) * Gb +
                                   static_cast<std::uint64_t>(b[i]) + 1u);
    std::size_t h = static_cast<std::size_t>(
        (static_cast<std::uint64_t>(k) * 0x9E3779B97F4A7C15ull) >> (64 - bits));
    for (;;) {
      Slot& s = table[h];
      if (s.key == k) {
        code[i] = s.code;
        break;
      }
      if (s.key == 0) {
        s.key = k;
        s.code = static_cast<int>(first.size());
        first.push_back(static_cast<int>(i) + 1);
        code[i] = s.code;
        break;
      }
      h = (h + 1) & mask;
    }
  }
}

// Smallest and largest of n integers, in parallel over pieces of rows (min
// and max are exact, so the result does not depend on the split).
struct IntRangeWorker : public RcppParallel::Worker {
  const int* v;
  std::size_t n, block;
  std::vector<int>& lo;
  std::vector<int>& hi;
  IntRangeWorker(const int* v_, std::size_t n_, std::size_t block_, std::vector<int>& lo_,
                 std::vector<int>& hi_)
      : v(v_), n(n_), block(block_), lo(lo_), hi(hi_) {}
  void operator()(std::size_t begin, std::size_t end) {
    for (std::size_t b = begin; b < end; ++b) {
      const std::size_t from = b * block, to = from + block < n ? from + block : n;
      int a = v[from], z = v[from];
      for (std::size_t i = from; i < to; ++i) {
        a = v[i] < a ? v[i] : a;
        z = v[i] > z ? v[i] : z;
      }
      lo[b] = a;
      hi[b] = z;
    }
  }
};

void int_range(const int* v, std::size_t n, int threads, long long* lo, long long* hi) {
  const std::size_t block = 1u << 16;
  const std::size_t blocks = (n + block - 1) / block;
  std::vector<int> a(blocks), z(blocks);
  IntRangeWorker worker(v, n, block, a, z);
  if (threads <= 1 || blocks < 2) worker(0, blocks);
  else RcppParallel::parallelFor(0, blocks, worker, 1, threads);
  *lo = a[0];
  *hi = z[0];
  for (std::size_t b = 1; b < blocks; ++b) {
    if (a[b] < *lo) *lo = a[b];
    if (z[b] > *hi) *hi = z[b];
  }
}

}  // namespace

// Codes (0-based, in order of first appearance) and first rows (1-based) of
// the intersection of two clusterings given by their codes. `dense_limit`
// (for the tests) overrides the size up to which a dense table is used.
// [[Rcpp::export]]
Rcpp::List cpp_intersection_codes(Rcpp::IntegerVector a, int Ga, Rcpp::IntegerVector b,
                                  int Gb, double dense_limit = -1) {
  const std::size_t n = static_cast<std::size_t>(a.size());
  if (static_cast<std::size_t>(b.size()) != n) Rcpp::stop("internal error: codes of different lengths");
  if (n >= (std::size_t(1) << 31)) Rcpp::stop("internal error: too many rows");
  for (std::size_t i = 0; i < n; ++i)
    if (a[i] < 0 || a[i] >= Ga || b[i] < 0 || b[i] >= Gb)
      Rcpp::stop("internal error: cluster code out of range");
  const std::uint64_t keys = static_cast<std::uint64_t>(Ga) * static_cast<std::uint64_t>(Gb);
  const double limit = dense_limit >= 0 ? dense_limit : 4.0 * static_cast<double>(n) + 4096.0;
  Rcpp::IntegerVector code(n);
  std::vector<int> first;
  first.reserve(n);
  const std::uint64_t gb = static_cast<std::uint64_t>(Gb);
  if (static_cast<double>(keys) <= limit) {
    intersect_dense(a.begin(), b.begin(), n, gb, keys, code.begin(), first);
  } else if (keys < (std::uint64_t(1) << 32)) {
    intersect_hashed<std::uint32_t>(a.begin(), b.begin(), n, gb, code.begin(), first);
  } else {
    intersect_hashed<std::uint64_t>(a.begin(), b.begin(), n, gb, code.begin(), first);
  }
  return Rcpp::List::create(Rcpp::Named("codes") = code,
                            Rcpp::Named("first") = Rcpp::IntegerVector(first.begin(), first.end()));
}

// Integer codes (0-based) of cluster ids; `first` gives the 1-based row of
// each cluster's first appearance, so the R layer can recover the labels.
// `threads` is used for the range scan of integer ids.
// [[Rcpp::export]]
Rcpp::List cpp_cluster_codes(SEXP x, int threads = 1) {
  const std::size_t n = static_cast<std::size_t>(XLENGTH(x));
  Codes out;
  switch (TYPEOF(x)) {
  case INTSXP:
  case LGLSXP: {
    const int* v = TYPEOF(x) == INTSXP ? INTEGER(x) : LOGICAL(x);
    long long lo = 0, hi = -1;
    if (n > 0) int_range(v, n, threads, &lo, &hi);
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
      Rcpp::Named("codes") = out.code,
      Rcpp::Named("first") = Rcpp::IntegerVector(out.first.begin(), out.first.end()));
}

// Shared pieces of the resampling engine: one random stream per replicate and
// the parallel loop over replicates.
//
// Replicate r's generator is xoshiro256** seeded, through splitmix64, from
// (seed, r) alone, so a replicate's draws do not depend on which thread runs
// it or on how the replicates are split: results are bit-identical for any
// thread count. Seeding costs O(1) per replicate.
#ifndef CLUSTERAB_RESAMPLING_H
#define CLUSTERAB_RESAMPLING_H

#include <RcppParallel.h>
#include <cstddef>
#include <cstdint>

namespace clusterab {

inline std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// The generator of one replicate. It is a UniformRandomBitGenerator, so
// Boost.Random's distributions (poisson, binomial, ...) can draw from it.
class ReplicateRng {
 public:
  typedef std::uint64_t result_type;

  ReplicateRng(std::uint64_t seed, std::uint64_t replicate) {
    std::uint64_t x = seed ^ (0xd1b54a32d192ed03ULL * (replicate + 1));
    for (int i = 0; i < 4; ++i) s_[i] = splitmix64(x);
  }

  static constexpr result_type min() { return 0; }
  static constexpr result_type max() { return ~static_cast<result_type>(0); }

  result_type operator()() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Uniform on [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>((*this)() >> 11) * (1.0 / 9007199254740992.0); }

  // Uniform integer in [0, n), without bias: values below 2^64 mod n are
  // rejected, so the accepted range is a whole number of copies of [0, n).
  // The threshold is cached, since callers draw many values below one n.
  std::uint64_t below(std::uint64_t n) {
    if (n != bound_) {
      bound_ = n;
      threshold_ = (0 - n) % n;
    }
    for (;;) {
      const std::uint64_t x = (*this)();
      if (x >= threshold_) return x % n;
    }
  }

 private:
  std::uint64_t s_[4];
  std::uint64_t bound_ = 0, threshold_ = 0;
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
};

// The 64-bit seed from the two integers draw_seed() takes from R's RNG.
inline std::uint64_t seed_from_r(int high, int low) {
  return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(high)) << 32) |
         static_cast<std::uint32_t>(low);
}

// Calls run(r) for every replicate r in [begin, end), split across threads.
// run must not call the R API. The R side calls this once per chunk of
// replicates, so interrupts and the progress bar are handled between chunks.
template <class Replicate>
struct ReplicateWorker : public RcppParallel::Worker {
  Replicate& run;
  explicit ReplicateWorker(Replicate& run_) : run(run_) {}
  void operator()(std::size_t begin, std::size_t end) {
    for (std::size_t r = begin; r < end; ++r) run(r);
  }
};

template <class Replicate>
void for_replicates(std::size_t begin, std::size_t end, int threads, Replicate& run) {
  ReplicateWorker<Replicate> worker(run);
  if (threads <= 1 || end - begin < 2) {
    worker(begin, end);
  } else {
    RcppParallel::parallelFor(begin, end, worker, 1, threads);
  }
}

}  // namespace clusterab

#endif

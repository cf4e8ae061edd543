// A small deterministic random generator for the evaluation data. std:: distributions differ
// between standard libraries, so the draws are defined here: the same seed gives the same samples
// on every platform.
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace harpe::eval {

// splitmix64 step: also used to derive per-sample seeds from (seed, task, length, index).
uint64_t mix64(uint64_t x);
// Hash of a string (FNV-1a, then mixed), for deriving seeds from task names.
uint64_t hash_string(std::string_view s);

// xoshiro256** seeded through splitmix64.
struct Rng {
  explicit Rng(uint64_t seed);
  uint64_t next();
  // Uniform integer in [lo, hi] (inclusive), without modulo bias.
  int64_t uniform(int64_t lo, int64_t hi);
  // Uniform double in [0, 1).
  double uniform01();
  // k distinct integers from [0, n), in the order drawn (like Python's random.sample).
  std::vector<int64_t> sample(int64_t n, int64_t k);
  template <typename T>
  void shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) {
      size_t j = static_cast<size_t>(uniform(0, static_cast<int64_t>(i) - 1));
      std::swap(v[i - 1], v[j]);
    }
  }

  uint64_t s[4];
};

}  // namespace harpe::eval

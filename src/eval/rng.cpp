#include "eval/rng.h"

#include <unordered_set>

#include "core/error.h"
#include "core/rng.h"

namespace harpe::eval {

uint64_t mix64(uint64_t x) { return harpe::mix64(x); }

uint64_t hash_string(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return mix64(h);
}

Rng::Rng(uint64_t seed) {
  uint64_t x = seed;
  for (uint64_t& w : s) {
    x = mix64(x);
    w = x;
  }
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t Rng::next() {
  const uint64_t result = rotl(s[1] * 5, 7) * 9;
  const uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

int64_t Rng::uniform(int64_t lo, int64_t hi) {
  check(lo <= hi, "Rng::uniform: empty range [", lo, ", ", hi, "]");
  const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo) + 1;
  if (span == 0) return static_cast<int64_t>(next());  // the full 64-bit range
  // Rejection sampling: accept draws below the largest multiple of span.
  const uint64_t limit = UINT64_MAX - (UINT64_MAX % span);
  uint64_t x;
  do {
    x = next();
  } while (x >= limit);
  return static_cast<int64_t>(static_cast<uint64_t>(lo) + x % span);
}

double Rng::uniform01() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

std::vector<int64_t> Rng::sample(int64_t n, int64_t k) {
  check(k >= 0 && k <= n, "Rng::sample: cannot draw ", k, " distinct values from ", n);
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(k));
  if (k * 4 >= n) {  // dense: partial Fisher-Yates over all n
    std::vector<int64_t> all(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) all[static_cast<size_t>(i)] = i;
    for (int64_t i = 0; i < k; ++i) {
      int64_t j = uniform(i, n - 1);
      std::swap(all[static_cast<size_t>(i)], all[static_cast<size_t>(j)]);
      out.push_back(all[static_cast<size_t>(i)]);
    }
    return out;
  }
  std::unordered_set<int64_t> seen;  // sparse: reject repeats
  while (static_cast<int64_t>(out.size()) < k) {
    int64_t x = uniform(0, n - 1);
    if (seen.insert(x).second) out.push_back(x);
  }
  return out;
}

}  // namespace harpe::eval

// splitmix64 (Steele, Lea, Flood 2014): the one tiny, fully specified generator every module uses
// for seeds, shuffles and weight initialisation. std:: distributions differ between standard
// libraries; this gives the same numbers on every platform.
#pragma once

#include <cstdint>

namespace harpe {

// Advances `state` and returns the next 64 random bits.
inline uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// The same mixing as a pure function of x (one splitmix64 step from state x): derives seeds.
inline uint64_t mix64(uint64_t x) { return splitmix64(x); }

}  // namespace harpe

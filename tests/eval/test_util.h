// Helpers shared by the eval tests.
#pragma once

#include <string>
#include <vector>

#include "eval/rng.h"
#include "eval/words.h"

namespace harpe::eval::testing {

// Deterministic prose-like text: sentences of 5..14 words from our word lists, each ending in '.',
// '!' or '?'. Stands in for the held-out essay corpus.
inline std::string make_essay(int num_sentences, uint64_t seed = 7) {
  Rng rng(seed);
  const auto& words = all_words();
  std::string text;
  for (int s = 0; s < num_sentences; ++s) {
    const int n = static_cast<int>(rng.uniform(5, 14));
    for (int i = 0; i < n; ++i) {
      std::string w(
          words[static_cast<size_t>(rng.uniform(0, static_cast<int64_t>(words.size()) - 1))]);
      if (i == 0) w[0] = static_cast<char>(w[0] - 'a' + 'A');
      text += w;
      text += i + 1 < n ? " " : (s % 7 == 3 ? "? " : (s % 11 == 5 ? "! " : ". "));
    }
    if (s % 9 == 8) text += "\n\n";
  }
  return text;
}

inline int count_occurrences(const std::string& hay, const std::string& needle) {
  int n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

}  // namespace harpe::eval::testing

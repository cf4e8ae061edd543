// Our own word lists (written for harpe, not taken from any package): adjectives and nouns make
// the "adjective-noun" keys of the NIAH needles, and all three lists together make the vocabulary
// of common words extraction (cwe).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace harpe::eval {

const std::vector<std::string_view>& adjectives();
const std::vector<std::string_view>& nouns();
const std::vector<std::string_view>& verbs();
// adjectives + nouns + verbs, sorted, duplicates removed.
const std::vector<std::string_view>& all_words();

}  // namespace harpe::eval

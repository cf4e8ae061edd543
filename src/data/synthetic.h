// Synthetic long-range records: key-value recall documents (facts stated early, asked for late)
// that a small model can learn at short context. A small-scale aid, off by default.
//
// Deliberately unlike the RULER / passkey evaluation prompts: facts are "ledger" entries about
// people's lockers, permits, cabins ... with 4-5 digit numbers, the filler is generated
// harbour-town sentences (no essays, no "the grass is green" lines), and questions read "Question:
// what is the <thing> number of <Name>?" followed by "Answer: <number>." so no evaluation template
// leaks in.
#pragma once

#include <cstdint>
#include <string>

#include "data/corpus.h"

namespace harpe::data {

struct SyntheticOptions {
  std::int64_t documents = 2000;
  int target_chars = 6000;  // approximate record length (about 2k tokens with the default 8k BPE)
  int facts = 6;            // key-value facts per record, all stated in its first fifth
  int questions = 3;        // asked at the end, about distinct facts
  std::uint64_t seed = 1;
};

// Record number `index` (id "synthetic/kv-<index>"); a pure function of (index, options).
Record synthetic_record(std::int64_t index, const SyntheticOptions& opt);

}  // namespace harpe::data

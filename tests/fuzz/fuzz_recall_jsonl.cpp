// Fuzz target: the associative-recall JSONL reader (docs/recall.md) and scoring on what it accepts.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/error.h"
#include "eval/recall.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  harpe::fuzz::InputFile in(data, size);
  if (!in.ok()) return 0;
  try {
    for (const harpe::eval::RecallSequence& s : harpe::eval::read_recall_jsonl(in.path())) {
      std::vector<int32_t> predicted(s.tokens.begin() + 1, s.tokens.end());  // a perfect model
      std::vector<std::vector<int32_t>> generated;
      for (const auto& q : s.queries) generated.push_back(q.answers);
      harpe::eval::RecallResult r;
      r.add(s, harpe::eval::score_recall(s, predicted, generated));
      if (r.queries_exact != r.queries) __builtin_trap();  // the reference must score 100%
    }
  } catch (const harpe::Error&) {
  }
  return 0;
}

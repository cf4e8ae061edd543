// Training data for associative recall (`harpe data recall`): generated sequences (the "train"
// seed stream, never the evaluation's) or a JSONL file, written as a token shard whose loss mask
// marks the answer tokens (train with `--loss answers`), and optionally as JSONL.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "eval/recall.h"

namespace harpe::eval {

struct RecallDataArgs {
  std::string out;    // token shard
  std::string jsonl;  // also write the sequences here ("" = no)
  std::string input;  // read sequences from this JSONL instead of generating
  std::vector<RecallVariant> variants{RecallVariant::multiquery};  // sample i: variants[i % n]
  RecallSpec spec;  // length, vocab, pairs ... (variant is overridden per sample)
  int64_t samples = 10000;
  uint64_t seed = 1;
};

struct RecallDataSummary {
  int64_t sequences = 0, tokens = 0, answer_tokens = 0;
  int vocab = 0;
};

RecallDataSummary make_recall_data(const RecallDataArgs& a);

}  // namespace harpe::eval

// Training documents in the NIAH tasks' format: RULER prompts (the eight NIAH tasks, drawn at
// random) followed by their answers, with haystacks cut from a training-split text at random
// offsets and a seed stream of their own, so no evaluation prompt, needle or haystack passage is
// among them. A small-scale aid: a few-million-parameter model does not learn RULER's format
// from prose, so without them every NIAH score is 0 and the retrieval tables compare nothing.
// With them the base model learns the task at its training length C0 and the evaluation measures
// how far each context-extension method carries it (docs/results.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/corpus.h"
#include "eval/tokenizer.h"

namespace harpe::eval {

struct NiahTrainingOptions {
  int64_t documents = 2000;
  int64_t min_tokens = 64;    // document lengths are log-uniform in [min_tokens, max_tokens],
  int64_t max_tokens = 4096;  // as measured by `count`
  uint64_t seed = 7;
  TokenCounter count;  // default: approximate_token_counter()
};

// One token per digit, about 4 bytes per token otherwise: the sizing does not need the tokenizer,
// which is trained later on the corpus these documents are part of.
TokenCounter approximate_token_counter();

// Document `index` (id "niah/<task>-<index>"); a pure function of (index, options, haystack_text).
// haystack_text: the essay haystack source (training split), at least a few thousand words.
data::Record niah_training_record(int64_t index, const NiahTrainingOptions& options,
                                  const std::string& haystack_text);

// A passkey prompt (eval task "passkey") with its answer, length log-uniform in the options'
// range, haystack from haystack_text; id "niah/passkey-<index>".
data::Record passkey_training_record(int64_t index, const NiahTrainingOptions& options,
                                     const std::string& haystack_text);

// A copy drill: eight lines "w1 .. wk = w1 .. wk." of 3..8 NATO code words (k varies, so only
// copying by content predicts the second half, not a fixed offset); id "niah/copy-<index>".
// Dense practice for the in-context copy (induction) circuit that passkey retrieval relies on.
data::Record copy_drill_record(int64_t index, const NiahTrainingOptions& options);

}  // namespace harpe::eval

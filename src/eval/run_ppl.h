// Sliding-window perplexity of a model (`harpe eval ppl`): the engine's forward scores each window
// of eval/perplexity.h. With fp32 weights and without Self-Extend a window is one
// model::forward_loss call (the tiled attention, per-token losses); with Self-Extend or bf16
// weights (which the training forward does not read) it goes through infer::Session, fed in chunks
// so the [tokens, vocab] logits stay small.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "eval/perplexity.h"
#include "eval/report.h"
#include "infer/inference_model.h"
#include "rope/rope_table.h"

namespace harpe::eval {

// NLL sum of tokens [first_scored, len) of one window (token t predicted from tokens 0..t-1 of the
// window). Workspaces/caches are made per call.
NllSum model_window_nll(const infer::InferenceModel& m, const int32_t* tokens, int64_t len,
                        int64_t first_scored, const rope::PositionMap& position = {});

// The session path of the above, token by token: on_token(t, nll of token t given tokens 0..t-1)
// for each t in [first_scored, len), in order. Logits chunk by chunk, log-softmax in double.
void session_token_nll(const infer::InferenceModel& m, const rope::PositionMap& position,
                       const int32_t* tokens, int64_t len, int64_t first_scored,
                       const std::function<void(int64_t, double)>& on_token);

// A WindowScorer over the model that keeps one workspace per window length (windows of one length
// reuse it). Not thread-safe.
WindowScorer model_window_scorer(const infer::InferenceModel& m,
                                 const rope::PositionMap& position = {});

struct PplDocument {
  std::string id;
  std::vector<int32_t> tokens;
};

// Held-out documents for perplexity. From a corpus split (DIR/<split>.jsonl, tokenized as BOS text
// EOS; source "" = all sources) or from a token shard. Keeps, in file order, the first
// max_documents (0 = all) documents with at least min_tokens tokens, each cut to min_tokens
// (so every window length scores the same tokens). *seen / *longest (optional) report how many
// documents were read and the longest one's length, for the "none is long enough" message.
struct DocumentSelection {
  int64_t min_tokens = 0;
  int max_documents = 0;
  std::string source;
};
std::vector<PplDocument> corpus_documents(
    const std::string& corpus_dir, const std::string& split,
    const std::function<std::vector<int32_t>(const std::string&)>& encode_document,
    const DocumentSelection& sel, int64_t* seen, int64_t* longest);
std::vector<PplDocument> shard_documents(const std::string& shard_path,
                                         const DocumentSelection& sel, int64_t* seen,
                                         int64_t* longest);

struct PplRunOptions {
  std::vector<int64_t> lengths;  // window lengths
  int64_t stride = 256;
  rope::PositionMap position;
  std::string dataset = "heldout";
  // Called after each (length, document): length, document index, documents, running NllSum, s.
  std::function<void(int64_t, int, int, const NllSum&, double)> progress;
};

// One PplResult per length: the NLL of all documents' scored tokens pooled (token-weighted).
// A stride >= a length is clamped to length / 2 for that length (noted in the progress callback's
// caller; sliding_windows needs S < L).
std::vector<PplResult> run_perplexity(const infer::InferenceModel& m,
                                      const std::vector<PplDocument>& docs,
                                      const PplRunOptions& opts);

}  // namespace harpe::eval

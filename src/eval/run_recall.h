// Associative recall through a model (`harpe eval recall`): each sequence is run once through the
// KV-cache session (teacher forcing: the reference answers are in the input) and the argmax at
// every answer position is compared with the answer; an order-free query (multivalue) is answered
// by greedy decoding after its key instead (eval/recall.h's rules). Exact matches are counted per
// query, per sequence and per distance bucket. Identity positions or Self-Extend.
#pragma once

#include <functional>
#include <vector>

#include "eval/recall.h"
#include "infer/inference_model.h"
#include "rope/rope_table.h"

namespace harpe::eval {

// The model's argmax after each prefix tokens[0..p], p < T - 1 (T - 1 predictions).
std::vector<int32_t> predict_next_tokens(const infer::InferenceModel& m,
                                         const rope::PositionMap& position,
                                         const std::vector<int32_t>& tokens);

// The model's greedy continuation of tokens[0..n) (n >= 1), `count` tokens.
std::vector<int32_t> greedy_continuation(const infer::InferenceModel& m,
                                         const rope::PositionMap& position,
                                         const std::vector<int32_t>& tokens, int n, int count);

// Scores every sequence (all of one variant and length: the result's labels are taken from the
// first). progress (optional) is called after each sequence with (done, total).
RecallResult run_recall(const infer::InferenceModel& m, const rope::PositionMap& position,
                        const std::vector<RecallSequence>& seqs,
                        const std::function<void(size_t, size_t)>& progress = {});

}  // namespace harpe::eval

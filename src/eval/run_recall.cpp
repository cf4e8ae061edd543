#include "eval/run_recall.h"

#include <algorithm>
#include <vector>

#include "core/buffer.h"
#include "core/error.h"
#include "infer/session.h"

namespace harpe::eval {

std::vector<int32_t> predict_next_tokens(const infer::InferenceModel& m,
                                         const rope::PositionMap& position,
                                         const std::vector<int32_t>& tokens) {
  const int T = static_cast<int>(tokens.size());
  check(T >= 2, "recall: a sequence needs at least 2 tokens");
  infer::SessionOptions so;
  so.capacity = T;
  so.position = position;
  infer::Session session(m, so);
  const std::size_t V = static_cast<std::size_t>(m.config().vocab_size);
  // The last token's logits are not needed: T - 1 rows.
  Buffer<float> logits(static_cast<std::size_t>(T - 1) * V);
  session.append(tokens.data(), T - 1, nullptr, logits.data());
  std::vector<int32_t> out(static_cast<std::size_t>(T - 1));
  for (int p = 0; p < T - 1; ++p) {
    const float* row = logits.data() + static_cast<std::size_t>(p) * V;
    out[static_cast<std::size_t>(p)] = static_cast<int32_t>(std::max_element(row, row + V) - row);
  }
  return out;
}

std::vector<int32_t> greedy_continuation(const infer::InferenceModel& m,
                                         const rope::PositionMap& position,
                                         const std::vector<int32_t>& tokens, int n, int count) {
  check(n >= 1 && n <= static_cast<int>(tokens.size()) && count >= 1,
        "recall: bad continuation request");
  infer::SessionOptions so;
  so.capacity = n + count;
  so.position = position;
  infer::Session session(m, so);
  const std::size_t V = static_cast<std::size_t>(m.config().vocab_size);
  std::vector<float> logits(V);
  session.append(tokens.data(), n, logits.data());
  std::vector<int32_t> out;
  for (int i = 0; i < count; ++i) {
    out.push_back(
        static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin()));
    if (i + 1 < count) session.append(&out.back(), 1, logits.data());
  }
  return out;
}

RecallResult run_recall(const infer::InferenceModel& m, const rope::PositionMap& position,
                        const std::vector<RecallSequence>& seqs,
                        const std::function<void(size_t, size_t)>& progress) {
  RecallResult r;
  if (!seqs.empty()) {
    r.variant = seqs.front().variant;
    r.length = static_cast<int64_t>(seqs.front().tokens.size());
  }
  for (size_t i = 0; i < seqs.size(); ++i) {
    const RecallSequence& s = seqs[i];
    check(s.vocab <= m.config().vocab_size, "recall: sequence ", i, " uses a vocabulary of ",
          s.vocab, " tokens but the model has ", m.config().vocab_size);
    std::vector<std::vector<int32_t>> generated(s.queries.size());
    for (size_t q = 0; q < s.queries.size(); ++q)
      if (s.queries[q].order_free)
        generated[q] = greedy_continuation(m, position, s.tokens, s.queries[q].at,
                                           static_cast<int>(s.queries[q].answers.size()));
    r.add(s, score_recall(s, predict_next_tokens(m, position, s.tokens), generated));
    if (progress) progress(i + 1, seqs.size());
  }
  return r;
}

}  // namespace harpe::eval

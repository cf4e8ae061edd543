#include "eval/run_ppl.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>

#include "core/error.h"
#include "core/timer.h"
#include "data/corpus.h"
#include "data/shard.h"
#include "infer/session.h"

namespace harpe::eval {

namespace {

// Targets for forward_loss: position t predicts token t + 1; only tokens >= first_scored count.
std::vector<int32_t> window_targets(const int32_t* tokens, int64_t len, int64_t first_scored) {
  std::vector<int32_t> targets(static_cast<size_t>(len), -1);
  for (int64_t t = std::max<int64_t>(first_scored, 1); t < len; ++t) targets[t - 1] = tokens[t];
  return targets;
}

NllSum forward_window(const model::Model& m, model::Workspace& ws, const int32_t* tokens,
                      int64_t len, int64_t first_scored) {
  const std::vector<int32_t> targets = window_targets(tokens, len, first_scored);
  const model::LossSum ls = model::forward_loss(m, ws, tokens, targets.data());
  return {ls.sum, ls.count};
}

}  // namespace

void session_token_nll(const infer::InferenceModel& m, const rope::PositionMap& position,
                       const int32_t* tokens, int64_t len, int64_t first_scored,
                       const std::function<void(int64_t, double)>& on_token) {
  constexpr int64_t kChunk = 512;
  infer::SessionOptions so;
  so.capacity = static_cast<int>(len);
  so.position = position;
  infer::Session s(m, so);
  const int vocab = s.vocab();
  std::vector<float> logits(static_cast<size_t>(std::min(kChunk, len)) * vocab);
  for (int64_t c0 = 0; c0 < len; c0 += kChunk) {
    const int64_t n = std::min(kChunk, len - c0);
    // Row i of this chunk predicts token c0 + i + 1.
    const bool needed = c0 + n >= first_scored;  // some predicted token is scored
    if (!needed) {
      s.append(tokens + c0, static_cast<int>(n), nullptr);
      continue;
    }
    s.append(tokens + c0, static_cast<int>(n), nullptr, logits.data());
    for (int64_t i = 0; i < n; ++i) {
      const int64_t t = c0 + i + 1;
      if (t < first_scored || t >= len) continue;
      const float* row = logits.data() + static_cast<size_t>(i) * vocab;
      double mx = row[0];
      for (int v = 1; v < vocab; ++v) mx = std::max(mx, static_cast<double>(row[v]));
      double z = 0;
      for (int v = 0; v < vocab; ++v) z += std::exp(static_cast<double>(row[v]) - mx);
      on_token(t, mx + std::log(z) - row[tokens[t]]);
    }
  }
}

namespace {

// Session path (Self-Extend, bf16 weights).
NllSum session_window(const infer::InferenceModel& m, const rope::PositionMap& position,
                      const int32_t* tokens, int64_t len, int64_t first_scored) {
  NllSum sum;
  session_token_nll(m, position, tokens, len, first_scored,
                    [&sum](int64_t, double nll) { sum.add(nll, 1); });
  return sum;
}

}  // namespace

NllSum model_window_nll(const infer::InferenceModel& m, const int32_t* tokens, int64_t len,
                        int64_t first_scored, const rope::PositionMap& position) {
  check(len >= 2 && first_scored >= 1 && first_scored <= len, "bad perplexity window: ", len,
        " tokens scored from ", first_scored);
  const model::Model* fm = m.fp32_model();
  if (position.self_extend() || !fm) return session_window(m, position, tokens, len, first_scored);
  model::Workspace ws(fm->config, 1, static_cast<int>(len), model::Mode::infer);
  return forward_window(*fm, ws, tokens, len, first_scored);
}

WindowScorer model_window_scorer(const infer::InferenceModel& m,
                                 const rope::PositionMap& position) {
  const model::Model* fm = m.fp32_model();
  if (position.self_extend() || !fm) {
    return [&m, position](const int32_t* w, int64_t len, int64_t first) {
      return session_window(m, position, w, len, first);
    };
  }
  auto cache = std::make_shared<std::map<int64_t, std::unique_ptr<model::Workspace>>>();
  return [fm, cache](const int32_t* w, int64_t len, int64_t first) {
    auto it = cache->find(len);
    if (it == cache->end()) {
      cache->clear();  // one length at a time: keep memory to one workspace
      it = cache
               ->emplace(len, std::make_unique<model::Workspace>(
                                  fm->config, 1, static_cast<int>(len), model::Mode::infer))
               .first;
    }
    return forward_window(*fm, *it->second, w, len, first);
  };
}

std::vector<PplDocument> corpus_documents(
    const std::string& corpus_dir, const std::string& split,
    const std::function<std::vector<int32_t>(const std::string&)>& encode_document,
    const DocumentSelection& sel, int64_t* seen, int64_t* longest) {
  const std::string path = data::corpus_split_path(corpus_dir, data::parse_split(split));
  std::vector<PplDocument> docs;
  int64_t n_seen = 0, n_longest = 0;
  data::for_each_record(path, [&](data::Record&& r) {
    if (sel.max_documents > 0 && static_cast<int>(docs.size()) >= sel.max_documents) return;
    if (!sel.source.empty() && r.source != sel.source) return;
    ++n_seen;
    std::vector<int32_t> t = encode_document(r.text);
    n_longest = std::max<int64_t>(n_longest, static_cast<int64_t>(t.size()));
    if (static_cast<int64_t>(t.size()) < sel.min_tokens) return;
    t.resize(static_cast<size_t>(sel.min_tokens));
    docs.push_back({r.id, std::move(t)});
  });
  if (seen) *seen = n_seen;
  if (longest) *longest = n_longest;
  return docs;
}

std::vector<PplDocument> shard_documents(const std::string& shard_path,
                                         const DocumentSelection& sel, int64_t* seen,
                                         int64_t* longest) {
  const data::Shard shard = data::Shard::open(shard_path);
  std::vector<PplDocument> docs;
  int64_t n_seen = 0, n_longest = 0;
  for (uint64_t d = 0; d < shard.n_documents(); ++d) {
    if (sel.max_documents > 0 && static_cast<int>(docs.size()) >= sel.max_documents) break;
    const data::DocumentSpan span = shard.document(d);
    if (!sel.source.empty() && shard.sources()[span.source] != sel.source) continue;
    ++n_seen;
    n_longest = std::max<int64_t>(n_longest, static_cast<int64_t>(span.length));
    if (static_cast<int64_t>(span.length) < sel.min_tokens) continue;
    PplDocument doc;
    doc.id = shard_path + "#" + std::to_string(d);
    doc.tokens.resize(static_cast<size_t>(sel.min_tokens));
    shard.copy_tokens(span.offset, static_cast<uint64_t>(sel.min_tokens), doc.tokens.data());
    docs.push_back(std::move(doc));
  }
  if (seen) *seen = n_seen;
  if (longest) *longest = n_longest;
  return docs;
}

std::vector<PplResult> run_perplexity(const infer::InferenceModel& m,
                                      const std::vector<PplDocument>& docs,
                                      const PplRunOptions& opts) {
  check(!docs.empty(), "perplexity needs at least one document");
  check(!opts.lengths.empty(), "perplexity needs at least one window length");
  check(opts.stride >= 1, "--stride must be >= 1, got ", opts.stride);
  std::vector<PplResult> out;
  for (int64_t L : opts.lengths) {
    check(L >= 2, "window length must be >= 2, got ", L);
    const int64_t stride = opts.stride < L ? opts.stride : std::max<int64_t>(1, L / 2);
    const WindowScorer scorer = model_window_scorer(m, opts.position);
    NllSum total;
    Timer timer;
    for (size_t d = 0; d < docs.size(); ++d) {
      total.add(sliding_window_nll(docs[d].tokens, L, stride, scorer));
      if (opts.progress)
        opts.progress(L, static_cast<int>(d), static_cast<int>(docs.size()), total,
                      timer.seconds());
    }
    PplResult r;
    r.dataset = opts.dataset;
    r.window = L;
    r.stride = stride;
    r.nll_sum = total.nll;
    r.tokens = total.tokens;
    out.push_back(r);
  }
  return out;
}

}  // namespace harpe::eval

// KV-cache inference against the training engine's full forward pass, and Self-Extend bookkeeping.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <vector>

#include "core/error.h"
#include "infer/session.h"
#include "model/config.h"
#include "model/model.h"

namespace {

using harpe::infer::Session;
using harpe::infer::SessionOptions;
namespace model = harpe::model;

model::Model make_model(harpe::rope::RopeSpec rope) {
  model::ModelConfig cfg = model::preset("micro");
  cfg.rope = rope;
  model::Model m(cfg);
  model::init_params(m, 7);
  return m;
}

harpe::rope::RopeSpec harpe_spec(const model::ModelConfig& cfg) {
  harpe::rope::RopeSpec s;
  s.scheme = harpe::rope::Scheme::harpe;
  for (int g = 0; g < cfg.kv_heads(); ++g) s.bases.push_back(100.0 * (g + 1));
  return s;
}

std::vector<int32_t> tokens_for(int T, int V) {
  std::vector<int32_t> t(static_cast<std::size_t>(T));
  for (int i = 0; i < T; ++i) t[i] = static_cast<int32_t>((i * 37 + 11) % V);
  return t;
}

// Per-token losses from [n, V] logits.
std::vector<double> losses_from_logits(const std::vector<float>& logits,
                                       const std::vector<int32_t>& targets, int V) {
  std::vector<double> out;
  for (std::size_t t = 0; t < targets.size(); ++t) {
    const float* row = &logits[t * V];
    double mx = row[0];
    for (int v = 1; v < V; ++v) mx = std::max<double>(mx, row[v]);
    double s = 0;
    for (int v = 0; v < V; ++v) s += std::exp(row[v] - mx);
    out.push_back(mx + std::log(s) - row[targets[t]]);
  }
  return out;
}

TEST(Session, PrefillMatchesFullForward) {
  model::Model m = make_model(harpe_spec(model::preset("micro")));
  const int T = 45, V = m.config.vocab_size;
  auto tok = tokens_for(T + 1, V);
  std::vector<int32_t> in(tok.begin(), tok.end() - 1), tgt(tok.begin() + 1, tok.end());
  model::Workspace ws(m.config, 1, T, model::Mode::infer);
  std::vector<float> per_token(T);
  model::forward_loss(m, ws, in.data(), tgt.data(), per_token.data());

  Session s(m, {T, {}});
  std::vector<float> all(static_cast<std::size_t>(T) * V), last(V);
  s.append(in.data(), T, last.data(), all.data());
  auto losses = losses_from_logits(all, tgt, V);
  for (int t = 0; t < T; ++t) EXPECT_NEAR(losses[t], per_token[t], 2e-4) << "token " << t;
  for (int v = 0; v < V; ++v) EXPECT_EQ(last[v], all[static_cast<std::size_t>(T - 1) * V + v]);
}

// Decoding in pieces (prefill, chunks, single tokens) gives the same logits as one prefill.
void expect_incremental_matches(const model::Model& m, harpe::rope::PositionMap map, int T) {
  const int V = m.config.vocab_size;
  auto tok = tokens_for(T, V);
  Session whole(m, {T, map});
  std::vector<float> ref(static_cast<std::size_t>(T) * V);
  whole.append(tok.data(), T, nullptr, ref.data());

  Session inc(m, {T, map});
  std::vector<float> got(static_cast<std::size_t>(T) * V);
  int p = 0;
  for (int n : {7, 5}) {
    inc.append(tok.data() + p, n, nullptr, got.data() + static_cast<std::size_t>(p) * V);
    p += n;
  }
  for (; p < T; ++p)
    inc.append(tok.data() + p, 1, nullptr, got.data() + static_cast<std::size_t>(p) * V);
  for (std::size_t e = 0; e < got.size(); ++e) ASSERT_NEAR(got[e], ref[e], 2e-4) << "element " << e;
}

TEST(Session, DecodingMatchesPrefill) {
  expect_incremental_matches(make_model(harpe_spec(model::preset("micro"))), {}, 40);
}

TEST(Session, SelfExtendDecodingMatchesSelfExtendPrefill) {
  expect_incremental_matches(make_model(harpe_spec(model::preset("micro"))), {8, 4}, 40);
}

TEST(Session, SelfExtendWithWindowBeyondSequenceIsIdentity) {
  model::Model m = make_model(harpe_spec(model::preset("micro")));
  const int T = 30, V = m.config.vocab_size;
  auto tok = tokens_for(T, V);
  std::vector<float> a(static_cast<std::size_t>(T) * V), b(a.size());
  Session plain(m, {T, {}});
  plain.append(tok.data(), T, nullptr, a.data());
  Session se(m, {T, {T, 4}});
  se.append(tok.data(), T, nullptr, b.data());
  for (std::size_t e = 0; e < a.size(); ++e) ASSERT_NEAR(a[e], b[e], 1e-4);
}

TEST(Session, SelfExtendChangesFarAttention) {
  model::Model m = make_model(harpe_spec(model::preset("micro")));
  const int T = 40, V = m.config.vocab_size;
  auto tok = tokens_for(T, V);
  std::vector<float> a(V), b(V);
  Session plain(m, {T, {}});
  plain.append(tok.data(), T, a.data());
  Session se(m, {T, {4, 4}});
  se.append(tok.data(), T, b.data());
  double diff = 0;
  for (int v = 0; v < V; ++v) diff += std::fabs(a[v] - b[v]);
  EXPECT_GT(diff, 1e-3);
}

TEST(Session, GreedyGenerationIsDeterministicAndBounded) {
  model::Model m = make_model({});
  auto prompt = tokens_for(10, m.config.vocab_size);
  harpe::infer::SamplingOptions opts;
  opts.max_new_tokens = 8;
  Session s1(m, {32, {}}), s2(m, {32, {}});
  auto g1 = harpe::infer::generate(s1, prompt, opts);
  auto g2 = harpe::infer::generate(s2, prompt, opts);
  EXPECT_EQ(g1.size(), 8u);
  EXPECT_EQ(g1, g2);
  // Greedy generation equals argmax of a fresh prefill over prompt + generated prefix.
  std::vector<int32_t> seq = prompt;
  for (int32_t t : g1) {
    Session fresh(m, {32, {}});
    std::vector<float> logits(m.config.vocab_size);
    fresh.append(seq.data(), static_cast<int>(seq.size()), logits.data());
    EXPECT_EQ(t, std::max_element(logits.begin(), logits.end()) - logits.begin());
    seq.push_back(t);
  }
  Session small(m, {12, {}});
  EXPECT_THROW(harpe::infer::generate(small, prompt, opts), harpe::Error);
}

TEST(Session, SamplingFollowsTemperatureAndTopK) {
  std::vector<float> logits = {0.f, 3.f, 1.f, 2.f};
  harpe::infer::SamplingOptions opts;
  uint64_t st = 5;
  EXPECT_EQ(harpe::infer::sample_token(logits.data(), 4, opts, st), 1);  // greedy
  opts.temperature = 1.f;
  opts.top_k = 2;
  std::vector<int> counts(4);
  for (int i = 0; i < 4000; ++i) ++counts[harpe::infer::sample_token(logits.data(), 4, opts, st)];
  EXPECT_EQ(counts[0] + counts[2], 0);                   // outside the top 2
  const double expected = 1.0 / (1.0 + std::exp(-1.0));  // p(token 1) among {1, 3}
  EXPECT_NEAR(counts[1] / 4000.0, expected, 0.03);
}

TEST(Session, RejectsBadInput) {
  model::Model m = make_model({});
  Session s(m, {8, {}});
  int32_t bad = m.config.vocab_size;
  EXPECT_THROW(s.append(&bad, 1, nullptr), harpe::Error);
  std::vector<int32_t> many(9, 1);
  EXPECT_THROW(s.append(many.data(), 9, nullptr), harpe::Error);
  EXPECT_THROW(Session(m, {8, {2, 4}}), harpe::Error);  // window smaller than group
}

}  // namespace

// Sliding-window perplexity through the model: equal to a naive computation in which every token
// gets its own fresh forward over exactly its window's context (no shared windows, a different
// forward entry point), with and without Self-Extend; document selection.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <vector>

#include "core/error.h"
#include "data/shard.h"
#include "eval/run_ppl.h"
#include "infer/session.h"
#include "model/model.h"
#include "model/weights_io.h"
#include "model_fixture.h"

namespace harpe::eval {
namespace {

model::Model micro_model(uint64_t seed) {
  model::Model m(model::preset("micro"));
  model::init_params(m, seed);
  return m;
}

std::vector<int32_t> random_tokens(int n, int vocab, uint64_t seed) {
  Rng rng(seed);
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (auto& x : t) x = static_cast<int32_t>(rng.uniform(0, vocab - 1));
  return t;
}

// Where token t's context starts, from the definition (not from sliding_windows): window k ends at
// min(L + k S, n); token t belongs to the first window whose end is > t, and that window starts at
// max(0, end - L).
int64_t context_begin(int64_t t, int64_t n, int64_t L, int64_t S) {
  for (int64_t k = 0;; ++k) {
    const int64_t end = std::min(L + k * S, n);
    if (t < end) return std::max<int64_t>(0, end - L);
  }
}

double nll_of(const float* logits, int vocab, int32_t target) {
  double mx = logits[0];
  for (int v = 1; v < vocab; ++v) mx = std::max(mx, static_cast<double>(logits[v]));
  double z = 0;
  for (int v = 0; v < vocab; ++v) z += std::exp(logits[v] - mx);
  return mx + std::log(z) - logits[target];
}

// Naive: for every token, a fresh forward over tokens [begin, t) and the last position's logits.
double naive_nll(const model::Model& m, const std::vector<int32_t>& tok, int64_t L, int64_t S,
                 const rope::PositionMap& position, int64_t* count) {
  const int vocab = m.config.vocab_size;
  const int64_t n = static_cast<int64_t>(tok.size());
  std::vector<float> logits(static_cast<size_t>(vocab));
  double sum = 0;
  *count = 0;
  for (int64_t t = 1; t < n; ++t) {
    const int64_t b = context_begin(t, n, L, S);
    const int ctx = static_cast<int>(t - b);
    if (position.self_extend()) {
      infer::SessionOptions so;
      so.capacity = ctx;
      so.position = position;
      infer::Session s(m, so);
      s.append(tok.data() + b, ctx, logits.data());
    } else {
      model::Workspace ws(m.config, 1, ctx, model::Mode::infer);
      model::logits_last(m, ws, tok.data() + b, logits.data());
    }
    sum += nll_of(logits.data(), vocab, tok[t]);
    ++*count;
  }
  return sum;
}

struct Case {
  int n;
  int64_t L, S;
};

TEST(RunPpl, SlidingWindowEqualsNaivePerTokenForward) {
  const model::Model m = micro_model(3);
  for (const Case c : {Case{70, 24, 8}, Case{50, 16, 5}, Case{20, 32, 8}, Case{41, 40, 39}}) {
    const std::vector<int32_t> tok = random_tokens(c.n, m.config.vocab_size, 17 + c.n);
    PplRunOptions o;
    o.lengths = {c.L};
    o.stride = c.S;
    const PplResult r = run_perplexity(infer::InferenceModel::view(m), {{"doc", tok}}, o).at(0);
    int64_t count = 0;
    const double want = naive_nll(m, tok, c.L, c.S, {}, &count);
    EXPECT_EQ(r.tokens, c.n - 1) << c.n;  // every token but the first, once
    EXPECT_EQ(r.tokens, count);
    EXPECT_NEAR(r.nll_sum, want, 2e-4 * std::abs(want)) << c.n << " " << c.L << " " << c.S;
    EXPECT_EQ(r.window, c.L);
    EXPECT_EQ(r.stride, c.S);
    // A random model over 256 tokens: perplexity near the vocabulary size.
    EXPECT_GT(r.perplexity(), 100.0);
    EXPECT_LT(r.perplexity(), 600.0);
  }
}

TEST(RunPpl, SelfExtendEqualsNaivePerTokenSession) {
  const model::Model m = micro_model(5);
  const std::vector<int32_t> tok = random_tokens(60, m.config.vocab_size, 9);
  rope::PositionMap se;
  se.window = 6;
  se.group = 3;
  PplRunOptions o;
  o.lengths = {24};
  o.stride = 7;
  o.position = se;
  const PplResult r = run_perplexity(infer::InferenceModel::view(m), {{"doc", tok}}, o).at(0);
  int64_t count = 0;
  const double want = naive_nll(m, tok, 24, 7, se, &count);
  EXPECT_EQ(r.tokens, count);
  EXPECT_NEAR(r.nll_sum, want, 2e-4 * std::abs(want));
  // Grouping changes the numbers ...
  o.position = {};
  const PplResult plain = run_perplexity(infer::InferenceModel::view(m), {{"doc", tok}}, o).at(0);
  EXPECT_GT(std::abs(plain.nll_sum - r.nll_sum), 1e-3);
  // ... unless the neighbour window covers the whole window (then the session path and the
  // forward_loss path must agree).
  se.window = 24;
  o.position = se;
  const PplResult wide = run_perplexity(infer::InferenceModel::view(m), {{"doc", tok}}, o).at(0);
  EXPECT_NEAR(wide.nll_sum, plain.nll_sum, 2e-4 * std::abs(plain.nll_sum));
}

// bf16 weights: windows go through the session (the training forward reads fp32 only); the
// perplexity stays within 1% of the fp32 one (bf16 rounds each weight by at most 2^-9).
TEST(RunPpl, Bf16WeightsScoreCloseToFp32) {
  const model::Model m = micro_model(3);
  const std::vector<int32_t> tok = random_tokens(70, m.config.vocab_size, 21);
  PplRunOptions o;
  o.lengths = {24};
  o.stride = 8;
  const PplResult fp32 = run_perplexity(infer::InferenceModel::view(m), {{"doc", tok}}, o).at(0);
  const infer::InferenceModel bf16(micro_model(3), Precision::bf16);
  const PplResult r = run_perplexity(bf16, {{"doc", tok}}, o).at(0);
  EXPECT_EQ(r.tokens, fp32.tokens);
  EXPECT_NEAR(r.nll_sum, fp32.nll_sum, 1e-2 * std::abs(fp32.nll_sum));
  EXPECT_NE(r.nll_sum, fp32.nll_sum);
}

TEST(RunPpl, LongSessionWindowIsChunked) {
  // 600 tokens cross the session path's 512-token logits chunk.
  const model::Model m = micro_model(8);
  const std::vector<int32_t> tok = random_tokens(600, m.config.vocab_size, 4);
  rope::PositionMap se;
  se.window = 600;
  se.group = 2;
  const NllSum a = model_window_nll(infer::InferenceModel::view(m), tok.data(), 600, 500, se);
  const NllSum b = model_window_nll(infer::InferenceModel::view(m), tok.data(), 600, 500, {});
  EXPECT_EQ(a.tokens, 100);
  EXPECT_EQ(b.tokens, 100);
  EXPECT_NEAR(a.nll, b.nll, 2e-4 * std::abs(b.nll));
}

TEST(RunPpl, ShardDocumentsKeepLongOnesCut) {
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("harpe-evalcli-shard-" + std::to_string(::getpid()) + ".bin"))
                               .string();
  {
    data::ShardWriter w(path, 256);
    const uint32_t a = w.source_id("a"), b = w.source_id("b");
    for (int len : {10, 50, 30, 80}) {
      std::vector<int32_t> t(static_cast<size_t>(len));
      for (int i = 0; i < len; ++i) t[i] = (len + i) % 256;
      w.add_document(t, len == 80 ? b : a);
    }
    w.finish();
  }
  DocumentSelection sel;
  sel.min_tokens = 30;
  int64_t seen = 0, longest = 0;
  auto docs = shard_documents(path, sel, &seen, &longest);
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(seen, 4);
  EXPECT_EQ(longest, 80);
  for (const auto& d : docs) EXPECT_EQ(d.tokens.size(), 30u);
  EXPECT_EQ(docs[0].tokens[0], 50);  // second document: (50 + 0) % 256
  EXPECT_EQ(docs[2].tokens[29], (80 + 29) % 256);
  sel.max_documents = 1;
  EXPECT_EQ(shard_documents(path, sel, nullptr, nullptr).size(), 1u);
  sel.max_documents = 0;
  sel.source = "b";
  docs = shard_documents(path, sel, &seen, &longest);
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(seen, 1);
  sel.source = "";
  sel.min_tokens = 81;
  EXPECT_TRUE(shard_documents(path, sel, &seen, &longest).empty());
  std::filesystem::remove(path);
}

TEST(RunPpl, CorpusDocumentsTokenizedWithTheModelTokenizer) {
  const auto& ck = testing::tiny_checkpoint();
  const data::Tokenizer tok = data::Tokenizer::load(ck.model_dir + "/tokenizer.model");
  DocumentSelection sel;
  sel.min_tokens = 200;
  int64_t seen = 0, longest = 0;
  const auto docs = corpus_documents(
      ck.corpus_dir, "test", [&](const std::string& t) { return tok.encode_document(t); }, sel,
      &seen, &longest);
  EXPECT_EQ(seen, 4);
  ASSERT_EQ(docs.size(), 3u);  // the short document is left out
  for (const auto& d : docs) {
    EXPECT_EQ(d.tokens.size(), 200u);
    EXPECT_EQ(d.tokens[0], tok.bos_id());
  }
  EXPECT_EQ(docs[2].id, "doc3");
  EXPECT_THROW(corpus_documents(ck.corpus_dir, "nosuch", {}, sel, nullptr, nullptr), Error);
}

}  // namespace
}  // namespace harpe::eval

// Loss on answer tokens only (`--loss answers`): the shard's loss mask (version 2) round trip, the
// windows' targets (-1 exactly where the mask is 0), and a training step whose loss and gradient
// are the mean over the answer tokens alone.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/shard.h"
#include "model/model.h"
#include "train/data.h"
#include "train/optimizer.h"
#include "train/trainer.h"

namespace harpe::train {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("harpe_test_answers_" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& n) const { return (path / n).string(); }
};

constexpr int kT = 16;  // documents are exactly one window long (inputs), as recall sequences are
constexpr int kDocs = 12;
constexpr int kVocab = 64;

int32_t token_at(int d, int i) { return static_cast<int32_t>((7 * d + 3 * i + d * i) % kVocab); }
bool answer_at(int d, int i) { return i >= kT - 4 && (i + d) % 2 == 0; }

// kDocs documents of kT tokens; the last few positions are "answers" by answer_at. `masked`:
// with the loss mask (version 2), else without (version 1).
std::string write_shard(const TempDir& tmp, bool masked) {
  const std::string path = tmp.file(masked ? "masked.bin" : "plain.bin");
  data::ShardWriter w(path, kVocab);
  for (int d = 0; d < kDocs; ++d) {
    std::vector<int32_t> t(kT);
    std::vector<uint8_t> m(kT);
    for (int i = 0; i < kT; ++i) {
      t[static_cast<size_t>(i)] = token_at(d, i);
      m[static_cast<size_t>(i)] = answer_at(d, i);
    }
    if (masked)
      w.add_document(t, 0, m);
    else
      w.add_document(t);
  }
  w.finish();
  return path;
}

TEST(AnswerLoss, ShardKeepsTheMaskAndOlderShardsStayVersionOne) {
  TempDir tmp;
  const data::Shard plain = data::Shard::open(write_shard(tmp, false));
  EXPECT_FALSE(plain.has_loss_mask());
  EXPECT_TRUE(plain.scored(5));
  const std::string mpath = write_shard(tmp, true);
  const data::Shard masked = data::Shard::open(mpath);
  ASSERT_TRUE(masked.has_loss_mask());
  for (int d = 0; d < kDocs; ++d)
    for (int i = 0; i < kT; ++i)
      EXPECT_EQ(masked.scored(static_cast<uint64_t>(d * kT + i)), answer_at(d, i)) << d << " " << i;
  // A truncated mask section is refused with a message naming the file.
  const auto size = fs::file_size(mpath);
  fs::resize_file(mpath, size - 8);
  try {
    data::Shard::open(mpath);
    ADD_FAILURE() << "a truncated shard opened";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(mpath), std::string::npos) << e.what();
  }
  // Flags of the wrong length are refused.
  data::ShardWriter w(tmp.file("bad.bin"), kVocab);
  const std::vector<int32_t> t = {1, 2, 3};
  const std::vector<uint8_t> m = {1, 0};
  EXPECT_THROW(w.add_document(t, 0, m), Error);
}

TEST(AnswerLoss, WindowsScoreExactlyTheMaskedTargets) {
  TempDir tmp;
  const std::string mpath = write_shard(tmp, true);
  EXPECT_THROW(TokenWindows::from_shard(write_shard(tmp, false), true, 0, true, true), Error);
  TokenWindows all = TokenWindows::from_shard(mpath, true, 3, true, false);
  TokenWindows ans = TokenWindows::from_shard(mpath, true, 3, true, true);
  const data::Shard shard = data::Shard::open(mpath);
  std::vector<int32_t> t1(2 * kT), g1(t1.size()), t2(t1.size()), g2(t1.size());
  int scored = 0;
  for (int step = 0; step < 10; ++step) {
    all.next_batch(2, kT, t1.data(), g1.data());
    ans.next_batch(2, kT, t2.data(), g2.data());
    ASSERT_EQ(t1, t2);
    for (int r = 0; r < 2; ++r) {
      // Windows start at a document (documents are exactly kT tokens): recover which one.
      const int32_t first = t1[static_cast<size_t>(r * kT)];
      int d = -1;
      for (int k = 0; k < kDocs; ++k)
        if (token_at(k, 0) == first && token_at(k, 1) == t1[static_cast<size_t>(r * kT) + 1]) d = k;
      ASSERT_GE(d, 0);
      for (int i = 0; i < kT; ++i) {
        const size_t p = static_cast<size_t>(r * kT + i);
        // target i is token i + 1 of the document (the next document's first for the last one,
        // which is never an answer)
        const bool expect = i + 1 < kT && answer_at(d, i + 1);
        EXPECT_EQ(g2[p], expect ? g1[p] : -1) << "doc " << d << " target " << i;
        scored += expect;
      }
    }
  }
  EXPECT_GT(scored, 10);
}

TEST(AnswerLoss, StepLossAndGradientAreTheMeanOverAnswers) {
  TempDir tmp;
  const std::string mpath = write_shard(tmp, true);
  TrainOptions o;
  o.config.vocab_size = kVocab;
  o.config.hidden_size = 32;
  o.config.intermediate_size = 64;
  o.config.num_hidden_layers = 2;
  o.config.num_attention_heads = 4;
  o.config.num_key_value_heads = 4;
  o.config.head_dim = 8;
  o.config.max_position_embeddings = kT;
  o.context = kT;
  o.batch = 3;
  o.grad_accum = 2;
  o.steps = 1;
  o.clip = 0;
  o.seed = 11;
  o.answers_only = true;
  Trainer trainer(o, TokenWindows::from_shard(mpath, true, 0, true, true));

  // The same step by hand: fresh weights, both micro-batches, scale 1 / (answer tokens).
  model::Model m(o.config);
  model::init_params(m, o.seed);
  m.enable_grads();
  model::Workspace ws(o.config, o.batch, kT, model::Mode::train);
  TokenWindows data = TokenWindows::from_shard(mpath, true, 0, true, true);
  std::vector<int32_t> tok(static_cast<size_t>(o.batch * kT)), tgt(tok.size());
  std::vector<std::vector<int32_t>> toks, tgts;
  long count = 0;
  for (int a = 0; a < o.grad_accum; ++a) {
    data.next_batch(o.batch, kT, tok.data(), tgt.data());
    toks.push_back(tok);
    tgts.push_back(tgt);
    for (int32_t g : tgt) count += g >= 0;
  }
  ASSERT_GT(count, 0);
  ASSERT_LT(count, o.batch * kT * o.grad_accum);
  m.zero_grads();
  double sum = 0;
  for (int a = 0; a < o.grad_accum; ++a)
    sum += model::forward_backward(m, ws, toks[static_cast<size_t>(a)].data(),
                                   tgts[static_cast<size_t>(a)].data(),
                                   1.0f / static_cast<float>(count))
               .sum;
  const double norm = grad_norm(m);

  const StepResult r = trainer.step();
  ASSERT_TRUE(r.finite);
  EXPECT_NEAR(r.loss, sum / static_cast<double>(count), 1e-6 * (1 + std::abs(r.loss)));
  EXPECT_NEAR(r.grad_norm, norm, 1e-5 * norm);
}

}  // namespace
}  // namespace harpe::train

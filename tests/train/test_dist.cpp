// Data-parallel pieces that need no MPI: batch slices whose union is the global batch, the
// gradient of a split batch summed over "ranks" equal to the whole batch's, and the single-rank
// communicator stub.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/error.h"
#include "model/model.h"
#include "train/data.h"
#include "train/dist.h"

namespace harpe::train {
namespace {

std::vector<int32_t> counting_tokens(int n) {
  std::vector<int32_t> t(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) t[static_cast<std::size_t>(i)] = i;
  return t;
}

TEST(DataParallel, SlicesOfABatchAreTheGlobalBatchAndThePositionIsShared) {
  // 50 tokens, T = 8 (windows of 9), B = 4. By hand: batch 1 starts windows at 0, 8, 16, 24;
  // batch 2 at 32, 40, then 48 + 9 > 50 wraps: 0, 8; batch 3 at 16, 24, 32, 40 -> position 48.
  const int B = 4, T = 8;
  TokenWindows whole = TokenWindows::from_tokens(counting_tokens(50));
  std::vector<TokenWindows> ranks(2, TokenWindows::from_tokens(counting_tokens(50)));
  for (int step = 0; step < 3; ++step) {
    std::vector<int32_t> tok(B * T), tgt(B * T);
    whole.next_batch(B, T, tok.data(), tgt.data());
    for (int r = 0; r < 2; ++r) {
      std::vector<int32_t> pt(2 * T), pg(2 * T);
      ranks[static_cast<std::size_t>(r)].next_batch_part(B, T, 2 * r, 2, pt.data(), pg.data());
      for (int i = 0; i < 2 * T; ++i) {
        EXPECT_EQ(pt[static_cast<std::size_t>(i)], tok[static_cast<std::size_t>(2 * r * T + i)]);
        EXPECT_EQ(pg[static_cast<std::size_t>(i)], tgt[static_cast<std::size_t>(2 * r * T + i)]);
      }
      EXPECT_EQ(ranks[static_cast<std::size_t>(r)].position(), whole.position());
      EXPECT_EQ(ranks[static_cast<std::size_t>(r)].epoch(), whole.epoch());
    }
  }
  EXPECT_EQ(whole.epoch(), 1u);
  EXPECT_EQ(whole.position(), 48u);
  EXPECT_THROW(whole.next_batch_part(B, T, 3, 2, nullptr, nullptr), Error);
}

TEST(DataParallel, SummedRankGradientsEqualTheWholeBatchGradient) {
  model::ModelConfig c;
  c.vocab_size = 32;
  c.hidden_size = 16;
  c.intermediate_size = 32;
  c.num_hidden_layers = 1;
  c.num_attention_heads = 2;
  c.num_key_value_heads = 1;
  c.head_dim = 8;
  c.max_position_embeddings = 16;
  const int B = 4, T = 8;
  std::vector<int32_t> tok(B * T), tgt(B * T);
  uint32_t s = 7;
  for (std::size_t i = 0; i < tok.size(); ++i) {
    s = s * 1664525u + 1013904223u;
    tok[i] = static_cast<int32_t>((s >> 8) % 32);
    tgt[i] = static_cast<int32_t>((s >> 16) % 32);
  }
  const float scale = 1.0f / (B * T);  // what every rank uses: 1 / global tokens

  model::Model whole(c);
  model::init_params(whole, 3);
  whole.enable_grads();
  model::Workspace ws_whole(c, B, T, model::Mode::train);
  const model::LossSum lw = model::forward_backward(whole, ws_whole, tok.data(), tgt.data(), scale);

  model::Model split(c);
  model::init_params(split, 3);
  split.enable_grads();
  std::vector<float> summed(split.grads.size(), 0.0f);
  model::Workspace ws_half(c, B / 2, T, model::Mode::train);
  double loss_sum = 0;
  long count = 0;
  for (int r = 0; r < 2; ++r) {  // two "ranks", each with half the rows; then the all-reduce sum
    split.zero_grads();
    const std::size_t off = static_cast<std::size_t>(r) * (B / 2) * T;
    const model::LossSum l =
        model::forward_backward(split, ws_half, tok.data() + off, tgt.data() + off, scale);
    loss_sum += l.sum;
    count += l.count;
    for (std::size_t i = 0; i < summed.size(); ++i) summed[i] += split.grads.data()[i];
  }
  EXPECT_EQ(count, lw.count);
  EXPECT_NEAR(loss_sum / count, lw.mean(), 1e-6 * lw.mean());
  double max_g = 0, max_diff = 0;
  for (std::size_t i = 0; i < summed.size(); ++i) {
    max_g = std::max(max_g, std::fabs(double(whole.grads.data()[i])));
    max_diff = std::max(max_diff, std::fabs(double(summed[i]) - whole.grads.data()[i]));
  }
  EXPECT_GT(max_g, 1e-4);
  EXPECT_LT(max_diff, 1e-5 * max_g);
}

TEST(DataParallel, WithoutALauncherTheWorldIsOneRankAndCollectivesAreNoOps) {
  EXPECT_EQ(dist::world().size, 1);
  EXPECT_EQ(dist::launcher_world_size(), 1);  // tests do not run under mpirun
  float x[3] = {1.5f, -2.0f, 3.0f};
  dist::allreduce_sum(x, 3);
  EXPECT_EQ(x[0], 1.5f);
  EXPECT_EQ(x[1], -2.0f);
  EXPECT_EQ(x[2], 3.0f);
}

}  // namespace
}  // namespace harpe::train

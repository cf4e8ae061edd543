// Block attention with global positions (the ring-attention kernels): splitting a sequence into
// chunks, attending every query chunk to every key chunk and merging by log-sum-exp must give
// the whole-sequence causal attention (forward and backward); and a finite-difference check of
// the block backward on its own.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/attention.h"
#include "kernels/attention_block.h"

namespace {

using harpe::kernels::AttentionShape;
using harpe::kernels::BlockMask;
using harpe::kernels::BlockShape;

std::vector<float> randn(std::size_t n, unsigned seed, float sd = 1.0f) {
  std::mt19937 g(seed);
  std::normal_distribution<float> nd(0.0f, sd);
  std::vector<float> x(n);
  for (float& v : x) v = nd(g);
  return x;
}

double max_rel(const std::vector<float>& a, const std::vector<float>& b) {
  double scale = 0, diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    scale = std::max(scale, std::fabs(double(b[i])));
    diff = std::max(diff, std::fabs(double(a[i]) - double(b[i])));
  }
  return diff / std::max(scale, 1e-30);
}

struct Case {
  int B, T, H, KV, D;
  std::vector<int> bounds;  // chunk boundaries 0 = b0 < b1 < ... < bn = T
};

// Whole-sequence reference vs chunked blocks merged (forward) and accumulated (backward).
void check_chunked(const Case& c) {
  const int B = c.B, T = c.T, H = c.H, KV = c.KV, D = c.D;
  const std::size_t nq = static_cast<std::size_t>(B) * T * H * D,
                    nk = static_cast<std::size_t>(B) * T * KV * D;
  const auto q = randn(nq, 1), k = randn(nk, 2), v = randn(nk, 3), dout = randn(nq, 4);
  AttentionShape as;
  as.B = B;
  as.T = T;
  as.H = H;
  as.KV = KV;
  as.D = D;
  std::vector<float> out_ref(nq), lse_ref(static_cast<std::size_t>(B) * H * T);
  harpe::kernels::attention_forward(out_ref.data(), lse_ref.data(), q.data(), k.data(), v.data(),
                                    as);
  std::vector<float> dq_ref(nq), dk_ref(nk), dv_ref(nk);
  harpe::kernels::attention_backward(dq_ref.data(), dk_ref.data(), dv_ref.data(), dout.data(),
                                     q.data(), k.data(), v.data(), out_ref.data(), lse_ref.data(),
                                     as);

  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> out(nq, 0.0f), lse(lse_ref.size(), -inf), po(nq), pl(lse_ref.size());
  const std::size_t n = c.bounds.size() - 1;
  auto block = [&](std::size_t i, std::size_t j) {
    BlockShape s;
    s.B = B;
    s.H = H;
    s.KV = KV;
    s.D = D;
    s.q0 = c.bounds[i];
    s.Tq = c.bounds[i + 1] - c.bounds[i];
    s.k0 = c.bounds[j];
    s.Tk = c.bounds[j + 1] - c.bounds[j];
    s.q_rows = T;
    s.k_rows = T;
    return s;
  };
  const std::size_t rq = static_cast<std::size_t>(H) * D, rk = static_cast<std::size_t>(KV) * D;
  // Visit key chunks in a ring order (not 0..n-1) so that the merge order differs from the scan.
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t step = 0; step < n; ++step) {
      const std::size_t j = (i + n - step) % n;
      const BlockShape s = block(i, j);
      const std::size_t q0 = static_cast<std::size_t>(s.q0), k0 = static_cast<std::size_t>(s.k0);
      harpe::kernels::attention_block_forward(po.data() + q0 * rq, pl.data() + q0,
                                              q.data() + q0 * rq, k.data() + k0 * rk,
                                              v.data() + k0 * rk, s);
      harpe::kernels::attention_merge(out.data() + q0 * rq, lse.data() + q0, po.data() + q0 * rq,
                                      pl.data() + q0, s);
    }
  EXPECT_LT(max_rel(out, out_ref), 1e-5);
  EXPECT_LT(max_rel(lse, lse_ref), 1e-5);

  // Backward with the final lse and delta = rowsum(dO * O).
  std::vector<float> delta(lse_ref.size()), dq(nq, 0.0f), dk(nk, 0.0f), dv(nk, 0.0f);
  for (std::size_t i = 0; i < n; ++i) {
    const BlockShape s = block(i, i);
    const std::size_t q0 = static_cast<std::size_t>(s.q0);
    harpe::kernels::attention_row_dot(delta.data() + q0, dout.data() + q0 * rq,
                                      out.data() + q0 * rq, s);
  }
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      const BlockShape s = block(i, j);
      const std::size_t q0 = static_cast<std::size_t>(s.q0), k0 = static_cast<std::size_t>(s.k0);
      harpe::kernels::attention_block_backward(
          dq.data() + q0 * rq, dk.data() + k0 * rk, dv.data() + k0 * rk, dout.data() + q0 * rq,
          q.data() + q0 * rq, k.data() + k0 * rk, v.data() + k0 * rk, lse.data() + q0,
          delta.data() + q0, s);
    }
  EXPECT_LT(max_rel(dq, dq_ref), 1e-5);
  EXPECT_LT(max_rel(dk, dk_ref), 1e-5);
  EXPECT_LT(max_rel(dv, dv_ref), 1e-5);
}

TEST(AttentionBlock, MaskClassification) {
  BlockShape s;
  s.Tq = 4;
  s.Tk = 4;
  s.H = 1;
  s.KV = 1;
  s.D = 4;
  s.q0 = 8;
  s.k0 = 0;
  EXPECT_EQ(harpe::kernels::block_mask(s), BlockMask::all_visible);
  s.k0 = 8;
  EXPECT_EQ(harpe::kernels::block_mask(s), BlockMask::partial);
  s.k0 = 6;  // keys 6..9: key 9 is hidden from query 8 only
  EXPECT_EQ(harpe::kernels::block_mask(s), BlockMask::partial);
  s.k0 = 5;  // keys 5..8 all <= query 8
  EXPECT_EQ(harpe::kernels::block_mask(s), BlockMask::all_visible);
  s.k0 = 12;
  EXPECT_EQ(harpe::kernels::block_mask(s), BlockMask::none_visible);
}

TEST(AttentionBlock, FourEqualChunksMatchWholeSequence) {
  // 2R = 4 chunks of a sequence of 256 (several 64-tiles per chunk), GQA 4:2.
  check_chunked({1, 256, 4, 2, 16, {0, 64, 128, 192, 256}});
}

TEST(AttentionBlock, OddChunksBatchAndGqa) {
  // Uneven chunks (not multiples of the tile, one of length 1), batch 2, GQA 6:2, D 24.
  check_chunked({2, 203, 6, 2, 24, {0, 1, 70, 133, 140, 203}});
  check_chunked({1, 37, 3, 3, 8, {0, 17, 37}});
}

TEST(AttentionBlock, ChunksSpanningSeveralTiles) {
  // Chunks longer than one 128-row tile, with offsets that are not tile multiples, so a block
  // holds fully visible, diagonal and fully masked tile pairs at once.
  check_chunked({1, 520, 2, 1, 16, {0, 77, 300, 430, 520}});
}

TEST(AttentionBlock, FullyMaskedBlockIsNeutral) {
  const int Tq = 5, Tk = 7, H = 2, KV = 1, D = 8;
  const auto q = randn(Tq * H * D, 7), k = randn(Tk * KV * D, 8), v = randn(Tk * KV * D, 9);
  BlockShape s;
  s.Tq = Tq;
  s.Tk = Tk;
  s.H = H;
  s.KV = KV;
  s.D = D;
  s.q0 = 10;
  s.k0 = 15;  // every key after every query
  ASSERT_EQ(harpe::kernels::block_mask(s), BlockMask::none_visible);
  std::vector<float> out(Tq * H * D, 123.0f), lse(H * Tq, 5.0f);
  harpe::kernels::attention_block_forward(out.data(), lse.data(), q.data(), k.data(), v.data(), s);
  for (float x : out) EXPECT_EQ(x, 0.0f);
  for (float x : lse) EXPECT_EQ(x, -std::numeric_limits<float>::infinity());
  // Merging it into a real partial changes nothing; merging a real partial into it copies.
  auto a = randn(out.size(), 10), la = randn(lse.size(), 11);
  const auto a0 = a, la0 = la;
  harpe::kernels::attention_merge(a.data(), la.data(), out.data(), lse.data(), s);
  EXPECT_EQ(a, a0);
  EXPECT_EQ(la, la0);
  harpe::kernels::attention_merge(out.data(), lse.data(), a0.data(), la0.data(), s);
  EXPECT_EQ(out, a0);
  EXPECT_EQ(lse, la0);
  // Its backward adds nothing.
  std::vector<float> dq(out.size(), 1.0f), dk(k.size(), 2.0f), dv(v.size(), 3.0f),
      delta(lse.size(), 0.5f);
  harpe::kernels::attention_block_backward(dq.data(), dk.data(), dv.data(), a0.data(), q.data(),
                                           k.data(), v.data(), la0.data(), delta.data(), s);
  for (float x : dq) EXPECT_EQ(x, 1.0f);
  for (float x : dk) EXPECT_EQ(x, 2.0f);
  for (float x : dv) EXPECT_EQ(x, 3.0f);
}

TEST(AttentionBlock, HandComputedTwoKeys) {
  // One query at position 1, keys at 0 and 1, D = 1, scale 1: scores q*k.
  BlockShape s;
  s.Tq = 1;
  s.Tk = 2;
  s.H = 1;
  s.KV = 1;
  s.D = 1;
  s.scale = 1.0f;
  s.q0 = 1;
  s.k0 = 0;
  const float q[1] = {0.5f}, k[2] = {1.0f, -2.0f}, v[2] = {3.0f, 7.0f};
  float out[1], lse[1];
  harpe::kernels::attention_block_forward(out, lse, q, k, v, s);
  const double e0 = std::exp(0.5), e1 = std::exp(-1.0);
  EXPECT_NEAR(lse[0], std::log(e0 + e1), 1e-6);
  EXPECT_NEAR(out[0], (3 * e0 + 7 * e1) / (e0 + e1), 1e-5);
  s.q0 = 0;  // now key 1 is in the future: only key 0
  harpe::kernels::attention_block_forward(out, lse, q, k, v, s);
  EXPECT_NEAR(lse[0], 0.5, 1e-6);
  EXPECT_NEAR(out[0], 3.0, 1e-6);
}

// f(q, k, v) = sum(W * block_out); the block backward with the block's own lse and
// delta = rowsum(W * out) is its gradient. Diagonal-ish block (partial mask), GQA.
TEST(AttentionBlock, BackwardMatchesFiniteDifferences) {
  const int Tq = 7, Tk = 9, H = 4, KV = 2, D = 5;
  BlockShape s;
  s.Tq = Tq;
  s.Tk = Tk;
  s.H = H;
  s.KV = KV;
  s.D = D;
  s.q0 = 13;
  s.k0 = 10;  // query 13 sees keys 10..13 of 10..18: partial
  ASSERT_EQ(harpe::kernels::block_mask(s), BlockMask::partial);
  auto q = randn(Tq * H * D, 21), k = randn(Tk * KV * D, 22), v = randn(Tk * KV * D, 23);
  const auto W = randn(q.size(), 24);
  auto f = [&] {
    std::vector<float> out(q.size()), lse(H * Tq);
    harpe::kernels::attention_block_forward(out.data(), lse.data(), q.data(), k.data(), v.data(),
                                            s);
    double acc = 0;
    for (std::size_t i = 0; i < out.size(); ++i) acc += double(W[i]) * out[i];
    return acc;
  };
  std::vector<float> out(q.size()), lse(H * Tq), delta(H * Tq);
  harpe::kernels::attention_block_forward(out.data(), lse.data(), q.data(), k.data(), v.data(), s);
  harpe::kernels::attention_row_dot(delta.data(), W.data(), out.data(), s);
  std::vector<float> dq(q.size(), 0.0f), dk(k.size(), 0.0f), dv(v.size(), 0.0f);
  harpe::kernels::attention_block_backward(dq.data(), dk.data(), dv.data(), W.data(), q.data(),
                                           k.data(), v.data(), lse.data(), delta.data(), s);
  const float eps = 1e-2f;
  auto check_fd = [&](std::vector<float>& x, const std::vector<float>& g, const char* name) {
    double worst = 0, gmax = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const float x0 = x[i];
      x[i] = x0 + eps;
      const double fp = f();
      x[i] = x0 - eps;
      const double fm = f();
      x[i] = x0;
      const double fd = (fp - fm) / (2.0 * eps);
      worst = std::max(worst, std::fabs(fd - g[i]));
      gmax = std::max(gmax, std::fabs(fd));
    }
    EXPECT_GT(gmax, 1e-2) << name;  // the check is not vacuous
    EXPECT_LT(worst, 2e-3 * std::max(1.0, gmax)) << name;
  };
  check_fd(q, dq, "dq");
  check_fd(k, dk, "dk");
  check_fd(v, dv, "dv");
}

}  // namespace

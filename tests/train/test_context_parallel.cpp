// Context-parallel pieces that need no MPI: the chunk assignment (rank r holds chunks r and
// 2C-1-r), the global positions, and the ring attention on a one-rank group, which must be the
// plain causal attention of the whole sequence (forward and backward).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/attention.h"
#include "train/context_parallel.h"

namespace {

using harpe::train::cp_positions;
using harpe::train::cp_slice;

TEST(ContextParallel, ChunksAreBalancedAndPositionsGlobal) {
  // T = 8, C = 2: chunks of 2 tokens {0,1} {2,3} {4,5} {6,7}; rank 0 holds chunks 0 and 3,
  // rank 1 chunks 1 and 2 (each one early and one late).
  const int B = 2, T = 8, C = 2;
  std::vector<int32_t> full(B * T);
  for (int i = 0; i < B * T; ++i) full[i] = 100 + i;
  std::vector<int32_t> loc(B * T / C), pos(B * T / C);
  cp_slice(loc.data(), full.data(), B, T, C, 0);
  EXPECT_EQ(loc, (std::vector<int32_t>{100, 101, 106, 107, 108, 109, 114, 115}));
  cp_positions(pos.data(), B, T, C, 0);
  EXPECT_EQ(pos, (std::vector<int32_t>{0, 1, 6, 7, 0, 1, 6, 7}));
  cp_slice(loc.data(), full.data(), B, T, C, 1);
  EXPECT_EQ(loc, (std::vector<int32_t>{102, 103, 104, 105, 110, 111, 112, 113}));
  cp_positions(pos.data(), B, T, C, 1);
  EXPECT_EQ(pos, (std::vector<int32_t>{2, 3, 4, 5, 2, 3, 4, 5}));
  // Causal work: rank r's queries see (r + 1) + (2C - r) = 2C + 1 chunks' worth for every r.
  for (int r = 0; r < C; ++r)
    EXPECT_EQ(harpe::train::cp_chunk_index(C, r, 0) + 1 + harpe::train::cp_chunk_index(C, r, 1) + 1,
              2 * C + 1);
}

std::vector<float> randn(std::size_t n, unsigned seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
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
  return diff / scale;
}

TEST(ContextParallel, OneRankRingIsCausalAttention) {
  // C = 1: chunks 0 and 1 in order; the ring is the diagonal pairs plus chunk 1 x chunk 0.
  harpe::kernels::AttentionShape s;
  s.B = 2;
  s.T = 150;
  s.H = 4;
  s.KV = 2;
  s.D = 16;
  const std::size_t nq = std::size_t(s.B) * s.T * s.H * s.D,
                    nk = std::size_t(s.B) * s.T * s.KV * s.D;
  const auto q = randn(nq, 1), k = randn(nk, 2), v = randn(nk, 3), dout = randn(nq, 4);
  std::vector<float> o_ref(nq), l_ref(std::size_t(s.B) * s.H * s.T), dq_ref(nq), dk_ref(nk),
      dv_ref(nk);
  harpe::kernels::attention_forward(o_ref.data(), l_ref.data(), q.data(), k.data(), v.data(), s);
  harpe::kernels::attention_backward(dq_ref.data(), dk_ref.data(), dv_ref.data(), dout.data(),
                                     q.data(), k.data(), v.data(), o_ref.data(), l_ref.data(), s);
  harpe::train::RingAttention ring(harpe::train::dist::Comm{});
  std::vector<float> o(nq), l(l_ref.size()), dq(nq), dk(nk), dv(nk);
  ring.forward(o.data(), l.data(), q.data(), k.data(), v.data(), s);
  EXPECT_LT(max_rel(o, o_ref), 1e-5);
  EXPECT_LT(max_rel(l, l_ref), 1e-5);
  ring.backward(dq.data(), dk.data(), dv.data(), dout.data(), q.data(), k.data(), v.data(),
                o.data(), l.data(), s);
  EXPECT_LT(max_rel(dq, dq_ref), 1e-5);
  EXPECT_LT(max_rel(dk, dk_ref), 1e-5);
  EXPECT_LT(max_rel(dv, dv_ref), 1e-5);
}

}  // namespace

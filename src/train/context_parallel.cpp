#include "train/context_parallel.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "core/error.h"
#include "kernels/attention_block.h"

namespace harpe::train {

void cp_slice(int32_t* local, const int32_t* full, int B, int T, int C, int r) {
  const int c = T / (2 * C);
  for (int b = 0; b < B; ++b)
    for (int half = 0; half < 2; ++half) {
      const int32_t* src = full + static_cast<std::size_t>(b) * T +
                           static_cast<std::size_t>(cp_chunk_index(C, r, half)) * c;
      std::copy(src, src + c, local + (static_cast<std::size_t>(b) * 2 + half) * c);
    }
}

void cp_positions(int32_t* pos, int B, int T, int C, int r) {
  const int c = T / (2 * C);
  for (int b = 0; b < B; ++b)
    for (int half = 0; half < 2; ++half)
      for (int t = 0; t < c; ++t)
        pos[(static_cast<std::size_t>(b) * 2 + half) * c + t] = cp_chunk_index(C, r, half) * c + t;
}

std::size_t cp_ring_bytes(const model::ModelConfig& cfg, int B, int local_T) {
  const std::size_t rows = static_cast<std::size_t>(B) * local_T;
  const std::size_t floats =
      (2 + 3) * 2 * rows * cfg.kv_dim() + rows * cfg.q_dim() + 3 * rows * cfg.num_attention_heads;
  return floats * sizeof(float);
}

namespace {

// The block of local query half qh against the key half kh of the chunk pair owned by CP rank
// `owner`; the arrays are [B, 2c, ...] so both sides have 2c rows per batch element.
kernels::BlockShape block_of(const kernels::AttentionShape& s, int C, int r, int qh, int owner,
                             int kh) {
  const int c = s.T / 2;
  kernels::BlockShape b;
  b.B = s.B;
  b.Tq = c;
  b.Tk = c;
  b.H = s.H;
  b.KV = s.KV;
  b.D = s.D;
  b.scale = s.scale;
  b.q_rows = s.T;
  b.k_rows = s.T;
  b.q0 = static_cast<long>(cp_chunk_index(C, r, qh)) * c;
  b.k0 = static_cast<long>(cp_chunk_index(C, owner, kh)) * c;
  return b;
}

// The two diagonal chunk pairs are plain causal attention of 2B sequences of c tokens ([B, 2c]
// rows are [2B, c] rows), but lse is [B, H, 2c] in the model and [2B, H, c] in that kernel.
void lse_to_pairs(float* pairs, const float* lse, int B, int H, int c) {
  for (int b = 0; b < B; ++b)
    for (int half = 0; half < 2; ++half)
      for (int h = 0; h < H; ++h)
        std::memcpy(pairs + ((static_cast<std::size_t>(2 * b + half) * H + h) * c),
                    lse + (static_cast<std::size_t>(b) * H + h) * 2 * c +
                        static_cast<std::size_t>(half) * c,
                    static_cast<std::size_t>(c) * sizeof(float));
}
void lse_from_pairs(float* lse, const float* pairs, int B, int H, int c) {
  for (int b = 0; b < B; ++b)
    for (int half = 0; half < 2; ++half)
      for (int h = 0; h < H; ++h)
        std::memcpy(lse + (static_cast<std::size_t>(b) * H + h) * 2 * c +
                        static_cast<std::size_t>(half) * c,
                    pairs + ((static_cast<std::size_t>(2 * b + half) * H + h) * c),
                    static_cast<std::size_t>(c) * sizeof(float));
}

kernels::AttentionShape pairs_shape(const kernels::AttentionShape& s) {
  kernels::AttentionShape p = s;
  p.B = 2 * s.B;
  p.T = s.T / 2;
  return p;
}

}  // namespace

void RingAttention::reserve(const kernels::AttentionShape& s) {
  check(s.T % 2 == 0, "context parallel: local sequence length ", s.T, " is not two chunks");
  const std::size_t nq = static_cast<std::size_t>(s.B) * s.T * s.H * s.D;
  const std::size_t nk = static_cast<std::size_t>(s.B) * s.T * s.KV * s.D;
  const std::size_t nl = static_cast<std::size_t>(s.B) * s.H * s.T;
  if (part_out_.size() == nq && kv_[0].size() == 2 * nk) return;
  for (Buffer<float>& b : kv_) b = Buffer<float>(2 * nk);
  for (Buffer<float>& b : dkv_) b = Buffer<float>(2 * nk);
  part_out_ = Buffer<float>(nq);
  part_lse_ = Buffer<float>(nl);
  lse_pairs_ = Buffer<float>(nl);
  delta_ = Buffer<float>(nl);
}

void RingAttention::forward(float* out, float* lse, const float* q, const float* k, const float* v,
                            const kernels::AttentionShape& s) {
  reserve(s);
  const int C = group_.size, r = group_.rank, c = s.T / 2;
  const std::size_t nk = static_cast<std::size_t>(s.B) * s.T * s.KV * s.D;
  const std::size_t rq = static_cast<std::size_t>(s.H) * s.D;
  // Ring: at step t this rank holds the K/V of rank r - t. Each pair is sent on while the blocks
  // against it are computed (both only read it), so every transfer overlaps a step's compute,
  // starting with step 0 on the own chunks.
  float* cur = kv_[0].data();
  float* nxt = kv_[1].data();
  dist::Shift shift;
  if (C > 1) {
    std::memcpy(cur, k, nk * sizeof(float));
    std::memcpy(cur + nk, v, nk * sizeof(float));
    shift = dist::ring_shift_start(group_, cur, nxt, 2 * nk);
  }
  // Step 0, own chunks: both diagonal pairs by the causal kernel, then late queries x early keys.
  kernels::attention_forward(out, lse_pairs_.data(), q, k, v, pairs_shape(s));
  lse_from_pairs(lse, lse_pairs_.data(), s.B, s.H, c);
  auto merge_block = [&](int qh, int owner, int kh, const float* kb, const float* vb) {
    const kernels::BlockShape b = block_of(s, C, r, qh, owner, kh);
    if (kernels::block_mask(b) == kernels::BlockMask::none_visible) return;
    const std::size_t q_off = static_cast<std::size_t>(qh) * c;
    const std::size_t k_off = static_cast<std::size_t>(kh) * c * s.KV * s.D;
    kernels::attention_block_forward(part_out_.data() + q_off * rq, part_lse_.data() + q_off,
                                     q + q_off * rq, kb + k_off, vb + k_off, b);
    kernels::attention_merge(out + q_off * rq, lse + q_off, part_out_.data() + q_off * rq,
                             part_lse_.data() + q_off, b);
  };
  merge_block(1, r, 0, k, v);
  for (int t = 1; t < C; ++t) {
    dist::ring_shift_wait(shift);
    std::swap(cur, nxt);
    if (t + 1 < C) shift = dist::ring_shift_start(group_, cur, nxt, 2 * nk);
    const int owner = (r - t + C) % C;
    for (int qh = 0; qh < 2; ++qh)
      for (int kh = 0; kh < 2; ++kh) merge_block(qh, owner, kh, cur, cur + nk);
  }
}

void RingAttention::backward(float* dq, float* dk, float* dv, const float* dout, const float* q,
                             const float* k, const float* v, const float* out, const float* lse,
                             const kernels::AttentionShape& s) {
  reserve(s);
  const int C = group_.size, r = group_.rank, c = s.T / 2;
  const std::size_t nk = static_cast<std::size_t>(s.B) * s.T * s.KV * s.D;
  const std::size_t rq = static_cast<std::size_t>(s.H) * s.D;
  // Ring K/V again as in forward. The dK/dV sum of the pair of rank r - t was last added to by
  // rank r - 1 at step t - 1: it arrives while this rank computes its own contribution into a
  // fresh buffer, then the two are added and sent on (one hop behind the K/V).
  float* cur = kv_[0].data();
  float* nxt = kv_[1].data();
  float* arrived = dkv_[2].data();
  dist::Shift kv_shift, dkv_shift;
  if (C > 1) {
    std::memcpy(cur, k, nk * sizeof(float));
    std::memcpy(cur + nk, v, nk * sizeof(float));
    kv_shift = dist::ring_shift_start(group_, cur, nxt, 2 * nk);
  }
  kernels::BlockShape all = block_of(s, C, r, 0, r, 0);
  all.Tq = s.T;
  kernels::attention_row_dot(delta_.data(), dout, out, all);
  // Own chunks: the causal kernel (with the FINAL lse and out, so its P is the global softmax)
  // writes dq, dk, dv of the diagonal pairs; the blocks below add to them.
  lse_to_pairs(lse_pairs_.data(), lse, s.B, s.H, c);
  kernels::attention_backward(dq, dk, dv, dout, q, k, v, out, lse_pairs_.data(), pairs_shape(s));
  auto block = [&](int qh, int owner, int kh, const float* kb, const float* vb, float* dkb,
                   float* dvb) {
    const kernels::BlockShape b = block_of(s, C, r, qh, owner, kh);
    if (kernels::block_mask(b) == kernels::BlockMask::none_visible) return;
    const std::size_t q_off = static_cast<std::size_t>(qh) * c;
    const std::size_t k_off = static_cast<std::size_t>(kh) * c * s.KV * s.D;
    kernels::attention_block_backward(dq + q_off * rq, dkb + k_off, dvb + k_off, dout + q_off * rq,
                                      q + q_off * rq, kb + k_off, vb + k_off, lse + q_off,
                                      delta_.data() + q_off, b);
  };
  block(1, r, 0, k, v, dk, dv);
  if (C == 1) return;
  for (int t = 1; t < C; ++t) {
    dist::ring_shift_wait(kv_shift);
    std::swap(cur, nxt);
    if (t + 1 < C) kv_shift = dist::ring_shift_start(group_, cur, nxt, 2 * nk);
    // Alternate: the previous step's sum may still be in flight from the other buffer.
    float* mine = dkv_[t % 2].data();
    std::fill(mine, mine + 2 * nk, 0.0f);
    const int owner = (r - t + C) % C;
    for (int qh = 0; qh < 2; ++qh)
      for (int kh = 0; kh < 2; ++kh) block(qh, owner, kh, cur, cur + nk, mine, mine + nk);
    if (t > 1) {
      dist::ring_shift_wait(dkv_shift);
      for (std::size_t i = 0; i < 2 * nk; ++i) mine[i] += arrived[i];
    }
    // At t = C - 1 this rank holds rank r + 1's pair, so this last hop takes every sum home.
    dkv_shift = dist::ring_shift_start(group_, mine, arrived, 2 * nk);
  }
  dist::ring_shift_wait(dkv_shift);
  for (std::size_t i = 0; i < nk; ++i) {
    dk[i] += arrived[i];
    dv[i] += arrived[nk + i];
  }
}

}  // namespace harpe::train

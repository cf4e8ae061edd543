// Attention of one query block against one key/value block, for context-parallel (ring) attention:
// the sequence lives in chunks on different ranks, each rank attends its query chunks to every
// key/value chunk in turn and merges the partial results by log-sum-exp. The causal mask is by
// GLOBAL position: key j (at k0 + j) is visible to query i (at q0 + i) iff k0 + j <= q0 + i, so a
// block is fully visible, diagonal (partly masked) or fully masked, and all three are handled.
//
// Layouts follow kernels/attention.h, with a row stride per batch element so that a block can be
// a row range of a larger array: q, out, dout, dq: [B, q_rows, H, D] (the block is rows 0..Tq-1 of
// each batch element, i.e. pass a pointer to its first row); lse, delta: [B, H, q_rows];
// k, v, dk, dv: [B, k_rows, KV, D]. GQA: query head h uses K/V head h / (H / KV). Extra memory is
// O(tile) per thread: no Tq x Tk matrix.
#pragma once

namespace harpe::kernels {

struct BlockShape {
  int B = 1, Tq = 0, Tk = 0, H = 0, KV = 0, D = 0;
  long q0 = 0, k0 = 0;  // global positions of query row 0 and key row 0
  int q_rows = 0;       // rows per batch element of the query-side arrays; 0 means Tq
  int k_rows = 0;       // rows per batch element of the key-side arrays; 0 means Tk
  float scale = 0;      // 0 means 1/sqrt(D)
};

enum class BlockMask { none_visible, all_visible, partial };
BlockMask block_mask(const BlockShape& s);

// Partial attention of the block: out (normalised over this block's visible keys) and
// lse = log sum exp of the visible scores. A row that sees no key gets out = 0, lse = -inf.
void attention_block_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                             const BlockShape& s);

// Merges the partial (out_b, lse_b) into (out, lse), same layout (B, Tq, H, D, q_rows of s):
// lse = logaddexp(lse, lse_b), out = exp(lse_old - lse) out + exp(lse_b - lse) out_b. A side with
// lse -inf contributes nothing (rows that see no key stay neutral).
void attention_merge(float* out, float* lse, const float* out_b, const float* lse_b,
                     const BlockShape& s);

// delta[b, h, t] = sum_d dout[b, t, h, d] * out[b, t, h, d] for the query rows of s (the D of
// FlashAttention-2; out must be the FINAL, merged output).
void attention_row_dot(float* delta, const float* dout, const float* out, const BlockShape& s);

// Backward of one block given the FINAL lse and delta of the query rows: ADDS the block's
// contributions to dq (query rows) and to dk, dv (key rows). Rows with lse -inf add nothing.
void attention_block_backward(float* dq, float* dk, float* dv, const float* dout, const float* q,
                              const float* k, const float* v, const float* lse, const float* delta,
                              const BlockShape& s);

}  // namespace harpe::kernels

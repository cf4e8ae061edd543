// Causal self-attention, tiled with an online softmax (FlashAttention-2 style), forward and
// backward, O(T) extra memory: only the per-row log-sum-exp is kept between the passes.
// Layouts (row-major, contiguous): q, out, dq, dout: [B, T, H, D]; k, v, dk, dv: [B, T, KV, D];
// lse: [B, H, T]. GQA: query head h uses K/V head h / (H / KV).
// Q and K are expected already rotated (rope_apply) — attention itself is position-free.
#pragma once

namespace harpe::kernels {

struct AttentionShape {
  int B = 1, T = 0, H = 0, KV = 0, D = 0;
  float scale = 0;  // 0 means 1/sqrt(D)
};

void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                       const AttentionShape& s);

// dq, dk, dv are OVERWRITTEN.
void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q,
                        const float* k, const float* v, const float* out, const float* lse,
                        const AttentionShape& s);

}  // namespace harpe::kernels

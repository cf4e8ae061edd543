// Elementwise and row-wise kernels with hand-written backward passes. Float32, row-major,
// OpenMP-parallel over rows. Activations are [N, C] with N = batch * seq_len tokens.
// Backward functions ACCUMULATE (+=) into parameter gradients and into input gradients unless
// stated otherwise, so residual branches and GQA groups can sum into one buffer.
#pragma once

#include <cstddef>
#include <cstdint>

#include "rope/rope_table.h"

namespace harpe::kernels {

// out[n, :] = wte[tokens[n], :]
void embedding_forward(float* out, const int32_t* tokens, const float* wte, int N, int C);
// dwte[tokens[n], :] += dout[n, :]   (deterministic: no races between equal tokens)
void embedding_backward(float* dwte, const float* dout, const int32_t* tokens, int N, int C);

// out = x / rms(x) * w, rms over C; stores rstd[n] = 1/sqrt(mean(x^2) + eps) for backward.
void rmsnorm_forward(float* out, float* rstd, const float* x, const float* w, int N, int C,
                     float eps);
// dx += ..., dw += ...
void rmsnorm_backward(float* dx, float* dw, const float* dout, const float* x, const float* w,
                      const float* rstd, int N, int C);

// SwiGLU: out = silu(gate) * up, elementwise over n values.
void swiglu_forward(float* out, const float* gate, const float* up, std::size_t n);
// dgate = ..., dup = ...  (overwrite, not accumulate: gate/up are private activations)
void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate,
                     const float* up, std::size_t n);

// Rotary embedding in place on x = [N, n_heads_x, head_dim] where n_heads_x is table.n_heads
// (queries) or table.n_kv_heads (keys, `keys` = true, rows taken from table.kv_head(g)).
// positions[n] is token n's position. Multiplies cos/sin by table.attn_factor.
// inverse = true applies the transposed rotation: the backward pass of rope (dx in place).
void rope_apply(float* x, const int32_t* positions, const rope::RopeTable& table, int N, bool keys,
                bool inverse = false);

// y += x over n values.
void add_inplace(float* y, const float* x, std::size_t n);

// LM head + softmax cross-entropy fused and chunked over tokens, so an [N, V] logits matrix is
// never held whole (only [chunk, V]). x: [N, C] final hidden states, W: [V, C].
// Target < 0 means "not scored". Returns the SUM of losses over scored tokens; when dx/dW are
// non-null also computes gradients of (loss_scale * sum of losses): dx is overwritten, dW += .
// losses (optional, [N]) receives each token's loss (0 for unscored).
double lmhead_xent(const float* x, const float* W, const int32_t* targets, int N, int C, int V,
                   float* dx, float* dW, float loss_scale, float* losses = nullptr);

// AdamW with bias correction and decoupled weight decay, over n parameters; step counts from 1.
void adamw_step(float* params, const float* grads, float* m, float* v, std::size_t n, float lr,
                float beta1, float beta2, float eps, float weight_decay, long step);

// Sum of squares (double accumulation) for global-norm clipping; scale_inplace for applying it.
double sum_squares(const float* x, std::size_t n);
void scale_inplace(float* x, float s, std::size_t n);
bool all_finite(const float* x, std::size_t n);

}  // namespace harpe::kernels

// The steps of a Llama layer that training (model.cpp) and chunked inference (infer/session.cpp)
// share, written once: pre-norm attention inputs, the attention output and residual, the pre-norm
// SwiGLU MLP and residual. What differs between the two stays with each caller: the rotation
// (positions, Self-Extend's grouped copies), the attention kernel (tiled over a window, or over
// a KV cache) and what is kept for the backward pass. Decoding one token (Session::decode_token)
// runs the same sequence with the row kernels (gemv, rmsnorm_row), which beat a GEMM at N = 1.
#pragma once

#include <cstddef>

#include "model/model.h"

namespace harpe::model {

// y[N, out] = x[N, in] W[out, in]^T; beta 1 adds into y.
void linear(float* y, const float* x, const float* W, int N, int out, int in, float beta = 0.f);

// The sizes a layer step needs: n rows (tokens), hidden C, query width HD = H * D, key/value width
// KVD = KV * D, MLP width F, RMSNorm epsilon.
struct LayerShape {
  int n, C, HD, KVD, F;
  float eps;
};

// ln = rmsnorm(x; w.ln1) with its rstd (kept for the backward pass), then the unrotated
// q = ln Wq^T, k = ln Wk^T, v = ln Wv^T. k and v may point into a KV cache.
void attention_inputs(float* ln, float* rstd, float* q, float* k, float* v, const float* x,
                      const LayerWeights& w, const LayerShape& s);

// x_mid = x_in + att Wo^T; x_mid may be x_in (in place).
void attention_output(float* x_mid, const float* x_in, const float* att, const LayerWeights& w,
                      const LayerShape& s);

// ln = rmsnorm(x_mid; w.ln2) with its rstd, gate = ln Wg^T, up = ln Wu^T, h = silu(gate) * up
// (h may be gate), then x_out = x_mid + h Wd^T unless x_out is null (x_out may be x_mid).
void mlp(float* x_out, float* ln, float* rstd, float* gate, float* up, float* h, const float* x_mid,
         const LayerWeights& w, const LayerShape& s);

// dst = src over n floats, parallel over large copies.
void copy_floats(float* dst, const float* src, std::size_t n);

}  // namespace harpe::model

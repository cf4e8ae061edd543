// Pieces of the attention kernels exposed for tests and benchmarks only (not for model code).
#pragma once

#include <cstddef>

#include "kernels/attention.h"

namespace harpe::kernels::attention_detail {

// True when the AVX-512 tiled kernels are compiled in; otherwise attention_forward/backward use
// the generic (untiled, still O(T) memory) fallback below.
bool vectorised();

// y[i] = exp(x[i]) through the approximation the tiled kernels use (std::exp without AVX-512).
// x = -inf gives 0. Exposed so its accuracy can be tested directly.
void exp_approx(const float* x, float* y, int n);

// True when attention_forward / attention_backward on shape s run their bf16 tiles now:
// gemm_precision() is bf16, the CPU has AVX512_BF16 and D is a multiple of 16.
bool bf16_active(const AttentionShape& s);

// Bytes of scratch that the most recent attention_forward / attention_backward call allocated
// (all threads together); tests use it to check that the extra memory is O(T), not O(T^2).
std::size_t last_scratch_bytes();

// The portable fallback: same contract as attention_forward / attention_backward.
void forward_generic(float* out, float* lse, const float* q, const float* k, const float* v,
                     const AttentionShape& s);
void backward_generic(float* dq, float* dk, float* dv, const float* dout, const float* q,
                      const float* k, const float* v, const float* out, const float* lse,
                      const AttentionShape& s);

// FLOPs of one forward + backward pass by the convention the benchmark reports: 7 matmuls of
// 2*T*T*D per (batch, query head), causal counted at half, i.e. 7 * B * H * T * T * D.
double flops_forward_backward(const AttentionShape& s);
double flops_forward(const AttentionShape& s);  // 2 of the 7 matmuls

}  // namespace harpe::kernels::attention_detail

// Single-token kernels for incremental decoding (infer::Session's lean path). One new token costs
// ~15 MFLOP on the tiny preset, so a GEMM call or an OpenMP parallel region per op costs more than
// the arithmetic: these kernels are serial, allocate nothing and work on one row. Results equal
// the batched kernels (gemm, rmsnorm_forward, swiglu_forward, rope_apply, cached_attention) up to
// float round-off (different summation order), which tests/infer/test_decode_kernels.cpp checks.
#pragma once

#include <cstddef>
#include <cstdint>

#include "rope/rope_table.h"

namespace harpe::kernels {

// y[o] = sum_k W[o, k] x[k]  (+ y[o] when accumulate), W row-major [out, in] (the HF layout).
// Matrix-vector product; AVX-512 when compiled for it (any in, tails masked), else plain loops.
void gemv(float* y, const float* x, const float* W, int out, int in, bool accumulate = false);

// The same product with bf16 weights (uint16 bit patterns: the high half of an fp32) and fp32 x,
// y: each weight is widened exactly to fp32 by a 16-bit shift and the sums are fp32 FMAs, so the
// result is the fp32 gemv of the widened matrix up to summation order. Reads half the bytes of
// gemv: decoding is memory-bandwidth bound. AVX-512F when compiled for it (any in), else
// gemv_bf16_portable.
void gemv_bf16(float* y, const float* x, const uint16_t* W, int out, int in,
               bool accumulate = false);
// The plain-loop version (auto-vectorised for whatever the build targets, AVX2 or scalar), always
// compiled: the fallback of gemv_bf16 and its reference in tests.
void gemv_bf16_portable(float* y, const float* x, const uint16_t* W, int out, int in,
                        bool accumulate = false);

// dst[i] = src[i] widened from bf16 to fp32 (exact), n values; serial.
void widen_bf16(float* dst, const uint16_t* src, std::size_t n);

// out = x / rms(x) * w over C values (out may alias x).
void rmsnorm_row(float* out, const float* x, const float* w, int C, float eps);

// gate = silu(gate) * up over n values (the SwiGLU of swiglu_forward, in place).
void swiglu_row(float* gate, const float* up, int n);

// cos/sin of one position for each KV group's row of the table (rows are equal within a group,
// validate_table checks it): cs[g * P + i] = attn_factor * cos(pos * inv[g][i]), then the same
// for sin at cs[KV * P + g * P + i]. cs holds 2 * n_kv_heads * pairs floats. The angle is the
// double product reduced by the library's double sin/cos, as precise as rope_apply's.
void rope_cos_sin(float* cs, const rope::RopeTable& table, int pos);

// Rotates one token's heads in place with cs from rope_cos_sin: x = [n_heads_x, head_dim] with
// n_heads_x = table.n_heads (queries) or table.n_kv_heads (keys).
void rope_row(float* x, const float* cs, const rope::RopeTable& table, bool keys);

}  // namespace harpe::kernels

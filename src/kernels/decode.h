// Single-token kernels for incremental decoding (infer::Session's lean path). One new token costs
// ~15 MFLOP on the tiny preset, so a GEMM call or an OpenMP parallel region per op costs more than
// the arithmetic: these kernels are serial, allocate nothing and work on one row. Results equal
// the batched kernels (gemm, rmsnorm_forward, swiglu_forward, rope_apply, cached_attention) up to
// float round-off (different summation order), which tests/infer/test_decode_kernels.cpp checks.
#pragma once

#include "rope/rope_table.h"

namespace harpe::kernels {

// y[o] = sum_k W[o, k] x[k]  (+ y[o] when accumulate), W row-major [out, in] (the HF layout).
// Matrix-vector product; AVX-512 when compiled for it (any in, tails masked), else plain loops.
void gemv(float* y, const float* x, const float* W, int out, int in, bool accumulate = false);

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

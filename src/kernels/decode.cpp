#include "kernels/decode.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include <cmath>
#include <cstddef>

#include "kernels/reduce_avx512.h"
#include "kernels/rope_rotate.h"
#include "kernels/vec_math.h"

namespace harpe::kernels {

namespace {

#if defined(__AVX512F__)

inline __mmask16 tail_mask(int n) { return static_cast<__mmask16>((1u << n) - 1u); }

#endif

}  // namespace

void gemv(float* y, const float* x, const float* W, int out, int in, bool accumulate) {
  const std::size_t ld = static_cast<std::size_t>(in);
  int o = 0;
#if defined(__AVX512F__)
  const int full = in / 16 * 16;
  const __mmask16 mask = tail_mask(in - full);
  // Four weight rows per step (a contiguous 4 * in block): four independent FMA chains hide the
  // FMA latency, and one reduce4 replaces four horizontal sums.
  for (; o + 4 <= out; o += 4) {
    const float* w0 = W + static_cast<std::size_t>(o) * ld;
    const float* w1 = w0 + ld;
    const float* w2 = w1 + ld;
    const float* w3 = w2 + ld;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(),
           a3 = _mm512_setzero_ps();
    // The hardware prefetcher sees four interleaved 1-row streams that end after `in` floats; so
    // fetch the block two steps ahead (8 rows on), four lines per step, in address order.
    const char* ahead = reinterpret_cast<const char*>(w0 + 8 * ld);
    int k = 0;
    for (; k < full; k += 16) {
      _mm_prefetch(ahead + 16 * k, _MM_HINT_T0);
      _mm_prefetch(ahead + 16 * k + 64, _MM_HINT_T0);
      _mm_prefetch(ahead + 16 * k + 128, _MM_HINT_T0);
      _mm_prefetch(ahead + 16 * k + 192, _MM_HINT_T0);
      const __m512 xv = _mm512_loadu_ps(x + k);
      a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w0 + k), xv, a0);
      a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w1 + k), xv, a1);
      a2 = _mm512_fmadd_ps(_mm512_loadu_ps(w2 + k), xv, a2);
      a3 = _mm512_fmadd_ps(_mm512_loadu_ps(w3 + k), xv, a3);
    }
    if (k < in) {
      const __m512 xv = _mm512_maskz_loadu_ps(mask, x + k);
      a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, w0 + k), xv, a0);
      a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, w1 + k), xv, a1);
      a2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, w2 + k), xv, a2);
      a3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, w3 + k), xv, a3);
    }
    __m128 s = detail::reduce4(a0, a1, a2, a3);
    if (accumulate) s = _mm_add_ps(s, _mm_loadu_ps(y + o));
    _mm_storeu_ps(y + o, s);
  }
  for (; o < out; ++o) {
    const float* w = W + static_cast<std::size_t>(o) * ld;
    __m512 a = _mm512_setzero_ps();
    int k = 0;
    for (; k < full; k += 16)
      a = _mm512_fmadd_ps(_mm512_loadu_ps(w + k), _mm512_loadu_ps(x + k), a);
    if (k < in)
      a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, w + k), _mm512_maskz_loadu_ps(mask, x + k),
                          a);
    const float s = detail::reduce1(a);
    y[o] = accumulate ? y[o] + s : s;
  }
#else
  for (; o < out; ++o) {
    const float* w = W + static_cast<std::size_t>(o) * ld;
    float s = 0.f;
#pragma omp simd reduction(+ : s)
    for (int k = 0; k < in; ++k) s += w[k] * x[k];
    y[o] = accumulate ? y[o] + s : s;
  }
#endif
}

void rmsnorm_row(float* out, const float* x, const float* w, int C, float eps) {
  float ss = 0.0f;
#pragma omp simd reduction(+ : ss)
  for (int c = 0; c < C; ++c) ss += x[c] * x[c];
  const float r = 1.0f / std::sqrt(ss / static_cast<float>(C) + eps);
#pragma omp simd
  for (int c = 0; c < C; ++c) out[c] = x[c] * r * w[c];
}

void swiglu_row(float* gate, const float* up, int n) {
#pragma omp simd
  for (int i = 0; i < n; ++i) {
    const float g = gate[i];
    const float s = 1.0f / (1.0f + detail::fast_exp(-g));
    gate[i] = g * s * up[i];
  }
}

void rope_cos_sin(float* cs, const rope::RopeTable& table, int pos) {
  const int KV = table.n_kv_heads, P = table.pairs();
  const double f = table.attn_factor;
  float* c = cs;
  float* s = cs + static_cast<std::size_t>(KV) * P;
  for (int g = 0; g < KV; ++g) {
    const float* inv = table.kv_head(g);
    for (int i = 0; i < P; ++i) {
      const double a = static_cast<double>(pos) * static_cast<double>(inv[i]);
      c[g * P + i] = static_cast<float>(std::cos(a) * f);
      s[g * P + i] = static_cast<float>(std::sin(a) * f);
    }
  }
}

void rope_row(float* x, const float* cs, const rope::RopeTable& table, bool keys) {
  const int KV = table.n_kv_heads, P = table.pairs(), D = table.head_dim;
  const int heads = keys ? KV : table.n_heads;
  const int per_group = keys ? 1 : table.group_size();
  const bool half = table.layout == rope::Layout::half_split;
  for (int h = 0; h < heads; ++h) {
    const int g = h / per_group;
    const float* c = cs + static_cast<std::size_t>(g) * P;
    const float* s = cs + static_cast<std::size_t>(KV + g) * P;
    float* v = x + static_cast<std::size_t>(h) * D;
    if (half)
      detail::rotate_half_split(v, c, s, P);
    else
      detail::rotate_interleaved(v, c, s, P);
  }
}

}  // namespace harpe::kernels

#include "kernels/decode.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include <cmath>
#include <cstddef>
#include <vector>

#include "core/half.h"
#include "kernels/reduce_avx512.h"
#include "kernels/rope_rotate.h"
#include "kernels/vec_math.h"

namespace harpe::kernels {

namespace {

#if defined(__AVX512F__)

inline __mmask16 tail_mask(int n) { return static_cast<__mmask16>((1u << n) - 1u); }

// Rows ahead that gemv_bf16 prefetches: the next block of four. Measured against 0, 8 and 16 at
// hidden 1024 and 2048 (docs/engine.md, "bf16 weights and KV cache"): 0 loses the gain entirely, 8
// and 16 are equal or worse.
constexpr int kPrefetchRows = 4;

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

void widen_bf16(float* dst, const uint16_t* src, std::size_t n) {
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(src[i]);
}

void gemv_bf16_portable(float* y, const float* x, const uint16_t* W, int out, int in,
                        bool accumulate) {
  const std::size_t ld = static_cast<std::size_t>(in);
  for (int o = 0; o < out; ++o) {
    const uint16_t* w = W + static_cast<std::size_t>(o) * ld;
    float s = 0.f;
#pragma omp simd reduction(+ : s)
    for (int k = 0; k < in; ++k) s += bf16_to_f32(w[k]) * x[k];
    y[o] = accumulate ? y[o] + s : s;
  }
}

void gemv_bf16(float* y, const float* x, const uint16_t* W, int out, int in, bool accumulate) {
#if defined(__AVX512F__)
  const std::size_t ld = static_cast<std::size_t>(in);
  const int full = in / 32 * 32;
  // One 512-bit load holds 32 bf16 weights; 32-bit lane j holds weight 2j in its low half and
  // 2j+1 in its high half. A shift left by 16 makes the even weights floats, masking off the low
  // half the odd ones: two ALU ops per 32 weights, no cross-lane widening. x is split to match,
  // once per call: xs = x's even columns then odd columns of each 32-column chunk.
  thread_local std::vector<float> split;
  if (split.size() < static_cast<std::size_t>(full)) split.resize(static_cast<std::size_t>(full));
  float* xs = split.data();
  for (int c = 0; c < full; c += 32)
    for (int j = 0; j < 16; ++j) {
      xs[c + j] = x[c + 2 * j];
      xs[c + 16 + j] = x[c + 2 * j + 1];
    }
  const __mmask16 all = 0xFFFF;
  const __m512i high = _mm512_set1_epi32(static_cast<int>(0xFFFF0000u));
  const auto fma2 = [&](const uint16_t* w, int k, __m512 xe, __m512 xo, __m512 acc) {
    const __m512i v = _mm512_loadu_si512(w + k);
    acc = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_maskz_slli_epi32(all, v, 16)), xe, acc);
    return _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(v, high)), xo, acc);
  };
  int o = 0;
  // As gemv: four rows per step, four FMA chains, one reduce4; the tail of each row (in % 32
  // values) is added in scalar after the reduction.
  for (; o + 4 <= out; o += 4) {
    const uint16_t* w0 = W + static_cast<std::size_t>(o) * ld;
    const uint16_t* w1 = w0 + ld;
    const uint16_t* w2 = w1 + ld;
    const uint16_t* w3 = w2 + ld;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(),
           a3 = _mm512_setzero_ps();
    // The block kPrefetchRows rows on, four lines per 32 columns (4 rows * 64 bytes).
    const char* ahead = reinterpret_cast<const char*>(w0 + kPrefetchRows * ld);
    for (int k = 0; k < full; k += 32) {
      _mm_prefetch(ahead + 8 * k, _MM_HINT_T0);
      _mm_prefetch(ahead + 8 * k + 64, _MM_HINT_T0);
      _mm_prefetch(ahead + 8 * k + 128, _MM_HINT_T0);
      _mm_prefetch(ahead + 8 * k + 192, _MM_HINT_T0);
      const __m512 xe = _mm512_loadu_ps(xs + k), xo = _mm512_loadu_ps(xs + k + 16);
      a0 = fma2(w0, k, xe, xo, a0);
      a1 = fma2(w1, k, xe, xo, a1);
      a2 = fma2(w2, k, xe, xo, a2);
      a3 = fma2(w3, k, xe, xo, a3);
    }
    float s[4];
    _mm_storeu_ps(s, detail::reduce4(a0, a1, a2, a3));
    const uint16_t* rows[4] = {w0, w1, w2, w3};
    for (int r = 0; r < 4; ++r) {
      for (int k = full; k < in; ++k) s[r] += bf16_to_f32(rows[r][k]) * x[k];
      y[o + r] = accumulate ? y[o + r] + s[r] : s[r];
    }
  }
  for (; o < out; ++o) {
    const uint16_t* w = W + static_cast<std::size_t>(o) * ld;
    __m512 a = _mm512_setzero_ps();
    for (int k = 0; k < full; k += 32)
      a = fma2(w, k, _mm512_loadu_ps(xs + k), _mm512_loadu_ps(xs + k + 16), a);
    float s = detail::reduce1(a);
    for (int k = full; k < in; ++k) s += bf16_to_f32(w[k]) * x[k];
    y[o] = accumulate ? y[o] + s : s;
  }
#else
  gemv_bf16_portable(y, x, W, out, in, accumulate);
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

#include "kernels/cached_attention.h"

#include <omp.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "core/error.h"
#include "core/half.h"
#include "kernels/reduce_avx512.h"
#include "kernels/vec_math.h"

namespace harpe::kernels {

namespace {

// A cache element as fp32: itself, or a bf16 bit pattern widened exactly (the high half of a
// float).
inline float to_f32(float x) { return x; }
inline float to_f32(uint16_t x) { return bf16_to_f32(x); }

template <typename E>
inline float dot(const float* a, const E* b, int n) {
  float s = 0.f;
#pragma omp simd reduction(+ : s)
  for (int i = 0; i < n; ++i) s += a[i] * to_f32(b[i]);
  return s;
}

#if defined(__AVX512F__)
// Sixteen cache elements as fp32 lanes: a load, or a load of 16 bf16 widened by a 16-bit shift.
inline __m512 load16(const float* p) { return _mm512_loadu_ps(p); }
inline __m512 load16(const uint16_t* p) {
  // Zero-masked forms: the plain ones pass an undefined register through, which trips gcc 12's
  // -Wmaybe-uninitialized (reduce_avx512.h).
  const __mmask16 all = 0xFFFF;
  const __m512i w =
      _mm512_maskz_cvtepu16_epi32(all, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  return _mm512_castsi512_ps(_mm512_maskz_slli_epi32(all, w, 16));
}
#endif

// Keys ahead of the current one whose rows the single-query kernels prefetch (AVX-512 paths only),
// into L2 (_MM_HINT_T1). The streaming rate of the cache is set by the prefetches in flight, and
// prefetches into L1 are capped by its few miss buffers. Measured on Zen 4 (bench_decode, small
// preset, context 4096): L2 prefetches decode 1.3x (fp32 cache) and 1.8x (bf16 cache) the tokens/s
// of L1 prefetches; 64 keys ahead instead of 32 changes nothing. (kernels/decode.cpp's GEMV is
// faster with L1 prefetches: 0.74-0.82x the tokens/s at context 64 with L2 ones.)
[[maybe_unused]] constexpr int kPrefetchKeys = 32;

// sc[h * ld + j] = scale * q_h . k[j, h / group] for keys j in [j0, j1) and every head h. Keys
// outer, heads inner: the cache is read row after row, in address order, which the hardware
// prefetcher streams (a head-by-head walk reads D floats every KV * D and runs at memory latency).
template <typename E>
void scores_all_heads(float* sc, long ld, const float* q, const E* k, long k_stride, int j0, int j1,
                      int H, int group, int D, float scale) {
  int j = j0;
#if defined(__AVX512F__)
  if (D % 16 == 0) {
    // Sixteen keys per step: one partial-sum vector per key, then one transposing reduction
    // that leaves key j's score in lane j (a quarter of the shuffles of per-key sums).
    const __m512 sv16 = _mm512_set1_ps(scale);
    for (; j + 16 <= j1; j += 16) {
      const E* k0 = k + j * k_stride;
      // The 16 rows kPrefetchKeys ahead, their lines spread over the heads' steps.
      const char* ahead = reinterpret_cast<const char*>(k0 + kPrefetchKeys * k_stride);
      const long lines = 16 * k_stride * static_cast<long>(sizeof(E)) / 64;
      for (int h = 0; h < H; ++h) {
        for (long b = lines * h / H; b < lines * (h + 1) / H; ++b)
          _mm_prefetch(ahead + 64 * b, _MM_HINT_T1);
        const float* qh = q + static_cast<long>(h) * D;
        const E* kh = k0 + static_cast<long>(h / group) * D;
        __m512 t[16];
        for (int r = 0; r < 16; ++r) t[r] = _mm512_setzero_ps();
        for (int d = 0; d < D; d += 16) {
          const __m512 qv = _mm512_loadu_ps(qh + d);
          for (int r = 0; r < 16; ++r)
            t[r] = _mm512_fmadd_ps(load16(kh + r * k_stride + d), qv, t[r]);
        }
        _mm512_storeu_ps(sc + h * ld + j, _mm512_mul_ps(detail::transpose_sum16(t), sv16));
      }
    }
    const __m128 sv = _mm_set1_ps(scale);
    // Four keys per step: four independent FMA chains per head, one transposing reduction.
    for (; j + 4 <= j1; j += 4) {
      const E* k0 = k + j * k_stride;
      // The rows kPrefetchKeys ahead (4 rows per step, whole lines).
      const char* ahead = reinterpret_cast<const char*>(k0 + kPrefetchKeys * k_stride);
      for (long b = 0; b < 4 * k_stride * static_cast<long>(sizeof(E)); b += 64)
        _mm_prefetch(ahead + b, _MM_HINT_T1);
      for (int h = 0; h < H; ++h) {
        const float* qh = q + static_cast<long>(h) * D;
        const E* kh = k0 + static_cast<long>(h / group) * D;
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(),
               a3 = _mm512_setzero_ps();
        for (int d = 0; d < D; d += 16) {
          const __m512 qv = _mm512_loadu_ps(qh + d);
          a0 = _mm512_fmadd_ps(load16(kh + d), qv, a0);
          a1 = _mm512_fmadd_ps(load16(kh + k_stride + d), qv, a1);
          a2 = _mm512_fmadd_ps(load16(kh + 2 * k_stride + d), qv, a2);
          a3 = _mm512_fmadd_ps(load16(kh + 3 * k_stride + d), qv, a3);
        }
        _mm_storeu_ps(sc + h * ld + j, _mm_mul_ps(detail::reduce4(a0, a1, a2, a3), sv));
      }
    }
  }
#endif
  for (; j < j1; ++j)
    for (int h = 0; h < H; ++h)
      sc[h * ld + j] = scale * dot(q + static_cast<long>(h) * D,
                                   k + j * k_stride + static_cast<long>(h / group) * D, D);
}

// out[h] += sum_j p[h * ld + j] v[j, h / group] over keys [0, n), rows in address order.
template <typename E>
void values_all_heads(float* out, const float* p, long ld, const E* v, long v_stride, int n, int H,
                      int group, int D) {
  int j = 0;
  for (; j + 2 <= n; j += 2) {
    const E* v0 = v + j * v_stride;
#if defined(__AVX512F__)
    const char* ahead = reinterpret_cast<const char*>(v0 + kPrefetchKeys * v_stride);
    for (long b = 0; b < 2 * v_stride * static_cast<long>(sizeof(E)); b += 64)
      _mm_prefetch(ahead + b, _MM_HINT_T1);
#endif
    for (int h = 0; h < H; ++h) {
      const float p0 = p[h * ld + j], p1 = p[h * ld + j + 1];
      const E* a = v0 + static_cast<long>(h / group) * D;
      const E* b = a + v_stride;
      float* o = out + static_cast<long>(h) * D;
#pragma omp simd
      for (int d = 0; d < D; ++d) o[d] += p0 * to_f32(a[d]) + p1 * to_f32(b[d]);
    }
  }
  for (; j < n; ++j)
    for (int h = 0; h < H; ++h) {
      const float pj = p[h * ld + j];
      const E* a = v + j * v_stride + static_cast<long>(h / group) * D;
      float* o = out + static_cast<long>(h) * D;
#pragma omp simd
      for (int d = 0; d < D; ++d) o[d] += pj * to_f32(a[d]);
    }
}

// One query at position s.p0 (shape checked by the callers).
template <typename E>
void attention_one_query(float* out, const float* q, const E* k, const E* v, const float* qg,
                         const E* kg, const CachedAttentionShape& s, float* scratch) {
  const int H = s.H, KV = s.KV, D = s.D, group = H / KV;
  const float scale = s.scale > 0 ? s.scale : 1.0f / std::sqrt(static_cast<float>(D));
  const long k_stride = static_cast<long>(KV) * D;
  const int i = s.p0, T = i + 1;
  // Keys j with i - j >= W (j < far_end) pair the grouped vectors; the rest the ordinary ones.
  const int far_end = s.window > 0 ? std::max(0, i - s.window + 1) : 0;
  // Pass 1: all scores; sc_h[j] = scratch[h * T + j].
  const long HD = static_cast<long>(H) * D;
  if (far_end > 0) scores_all_heads(scratch, T, qg, kg, k_stride, 0, far_end, H, group, D, scale);
  scores_all_heads(scratch, T, q, k, k_stride, far_end, T, H, group, D, scale);
  // Pass 2: softmax weights (unnormalised) and their sums.
  float* inv_l = scratch + static_cast<long>(H) * T;
  for (int h = 0; h < H; ++h) {
    float* sc = scratch + static_cast<long>(h) * T;
    float m = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : m)
    for (int j = 0; j < T; ++j) m = std::max(m, sc[j]);
    float l = 0.f;
#pragma omp simd reduction(+ : l)
    for (int j = 0; j < T; ++j) {
      const float p = detail::fast_exp(sc[j] - m);
      sc[j] = p;
      l += p;
    }
    inv_l[h] = 1.0f / l;
  }
  // Pass 3: weighted values, then the normalisation.
  std::fill(out, out + HD, 0.f);
  values_all_heads(out, scratch, T, v, k_stride, T, H, group, D);
  for (int h = 0; h < H; ++h)
    for (int d = 0; d < D; ++d) out[static_cast<long>(h) * D + d] *= inv_l[h];
}

void check_shape(const CachedAttentionShape& s, bool one_query, const float* qg, const void* kg) {
  const char* name = one_query ? "cached_attention_row" : "cached_attention";
  check((one_query ? s.Tq == 1 : s.Tq > 0) && s.p0 >= 0 && s.H > 0 && s.KV > 0 && s.D > 0 &&
            s.H % s.KV == 0,
        name, ": bad shape");
  check(s.window == 0 || (qg != nullptr && kg != nullptr), name,
        ": Self-Extend needs grouped queries and keys");
}

template <typename E>
void attention_rows(float* out, const float* q, const E* k, const E* v, const float* qg,
                    const E* kg, const CachedAttentionShape& s) {
  check_shape(s, false, qg, kg);
  const long q_stride = static_cast<long>(s.H) * s.D;
  const std::size_t scratch_floats = static_cast<std::size_t>(s.H) * (s.p0 + s.Tq + 1);
  // Queries are independent: threads take them in chunks (later queries see more keys, hence
  // dynamic), each with its own scores scratch; per query the single-query kernel above.
#pragma omp parallel if (s.Tq > 1)
  {
    std::vector<float> scratch(scratch_floats);
#pragma omp for schedule(dynamic, 8)
    for (int t = 0; t < s.Tq; ++t) {
      CachedAttentionShape row = s;
      row.Tq = 1;
      row.p0 = s.p0 + t;
      attention_one_query(out + t * q_stride, q + t * q_stride, k, v,
                          qg ? qg + t * q_stride : nullptr, kg, row, scratch.data());
    }
  }
}

}  // namespace

void cached_attention_row(float* out, const float* q, const float* k, const float* v,
                          const float* qg, const float* kg, const CachedAttentionShape& s,
                          float* scratch) {
  check_shape(s, true, qg, kg);
  attention_one_query(out, q, k, v, qg, kg, s, scratch);
}

void cached_attention_row(float* out, const float* q, const uint16_t* k, const uint16_t* v,
                          const float* qg, const uint16_t* kg, const CachedAttentionShape& s,
                          float* scratch) {
  check_shape(s, true, qg, kg);
  attention_one_query(out, q, k, v, qg, kg, s, scratch);
}

void cached_attention(float* out, const float* q, const float* k, const float* v, const float* qg,
                      const float* kg, const CachedAttentionShape& s) {
  attention_rows(out, q, k, v, qg, kg, s);
}

void cached_attention(float* out, const float* q, const uint16_t* k, const uint16_t* v,
                      const float* qg, const uint16_t* kg, const CachedAttentionShape& s) {
  attention_rows(out, q, k, v, qg, kg, s);
}

}  // namespace harpe::kernels

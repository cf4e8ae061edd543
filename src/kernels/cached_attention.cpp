#include "kernels/cached_attention.h"

#include <omp.h>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/error.h"
#include "kernels/reduce_avx512.h"
#include "kernels/vec_math.h"

namespace harpe::kernels {

namespace {

inline float dot(const float* a, const float* b, int n) {
  float s = 0.f;
#pragma omp simd reduction(+ : s)
  for (int i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

constexpr int kKeyBlock = 256;

}  // namespace

void cached_attention(float* out, const float* q, const float* k, const float* v, const float* qg,
                      const float* kg, const CachedAttentionShape& s) {
  check(s.Tq > 0 && s.p0 >= 0 && s.H > 0 && s.KV > 0 && s.D > 0 && s.H % s.KV == 0,
        "cached_attention: bad shape");
  check(s.window == 0 || (qg != nullptr && kg != nullptr),
        "cached_attention: Self-Extend needs grouped queries and keys");
  const int H = s.H, KV = s.KV, D = s.D, group = H / KV;
  const float scale = s.scale > 0 ? s.scale : 1.0f / std::sqrt(static_cast<float>(D));
  const long q_stride = static_cast<long>(H) * D, k_stride = static_cast<long>(KV) * D;
  const int W = s.window;

  // One (query, head) row at a time: O(Tk) work, streaming over key blocks with an online softmax.
#pragma omp parallel
  {
    std::vector<float> scores(kKeyBlock);
    std::vector<float> acc(D);
#pragma omp for schedule(dynamic, 1) collapse(2)
    for (int t = 0; t < s.Tq; ++t) {
      for (int h = 0; h < H; ++h) {
        const int i = s.p0 + t;  // absolute query position
        const int g = h / group;
        const float* qi = q + t * q_stride + static_cast<long>(h) * D;
        const float* qgi = W > 0 ? qg + t * q_stride + static_cast<long>(h) * D : nullptr;
        float m = -std::numeric_limits<float>::infinity(), l = 0.f;
        std::fill(acc.begin(), acc.end(), 0.f);
        for (int j0 = 0; j0 <= i; j0 += kKeyBlock) {
          const int j1 = std::min(i + 1, j0 + kKeyBlock);
          float block_max = -std::numeric_limits<float>::infinity();
          for (int j = j0; j < j1; ++j) {
            const long off = j * k_stride + static_cast<long>(g) * D;
            const bool near = W == 0 || i - j < W;
            const float sc = scale * (near ? dot(qi, k + off, D) : dot(qgi, kg + off, D));
            scores[j - j0] = sc;
            block_max = std::max(block_max, sc);
          }
          const float m_new = std::max(m, block_max);
          const float correction = std::exp(m - m_new);
          l *= correction;
          for (int d = 0; d < D; ++d) acc[d] *= correction;
          for (int j = j0; j < j1; ++j) {
            const float p = std::exp(scores[j - j0] - m_new);
            l += p;
            const float* vj = v + j * k_stride + static_cast<long>(g) * D;
#pragma omp simd
            for (int d = 0; d < D; ++d) acc[d] += p * vj[d];
          }
          m = m_new;
        }
        float* o = out + t * q_stride + static_cast<long>(h) * D;
        const float inv_l = 1.0f / l;
        for (int d = 0; d < D; ++d) o[d] = acc[d] * inv_l;
      }
    }
  }
}

namespace {

// Scores of one query head against keys [j0, j1) of KV head g: sc[j] = scale * q.k[j].
void row_scores(float* sc, const float* qh, const float* k, long k_stride, int j0, int j1, int D,
                float scale) {
#if defined(__AVX512F__)
  if (D % 16 == 0) {
    int j = j0;
    const __m128 sv = _mm_set1_ps(scale);
    // Four keys per step: four independent FMA chains, one transposing reduction.
    for (; j + 4 <= j1; j += 4) {
      const float* k0 = k + j * k_stride;
      const float* k1 = k0 + k_stride;
      const float* k2 = k1 + k_stride;
      const float* k3 = k2 + k_stride;
      __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(),
             a3 = _mm512_setzero_ps();
      for (int d = 0; d < D; d += 16) {
        const __m512 qv = _mm512_loadu_ps(qh + d);
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(k0 + d), qv, a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(k1 + d), qv, a1);
        a2 = _mm512_fmadd_ps(_mm512_loadu_ps(k2 + d), qv, a2);
        a3 = _mm512_fmadd_ps(_mm512_loadu_ps(k3 + d), qv, a3);
      }
      const __m128 h = detail::reduce4(a0, a1, a2, a3);
      _mm_storeu_ps(sc + j, _mm_mul_ps(h, sv));
    }
    for (; j < j1; ++j) sc[j] = scale * dot(qh, k + j * k_stride, D);
    return;
  }
#endif
  for (int j = j0; j < j1; ++j) sc[j] = scale * dot(qh, k + j * k_stride, D);
}

// o = sum_j p[j] v[j] / l over keys [0, n).
void row_values(float* o, const float* p, const float* v, long v_stride, int n, int D, float inv_l) {
#if defined(__AVX512F__)
  if (D % 16 == 0 && D <= 128) {
    // Two keys per step into two accumulator sets: two FMA chains per 16 lanes.
    __m512 acc[2][8];
    const int nv = D / 16;
    for (int c = 0; c < nv; ++c) acc[0][c] = acc[1][c] = _mm512_setzero_ps();
    int j = 0;
    for (; j + 2 <= n; j += 2) {
      const float* v0 = v + j * v_stride;
      const float* v1 = v0 + v_stride;
      const __m512 p0 = _mm512_set1_ps(p[j]), p1 = _mm512_set1_ps(p[j + 1]);
      for (int c = 0; c < nv; ++c) {
        acc[0][c] = _mm512_fmadd_ps(p0, _mm512_loadu_ps(v0 + 16 * c), acc[0][c]);
        acc[1][c] = _mm512_fmadd_ps(p1, _mm512_loadu_ps(v1 + 16 * c), acc[1][c]);
      }
    }
    if (j < n) {
      const __m512 p0 = _mm512_set1_ps(p[j]);
      for (int c = 0; c < nv; ++c)
        acc[0][c] = _mm512_fmadd_ps(p0, _mm512_loadu_ps(v + j * v_stride + 16 * c), acc[0][c]);
    }
    const __m512 il = _mm512_set1_ps(inv_l);
    for (int c = 0; c < nv; ++c)
      _mm512_storeu_ps(o + 16 * c, _mm512_mul_ps(_mm512_add_ps(acc[0][c], acc[1][c]), il));
    return;
  }
#endif
  for (int d = 0; d < D; ++d) o[d] = 0.f;
  for (int j = 0; j < n; ++j) {
    const float* vj = v + j * v_stride;
    const float pj = p[j];
#pragma omp simd
    for (int d = 0; d < D; ++d) o[d] += pj * vj[d];
  }
  for (int d = 0; d < D; ++d) o[d] *= inv_l;
}

}  // namespace

void cached_attention_row(float* out, const float* q, const float* k, const float* v,
                          const float* qg, const float* kg, const CachedAttentionShape& s,
                          float* scratch) {
  check(s.Tq == 1 && s.p0 >= 0 && s.H > 0 && s.KV > 0 && s.D > 0 && s.H % s.KV == 0,
        "cached_attention_row: bad shape");
  check(s.window == 0 || (qg != nullptr && kg != nullptr),
        "cached_attention_row: Self-Extend needs grouped queries and keys");
  const int H = s.H, KV = s.KV, D = s.D, group = H / KV;
  const float scale = s.scale > 0 ? s.scale : 1.0f / std::sqrt(static_cast<float>(D));
  const long k_stride = static_cast<long>(KV) * D;
  const int i = s.p0, T = i + 1;
  // Keys j with i - j >= W (j < far_end) pair the grouped vectors; the rest the ordinary ones.
  const int far_end = s.window > 0 ? std::max(0, i - s.window + 1) : 0;
  for (int g = 0; g < KV; ++g) {
    const long koff = static_cast<long>(g) * D;
    for (int hh = 0; hh < group; ++hh) {
      const int h = g * group + hh;
      float* sc = scratch + static_cast<long>(hh) * T;
      if (far_end > 0)
        row_scores(sc, qg + static_cast<long>(h) * D, kg + koff, k_stride, 0, far_end, D, scale);
      row_scores(sc, q + static_cast<long>(h) * D, k + koff, k_stride, far_end, T, D, scale);
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
      row_values(out + static_cast<long>(h) * D, sc, v + koff, k_stride, T, D, 1.0f / l);
    }
  }
}

}  // namespace harpe::kernels

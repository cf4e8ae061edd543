#include "kernels/cached_attention.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/error.h"

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

}  // namespace harpe::kernels

// The rotation of one head vector by its pairs' cos/sin: the one implementation shared by the
// batched kernel (rope_apply.cpp) and the single-token decode path (decode.cpp). Internal to
// kernels/.
#pragma once

namespace harpe::kernels::detail {

// half_split layout: pair i = (v[i], v[i + P]).
inline void rotate_half_split(float* v, const float* c, const float* s, int P) {
  float* hi = v + P;
#pragma omp simd
  for (int i = 0; i < P; ++i) {
    const float x0 = v[i], x1 = hi[i];
    v[i] = x0 * c[i] - x1 * s[i];
    hi[i] = x0 * s[i] + x1 * c[i];
  }
}

// interleaved layout: pair i = (v[2i], v[2i + 1]).
inline void rotate_interleaved(float* v, const float* c, const float* s, int P) {
#pragma omp simd
  for (int i = 0; i < P; ++i) {
    const float x0 = v[2 * i], x1 = v[2 * i + 1];
    v[2 * i] = x0 * c[i] - x1 * s[i];
    v[2 * i + 1] = x0 * s[i] + x1 * c[i];
  }
}

}  // namespace harpe::kernels::detail

// Horizontal sums for the AVX-512 single-row kernels (decode.cpp, cached_attention.cpp).
// Internal to the kernels module; only meaningful when compiled with AVX-512.
#pragma once

#if defined(__AVX512F__)
#include <immintrin.h>

namespace harpe::kernels::detail {

// 16 lanes -> 4 partial sums (lane i = a[i] + a[i+4] + a[i+8] + a[i+12]).
inline __m128 fold_to_4(__m512 a) {
  // Zero-masked forms throughout: the plain shuffle/extract/cast intrinsics pass an undefined
  // register through, which trips gcc 12's -Wmaybe-uninitialized.
  const __mmask16 all = 0xFFFF;
  __m512 t = _mm512_add_ps(a, _mm512_maskz_shuffle_f32x4(all, a, a, _MM_SHUFFLE(1, 0, 3, 2)));
  t = _mm512_add_ps(t, _mm512_maskz_shuffle_f32x4(all, t, t, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm512_maskz_extractf32x4_ps(0xF, t, 0);
}

// Four 16-lane accumulators -> their four horizontal sums, in order.
inline __m128 reduce4(__m512 a0, __m512 a1, __m512 a2, __m512 a3) {
  const __m128 h01 = _mm_hadd_ps(fold_to_4(a0), fold_to_4(a1));
  const __m128 h23 = _mm_hadd_ps(fold_to_4(a2), fold_to_4(a3));
  return _mm_hadd_ps(h01, h23);
}

// The horizontal sum of one accumulator (_mm512_reduce_add_ps has the same gcc 12 problem).
inline float reduce1(__m512 a) {
  const __m128 f = fold_to_4(a);
  const __m128 h = _mm_hadd_ps(f, f);
  return _mm_cvtss_f32(_mm_hadd_ps(h, h));
}

// One level of a 16-vector transposing reduction: lanes selected by the level's mask come from b,
// the others from a, each added to its neighbour at the level's distance (1, 2, 4, 8 lanes).
template <int Level>
inline __m512 combine_level(__m512 a, __m512 b) {
  constexpr __mmask16 kMask = Level == 1   ? 0xAAAA
                              : Level == 2 ? 0xCCCC
                              : Level == 3 ? 0xF0F0
                                           : 0xFF00;
  const __mmask16 all = 0xFFFF;
  const __m512 mine = _mm512_mask_blend_ps(kMask, a, b);
  const __m512 other = _mm512_mask_blend_ps(kMask, b, a);
  __m512 swapped;
  if constexpr (Level == 1)
    swapped = _mm512_maskz_permute_ps(all, other, 0xB1);
  else if constexpr (Level == 2)
    swapped = _mm512_maskz_permute_ps(all, other, 0x4E);
  else if constexpr (Level == 3)
    swapped = _mm512_maskz_shuffle_f32x4(all, other, other, 0xB1);
  else
    swapped = _mm512_maskz_shuffle_f32x4(all, other, other, 0x4E);
  return _mm512_add_ps(mine, swapped);
}

// t[0..15] -> one vector whose lane j is the horizontal sum of t[j] (t is overwritten).
inline __m512 transpose_sum16(__m512* t) {
  for (int i = 0; i < 8; ++i) t[i] = combine_level<1>(t[2 * i], t[2 * i + 1]);
  for (int i = 0; i < 4; ++i) t[i] = combine_level<2>(t[2 * i], t[2 * i + 1]);
  for (int i = 0; i < 2; ++i) t[i] = combine_level<3>(t[2 * i], t[2 * i + 1]);
  return combine_level<4>(t[0], t[1]);
}

}  // namespace harpe::kernels::detail

#endif

// Branch-free float exp that gcc vectorises (glibc's expf is only vectorised under -ffast-math,
// which the project does not use). Internal to the kernels module.
#pragma once

#include <bit>
#include <cstdint>

namespace harpe::kernels::detail {

// exp(x) = 2^k * exp(r), k = round(x / ln 2), |r| <= ln2 / 2; exp(r) by its degree-7 Taylor
// polynomial, whose truncation error (0.347^8 / 8! ~ 5e-9) is below float rounding. Inputs are
// clamped to [-87, 88] so 2^k stays a normal float: exp(-inf) gives ~1.6e-38 instead of 0,
// which no caller can tell apart from 0 after adding to 1 or multiplying by a probability.
inline float fast_exp(float x) {
  // Written so NaN fails both comparisons and lands in range (no float->int conversion of NaN);
  // the final select hands the NaN back so bad values still propagate.
  float xc = x > -87.0f ? x : -87.0f;
  xc = xc < 88.0f ? xc : 88.0f;
  // round to nearest by adding and removing 1.5 * 2^23 (exact for |x / ln 2| < 2^22)
  const float k = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const float r = (xc - k * 0.693145751953125f) - k * 1.42860682030941723e-6f;  // Cody-Waite ln 2
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const std::int32_t bits = (static_cast<std::int32_t>(k) + 127) << 23;
  const float e = p * std::bit_cast<float>(bits);
  return x == x ? e : x;
}

}  // namespace harpe::kernels::detail

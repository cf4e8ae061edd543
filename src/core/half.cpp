#include "core/half.h"

#include <bit>

namespace harpe {

float f16_to_f32(std::uint16_t h) {
  std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  std::uint32_t exp = (h >> 10) & 0x1fu;
  std::uint32_t mant = h & 0x3ffu;
  if (exp == 0) {  // zero or subnormal: mant * 2^-24, exact in float
    float m = static_cast<float>(mant) * 5.9604644775390625e-8f;
    return sign ? -m : m;
  }
  std::uint32_t bits = exp == 31
                           ? (sign | 0x7f800000u | (mant << 13))            // inf / nan
                           : (sign | ((exp + 112u) << 23) | (mant << 13));  // rebias 15 -> 127
  return std::bit_cast<float>(bits);
}

std::uint16_t f32_to_bf16(float f) {
  std::uint32_t bits = std::bit_cast<std::uint32_t>(f);
  if ((bits & 0x7fffffffu) > 0x7f800000u)
    return static_cast<std::uint16_t>((bits >> 16) | 0x40u);  // quiet nan
  bits += 0x7fffu + ((bits >> 16) & 1u);                      // round to nearest, ties to even
  return static_cast<std::uint16_t>(bits >> 16);
}

std::uint16_t f32_to_f16(float x) {
  const std::uint32_t f = std::bit_cast<std::uint32_t>(x);
  const std::uint32_t sign = (f >> 16) & 0x8000u;
  const std::uint32_t abs = f & 0x7fffffffu;
  if (abs >= 0x7f800000u)  // inf or NaN (NaN keeps a quiet payload bit)
    return static_cast<std::uint16_t>(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0u));
  if (abs >= 0x477ff000u) return static_cast<std::uint16_t>(sign | 0x7c00u);  // rounds past 65504
  const int exp = static_cast<int>(abs >> 23) - 127;
  if (exp < -14) {
    // Subnormal half (or zero): value = m * 2^-24 with m = round(|x| * 2^24).
    if (exp < -25) return static_cast<std::uint16_t>(sign);
    const std::uint32_t mant = (abs & 0x7fffffu) | 0x800000u;  // 24 bits, value mant * 2^(exp-23)
    const int shift = -exp - 1;                                // to units of 2^-24: 14..24
    std::uint32_t m = mant >> shift;
    const std::uint32_t rem = mant & ((1u << shift) - 1u), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (m & 1u))) ++m;  // may carry into the normal range: fine
    return static_cast<std::uint16_t>(sign | m);
  }
  // Normal: drop 13 mantissa bits, round to nearest even; a carry rolls into the exponent.
  std::uint32_t h = ((static_cast<std::uint32_t>(exp + 15)) << 10) | ((abs >> 13) & 0x3ffu);
  const std::uint32_t rem = abs & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;
  return static_cast<std::uint16_t>(sign | h);
}

}  // namespace harpe

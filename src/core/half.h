// Scalar conversions between float32 and the 16-bit float formats (bf16, IEEE half), in one home
// for every reader, writer and kernel fallback. All round to nearest even and keep inf and NaN;
// the widening conversions are exact, subnormals included.
#pragma once

#include <bit>
#include <cstdint>

namespace harpe {

// Inline: kernels call it inside vectorised loops (a 16-bit shift into the high half).
inline float bf16_to_f32(std::uint16_t b) {
  return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16);
}
std::uint16_t f32_to_bf16(float f);  // NaN stays a (quiet) NaN
float f16_to_f32(std::uint16_t h);
// Values past half's range (65504, after rounding) become infinity; callers that must not write
// an infinity check the range first.
std::uint16_t f32_to_f16(float x);

}  // namespace harpe

// The arithmetic precision a command multiplies matrices in, and what this CPU supports. Shared by
// training (bf16 GEMM inputs, fp32 master weights) and inference (bf16 weights in memory), so that
// both detect the CPU and spell the choice alike.
#pragma once

#include <string>

namespace harpe {

enum class Precision { fp32, bf16 };

// "fp32" / "bf16".
const char* precision_name(Precision p);
// Parses "fp32", "bf16" or "auto" (= default_precision()); anything else is a one-line
// harpe::Error naming `flag` and the accepted values.
Precision parse_precision(const std::string& text, const std::string& flag);

// True when the CPU multiplies bf16 natively (AVX512_BF16 or AMX-BF16, read from CPUID), i.e. when
// bf16 GEMMs run faster than fp32 ones rather than being emulated.
bool cpu_has_bf16_matmul();
// True when the CPU (and OS) has the AVX512_BF16 instructions (vcvtne2ps2bf16, vdpbf16ps) that the
// bf16 conversion and the bf16 attention tiles use.
bool cpu_has_avx512_bf16();
// bf16 where the CPU has bf16 matmul support, else fp32.
Precision default_precision();
// The CPU's bf16-relevant features in words, e.g. "avx512f avx512_bf16" or "avx512f amx_bf16";
// "none" when it has neither AVX-512 nor bf16 support. For the lines benchmarks print.
std::string cpu_bf16_features();

}  // namespace harpe

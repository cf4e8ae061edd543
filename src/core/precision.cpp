#include "core/precision.h"

#include "core/error.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace harpe {

namespace {

struct Bf16Features {
  bool avx512f = false, avx512_bf16 = false, amx_bf16 = false;
};

// CPUID leaf 7: subleaf 0 EBX bit 16 = AVX512F, EDX bit 22 = AMX-BF16; subleaf 1 EAX bit 5 =
// AVX512_BF16. The OS must also enable the register state (XCR0 bits 5-7 for AVX-512, 17-18 for
// AMX tiles), read through xgetbv.
Bf16Features read_features() {
  Bf16Features f;
#if defined(__x86_64__) || defined(__i386__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid(1, a, b, c, d);
  const bool osxsave = (c >> 27) & 1u;
  if (!osxsave) return f;
  unsigned xcr0 = 0, xcr0_hi = 0;
  __asm__ volatile("xgetbv" : "=a"(xcr0), "=d"(xcr0_hi) : "c"(0));
  const bool os_avx512 = (xcr0 & 0xE6u) == 0xE6u;  // SSE, AVX, opmask, ZMM_Hi256, Hi16_ZMM
  const bool os_amx = ((xcr0 >> 17) & 3u) == 3u;   // XTILECFG, XTILEDATA
  __cpuid_count(7, 0, a, b, c, d);
  f.avx512f = os_avx512 && ((b >> 16) & 1u);
  f.amx_bf16 = os_amx && ((d >> 22) & 1u);
  __cpuid_count(7, 1, a, b, c, d);
  f.avx512_bf16 = f.avx512f && ((a >> 5) & 1u);
#endif
  return f;
}

const Bf16Features& features() {
  static const Bf16Features f = read_features();
  return f;
}

}  // namespace

const char* precision_name(Precision p) { return p == Precision::bf16 ? "bf16" : "fp32"; }

Precision parse_precision(const std::string& text, const std::string& flag) {
  if (text == "fp32") return Precision::fp32;
  if (text == "bf16") return Precision::bf16;
  if (text == "auto") return default_precision();
  fail(flag, ": unknown precision \"", text, "\" (known: auto, bf16, fp32)");
}

bool cpu_has_avx512_bf16() { return features().avx512_bf16; }

bool cpu_has_bf16_matmul() { return features().avx512_bf16 || features().amx_bf16; }

Precision default_precision() { return cpu_has_bf16_matmul() ? Precision::bf16 : Precision::fp32; }

std::string cpu_bf16_features() {
  const Bf16Features& f = features();
  std::string s;
  auto add = [&s](bool on, const char* name) {
    if (!on) return;
    if (!s.empty()) s += ' ';
    s += name;
  };
  add(f.avx512f, "avx512f");
  add(f.avx512_bf16, "avx512_bf16");
  add(f.amx_bf16, "amx_bf16");
  return s.empty() ? "none" : s;
}

}  // namespace harpe

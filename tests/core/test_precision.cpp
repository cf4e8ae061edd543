#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "core/error.h"
#include "core/precision.h"

using harpe::Precision;

TEST(Precision, ParsesNamesAndRefusesOthers) {
  EXPECT_EQ(harpe::parse_precision("fp32", "--precision"), Precision::fp32);
  EXPECT_EQ(harpe::parse_precision("bf16", "--precision"), Precision::bf16);
  EXPECT_EQ(harpe::parse_precision("auto", "--precision"), harpe::default_precision());
  try {
    harpe::parse_precision("fp16", "--precision");
    FAIL() << "fp16 accepted";
  } catch (const harpe::Error& e) {
    EXPECT_NE(std::string(e.what()).find("--precision: unknown precision \"fp16\""),
              std::string::npos)
        << e.what();
  }
  EXPECT_STREQ(harpe::precision_name(Precision::bf16), "bf16");
  EXPECT_STREQ(harpe::precision_name(Precision::fp32), "fp32");
}

// CPUID must agree with what the kernel read off the same CPU (/proc/cpuinfo flags).
TEST(Precision, DetectionAgreesWithProcCpuinfo) {
  std::ifstream in("/proc/cpuinfo");
  if (!in) GTEST_SKIP() << "no /proc/cpuinfo";
  std::string line, flags;
  while (std::getline(in, line))
    if (line.rfind("flags", 0) == 0) {
      flags = line.substr(line.find(':') + 1) + " ";
      break;
    }
  if (flags.empty()) GTEST_SKIP() << "no flags line";
  auto has = [&flags](const std::string& f) {
    return flags.find(" " + f + " ") != std::string::npos;
  };
  const bool bf16 = has("avx512_bf16") || has("amx_bf16");
  EXPECT_EQ(harpe::cpu_has_bf16_matmul(), bf16) << "cpuinfo flags:" << flags;
  EXPECT_EQ(harpe::default_precision(), bf16 ? Precision::bf16 : Precision::fp32);
  const std::string words = harpe::cpu_bf16_features();
  EXPECT_EQ(words.find("avx512f") != std::string::npos, has("avx512f")) << words;
  EXPECT_EQ(words.find("avx512_bf16") != std::string::npos, has("avx512_bf16")) << words;
  EXPECT_EQ(words.find("amx_bf16") != std::string::npos, has("amx_bf16")) << words;
}

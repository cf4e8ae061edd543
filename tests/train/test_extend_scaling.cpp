// The scaled-settings rule (rope/scaling.h) and the stage-list syntax.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "core/error.h"
#include "rope/bases.h"
#include "rope/scaling.h"
#include "train/extend.h"

namespace harpe {
namespace {

// The paper's setting maps onto itself: every value exactly (bases to 3 significant digits, which
// the paper's round numbers survive).
TEST(ScaledSettings, PaperSettingReturnsThePaperValues) {
  const rope::ScaledSettings s = rope::scaled_settings(4096, 131072, 128);
  EXPECT_EQ(s.factor, 32.0);
  EXPECT_EQ(s.abf_base, 5e6);
  ASSERT_EQ(s.stages.size(), 3u);
  EXPECT_EQ(s.stages[0].base, 1e6);
  EXPECT_EQ(s.stages[1].base, 2e6);
  EXPECT_EQ(s.stages[2].base, 5e6);
  EXPECT_EQ(s.stages[0].length, 32768);
  EXPECT_EQ(s.stages[1].length, 65536);
  EXPECT_EQ(s.stages[2].length, 131072);
  EXPECT_EQ(s.harpe_min, 1e6);
  EXPECT_EQ(s.harpe_max, 5e6);
  EXPECT_EQ(s.harpe_stride, 30000.0);
  const rope::PeakValleyParams paper;
  EXPECT_EQ(s.peak_valley.m_lo, paper.m_lo);
  EXPECT_EQ(s.peak_valley.m_hi, paper.m_hi);
  EXPECT_EQ(s.peak_valley.peak_gap, paper.peak_gap);
  EXPECT_EQ(s.peak_valley.trough_gap, paper.trough_gap);
  EXPECT_EQ(s.peak_valley.skip, paper.skip);
  EXPECT_EQ(s.peak_valley.window, paper.window);
  EXPECT_EQ(s.peak_valley.cover_radius, paper.cover_radius);
  EXPECT_EQ(s.peak_valley.head_dim, 128);
  EXPECT_EQ(s.self_extend_window, 1024);
  EXPECT_EQ(s.self_extend_group, 32);
  // Unrounded, the identity holds to floating-point accuracy for any base.
  for (double b : {1e4, 5e5, 1e6, 2.5e6, 5e6, 1e8})
    EXPECT_NEAR(rope::scale_base(b, 131072, 128, false) / b, 1.0, 1e-9) << b;
}

// The rule's defining invariant, checked in the log domain (a different algebra from the code's):
// (d-2)/d * ln b' - ln L  ==  126/128 * ln b - ln 131072.
TEST(ScaledSettings, LongestWavelengthKeepsItsRatioToTheTargetLength) {
  for (int d : {16, 32, 64, 128})
    for (int L : {2048, 4096, 8192, 32768})
      for (double b : {1e6, 2e6, 5e6}) {
        const double bs = rope::scale_base(b, L, d, false);
        const double lhs = (d - 2.0) / d * std::log(bs) - std::log(double(L));
        const double rhs = 126.0 / 128.0 * std::log(b) - std::log(131072.0);
        EXPECT_NEAR(lhs, rhs, 1e-9) << "d=" << d << " L=" << L << " b=" << b;
        // The rounded value is within half a unit of the third significant digit.
        const double r = rope::scale_base(b, L, d);
        EXPECT_LE(std::fabs(r - bs), 0.005 * bs) << r << " vs " << bs;
      }
  // By hand for micro (d = 16) at L = 2048, the ABF base 5e6:
  // lambda = 2 pi 5e6^(126/128) = 2.46876e7; / 131072 = 188.351; target lambda = 188.351 * 2048
  // = 385,743; b' = (385743 / 2 pi)^(16/14) = 61393^(8/7) = 296,576 -> 2.97e5.
  EXPECT_EQ(rope::scale_base(5e6, 2048, 16), 2.97e5);
  EXPECT_NEAR(rope::longest_wavelength(5e6, 128), 2.468758e7, 10.0);
  EXPECT_NEAR(rope::scale_base(5e6, 2048, 16, false), 296576.0, 1.0);
}

TEST(ScaledSettings, SmallCasesAreMonotonicAndSane) {
  for (int d : {16, 32, 64}) {
    double prev_abf = 0;
    for (int C0 : {64, 128, 256}) {
      const int L = 32 * C0;
      const rope::ScaledSettings s = rope::scaled_settings(C0, L, d);
      EXPECT_EQ(s.factor, 32.0);
      // Longer targets need larger bases; every extension base exceeds the pretraining 1e4.
      EXPECT_GT(s.abf_base, prev_abf);
      prev_abf = s.abf_base;
      EXPECT_GT(s.harpe_min, 1e4);
      EXPECT_LT(s.harpe_min, s.harpe_max);
      EXPECT_GT(s.harpe_stride, 0);
      EXPECT_LT(s.harpe_stride, (s.harpe_max - s.harpe_min) / 8);  // many candidates
      EXPECT_EQ(s.harpe_max, s.abf_base);                          // both are the paper's 5e6
      // Stages: increasing bases and lengths, ending at (abf base, L); first at least C0.
      ASSERT_EQ(s.stages.size(), 3u);
      EXPECT_EQ(s.stages[0].length, L / 4);
      EXPECT_EQ(s.stages[1].length, L / 2);
      EXPECT_EQ(s.stages[2].length, L);
      EXPECT_LT(s.stages[0].base, s.stages[1].base);
      EXPECT_LT(s.stages[1].base, s.stages[2].base);
      EXPECT_EQ(s.stages[2].base, s.abf_base);
      EXPECT_GE(s.stages[0].length, C0);
      // Peak-valley: valid, scaled positions inside the target context.
      EXPECT_NO_THROW(rope::validate(s.peak_valley));
      EXPECT_EQ(s.peak_valley.m_hi, L);
      EXPECT_EQ(s.peak_valley.m_lo, static_cast<int>(std::lround(1000.0 * L / 131072)));
      EXPECT_LT(s.peak_valley.m_lo, L / 64);
      EXPECT_EQ(s.peak_valley.cover_radius, 3);  // fine-structure constants stay the paper's
      EXPECT_EQ(s.peak_valley.peak_gap, 50);
      EXPECT_LE(s.peak_valley.window, (L - s.peak_valley.m_lo) / 4);
      EXPECT_GE(s.self_extend_window, s.self_extend_group);
      EXPECT_EQ(s.self_extend_window, C0 / 4);
    }
  }
  // Smaller heads need larger bases for the same wavelength (exponent d/(d-2) grows).
  EXPECT_GT(rope::scaled_settings(64, 2048, 16).abf_base,
            rope::scaled_settings(64, 2048, 32).abf_base);
  EXPECT_GT(rope::scaled_settings(64, 2048, 32).abf_base,
            rope::scaled_settings(64, 2048, 64).abf_base);
}

TEST(ScaledSettings, BadArgumentsThrow) {
  EXPECT_THROW(rope::scaled_settings(0, 2048, 16), Error);
  EXPECT_THROW(rope::scaled_settings(2048, 2048, 16), Error);
  EXPECT_THROW(rope::scaled_settings(64, 2048, 15), Error);
  EXPECT_THROW(rope::scale_base(1.0, 2048, 16), Error);
}

TEST(Stages, ParseAndReject) {
  const auto s = train::parse_stages("base=1e6:len=512:tokens=4096,len=1024:base=2e6:steps=3");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].base, 1e6);
  EXPECT_EQ(s[0].length, 512);
  EXPECT_EQ(s[0].tokens, 4096u);
  EXPECT_EQ(s[0].steps, 0);
  EXPECT_EQ(s[1].base, 2e6);
  EXPECT_EQ(s[1].length, 1024);
  EXPECT_EQ(s[1].steps, 3);
  EXPECT_THROW(train::parse_stages(""), Error);
  EXPECT_THROW(train::parse_stages("base=1e6:len=512"), Error);                   // no budget
  EXPECT_THROW(train::parse_stages("base=1e6:len=512:tokens=1:steps=1"), Error);  // both
  EXPECT_THROW(train::parse_stages("base=x:len=512:steps=1"), Error);
  EXPECT_THROW(train::parse_stages("base=1e6:len=512:steps=1:foo=2"), Error);
  EXPECT_THROW(train::parse_stages("base=1e6:len=1024:steps=1,base=2e6:len=512:steps=1"), Error);
  try {
    train::parse_stages("base=1e6:len=512:steps=1,base=2e6:lenx=9:steps=1");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("stage 2"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace harpe

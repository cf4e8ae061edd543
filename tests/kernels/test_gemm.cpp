// gemm() against a naive double-precision triple loop, for all four transpose combinations,
// odd sizes, padded leading dimensions, and alpha/beta; in fp32 and in bf16 (the reference then
// multiplies the bf16-rounded inputs); the fp32 -> bf16 rounding and the precision scope.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/half.h"
#include "kernels/gemm.h"

namespace {

using harpe::Precision;
using harpe::kernels::gemm;

// fp32 -> bf16 -> fp32 by the textbook rule: round to nearest, ties to even (finite inputs).
float round_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// Reference: C = alpha * op(A) op(B) + beta * C in double, row-major with leading dimensions.
void naive_gemm(bool ta, bool tb, int M, int N, int K, double alpha, const std::vector<float>& A,
                int lda, const std::vector<float>& B, int ldb, double beta, std::vector<double>& C,
                int ldc) {
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      double s = 0;
      for (int k = 0; k < K; ++k) {
        double a = ta ? A[static_cast<size_t>(k) * lda + i] : A[static_cast<size_t>(i) * lda + k];
        double b = tb ? B[static_cast<size_t>(j) * ldb + k] : B[static_cast<size_t>(k) * ldb + j];
        s += a * b;
      }
      double& c = C[static_cast<size_t>(i) * ldc + j];
      c = alpha * s + beta * c;
    }
}

struct Case {
  bool ta, tb;
  int M, N, K;
  float alpha, beta;
};

void run_case(const Case& c, Precision p = Precision::fp32) {
  std::mt19937 rng(1234 + c.M * 7 + c.N * 13 + c.K);
  std::uniform_real_distribution<float> U(-1.0f, 1.0f);
  // Padded leading dimensions (+3, +5, +2) so a wrapper that ignores ld* fails.
  int a_rows = c.ta ? c.K : c.M, a_cols = c.ta ? c.M : c.K;
  int b_rows = c.tb ? c.N : c.K, b_cols = c.tb ? c.K : c.N;
  int lda = a_cols + 3, ldb = b_cols + 5, ldc = c.N + 2;
  std::vector<float> A(static_cast<size_t>(a_rows) * lda), B(static_cast<size_t>(b_rows) * ldb);
  std::vector<float> C(static_cast<size_t>(c.M) * ldc);
  for (auto& x : A) x = U(rng);
  for (auto& x : B) x = U(rng);
  for (auto& x : C) x = U(rng);
  std::vector<double> R(C.begin(), C.end());
  // bf16: the exact product of the rounded inputs; only the fp32 accumulation differs. Not
  // rounding at all would be off by ~sqrt(K) * 2^-9, far above the bound below for K >= 7.
  std::vector<float> Ar = A, Br = B;
  if (p == Precision::bf16) {
    for (float& x : Ar) x = round_bf16(x);
    for (float& x : Br) x = round_bf16(x);
  }
  naive_gemm(c.ta, c.tb, c.M, c.N, c.K, c.alpha, Ar, lda, Br, ldb, c.beta, R, ldc);
  std::vector<float> C0 = C;
  gemm(p, c.ta, c.tb, c.M, c.N, c.K, c.alpha, A.data(), lda, B.data(), ldb, c.beta, C.data(), ldc);
  // float32 accumulation of K products of |x|<=1: error grows ~ sqrt(K) * eps * typical |term|;
  // 1e-5 * K is a loose but meaningful bound (a wrong index gives O(1) errors).
  double tol = 1e-5 * (c.K + 1) * (std::abs(c.alpha) + 1);
  for (int i = 0; i < c.M; ++i) {
    for (int j = 0; j < ldc; ++j) {
      size_t idx = static_cast<size_t>(i) * ldc + j;
      if (j < c.N) {
        ASSERT_NEAR(C[idx], R[idx], tol) << harpe::precision_name(p) << " ta=" << c.ta
                                         << " tb=" << c.tb << " i=" << i << " j=" << j;
      } else {
        ASSERT_EQ(C[idx], C0[idx]) << "padding column of C was written";
      }
    }
  }
}

}  // namespace

TEST(Gemm, AllTransposesOddSizesPaddedLd) {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      run_case({ta, tb, 17, 23, 31, 1.0f, 0.0f});
      run_case({ta, tb, 65, 33, 129, 0.5f, 1.0f});  // accumulate (beta = 1)
      run_case({ta, tb, 3, 130, 7, -1.5f, 0.25f});  // general alpha/beta
      run_case({ta, tb, 1, 1, 1, 2.0f, -1.0f});
    }
}

TEST(GemmBf16, AllTransposesOddSizesPaddedLd) {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      run_case({ta, tb, 17, 23, 31, 1.0f, 0.0f}, Precision::bf16);
      run_case({ta, tb, 65, 33, 129, 0.5f, 1.0f}, Precision::bf16);  // accumulate (beta = 1)
      run_case({ta, tb, 3, 130, 7, -1.5f, 0.25f}, Precision::bf16);  // general alpha/beta
      run_case({ta, tb, 1, 1, 1, 2.0f, -1.0f}, Precision::bf16);
    }
}

TEST(GemmBf16, BetaZeroIgnoresNaNInC) {
  const int M = 4, N = 5, K = 6;
  std::vector<float> A(M * K, 1.0f), B(K * N, 2.0f);
  std::vector<float> C(M * N, std::numeric_limits<float>::quiet_NaN());
  gemm(Precision::bf16, false, false, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, C.data(), N);
  for (float c : C) EXPECT_EQ(c, 12.0f);
}

TEST(GemmBf16, RoundsToNearestEven) {
  // Every length 0..70 (the vector path's 32- and 16-wide blocks and masked tails), values
  // between representable bf16 numbers, exact ties both ways, and the specials.
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> U(-3.0f, 3.0f);
  for (std::size_t n = 0; n <= 70; ++n) {
    std::vector<float> x(n);
    for (float& v : x) v = U(rng);
    if (n > 3) {
      x[0] = 1.0f + 1.0f / 256;  // tie between 1 and 1 + 2^-7: to even (1)
      x[1] = 1.0f + 3.0f / 256;  // tie: to even (1 + 2^-6)
      x[2] = -0.0f;
    }
    for (auto convert : {harpe::kernels::to_bf16, harpe::kernels::to_bf16_portable}) {
      std::vector<unsigned short> h(n + 1, 0xABCD);
      convert(x.data(), h.data(), n);
      for (std::size_t i = 0; i < n; ++i)
        ASSERT_EQ(harpe::bf16_to_f32(h[i]), round_bf16(x[i])) << "n=" << n << " i=" << i;
      EXPECT_EQ(h[n], 0xABCD) << "wrote past the end, n=" << n;
    }
  }
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> sp = {inf, -inf, std::numeric_limits<float>::quiet_NaN(), 65504.0f};
  for (auto convert : {harpe::kernels::to_bf16, harpe::kernels::to_bf16_portable}) {
    std::vector<unsigned short> h(sp.size());
    convert(sp.data(), h.data(), sp.size());
    EXPECT_EQ(harpe::bf16_to_f32(h[0]), inf);
    EXPECT_EQ(harpe::bf16_to_f32(h[1]), -inf);
    EXPECT_TRUE(std::isnan(harpe::bf16_to_f32(h[2])));
    EXPECT_EQ(harpe::bf16_to_f32(h[3]), 65536.0f);
  }
}

TEST(GemmBf16, PrecisionScopeFollowsAndRestores) {
  using harpe::kernels::gemm_precision;
  using harpe::kernels::GemmPrecisionScope;
  ASSERT_EQ(gemm_precision(), Precision::fp32);  // the library default
  // 1 + 2^-9 is not a bf16 number: the product says which precision ran.
  const float a = 1.0f + 1.0f / 512, b = 1.0f;
  float c = 0;
  {
    GemmPrecisionScope outer(Precision::bf16);
    EXPECT_EQ(gemm_precision(), Precision::bf16);
    gemm(false, false, 1, 1, 1, 1.0f, &a, 1, &b, 1, 0.0f, &c, 1);
    EXPECT_EQ(c, 1.0f);
    {
      GemmPrecisionScope inner(Precision::fp32);
      gemm(false, false, 1, 1, 1, 1.0f, &a, 1, &b, 1, 0.0f, &c, 1);
      EXPECT_EQ(c, a);
    }
    EXPECT_EQ(gemm_precision(), Precision::bf16);
  }
  EXPECT_EQ(gemm_precision(), Precision::fp32);
  gemm(false, false, 1, 1, 1, 1.0f, &a, 1, &b, 1, 0.0f, &c, 1);
  EXPECT_EQ(c, a);
}

TEST(Gemm, BetaZeroIgnoresNaNInC) {
  // BLAS contract the model relies on: beta = 0 overwrites C, whatever it held.
  const int M = 4, N = 5, K = 6;
  std::vector<float> A(M * K, 1.0f), B(K * N, 2.0f);
  std::vector<float> C(M * N, std::numeric_limits<float>::quiet_NaN());
  gemm(false, false, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, C.data(), N);
  for (float c : C) EXPECT_EQ(c, 12.0f);
}

TEST(Gemm, KZeroScalesC) {
  std::vector<float> C = {1, 2, 3, 4};
  gemm(false, false, 2, 2, 0, 1.0f, nullptr, 1, nullptr, 2, 3.0f, C.data(), 2);
  EXPECT_EQ(C, (std::vector<float>{3, 6, 9, 12}));
}

TEST(Gemm, RejectsBadLeadingDimension) {
  std::vector<float> A(12), B(12), C(12);
  EXPECT_THROW(gemm(false, false, 3, 4, 3, 1.0f, A.data(), 2, B.data(), 4, 0.0f, C.data(), 4),
               harpe::Error);
}

TEST(Gemm, BackendNamedAndFast) {
  EXPECT_NE(std::string(harpe::kernels::gemm_backend()).find("oneDNN"), std::string::npos);
  // Small n keeps the test fast. No speed threshold: CI machines are shared and sanitizer builds
  // slow, so only check the figure is a positive finite rate (a zero-duration timing gives inf).
  double g = harpe::kernels::measure_sgemm_gflops(128);
  EXPECT_TRUE(std::isfinite(g));
  EXPECT_GT(g, 0.0);
  EXPECT_THROW(harpe::kernels::measure_sgemm_gflops(0), harpe::Error);
  EXPECT_FALSE(harpe::kernels::gemm_isa(Precision::fp32).empty());
  if (harpe::cpu_has_bf16_matmul()) {  // what oneDNN dispatched, named
    EXPECT_FALSE(harpe::kernels::gemm_isa(Precision::bf16, 64, 64, 64).empty());
    const double b = harpe::kernels::measure_gemm_gflops(Precision::bf16, 128);
    EXPECT_TRUE(std::isfinite(b));
    EXPECT_GT(b, 0.0);
  }
}

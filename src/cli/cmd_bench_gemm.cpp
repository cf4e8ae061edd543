// `harpe bench gemm`: the GEMM wrapper in fp32 (sgemm) and bf16 (bgemm: bf16 inputs, fp32
// accumulation and output, input conversion included) at the square 2048^3 product and at the
// engine's training shapes, both measured in this process, with what oneDNN dispatched. The last
// line is exactly `bgemm_vs_sgemm=<ratio>` (the 2048^3 square).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "cli/command.h"
#include "core/error.h"
#include "core/precision.h"
#include "core/timer.h"
#include "kernels/gemm.h"

namespace {

struct Shape {
  const char* use;
  bool ta, tb;
  int M, N, K;
};

// Linear layers y = x W^T at 2048 tokens: forward NT, input gradient NN, weight gradient TN;
// a 256-row chunk of the LM head (vocabulary 8192); a 128 x 128 attention tile (head dim 64).
constexpr Shape kShapes[] = {{"square", false, false, 2048, 2048, 2048},
                             {"tiny ffn up", false, true, 2048, 688, 256},
                             {"tiny ffn up", false, false, 2048, 256, 688},
                             {"tiny ffn up", true, false, 688, 256, 2048},
                             {"small qkv", false, true, 2048, 1536, 512},
                             {"small qkv", false, false, 2048, 512, 1536},
                             {"small qkv", true, false, 1536, 512, 2048},
                             {"small ffn down", false, true, 2048, 512, 1376},
                             {"small ffn down", false, false, 2048, 1376, 512},
                             {"small ffn down", true, false, 512, 1376, 2048},
                             {"lm head chunk", false, true, 256, 8192, 512},
                             {"lm head chunk", false, false, 256, 512, 8192},
                             {"lm head chunk", true, false, 8192, 512, 256},
                             {"attention tile", false, true, 128, 128, 64},
                             {"attention tile", false, false, 128, 64, 128}};

// Wall-clock GFLOP/s of one shape in precision p: a warm-up call, then the best of `reps` timed
// batches of calls (each batch >= ~20 ms so small shapes are not timer noise).
double gflops(harpe::Precision p, const Shape& s, int reps) {
  const int a_rows = s.ta ? s.K : s.M, a_cols = s.ta ? s.M : s.K;
  const int b_rows = s.tb ? s.N : s.K, b_cols = s.tb ? s.K : s.N;
  std::vector<float> a(static_cast<std::size_t>(a_rows) * a_cols);
  std::vector<float> b(static_cast<std::size_t>(b_rows) * b_cols);
  std::vector<float> c(static_cast<std::size_t>(s.M) * s.N);
  std::mt19937 gen(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (float& x : a) x = u(gen);
  for (float& x : b) x = u(gen);
  auto call = [&] {
    harpe::kernels::gemm(p, s.ta, s.tb, s.M, s.N, s.K, 1.0f, a.data(), a_cols, b.data(), b_cols,
                         0.0f, c.data(), s.N);
  };
  const double flops = 2.0 * s.M * static_cast<double>(s.N) * s.K;
  harpe::Timer warm;
  call();
  const int calls = std::clamp(static_cast<int>(2e-2 / std::max(warm.seconds(), 1e-7)), 1, 10000);
  double best = 1e300;
  for (int r = 0; r < reps; ++r) {
    harpe::Timer t;
    for (int i = 0; i < calls; ++i) call();
    best = std::min(best, t.seconds() / calls);
  }
  return flops / best * 1e-9;
}

void setup(CLI::App& parent) {
  auto reps = std::make_shared<int>(5);
  CLI::App* cmd = parent.add_subcommand(
      "gemm",
      "GEMM wrapper throughput, fp32 (sgemm) vs bf16 (bgemm: bf16 inputs converted per call,\n"
      "fp32 accumulation), at 2048^3 and the engine's training shapes, in one process, with\n"
      "the implementation oneDNN dispatched. Last line: bgemm_vs_sgemm=<ratio> (2048^3).");
  cmd->add_option("--reps", *reps, "Timed repetitions per shape and precision (best is kept)")
      ->capture_default_str();
  cmd->callback([reps] {
    using namespace harpe;
    check(*reps > 0, "--reps must be positive, got ", *reps);
    std::printf("cpu bf16 features: %s (bf16 matmul support: %s)\n", cpu_bf16_features().c_str(),
                cpu_has_bf16_matmul() ? "yes" : "no");
    std::printf("backend: %s; fp32: %s\n", kernels::gemm_backend(),
                kernels::gemm_isa(Precision::fp32).c_str());
    std::printf("%-15s %2s %5s %5s %5s %9s %9s %7s  %s\n", "use", "op", "M", "N", "K", "sgemm",
                "bgemm", "b/s", "bf16 implementation");
    double square = 0, log_sum = 0;
    int n = 0;
    for (const Shape& s : kShapes) {
      const double f = gflops(Precision::fp32, s, *reps);
      const double b = gflops(Precision::bf16, s, *reps);
      const std::string impl = kernels::gemm_isa(Precision::bf16, s.M, s.N, s.K, s.ta, s.tb);
      std::printf("%-15s %c%c %5d %5d %5d %9.1f %9.1f %7.2f  %s\n", s.use, s.ta ? 'T' : 'N',
                  s.tb ? 'T' : 'N', s.M, s.N, s.K, f, b, b / f, impl.c_str());
      std::fflush(stdout);
      if (&s == &kShapes[0]) square = b / f;
      log_sum += std::log(b / f);
      ++n;
    }
    std::printf("GFLOP/s by wall clock; geometric mean bgemm/sgemm over %d shapes: %.2f\n", n,
                std::exp(log_sum / n));
    std::printf("bgemm_vs_sgemm=%.3f\n", square);
  });
}

}  // namespace

HARPE_COMMAND("bench", setup);

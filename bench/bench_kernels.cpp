// Google Benchmark for the non-attention kernels at training shapes (2048 tokens, "small" preset:
// hidden 512, ffn 1376, vocab 8192). Each benchmark reports its throughput next to a reference
// measured in this same process:
//   vs_sgemm  achieved GFLOP/s / measure_sgemm_gflops(2048)     (compute-bound kernels)
//   vs_triad  achieved GB/s    / STREAM-style triad GB/s         (memory-bound kernels)
// The triad arrays (3 x 64 MiB) are far larger than L3, so it is a DRAM figure; kernels whose
// working set fits in L3 can exceed 1.
// Each rate comes twice: from wall time, and ("_cpu") from the calling thread's CPU time. The
// kernels split work evenly over the OpenMP threads and the caller does its share, so on a
// machine shared with other jobs the _cpu figures estimate the uncontended rate (run with
// OMP_WAIT_POLICY=passive so waiting threads sleep instead of spinning on the clock).
//
//   build-kernels/bench/bench_kernels [--benchmark_filter=Xent] [--benchmark_repetitions=3]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <ctime>
#include <random>
#include <vector>

#include "core/timer.h"
#include "kernels/gemm.h"
#include "kernels/ops.h"

namespace {

namespace k = harpe::kernels;

constexpr int kTokens = 2048, kHidden = 512, kFfn = 1376, kVocab = 8192;

std::vector<float> random_vec(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> U(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = U(rng);
  return v;
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

struct Rate {
  double wall, cpu;
};

// Best of `reps` calls, as work / second by wall clock and by this thread's CPU time.
template <typename F>
Rate best_rate(double work, int reps, F&& call) {
  call();
  double best = 1e30, best_cpu = 1e30;
  for (int r = 0; r < reps; ++r) {
    harpe::Timer t;
    const double c0 = thread_cpu_seconds();
    call();
    best_cpu = std::min(best_cpu, thread_cpu_seconds() - c0);
    best = std::min(best, t.seconds());
  }
  return {work / best, work / best_cpu};
}

// 2048^3 sgemm through the wrapper (the wall figure is what measure_sgemm_gflops reports).
Rate sgemm_reference() {
  static const Rate r = [] {
    const int n = 2048;
    auto a = random_vec(static_cast<std::size_t>(n) * n, 100);
    auto b = random_vec(a.size(), 101);
    std::vector<float> c(a.size());
    return best_rate(2e-9 * n * n * static_cast<double>(n), 3, [&] {
      k::gemm(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    });
  }();
  return r;
}

// a = b + s * c over 16M floats each: 12 bytes per element moved (best of 5), GB/s.
Rate triad_reference() {
  static const Rate r = [] {
    const long n = 1L << 24;
    std::vector<float> a(n), b(n, 1.0f), c(n, 2.0f);
    return best_rate(12e-9 * n, 5, [&] {
#pragma omp parallel for simd schedule(static)
      for (long i = 0; i < n; ++i) a[i] = b[i] + 0.5f * c[i];
      benchmark::DoNotOptimize(a.data());
    });
  }();
  return r;
}

// Runs `body` for the benchmark's iterations, then sets the rate counters from wall time.
template <typename F>
void timed_loop(benchmark::State& state, double flops, double bytes, F&& body) {
  harpe::Timer t;
  const double c0 = thread_cpu_seconds();
  for (auto _ : state) body();
  const double iters = static_cast<double>(state.iterations());
  const double sec = t.seconds() / iters, cpu = (thread_cpu_seconds() - c0) / iters;
  if (flops > 0) {
    state.counters["GFLOPs"] = flops / sec * 1e-9;
    state.counters["vs_sgemm"] = flops / sec * 1e-9 / sgemm_reference().wall;
    state.counters["GFLOPs_cpu"] = flops / cpu * 1e-9;
    state.counters["vs_sgemm_cpu"] = flops / cpu * 1e-9 / sgemm_reference().cpu;
  }
  if (bytes > 0) {
    state.counters["GBps"] = bytes / sec * 1e-9;
    state.counters["vs_triad"] = bytes / sec * 1e-9 / triad_reference().wall;
    state.counters["GBps_cpu"] = bytes / cpu * 1e-9;
    state.counters["vs_triad_cpu"] = bytes / cpu * 1e-9 / triad_reference().cpu;
  }
}

void BM_Triad(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(0);
  state.counters["GBps"] = triad_reference().wall;
  state.counters["GBps_cpu"] = triad_reference().cpu;
}
BENCHMARK(BM_Triad)->Iterations(1);

void BM_SgemmSquare(benchmark::State& state) {
  state.counters["GFLOPs"] = sgemm_reference().wall;
  state.counters["GFLOPs_cpu"] = sgemm_reference().cpu;
  state.SetLabel(k::gemm_backend());
  for (auto _ : state) benchmark::DoNotOptimize(0);
}
BENCHMARK(BM_SgemmSquare)->Iterations(1);

// Linear layer y[T, out] = x[T, in] W^T and its two backward GEMMs, args (out, in, which):
// which 0 = forward (NT), 1 = dx = dy W (NN), 2 = dW += dy^T x (TN).
void BM_GemmLinear(benchmark::State& state) {
  const int out = static_cast<int>(state.range(0)), in = static_cast<int>(state.range(1));
  const int which = static_cast<int>(state.range(2));
  auto x = random_vec(static_cast<std::size_t>(kTokens) * in, 1);
  auto W = random_vec(static_cast<std::size_t>(out) * in, 2);
  auto y = random_vec(static_cast<std::size_t>(kTokens) * out, 3);
  auto dW = random_vec(static_cast<std::size_t>(out) * in, 4);
  const double flops = 2.0 * kTokens * out * in;
  timed_loop(state, flops, 0, [&] {
    if (which == 0)
      k::gemm(false, true, kTokens, out, in, 1.0f, x.data(), in, W.data(), in, 0.0f, y.data(), out);
    else if (which == 1)
      k::gemm(false, false, kTokens, in, out, 1.0f, y.data(), out, W.data(), in, 0.0f, x.data(),
              in);
    else
      k::gemm(true, false, out, in, kTokens, 1.0f, y.data(), out, x.data(), in, 1.0f, dW.data(),
              in);
  });
  state.SetLabel(which == 0 ? "fwd NT" : which == 1 ? "dx NN" : "dW TN");
}
BENCHMARK(BM_GemmLinear)
    ->ArgNames({"out", "in", "which"})
    ->ArgsProduct({{512}, {512}, {0, 1, 2}})
    ->ArgsProduct({{1376}, {512}, {0, 1, 2}})
    ->ArgsProduct({{512}, {1376}, {0, 1, 2}})
    ->UseRealTime();

// The three GEMMs of one lmhead_xent chunk (logits, dx, dW) at `rows` tokens: how small a chunk
// can be before GEMM efficiency drops (xent.cpp uses 256 rows for V = 8192).
void BM_XentChunkGemms(benchmark::State& state) {
  const int rows = static_cast<int>(state.range(0)), C = kHidden, V = kVocab;
  auto x = random_vec(static_cast<std::size_t>(rows) * C, 20);
  auto W = random_vec(static_cast<std::size_t>(V) * C, 21);
  std::vector<float> L(static_cast<std::size_t>(rows) * V), dx(x.size()), dW(W.size());
  timed_loop(state, 6.0 * rows * static_cast<double>(V) * C, 0, [&] {
    k::gemm(false, true, rows, V, C, 1.0f, x.data(), C, W.data(), C, 0.0f, L.data(), V);
    k::gemm(false, false, rows, C, V, 1.0f, L.data(), V, W.data(), C, 0.0f, dx.data(), C);
    k::gemm(true, false, V, C, rows, 1.0f, L.data(), V, x.data(), C, 1.0f, dW.data(), C);
  });
}
BENCHMARK(BM_XentChunkGemms)->ArgName("rows")->Arg(64)->Arg(128)->Arg(256)->Arg(512)->UseRealTime();

void BM_RmsNormForward(benchmark::State& state) {
  const int N = kTokens, C = kHidden;
  auto x = random_vec(static_cast<std::size_t>(N) * C, 5), w = random_vec(C, 6);
  std::vector<float> out(x.size()), rstd(N);
  // reads x, writes out (rstd and w negligible)
  timed_loop(state, 0, 8.0 * N * C,
             [&] { k::rmsnorm_forward(out.data(), rstd.data(), x.data(), w.data(), N, C, 1e-5f); });
}
BENCHMARK(BM_RmsNormForward)->UseRealTime();

void BM_RmsNormBackward(benchmark::State& state) {
  const int N = kTokens, C = kHidden;
  auto x = random_vec(static_cast<std::size_t>(N) * C, 7), w = random_vec(C, 8);
  auto g = random_vec(x.size(), 9);
  std::vector<float> out(x.size()), rstd(N), dx(x.size()), dw(C);
  k::rmsnorm_forward(out.data(), rstd.data(), x.data(), w.data(), N, C, 1e-5f);
  // dx pass: reads x, g, dx, writes dx (16 B); dw pass re-reads x and g (8 B)
  timed_loop(state, 0, 24.0 * N * C, [&] {
    k::rmsnorm_backward(dx.data(), dw.data(), g.data(), x.data(), w.data(), rstd.data(), N, C);
  });
}
BENCHMARK(BM_RmsNormBackward)->UseRealTime();

void BM_SwiGluForward(benchmark::State& state) {
  const std::size_t n = static_cast<std::size_t>(kTokens) * kFfn;
  auto gate = random_vec(n, 10), up = random_vec(n, 11);
  std::vector<float> out(n);
  timed_loop(state, 0, 12.0 * n, [&] { k::swiglu_forward(out.data(), gate.data(), up.data(), n); });
}
BENCHMARK(BM_SwiGluForward)->UseRealTime();

void BM_SwiGluBackward(benchmark::State& state) {
  const std::size_t n = static_cast<std::size_t>(kTokens) * kFfn;
  auto gate = random_vec(n, 12), up = random_vec(n, 13), d = random_vec(n, 14);
  std::vector<float> dg(n), du(n);
  timed_loop(state, 0, 20.0 * n, [&] {
    k::swiglu_backward(dg.data(), du.data(), d.data(), gate.data(), up.data(), n);
  });
}
BENCHMARK(BM_SwiGluBackward)->UseRealTime();

// arg 0: 1 = with gradients (3 GEMMs, 6 N V C flops), 0 = loss only (2 N V C flops).
void BM_LmHeadXent(benchmark::State& state) {
  const bool grad = state.range(0) != 0;
  const int N = kTokens, C = kHidden, V = kVocab;
  auto x = random_vec(static_cast<std::size_t>(N) * C, 15);
  auto W = random_vec(static_cast<std::size_t>(V) * C, 16);
  for (auto& w : W) w *= 0.05f;  // logits of a plausible size
  std::vector<int32_t> tg(N);
  for (int n = 0; n < N; ++n) tg[n] = (n * 7919) % V;
  std::vector<float> dx(x.size()), dW(W.size());
  const double flops = (grad ? 6.0 : 2.0) * N * static_cast<double>(V) * C;
  timed_loop(state, flops, 0, [&] {
    benchmark::DoNotOptimize(k::lmhead_xent(x.data(), W.data(), tg.data(), N, C, V,
                                            grad ? dx.data() : nullptr, grad ? dW.data() : nullptr,
                                            1.0f / N));
  });
}
BENCHMARK(BM_LmHeadXent)->ArgName("grad")->Arg(0)->Arg(1)->UseRealTime();

void BM_AdamW(benchmark::State& state) {
  const std::size_t n = 30'000'000;  // ~ the "small" preset's parameter count
  auto p = random_vec(n, 17), g = random_vec(n, 18);
  std::vector<float> m(n, 0.0f), v(n, 0.0f);
  long step = 0;
  // reads p, g, m, v; writes p, m, v: 28 bytes per parameter
  timed_loop(state, 0, 28.0 * n, [&] {
    k::adamw_step(p.data(), g.data(), m.data(), v.data(), n, 1e-4f, 0.9f, 0.95f, 1e-8f, 0.1f,
                  ++step);
  });
}
BENCHMARK(BM_AdamW)->UseRealTime();

void BM_SumSquares(benchmark::State& state) {
  const std::size_t n = 30'000'000;
  auto g = random_vec(n, 19);
  timed_loop(state, 0, 4.0 * n, [&] { benchmark::DoNotOptimize(k::sum_squares(g.data(), n)); });
}
BENCHMARK(BM_SumSquares)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();

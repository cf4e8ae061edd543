// Google Benchmark for the tiled causal attention: forward, backward, and forward+backward at a
// few context lengths (H = 8, D = 64, KV = 8 and GQA KV = 2). Counters report GFLOP/s by the
// convention of docs/attention.md (7 matmuls of 2*T*T*D per head, causal half). For the ratio
// to the same-process sgemm use `harpe bench attention`.
#include <benchmark/benchmark.h>

#include <random>

#include "core/buffer.h"
#include "kernels/attention.h"
#include "kernels/attention_internal.h"

namespace {

namespace k = harpe::kernels;

struct Tensors {
  explicit Tensors(const k::AttentionShape& s)
      : q(nq(s)),
        kk(nk(s)),
        v(nk(s)),
        out(nq(s)),
        dout(nq(s)),
        dq(nq(s)),
        dk(nk(s)),
        dv(nk(s)),
        lse(static_cast<std::size_t>(s.B) * s.H * s.T) {
    std::mt19937 gen(7);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (harpe::Buffer<float>* x : {&q, &kk, &v, &dout})
      for (float& e : *x) e = dist(gen);
  }
  static std::size_t nq(const k::AttentionShape& s) {
    return static_cast<std::size_t>(s.B) * s.T * s.H * s.D;
  }
  static std::size_t nk(const k::AttentionShape& s) {
    return static_cast<std::size_t>(s.B) * s.T * s.KV * s.D;
  }
  void forward(const k::AttentionShape& s) {
    k::attention_forward(out.data(), lse.data(), q.data(), kk.data(), v.data(), s);
  }
  void backward(const k::AttentionShape& s) {
    k::attention_backward(dq.data(), dk.data(), dv.data(), dout.data(), q.data(), kk.data(),
                          v.data(), out.data(), lse.data(), s);
  }
  harpe::Buffer<float> q, kk, v, out, dout, dq, dk, dv, lse;
};

k::AttentionShape shape_of(const benchmark::State& state) {
  return {1, static_cast<int>(state.range(0)), 8, static_cast<int>(state.range(1)), 64, 0};
}

void BM_AttentionForward(benchmark::State& state) {
  const k::AttentionShape s = shape_of(state);
  Tensors t(s);
  for (auto _ : state) t.forward(s);
  state.counters["GFLOPs"] = benchmark::Counter(k::attention_detail::flops_forward(s) * 1e-9,
                                                benchmark::Counter::kIsIterationInvariantRate);
}

void BM_AttentionBackward(benchmark::State& state) {
  const k::AttentionShape s = shape_of(state);
  Tensors t(s);
  t.forward(s);
  for (auto _ : state) t.backward(s);
  const double flops =
      k::attention_detail::flops_forward_backward(s) - k::attention_detail::flops_forward(s);
  state.counters["GFLOPs"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_AttentionForwardBackward(benchmark::State& state) {
  const k::AttentionShape s = shape_of(state);
  Tensors t(s);
  for (auto _ : state) {
    t.forward(s);
    t.backward(s);
  }
  state.counters["GFLOPs"] =
      benchmark::Counter(k::attention_detail::flops_forward_backward(s) * 1e-9,
                         benchmark::Counter::kIsIterationInvariantRate);
}

// Args: {T, KV}
BENCHMARK(BM_AttentionForward)
    ->Args({1024, 8})
    ->Args({4096, 8})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_AttentionBackward)
    ->Args({1024, 8})
    ->Args({4096, 8})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_AttentionForwardBackward)
    ->Args({1024, 8})
    ->Args({4096, 8})
    ->Args({4096, 2})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();

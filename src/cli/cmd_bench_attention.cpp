// `harpe bench attention`: times the tiled causal attention forward + backward and reports its
// GFLOP/s as a ratio to an sgemm measured in the same process (last line: vs_sgemm=<ratio>).
#include <omp.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <vector>

#include "cli/command.h"
#include "cli/precision_flag.h"
#include "core/buffer.h"
#include "core/error.h"
#include "core/timer.h"
#include "kernels/attention.h"
#include "kernels/attention_internal.h"
#include "kernels/gemm.h"

namespace {

struct Options {
  int context = 4096, heads = 8, kv_heads = 0, head_dim = 64, batch = 1, iters = 2;
  int sgemm_size = 2048;
  harpe::Precision precision = harpe::Precision::fp32;
};

// CPU seconds of the calling thread: on a machine shared with other jobs, work / this estimates
// the uncontended rate (the threads split the work evenly, so the caller is busy throughout).
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Caller-thread-CPU GFLOP/s of an n^3 sgemm through kernels::gemm, best of 3 after a warm-up.
double sgemm_gflops_cpu(int n) {
  std::vector<float> a(static_cast<std::size_t>(n) * n, 0.5f), b(a.size(), 0.25f), c(a.size());
  double best = 1e300;
  for (int rep = 0; rep < 4; ++rep) {
    const double c0 = thread_cpu_seconds();
    harpe::kernels::gemm(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    if (rep > 0) best = std::min(best, thread_cpu_seconds() - c0);
  }
  return 2.0 * n * n * static_cast<double>(n) / best * 1e-9;
}

void fill_random(harpe::Buffer<float>& x, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (float& e : x) e = dist(gen);
}

void run(const Options& o) {
  using harpe::check;
  namespace k = harpe::kernels;
  check(o.context >= 1, "--context must be >= 1, got ", o.context);
  check(o.heads >= 1, "--heads must be >= 1, got ", o.heads);
  check(o.head_dim >= 1, "--head-dim must be >= 1, got ", o.head_dim);
  check(o.batch >= 1, "--batch must be >= 1, got ", o.batch);
  check(o.iters >= 1, "--iters must be >= 1, got ", o.iters);
  check(o.sgemm_size >= 16, "--sgemm-size must be >= 16, got ", o.sgemm_size);
  const int kv = o.kv_heads > 0 ? o.kv_heads : o.heads;
  check(o.heads % kv == 0, "--kv-heads ", kv, " must divide --heads ", o.heads);
  const k::AttentionShape s{o.batch, o.context, o.heads, kv, o.head_dim, 0};

  // The sgemm yardstick is measured before and after the attention runs and the better one
  // kept: on a shared machine this makes the ratio conservative, never flattering.
  const double sgemm_before = k::measure_sgemm_gflops(o.sgemm_size);

  const std::size_t nq = static_cast<std::size_t>(s.B) * s.T * s.H * s.D;
  const std::size_t nk = static_cast<std::size_t>(s.B) * s.T * s.KV * s.D;
  harpe::Buffer<float> q(nq), kk(nk), v(nk), out(nq), dout(nq), dq(nq), dk(nk), dv(nk);
  harpe::Buffer<float> lse(static_cast<std::size_t>(s.B) * s.H * s.T);
  fill_random(q, 1);
  fill_random(kk, 2);
  fill_random(v, 3);
  fill_random(dout, 4);

  double best_fwd = 1e300, best_bwd = 1e300, best_total = 1e300, best_cpu = 1e300;
  const bool bf16_tiles = [&] {
    k::GemmPrecisionScope scope(o.precision);
    return k::attention_detail::bf16_active(s);
  }();
  for (int it = 0; it < o.iters; ++it) {
    k::GemmPrecisionScope scope(o.precision);  // the tiles' precision; the sgemm stays fp32
    const double c0 = thread_cpu_seconds();
    harpe::Timer t;
    k::attention_forward(out.data(), lse.data(), q.data(), kk.data(), v.data(), s);
    const double fwd = t.seconds();
    t.reset();
    k::attention_backward(dq.data(), dk.data(), dv.data(), dout.data(), q.data(), kk.data(),
                          v.data(), out.data(), lse.data(), s);
    const double bwd = t.seconds();
    best_cpu = std::min(best_cpu, thread_cpu_seconds() - c0);
    best_fwd = std::min(best_fwd, fwd);
    best_bwd = std::min(best_bwd, bwd);
    best_total = std::min(best_total, fwd + bwd);
  }
  const double sgemm = std::max(sgemm_before, k::measure_sgemm_gflops(o.sgemm_size));
  const double sgemm_cpu = sgemm_gflops_cpu(o.sgemm_size);
  const double flops = k::attention_detail::flops_forward_backward(s);
  const double fwd_flops = k::attention_detail::flops_forward(s);
  const double gflops = flops / best_total * 1e-9;
  std::printf("attention T=%d B=%d H=%d KV=%d D=%d threads=%d iters=%d precision=%s%s%s\n", s.T,
              s.B, s.H, s.KV, s.D, omp_get_max_threads(), o.iters,
              harpe::precision_name(o.precision),
              o.precision == harpe::Precision::bf16 && !bf16_tiles ? " (fp32 tiles here)" : "",
              k::attention_detail::vectorised() ? "" : " (generic fallback, no AVX-512)");
  std::printf("forward_s=%.4f (%.1f GFLOP/s)\n", best_fwd, fwd_flops / best_fwd * 1e-9);
  std::printf("backward_s=%.4f (%.1f GFLOP/s)\n", best_bwd, (flops - fwd_flops) / best_bwd * 1e-9);
  std::printf("flops=%.4g (7*B*H*T^2*D: 7 matmuls of 2*T^2*D, causal half)\n", flops);
  std::printf("attention_gflops=%.1f\n", gflops);
  std::printf("sgemm_gflops=%.1f (%dx%dx%d, %s, same process, best of before/after)\n", sgemm,
              o.sgemm_size, o.sgemm_size, o.sgemm_size, k::gemm_backend());
  // Contention-robust estimate (caller-thread CPU time on both sides); the figure that counts is
  // the wall-clock one on the last line.
  const double gflops_cpu = flops / best_cpu * 1e-9;
  std::printf(
      "cpu_time_estimate: attention_gflops_cpu=%.1f sgemm_gflops_cpu=%.1f vs_sgemm_cpu=%.3f\n",
      gflops_cpu, sgemm_cpu, gflops_cpu / sgemm_cpu);
  std::printf("vs_sgemm=%.3f\n", gflops / sgemm);
}

void setup(CLI::App& parent) {
  auto o = std::make_shared<Options>();
  CLI::App* cmd = parent.add_subcommand(
      "attention",
      "Time causal attention forward+backward; report GFLOP/s vs a same-process sgemm");
  cmd->add_option("--context", o->context, "Sequence length T")->capture_default_str();
  cmd->add_option("--heads", o->heads, "Query heads H")->capture_default_str();
  cmd->add_option("--kv-heads", o->kv_heads, "K/V heads (GQA; must divide --heads; 0 = --heads)")
      ->capture_default_str();
  cmd->add_option("--head-dim", o->head_dim, "Head dimension D")->capture_default_str();
  cmd->add_option("--batch", o->batch, "Batch size B")->capture_default_str();
  cmd->add_option("--iters", o->iters, "Timed forward+backward runs; the best is reported")
      ->capture_default_str();
  cmd->add_option("--sgemm-size", o->sgemm_size, "n of the n^3 sgemm used as the yardstick")
      ->capture_default_str();
  harpe::cli::add_precision_flag(cmd, o->precision,
                                 "Precision of the attention tile products (softmax stays fp32)");
  cmd->callback([o] { run(*o); });
}

}  // namespace

HARPE_COMMAND("bench", setup);

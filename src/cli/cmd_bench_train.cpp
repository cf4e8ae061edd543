// `harpe bench train`: training throughput on random tokens, as model FLOP/s and as a ratio to the
// fp32 sgemm FLOP/s measured in the same process (and to the same-process bf16 bgemm), with what
// oneDNN dispatched. The last line is exactly `vs_sgemm=<ratio>`.
#include <cstdio>
#include <random>

#include "cli/command.h"
#include "cli/precision_flag.h"
#include "core/error.h"
#include "core/timer.h"
#include "kernels/gemm.h"
#include "model/config.h"
#include "train/trainer.h"

namespace {

struct Flags {
  std::string preset = "small";
  int context = 2048, batch = 1, steps = 5;
  bool recompute = false;
  harpe::Precision precision = harpe::Precision::fp32;
};

void setup(CLI::App& parent) {
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = parent.add_subcommand(
      "train",
      "Training-step throughput on random tokens: one warm-up step, then timed steps\n"
      "(forward, backward, clipping, AdamW). FLOPs/token = 6*N_matmul + 6*L*T*d_attn\n"
      "(causal attention counted at half; see docs/engine.md). Last line: vs_sgemm=<ratio>.");
  cmd->add_option("--preset", f->preset, "Model preset: micro, tiny, small")->capture_default_str();
  cmd->add_option("--context", f->context, "Tokens per sequence (T)")->capture_default_str();
  cmd->add_option("--batch", f->batch, "Sequences per step (B)")->capture_default_str();
  cmd->add_option("--steps", f->steps, "Timed steps after the warm-up step")->capture_default_str();
  cmd->add_flag("--recompute", f->recompute, "Recompute each layer's activations in backward");
  harpe::cli::add_precision_flag(cmd, f->precision,
                                 "Arithmetic of the GEMMs (bf16: bf16 inputs, fp32 accumulation)");
  cmd->callback([f] {
    using namespace harpe;
    check(f->steps > 0, "--steps must be positive, got ", f->steps);
    train::TrainOptions t;
    t.config = model::preset(f->preset);
    t.context = f->context;
    t.batch = f->batch;
    t.steps = f->steps + 1;
    t.recompute = f->recompute;
    t.precision = f->precision;
    t.schedule.peak = 1e-4;
    check(t.context > 0 && t.batch > 0, "--context and --batch must be positive");
    const model::MemoryEstimate mem =
        model::estimate_training_memory(t.config, t.batch, t.context, t.recompute);
    const std::size_t avail = available_memory_bytes();
    std::printf("model: %s\n", model::describe(t.config).c_str());
    std::printf("precision: %s (%s); oneDNN: fp32 %s, bf16 %s\n", precision_name(t.precision),
                cpu_bf16_features().c_str(), kernels::gemm_isa(Precision::fp32).c_str(),
                kernels::gemm_isa(Precision::bf16).c_str());
    std::printf("shape: batch %d x context %d, %s; memory estimate %s (activations %s)\n", t.batch,
                t.context, t.recompute ? "recompute" : "no recompute",
                format_bytes(double(mem.total())).c_str(),
                format_bytes(double(mem.activations)).c_str());
    std::fflush(stdout);
    check(avail == 0 || mem.total() <= avail, "not enough memory: needs ",
          format_bytes(double(mem.total())), ", ", format_bytes(double(avail)),
          " available; try --recompute or a smaller --context");

    const std::size_t n = static_cast<std::size_t>(t.batch) * t.context * (f->steps + 1) + 1;
    std::vector<int32_t> tokens(n);
    std::mt19937 gen(1);
    for (auto& x : tokens)
      x = static_cast<int32_t>(gen() % static_cast<unsigned>(t.config.vocab_size));
    train::Trainer trainer(t, train::TokenWindows::from_tokens(std::move(tokens), "random"));

    const train::StepResult warm = trainer.step();
    std::printf("warm-up step: %.2f s (loss %.4f)\n", warm.seconds, warm.loss);
    std::fflush(stdout);
    Timer timer;
    for (int s = 0; s < f->steps; ++s) {
      const train::StepResult r = trainer.step();
      std::printf("step %d: %.2f s (loss %.4f)\n", s + 1, r.seconds, r.loss);
      std::fflush(stdout);
    }
    const double secs = timer.seconds();
    const double toks = static_cast<double>(trainer.tokens_per_step()) * f->steps;
    const double fpt = model::flops_per_token(t.config, t.context);
    const double gflops = toks * fpt / secs / 1e9;
    std::printf("tokens/s: %.1f\n", toks / secs);
    std::printf("model FLOPs/token: %.4g (6*N_matmul + 6*L*T*d_attn, N_matmul=%ld)\n", fpt,
                t.config.matmul_parameter_count());
    std::printf("model GFLOP/s: %.2f\n", gflops);
    const double sgemm = kernels::measure_gemm_gflops(Precision::fp32, 2048);
    std::printf("sgemm 2048^3 GFLOP/s (%s, same process): %.2f\n", kernels::gemm_backend(), sgemm);
    const double bgemm = kernels::measure_gemm_gflops(Precision::bf16, 2048);
    std::printf("bgemm 2048^3 GFLOP/s (bf16 inputs, fp32 accumulation, same process): %.2f\n",
                bgemm);
    std::printf("bgemm/sgemm: %.3f; model vs bgemm: %.3f\n", bgemm / sgemm, gflops / bgemm);
    std::printf("vs_sgemm=%.3f\n", gflops / sgemm);
  });
}

}  // namespace

HARPE_COMMAND("bench", setup);

// `harpe train`: train a Llama-style model on a token shard (see docs/engine.md).
#include <cstdio>

#include "cli/command.h"
#include "core/error.h"
#include "model/config.h"
#include "train/trainer.h"

namespace {

struct Flags {
  std::string preset, config, data, out, schedule = "cosine";
  int context = 256, batch = 8, grad_accum = 1, log_every = 1, context_parallel = 1;
  long steps = 100, warmup = 20, save_every = 0;
  double lr = 3e-4, min_lr_ratio = 0.1, clip = 1.0, weight_decay = 0.1;
  bool recompute = false, resume = false, distributed = false;
  unsigned long long seed = 1337;
};

void setup(CLI::App& parent) {
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = parent.add_subcommand(
      "train",
      "Train a Llama-style model on a token shard.\n"
      "Writes OUT/checkpoint/ (config.json, model.safetensors, optimizer.safetensors,\n"
      "trainer_state.json) atomically, and OUT/metrics.jsonl (one JSON object per step).");
  cmd->add_option("--preset", f->preset, "Model preset: micro, tiny (~5M), small (~30M)");
  cmd->add_option("--config", f->config, "Model from an HF config.json instead of a preset")
      ->check(CLI::ExistingFile);
  cmd->add_option("--data", f->data, "Token shard to train on (harpe data shard)")->required();
  cmd->add_option("--out", f->out, "Run directory (checkpoint/ and metrics.jsonl)")->required();
  cmd->add_option("--context", f->context, "Tokens per sequence")->capture_default_str();
  cmd->add_option("--batch", f->batch, "Sequences per micro-batch")->capture_default_str();
  cmd->add_option("--grad-accum", f->grad_accum, "Micro-batches per optimizer step")
      ->capture_default_str();
  cmd->add_option("--steps", f->steps, "Optimizer steps (total, including resumed ones)")
      ->capture_default_str();
  cmd->add_option("--lr", f->lr, "Peak learning rate")->capture_default_str();
  cmd->add_option("--warmup", f->warmup, "Linear warmup steps")->capture_default_str();
  cmd->add_option("--schedule", f->schedule, "LR after warmup: cosine (to lr * min-lr-ratio) or constant")
      ->capture_default_str();
  cmd->add_option("--min-lr-ratio", f->min_lr_ratio, "Final LR of the cosine schedule, relative to --lr")
      ->capture_default_str();
  cmd->add_option("--clip", f->clip, "Global gradient-norm clip (0: off)")->capture_default_str();
  cmd->add_option("--weight-decay", f->weight_decay, "AdamW decoupled weight decay (not on norms)")
      ->capture_default_str();
  cmd->add_flag("--recompute", f->recompute,
                "Keep only each layer's input and recompute the layer in backward (long contexts)");
  cmd->add_option("--save-every", f->save_every, "Checkpoint every n steps (0: only at the end)")
      ->capture_default_str();
  cmd->add_flag("--resume", f->resume, "Continue OUT/checkpoint (same --batch/--context/--grad-accum)");
  cmd->add_option("--seed", f->seed, "Initialisation seed")->capture_default_str();
  cmd->add_flag("--distributed", f->distributed,
                "Require data-parallel training over MPI: start with mpirun -np R harpe train ...;\n"
                "each rank takes batch/R sequences of every micro-batch (batch must divide by R),\n"
                "gradients are summed over ranks, rank 0 alone prints and writes. Without this flag\n"
                "an mpirun launch is detected anyway; a build without MPI refuses both");
  cmd->add_option("--context-parallel", f->context_parallel,
                  "Split every sequence over C ranks (ring attention; implies --distributed):\n"
                  "rank r of a group holds chunks r and 2C-1-r of the 2C chunks of each sequence;\n"
                  "C must divide the rank count (R = data-parallel x C) and --context must divide\n"
                  "by 2C")
      ->capture_default_str();
  cmd->add_option("--log-every", f->log_every, "Print a progress line every n steps")
      ->capture_default_str();
  cmd->callback([f] {
    using namespace harpe;
    train::RunOptions run;
    train::TrainOptions& t = run.train;
    if (!f->resume) {
      check(f->preset.empty() != f->config.empty(), "give exactly one of --preset or --config");
      t.config = f->config.empty() ? model::preset(f->preset) : model::read_hf_config(f->config);
    }
    check(f->log_every > 0, "--log-every must be positive, got ", f->log_every);
    check(f->save_every >= 0, "--save-every must be >= 0, got ", f->save_every);
    check(f->clip >= 0, "--clip must be >= 0, got ", f->clip);
    check(f->min_lr_ratio >= 0 && f->min_lr_ratio <= 1, "--min-lr-ratio must lie in [0, 1], got ",
          f->min_lr_ratio);
    t.context = f->context;
    t.batch = f->batch;
    t.grad_accum = f->grad_accum;
    t.steps = f->steps;
    t.schedule.kind = train::parse_schedule(f->schedule);
    t.schedule.peak = f->lr;
    t.schedule.warmup = f->warmup;
    t.schedule.min_ratio = f->min_lr_ratio;
    t.adamw.weight_decay = f->weight_decay;
    t.clip = f->clip;
    t.recompute = f->recompute;
    t.seed = f->seed;
    run.data_path = f->data;
    run.out_dir = f->out;
    run.save_every = f->save_every;
    run.resume = f->resume;
    run.log_every = f->log_every;
    t.context_parallel = f->context_parallel;
    run.require_mpi = f->distributed || f->context_parallel > 1;
    train::run_training(run);
  });
}

}  // namespace

HARPE_COMMAND("", setup);

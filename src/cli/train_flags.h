// The training flags `harpe train` and `harpe pretrain` share (model, data, batch, schedule,
// AdamW, checkpoints, MPI), declared once so both commands spell and check them alike.
#pragma once

#include <CLI/CLI.hpp>
#include <cmath>
#include <string>

#include "cli/precision_flag.h"
#include "cli/weights_flags.h"
#include "core/error.h"
#include "model/config.h"
#include "train/run.h"
#include "train/trainer.h"

namespace harpe::cli {

struct TrainFlags {
  std::string preset, config, data, out, schedule = "cosine", loss = "all", override_keys;
  int context = 256, batch = 8, grad_accum = 1, log_every = 1;
  long steps = -1, warmup = 20, save_every = 0, keep_every = 0;  // steps -1: not given
  long long tokens = -1;  // budget instead of steps; -1: not given
  double lr = 3e-4, min_lr_ratio = 0.1, clip = 1.0, weight_decay = 0.1;
  bool recompute = false, resume = false, distributed = false;
  Precision precision = Precision::fp32;  // set by --precision (default: auto)
  unsigned long long seed = 1337, data_seed = 0;
  model::WeightsFormat weights;  // --dtype, --max-shard-size (weights_flags.h)
  bool export_model = false;
};

inline const char* kLossHelp =
    "Which targets the loss scores: all (every next token) or answers (only the tokens the\n"
    "shard's loss mask marks, e.g. the answers of `harpe data recall`; the loss is their mean)";

inline const char* kDistributedHelp =
    "Require data-parallel training over MPI: start with mpirun -np R harpe ...; each rank takes\n"
    "batch/R sequences of every micro-batch (batch must divide by R), gradients are summed over\n"
    "ranks, rank 0 alone prints and writes. Without this flag an mpirun launch is detected\n"
    "anyway; a build without MPI refuses both";

inline const char* kPrecisionHelp =
    "Arithmetic of the GEMMs: bf16 (inputs rounded to bf16, fp32 accumulation; master weights,\n"
    "AdamW state, softmax, norms and loss stay fp32) or fp32. Recorded in run_config.json as\n"
    "train.precision; --resume with another precision needs --override train.precision";

inline void add_train_flags(CLI::App* cmd, TrainFlags& f) {
  cmd->add_option("--preset", f.preset, "Model preset: micro, tiny (~5M), small (~30M)");
  cmd->add_option("--config", f.config, "Model from an HF config.json instead of a preset")
      ->check(CLI::ExistingFile);
  cmd->add_option("--data", f.data, "Token shard to train on (harpe data shards)")->required();
  cmd->add_option("--out", f.out, "Run directory (checkpoint/, metrics.jsonl)")->required();
  cmd->add_option("--context", f.context, "Tokens per training sequence")->capture_default_str();
  cmd->add_option("--batch", f.batch, "Sequences per micro-batch")->capture_default_str();
  cmd->add_option("--grad-accum", f.grad_accum, "Micro-batches per optimizer step")
      ->capture_default_str();
  cmd->add_option("--steps", f.steps, "Optimizer steps (total, including resumed ones)");
  cmd->add_option("--tokens", f.tokens,
                  "Token budget instead of --steps: steps = ceil(N / (batch * context * accum))");
  cmd->add_option("--lr", f.lr, "Peak learning rate")->capture_default_str();
  cmd->add_option("--warmup", f.warmup, "Linear warmup steps")->capture_default_str();
  cmd->add_option("--schedule", f.schedule,
                  "LR after warmup: cosine (to lr * min-lr-ratio) or constant")
      ->capture_default_str();
  cmd->add_option("--min-lr-ratio", f.min_lr_ratio,
                  "Final LR of the cosine schedule, relative to --lr")
      ->capture_default_str();
  cmd->add_option("--clip", f.clip, "Global gradient-norm clip (0: off)")->capture_default_str();
  cmd->add_option("--weight-decay", f.weight_decay, "AdamW decoupled weight decay (not on norms)")
      ->capture_default_str();
  cmd->add_flag("--recompute", f.recompute,
                "Keep only each layer's input and recompute the layer in backward (long contexts)");
  add_precision_flag(cmd, f.precision, kPrecisionHelp);
  cmd->add_option("--save-every", f.save_every, "Checkpoint every n steps (0: only at the end)")
      ->capture_default_str();
  cmd->add_option("--keep-every", f.keep_every,
                  "Also keep the model every n steps as OUT/step-N (for learning curves; 0: off)")
      ->capture_default_str();
  cmd->add_flag(
      "--resume", f.resume,
      "Continue OUT/checkpoint; the flags must match OUT/run_config.json (see --override)");
  cmd->add_option("--override", f.override_keys,
                  "With --resume: run_config keys allowed to change, comma-separated (e.g. "
                  "train.lr,data); the new values are recorded");
  cmd->add_option("--seed", f.seed, "Initialisation seed")->capture_default_str();
  cmd->add_option("--data-seed", f.data_seed, "Seed of the shard's document order")
      ->capture_default_str();
  cmd->add_option("--loss", f.loss, kLossHelp)
      ->check(CLI::IsMember({"all", "answers"}))
      ->capture_default_str();
  cmd->add_flag("--distributed", f.distributed, kDistributedHelp);
  add_weights_flags(cmd, f.weights, f.export_model);
  cmd->add_option("--log-every", f.log_every, "Print a progress line every n steps")
      ->capture_default_str();
}

// Checks the flags and fills `t` (the model config only for a fresh run: a resumed one reads
// the checkpoint's). `default_steps` applies when neither --steps nor --tokens is given.
inline void apply_train_flags(const TrainFlags& f, train::TrainOptions& t, long default_steps = 0) {
  if (!f.resume) {
    check(f.preset.empty() != f.config.empty(), "give exactly one of --preset or --config");
    t.config = f.config.empty() ? model::preset(f.preset) : model::read_hf_config(f.config);
  }
  check(f.steps == -1 || f.steps > 0, "--steps must be positive, got ", f.steps);
  check(f.tokens == -1 || f.tokens > 0, "--tokens must be positive, got ", f.tokens);
  check(f.warmup >= 0, "--warmup must be >= 0, got ", f.warmup);
  check(std::isfinite(f.lr) && f.lr > 0, "--lr must be a finite positive number, got ", f.lr);
  check(std::isfinite(f.weight_decay) && f.weight_decay >= 0 && f.weight_decay < 10,
        "--weight-decay must be finite and in [0, 10), got ", f.weight_decay);
  check(std::isfinite(f.clip), "--clip must be finite, got ", f.clip);
  check(std::isfinite(f.min_lr_ratio), "--min-lr-ratio must be finite, got ", f.min_lr_ratio);
  check(f.override_keys.empty() || f.resume, "--override applies to --resume only");
  check(f.context > 0, "--context must be positive, got ", f.context);
  check(f.batch > 0, "--batch must be positive, got ", f.batch);
  check(f.grad_accum > 0, "--grad-accum must be positive, got ", f.grad_accum);
  check(f.log_every > 0, "--log-every must be positive, got ", f.log_every);
  check(f.save_every >= 0, "--save-every must be >= 0, got ", f.save_every);
  check(f.keep_every >= 0, "--keep-every must be >= 0, got ", f.keep_every);
  check(f.clip >= 0, "--clip must be >= 0, got ", f.clip);
  check(f.min_lr_ratio >= 0 && f.min_lr_ratio <= 1, "--min-lr-ratio must lie in [0, 1], got ",
        f.min_lr_ratio);
  check(!(f.steps > 0 && f.tokens > 0), "give one budget: --steps S or --tokens N, not both");
  const unsigned long long tokens = f.tokens > 0 ? static_cast<unsigned long long>(f.tokens) : 0;
  const unsigned long long per_step = static_cast<unsigned long long>(f.batch) *
                                      static_cast<unsigned long long>(f.context) *
                                      static_cast<unsigned long long>(f.grad_accum);
  t.steps = f.steps > 0  ? f.steps
            : tokens > 0 ? static_cast<long>((tokens + per_step - 1) / per_step)
                         : default_steps;
  check(t.steps > 0, "give a budget: --steps S or --tokens N");
  t.context = f.context;
  t.batch = f.batch;
  t.grad_accum = f.grad_accum;
  t.schedule.kind = train::parse_schedule(f.schedule);
  t.schedule.peak = f.lr;
  t.schedule.warmup = f.warmup;
  t.schedule.min_ratio = f.min_lr_ratio;
  t.adamw.weight_decay = f.weight_decay;
  t.clip = f.clip;
  t.recompute = f.recompute;
  t.precision = f.precision;
  t.seed = f.seed;
  t.data_seed = f.data_seed;
  t.answers_only = f.loss == "answers";
}

// The run-level flags (where, resume, hooks) of `harpe train` and `harpe pretrain`.
inline void apply_run_flags(const TrainFlags& f, train::PretrainOptions& po) {
  po.data_path = f.data;
  po.out_dir = f.out;
  po.resume = f.resume;
  po.override_keys = f.override_keys;
  po.hooks.save_every = f.save_every;
  po.hooks.keep_every = f.keep_every;
  po.hooks.log_every = f.log_every;
  po.hooks.distributed = f.distributed;
  po.hooks.weights = f.weights;
  po.hooks.export_model = f.export_model;
}

}  // namespace harpe::cli

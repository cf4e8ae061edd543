// `harpe pretrain`: train a base model from scratch at a short context C0 (docs/extend.md).
#include <cstdio>
#include <cstdlib>

#include "cli/command.h"
#include "core/error.h"
#include "model/config.h"
#include "train/extend.h"

namespace {

struct Flags {
  std::string preset, config, data, out, schedule = "cosine", tokenizer;
  int context = 256, batch = 8, grad_accum = 1, log_every = 1;
  long steps = 0, warmup = 20, save_every = 0;
  unsigned long long tokens = 0;
  double lr = 3e-4, min_lr_ratio = 0.1, clip = 1.0, weight_decay = 0.1, rope_base = 10000;
  bool recompute = false, resume = false, quiet = false;
  unsigned long long seed = 1337;
};

void setup(CLI::App& parent) {
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = parent.add_subcommand(
      "pretrain",
      "Train a base model from scratch at a short context C0 (plain RoPE, base 10000 by default),\n"
      "the starting point of `harpe extend`. Writes OUT/checkpoint/ (config.json with\n"
      "max_position_embeddings = C0, model.safetensors, optimizer.safetensors, trainer_state.json,\n"
      "tokenizer.model when --tokenizer is given), OUT/metrics.jsonl and OUT/run_config.json.\n"
      "Ctrl-C (SIGINT) or SIGTERM saves the checkpoint after the current step; --resume continues.");
  cmd->add_option("--preset", f->preset, "Model preset: micro, tiny (~5M), small (~30M)");
  cmd->add_option("--config", f->config, "Model from an HF config.json instead of a preset")
      ->check(CLI::ExistingFile);
  cmd->add_option("--data", f->data, "Token shard to train on (harpe data shard)")->required();
  cmd->add_option("--out", f->out, "Run directory (checkpoint/, metrics.jsonl, run_config.json)")
      ->required();
  cmd->add_option("--context", f->context, "Training context C0 (tokens per sequence)")
      ->capture_default_str();
  cmd->add_option("--rope-base", f->rope_base, "RoPE base (rope_theta) of the new model")
      ->capture_default_str();
  cmd->add_option("--batch", f->batch, "Sequences per micro-batch")->capture_default_str();
  cmd->add_option("--grad-accum", f->grad_accum, "Micro-batches per optimizer step")
      ->capture_default_str();
  cmd->add_option("--steps", f->steps, "Optimizer steps (total, including resumed ones)");
  cmd->add_option("--tokens", f->tokens,
                  "Token budget instead of --steps: steps = ceil(N / (batch * context * accum))");
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
                "Keep only each layer's input and recompute the layer in backward (saves memory)");
  cmd->add_option("--save-every", f->save_every, "Checkpoint every n steps (0: only at the end)")
      ->capture_default_str();
  cmd->add_flag("--resume", f->resume, "Continue OUT/checkpoint (same --batch/--context/--grad-accum)");
  cmd->add_option("--seed", f->seed, "Initialisation seed")->capture_default_str();
  cmd->add_option("--log-every", f->log_every, "Print a progress line every n steps")
      ->capture_default_str();
  cmd->add_option("--tokenizer", f->tokenizer,
                  "tokenizer.model to copy into every checkpoint (so `harpe generate --model "
                  "OUT/checkpoint` works)");
  cmd->add_flag("--quiet", f->quiet, "No progress lines");
  cmd->callback([f] {
    using namespace harpe;
    train::PretrainOptions po;
    train::TrainOptions& t = po.train;
    if (!f->resume) {
      check(f->preset.empty() != f->config.empty(), "give exactly one of --preset or --config");
      t.config = f->config.empty() ? model::preset(f->preset) : model::read_hf_config(f->config);
      check(f->rope_base > 1, "--rope-base must be > 1, got ", f->rope_base);
      t.config.rope = rope::RopeSpec{};
      t.config.rope.base = f->rope_base;
      t.config.rope_scaling_extra.clear();
    }
    check(f->context > 0, "--context must be positive, got ", f->context);
    check(f->batch > 0, "--batch must be positive, got ", f->batch);
    check(f->grad_accum > 0, "--grad-accum must be positive, got ", f->grad_accum);
    check(f->log_every > 0, "--log-every must be positive, got ", f->log_every);
    check(f->save_every >= 0, "--save-every must be >= 0, got ", f->save_every);
    check(f->clip >= 0, "--clip must be >= 0, got ", f->clip);
    check(f->min_lr_ratio >= 0 && f->min_lr_ratio <= 1, "--min-lr-ratio must lie in [0, 1], got ",
          f->min_lr_ratio);
    check((f->steps > 0) != (f->tokens > 0), "give exactly one budget: --steps S or --tokens N");
    const unsigned long long per_step =
        static_cast<unsigned long long>(f->batch) * f->context * f->grad_accum;
    t.context = f->context;
    t.batch = f->batch;
    t.grad_accum = f->grad_accum;
    t.steps = f->steps > 0 ? f->steps : static_cast<long>((f->tokens + per_step - 1) / per_step);
    t.schedule.kind = train::parse_schedule(f->schedule);
    t.schedule.peak = f->lr;
    t.schedule.warmup = f->warmup;
    t.schedule.min_ratio = f->min_lr_ratio;
    t.adamw.weight_decay = f->weight_decay;
    t.clip = f->clip;
    t.recompute = f->recompute;
    t.seed = f->seed;
    po.data_path = f->data;
    po.out_dir = f->out;
    po.resume = f->resume;
    po.hooks.save_every = f->save_every;
    po.hooks.log_every = f->log_every;
    po.hooks.tokenizer = f->tokenizer;
    po.hooks.quiet = f->quiet;
    if (train::run_pretrain(po) == train::RunEnd::interrupted) {
      std::fflush(stdout);
      std::exit(130);  // interrupted: the checkpoint is saved (the message is printed)
    }
  });
}

}  // namespace

HARPE_COMMAND("", setup);

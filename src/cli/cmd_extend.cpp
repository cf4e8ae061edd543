// `harpe extend`: continue a checkpoint at a longer context with a context-extension method
// (docs/extend.md).
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <utility>

#include "cli/command.h"
#include "cli/train_flags.h"
#include "core/error.h"
#include "model/config.h"
#include "model/original_context.h"
#include "rope/scaling.h"
#include "train/checkpoint.h"
#include "train/extend.h"

namespace {

struct Flags {
  harpe::train::ExtendOptions o;
  unsigned long long tokens = 0;
  int head_dim = 0;
  bool print_settings = false;
  std::string loss = "all";
  unsigned long long data_seed = 0;
  // Raw text of the flags the library takes typed (parsed once, in the callback).
  std::string method, bases = "peak-valley", stages, stages_file, self_extend;
};

void print_settings(const Flags& f) {
  using namespace harpe;
  int c0 = f.o.original_context, d = f.head_dim;
  if (!f.o.from.empty()) {
    const std::string src = train::resolve_model_source(f.o.from);
    const model::ModelConfig cfg = model::read_hf_config(src + "/config.json");
    if (d <= 0) d = cfg.head_size();
    if (c0 <= 0) c0 = static_cast<int>(model::original_context(src, cfg).tokens);
  }
  check(c0 > 0, "--print-settings needs --from or --original-context");
  check(d > 0, "--print-settings needs --from or --head-dim");
  check(f.o.context > 0, "--print-settings needs --context (target length L)");
  std::fputs(train::describe_scaled_settings(rope::scaled_settings(c0, f.o.context, d)).c_str(),
             stdout);
}

void setup(CLI::App& parent) {
  auto f = std::make_shared<Flags>();
  harpe::train::ExtendOptions& o = f->o;
  CLI::App* cmd = parent.add_subcommand(
      "extend",
      "Extend a checkpoint's context from C0 (its trained context) to L by continued training\n"
      "with a new RoPE table. Methods (--method):\n"
      "  pi     position interpolation, factor L/C0 (--factor)\n"
      "  abf    adjusted base frequency: one larger base (--abf-base); with --stages a\n"
      "         multi-stage schedule, each stage continuing from the previous one's weights\n"
      "         and AdamW state\n"
      "  ntk    NTK-aware base scaling, factor L/C0 (--factor)\n"
      "  yarn   YaRN, factor L/C0, original context C0 (--factor, --beta-fast, --beta-slow)\n"
      "  harpe  per-head bases (--bases uniform | uniform-desc | peak-valley | b1,b2,...)\n"
      "Defaults come from the scaled-settings rule (the paper's 4k->128k, d=128 values mapped to\n"
      "this C0, L and head dim; see --print-settings and docs/extend.md). The method and its\n"
      "parameters go into OUT/checkpoint/config.json, so the checkpoint alone rebuilds its RoPE\n"
      "table. Writes OUT/run_config.json (every resolved setting), OUT/metrics.jsonl, and for\n"
      "multi-stage runs OUT/stageK/ after each stage. Ctrl-C, SIGTERM or SIGHUP saves the\n"
      "checkpoint after the current step and exits 130; --resume continues.");
  cmd->add_option("--from", o.from,
                  "Source checkpoint: a checkpoint or model dir, or a run dir holding checkpoint/");
  cmd->add_option("--data", o.data_path, "Token shard to train on");
  cmd->add_option("--out", o.out_dir,
                  "Run directory (checkpoint/, metrics.jsonl, run_config.json)");
  cmd->add_option("--method", f->method, "pi | abf | ntk | yarn | harpe");
  cmd->add_option("--context", o.context, "Target context L (tokens per training sequence)");
  cmd->add_option("--original-context", o.original_context,
                  "C0; default: the source's trained context (trainer_state.json), else its "
                  "max_position_embeddings");
  cmd->add_option("--factor", o.factor, "pi/ntk/yarn scale factor; default L/C0 (paper: 32)");
  cmd->add_option("--abf-base", o.abf_base, "abf base; default scaled from the paper's 5e6");
  cmd->add_option("--beta-fast", o.beta_fast, "yarn beta_fast")->capture_default_str();
  cmd->add_option("--beta-slow", o.beta_slow, "yarn beta_slow")->capture_default_str();
  cmd->add_option("--bases", f->bases,
                  "harpe: uniform | uniform-desc | peak-valley (over [bases-min, bases-max]) or "
                  "an explicit list b1,b2,... (one per KV head or per head)")
      ->capture_default_str();
  cmd->add_option("--bases-min", o.bases_min, "harpe b_min; default scaled from the paper's 1e6");
  cmd->add_option("--bases-max", o.bases_max, "harpe b_max; default scaled from the paper's 5e6");
  cmd->add_option("--bases-stride", o.bases_stride,
                  "peak-valley candidate stride; default keeps the paper's candidate count "
                  "((5e6-1e6)/30k)");
  cmd->add_option("--stages", f->stages,
                  "abf multi-stage schedule: base=B1:len=L1:tokens=N1,base=B2:len=L2:steps=S2,...\n"
                  "(last len = --context), or 'scaled' for the paper's 3 stages scaled (needs "
                  "--tokens/--steps, split evenly)");
  cmd->add_option("--stages-file", f->stages_file,
                  "abf schedule from a file: one base=..:len=..:tokens=.. per line, # comments");
  cmd->add_option("--self-extend", f->self_extend,
                  "Self-Extend W,G for inference, recorded in run_config.json; default scaled "
                  "from the paper's 1024,32");
  cmd->add_option("--tokens", f->tokens, "Token budget (steps = ceil(N / (batch * L * accum)))");
  cmd->add_option("--steps", o.steps, "Step budget instead of --tokens");
  cmd->add_option("--batch", o.batch, "Sequences per micro-batch")->capture_default_str();
  cmd->add_option("--grad-accum", o.grad_accum, "Micro-batches per optimizer step")
      ->capture_default_str();
  cmd->add_option("--lr", o.lr,
                  "Peak learning rate (paper: 2e-5 for 7B; our default for small models)")
      ->capture_default_str();
  cmd->add_option("--warmup", o.warmup, "Warmup steps; -1: 5% of the steps (at least 1)")
      ->capture_default_str();
  cmd->add_option("--schedule", o.schedule, "LR after warmup: constant (paper) or cosine")
      ->capture_default_str();
  cmd->add_option("--min-lr-ratio", o.min_lr_ratio, "Final LR of the cosine schedule / --lr")
      ->capture_default_str();
  cmd->add_option("--beta1", o.beta1, "AdamW beta1")->capture_default_str();
  cmd->add_option("--beta2", o.beta2, "AdamW beta2")->capture_default_str();
  cmd->add_option("--weight-decay", o.weight_decay, "AdamW weight decay (not on norms)")
      ->capture_default_str();
  cmd->add_option("--clip", o.clip, "Global gradient-norm clip (0: off)")->capture_default_str();
  cmd->add_flag("--recompute", o.recompute, "Recompute layers in backward (long contexts)");
  harpe::cli::add_precision_flag(cmd, o.precision, harpe::cli::kPrecisionHelp);
  cmd->add_option("--loss", f->loss, harpe::cli::kLossHelp)
      ->check(CLI::IsMember({"all", "answers"}))
      ->capture_default_str();
  cmd->add_option("--data-seed", f->data_seed, "Seed of the shard's document order")
      ->capture_default_str();
  cmd->add_option("--save-every", o.hooks.save_every, "Checkpoint every n steps (0: stage ends)")
      ->capture_default_str();
  cmd->add_option("--keep-every", o.hooks.keep_every,
                  "Also keep the model every n steps as OUT/step-N (0: off)")
      ->capture_default_str();
  cmd->add_option("--log-every", o.hooks.log_every, "Progress line every n steps")
      ->capture_default_str();
  harpe::cli::add_weights_flags(cmd, o.hooks.weights, o.hooks.export_model);
  cmd->add_flag("--resume", o.resume, "Continue OUT/checkpoint (same flags as the first run)");
  cmd->add_option("--override", o.override_keys,
                  "With --resume: run_config keys allowed to change, comma-separated (e.g. "
                  "train.lr,data); the new values are recorded");
  cmd->add_option("--tokenizer", o.tokenizer,
                  "tokenizer.model to copy into the checkpoints; default: the source's");
  cmd->add_option("--head-dim", f->head_dim, "--print-settings without --from: the head dim");
  cmd->add_flag("--print-settings", f->print_settings,
                "Print the scaled-settings rule for C0/L/head dim (paper vs scaled) and exit");
  cmd->add_flag("--quiet", o.hooks.quiet, "No progress lines");
  cmd->add_flag("--distributed", o.hooks.distributed, harpe::cli::kDistributedHelp);
  cmd->callback([f] {
    using namespace harpe;
    if (f->print_settings) {
      print_settings(*f);
      return;
    }
    f->o.tokens = f->tokens;
    // Every number finite; "0" means "the scaled default" for the method parameters, so a
    // negative or NaN one is an error instead of silently becoming the default.
    const std::pair<const char*, double> params[] = {{"--factor", f->o.factor},
                                                     {"--abf-base", f->o.abf_base},
                                                     {"--bases-min", f->o.bases_min},
                                                     {"--bases-max", f->o.bases_max},
                                                     {"--bases-stride", f->o.bases_stride}};
    for (const auto& [flag, v] : params)
      check(std::isfinite(v) && v >= 0, flag, " must be a finite positive number, got ", v);
    const std::pair<const char*, double> others[] = {{"--lr", f->o.lr},
                                                     {"--beta-fast", f->o.beta_fast},
                                                     {"--beta-slow", f->o.beta_slow},
                                                     {"--clip", f->o.clip},
                                                     {"--weight-decay", f->o.weight_decay},
                                                     {"--min-lr-ratio", f->o.min_lr_ratio},
                                                     {"--beta1", f->o.beta1},
                                                     {"--beta2", f->o.beta2}};
    for (const auto& [flag, v] : others) check(std::isfinite(v), flag, " must be finite, got ", v);
    check(f->o.override_keys.empty() || f->o.resume, "--override applies to --resume only");
    f->o.answers_only = f->loss == "answers";
    f->o.data_seed = f->data_seed;
    check(!f->o.from.empty(), "--from is required");
    check(!f->method.empty(), "--method is required (", rope::method_list(), ")");
    f->o.method = rope::parse_method(f->method);
    if (f->bases == "uniform" || f->bases == "uniform-desc" || f->bases == "peak-valley")
      f->o.base_strategy = rope::parse_base_strategy(f->bases);
    else
      f->o.bases = train::parse_base_list(f->bases);
    check(f->stages.empty() || f->stages_file.empty(), "give --stages or --stages-file, not both");
    if (f->stages == "scaled")
      f->o.scaled_stages = true;
    else if (!f->stages.empty())
      f->o.stages = train::parse_stages(f->stages);
    else if (!f->stages_file.empty())
      f->o.stages = train::read_stages_file(f->stages_file);
    if (!f->self_extend.empty()) f->o.self_extend = rope::parse_position_map(f->self_extend);
    check(f->o.hooks.log_every > 0, "--log-every must be positive, got ", f->o.hooks.log_every);
    check(f->o.hooks.save_every >= 0, "--save-every must be >= 0, got ", f->o.hooks.save_every);
    if (train::run_extend(f->o) == train::RunEnd::interrupted) {
      std::fflush(stdout);
      std::exit(130);  // interrupted: the checkpoint is saved (the message is printed)
    }
  });
}

}  // namespace

HARPE_COMMAND("", setup);

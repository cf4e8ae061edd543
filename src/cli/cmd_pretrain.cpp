// `harpe pretrain`: train a base model from scratch at a short context C0 (docs/extend.md).
#include <cstdio>
#include <cstdlib>

#include "cli/command.h"
#include "cli/train_flags.h"
#include "core/error.h"
#include "model/config.h"
#include "train/run.h"

namespace {

struct Flags {
  harpe::cli::TrainFlags train;
  std::string tokenizer;
  double rope_base = 10000;
  bool quiet = false;
};

void setup(CLI::App& parent) {
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = parent.add_subcommand(
      "pretrain",
      "Train a base model from scratch at a short context C0 (plain RoPE, base 10000 by default),\n"
      "the starting point of `harpe extend`. Writes OUT/checkpoint/ (config.json with\n"
      "max_position_embeddings = C0, model.safetensors, optimizer.safetensors, "
      "trainer_state.json,\n"
      "tokenizer.model when --tokenizer is given), OUT/metrics.jsonl and OUT/run_config.json.\n"
      "Ctrl-C (SIGINT), SIGTERM or SIGHUP saves the checkpoint after the current step and exits\n"
      "130; --resume continues.\n"
      "Data parallel under mpirun (see --distributed).");
  harpe::cli::add_train_flags(cmd, f->train);
  cmd->add_option("--rope-base", f->rope_base, "RoPE base (rope_theta) of the new model")
      ->capture_default_str();
  cmd->add_option("--tokenizer", f->tokenizer,
                  "tokenizer.model to copy into every checkpoint (so `harpe generate --model "
                  "OUT/checkpoint` works)");
  cmd->add_flag("--quiet", f->quiet, "No progress lines");
  cmd->callback([f] {
    using namespace harpe;
    train::PretrainOptions po;
    train::TrainOptions& t = po.train;
    cli::apply_train_flags(f->train, t);
    if (!f->train.resume) {
      check(f->rope_base > 1, "--rope-base must be > 1, got ", f->rope_base);
      t.config.rope = rope::RopeSpec{};
      t.config.rope.base = f->rope_base;
      t.config.rope_scaling_extra.clear();
    }
    cli::apply_run_flags(f->train, po);
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

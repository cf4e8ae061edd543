// `harpe train`: train a Llama-style model on a token shard (see docs/engine.md).
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
  int context_parallel = 1;
  std::string tokenizer;
};

void setup(CLI::App& parent) {
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = parent.add_subcommand(
      "train",
      "Train a Llama-style model on a token shard.\n"
      "Writes OUT/checkpoint/ (config.json, model.safetensors, optimizer.safetensors,\n"
      "trainer_state.json) atomically, OUT/metrics.jsonl (one JSON object per step) and\n"
      "OUT/run_config.json. Ctrl-C (SIGINT), SIGTERM or SIGHUP saves the checkpoint after the\n"
      "current step and exits 130; --resume continues. Data parallel under mpirun\n"
      "(--distributed), context parallel with --context-parallel.");
  harpe::cli::add_train_flags(cmd, f->train);
  cmd->add_option("--context-parallel", f->context_parallel,
                  "Split every sequence over C ranks (ring attention; implies --distributed):\n"
                  "rank r of a group holds chunks r and 2C-1-r of the 2C chunks of each sequence;\n"
                  "C must divide the rank count (R = data-parallel x C) and --context must divide\n"
                  "by 2C")
      ->capture_default_str();
  cmd->add_option("--tokenizer", f->tokenizer, "tokenizer.model to copy into every checkpoint");
  cmd->callback([f] {
    using namespace harpe;
    train::PretrainOptions po;
    cli::apply_train_flags(f->train, po.train, /*default_steps=*/100);
    po.train.context_parallel = f->context_parallel;
    po.command = "train";
    po.record_c0 = false;
    cli::apply_run_flags(f->train, po);
    po.hooks.tokenizer = f->tokenizer;
    po.hooks.distributed = f->train.distributed || f->context_parallel > 1;
    if (train::run_pretrain(po) == train::RunEnd::interrupted) {
      std::fflush(stdout);
      std::exit(130);  // interrupted: the checkpoint is saved (the message is printed)
    }
  });
}

}  // namespace

HARPE_COMMAND("", setup);

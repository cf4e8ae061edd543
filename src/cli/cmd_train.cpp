// `harpe train`: train a Llama-style model on a token shard (see docs/engine.md).
#include <cstdio>

#include "cli/command.h"
#include "cli/train_flags.h"
#include "core/error.h"
#include "model/config.h"
#include "train/trainer.h"

namespace {

struct Flags {
  harpe::cli::TrainFlags train;
  int context_parallel = 1;
};

void setup(CLI::App& parent) {
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = parent.add_subcommand(
      "train",
      "Train a Llama-style model on a token shard.\n"
      "Writes OUT/checkpoint/ (config.json, model.safetensors, optimizer.safetensors,\n"
      "trainer_state.json) atomically, and OUT/metrics.jsonl (one JSON object per step).\n"
      "Data parallel under mpirun (--distributed), context parallel with --context-parallel.");
  harpe::cli::add_train_flags(cmd, f->train);
  cmd->add_option("--context-parallel", f->context_parallel,
                  "Split every sequence over C ranks (ring attention; implies --distributed):\n"
                  "rank r of a group holds chunks r and 2C-1-r of the 2C chunks of each sequence;\n"
                  "C must divide the rank count (R = data-parallel x C) and --context must divide\n"
                  "by 2C")
      ->capture_default_str();
  cmd->callback([f] {
    using namespace harpe;
    train::RunOptions run;
    train::TrainOptions& t = run.train;
    cli::apply_train_flags(f->train, t, /*default_steps=*/100);
    check(f->train.keep_every == 0, "--keep-every is not supported by harpe train yet; use harpe "
          "pretrain");
    t.context_parallel = f->context_parallel;
    run.data_path = f->train.data;
    run.out_dir = f->train.out;
    run.save_every = f->train.save_every;
    run.resume = f->train.resume;
    run.log_every = f->train.log_every;
    run.require_mpi = f->train.distributed || f->context_parallel > 1;
    train::run_training(run);
  });
}

}  // namespace

HARPE_COMMAND("", setup);

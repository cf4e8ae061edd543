// `harpe eval recall`: associative recall by length and key-query distance (docs/recall.md).
#include "cli/cmd_eval_model_flags.h"
#include "cli/command.h"
#include "cli/recall_flags.h"

namespace {

void setup(CLI::App& parent) {
  struct Args {
    harpe::eval::ModelArgs m;
    harpe::eval::RecallArgs r;
    harpe::cli::RecallTaskFlags task;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = parent.add_subcommand(
      "recall",
      "Associative recall (docs/recall.md): held-out key-value sequences (or --input FILE.jsonl),\n"
      "one teacher-forced pass each; exact match per query and per sequence, by length and by\n"
      "key-query distance; results.json, results.md and DIR/recall_<variant>.svg (distance x\n"
      "length heatmap).");
  cmd->add_option("--model", a->m.model_dir,
                  "Checkpoint directory (config.json + model.safetensors)")
      ->required();
  harpe::cli::add_self_extend_flag(
      cmd, a->m.position,
      "Training-free Self-Extend: W,G = neighbour window, group size; default none");
  cmd->add_option("--out", a->m.out_dir, "Write results.json + results.md into this directory");
  cmd->add_option("--name", a->m.name, "Run name in reports (default: the --out directory's name)");
  cmd->add_option("--group", a->r.group,
                  "Group label in reports: runs with one label (e.g. the seeds of a method) are "
                  "shown as mean and spread");
  cmd->add_flag("--quiet,-q", a->m.quiet, "No progress lines");
  harpe::cli::add_weights_precision_flag(cmd, a->m.precision);
  cmd->add_option("--lengths", a->r.lengths,
                  "Sequence lengths, comma-separated: 4096, 4k, or 2x (times the model's original "
                  "context C0)")
      ->capture_default_str();
  cmd->add_option(
         "--variants", a->r.variants,
         "Comma-separated: single, multikey, multivalue, multiquery, copy; all = the first four")
      ->capture_default_str();
  cmd->add_option("--samples,-n", a->r.samples, "Sequences per variant and length")
      ->capture_default_str();
  cmd->add_option("--seed", a->r.seed, "Seed of the eval stream (same seed, same sequences)")
      ->capture_default_str();
  cmd->add_option("--input", a->r.input,
                  "Evaluate the sequences of this JSONL file (docs/recall.md) instead");
  harpe::cli::add_recall_task_flags(cmd, a->task, "Vocabulary size V (default: the model's)");
  cmd->add_flag("!--no-heatmaps", a->r.heatmaps, "Do not write recall_<variant>.svg");
  cmd->callback([a] {
    harpe::eval::RecallArgs r = a->r;
    r.vocab = a->task.vocab;
    r.filler = a->task.filler;
    r.pairs = a->task.pairs;
    r.values = a->task.values;
    r.queries = a->task.queries;
    r.far = a->task.far;
    r.span = a->task.span;
    r.adjacent = a->task.copy == "adjacent";
    harpe::eval::eval_recall(a->m, r);
  });
}

}  // namespace

HARPE_COMMAND("eval", setup);

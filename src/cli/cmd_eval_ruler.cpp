// `harpe eval ruler`: any RULER tasks, including vt, cwe and fwe.
#include "cli/cmd_eval_model_flags.h"
#include "cli/command.h"

namespace {

void setup(CLI::App& parent) {
  struct Args {
    harpe::eval::ModelArgs m;
    harpe::eval::RulerArgs r;
  };
  auto a = std::make_shared<Args>();
  a->r.tasks = "vt,cwe,fwe";
  CLI::App* cmd = parent.add_subcommand(
      "ruler",
      "RULER tasks through the model: the eight NIAH tasks (see `harpe eval niah`) and vt\n"
      "(variable tracking), cwe (common words extraction), fwe (frequent words extraction).\n"
      "Same decoding and scoring as `harpe eval niah`.");
  harpe::cli::add_model_flags(cmd, a->m);
  cmd->add_option("--tasks", a->r.tasks,
                  "Comma-separated tasks; all = the eight NIAH tasks, ruler = all eleven")
      ->capture_default_str();
  cmd->add_option("--lengths", a->r.lengths, "Context lengths, comma-separated (4096 or 4k)")
      ->capture_default_str();
  cmd->add_option("--samples,-n", a->r.samples, "Samples per task and length")->capture_default_str();
  cmd->add_option("--jobs,-j", a->r.jobs, "Samples decoded at once (each then single-threaded)")
      ->capture_default_str();
  cmd->add_option("--seed", a->r.seed, "Sample seed (same seed, same prompts)")->capture_default_str();
  harpe::cli::add_haystack_flags(cmd, a->r.haystack_corpus, a->r.haystack_split, a->r.essay);
  cmd->add_flag("!--no-predictions", a->r.keep_predictions,
                "Leave the per-sample predictions out of results.json");
  cmd->callback([a] { harpe::eval::eval_ruler(a->m, a->r, true); });
}

}  // namespace

HARPE_COMMAND("eval", setup);

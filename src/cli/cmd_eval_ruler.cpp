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
  harpe::cli::add_ruler_flags(cmd, a->r, "Comma-separated tasks; all = the eight NIAH tasks, ruler = all eleven, passkey = the passkey retrieval test");
  cmd->callback([a] { harpe::eval::eval_ruler(a->m, a->r, true); });
}

}  // namespace

HARPE_COMMAND("eval", setup);

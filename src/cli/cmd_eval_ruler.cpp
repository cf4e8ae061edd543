// `harpe eval niah` (RULER's eight needle tasks) and `harpe eval ruler` (any RULER task, vt, cwe
// and fwe too): one command body, two names; greedy decoding with the KV cache.
#include "cli/cmd_eval_model_flags.h"
#include "cli/command.h"

namespace {

void add(CLI::App& parent, const char* name, const char* description, const char* tasks,
         const char* tasks_help, bool allow_other) {
  struct Args {
    harpe::eval::ModelArgs m;
    harpe::eval::RulerArgs r;
  };
  auto a = std::make_shared<Args>();
  const std::string shown = tasks ? tasks : "all";
  a->r.tasks = harpe::eval::parse_task_list(shown, allow_other);
  CLI::App* cmd = parent.add_subcommand(name, description);
  harpe::cli::add_model_flags(cmd, a->m);
  harpe::cli::add_ruler_flags(cmd, a->r, allow_other, shown, tasks_help);
  cmd->callback([a, allow_other] { harpe::eval::eval_ruler(a->m, a->r, allow_other); });
}

void setup(CLI::App& parent) {
  add(parent, "niah",
      "RULER's eight NIAH tasks (Hsieh et al. 2024): niah_single_1, niah_single_2, niah_single_3,\n"
      "niah_multikey_1, niah_multikey_2, niah_multikey_3, niah_multivalue, niah_multiquery.\n"
      "Prompts sized with the model's tokenizer, greedy decoding with the KV cache, scored with\n"
      "string_match_all (0..100) per task x length, averaged. vt/cwe/fwe: `harpe eval ruler`.",
      nullptr,
      "Comma-separated tasks, or all (the eight above); passkey = the passkey retrieval test "
      "(five NATO code words)",
      false);
  add(parent, "ruler",
      "RULER tasks through the model: the eight NIAH tasks (see `harpe eval niah`) and vt\n"
      "(variable tracking), cwe (common words extraction), fwe (frequent words extraction).\n"
      "Same decoding and scoring as `harpe eval niah`.",
      "vt,cwe,fwe",
      "Comma-separated tasks; all = the eight NIAH tasks, ruler = all eleven, passkey = the "
      "passkey retrieval test",
      true);
}

}  // namespace

HARPE_COMMAND("eval", setup);

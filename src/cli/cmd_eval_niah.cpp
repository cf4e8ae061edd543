// `harpe eval niah`: RULER's eight needle-in-a-haystack tasks, greedy decoding with the KV cache.
#include "cli/cmd_eval_model_flags.h"
#include "cli/command.h"

namespace {

void setup(CLI::App& parent) {
  struct Args {
    harpe::eval::ModelArgs m;
    harpe::eval::RulerArgs r;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = parent.add_subcommand(
      "niah",
      "RULER's eight NIAH tasks (Hsieh et al. 2024): niah_single_1, niah_single_2, niah_single_3,\n"
      "niah_multikey_1, niah_multikey_2, niah_multikey_3, niah_multivalue, niah_multiquery.\n"
      "Prompts sized with the model's tokenizer, greedy decoding with the KV cache, scored with\n"
      "string_match_all (0..100) per task x length, averaged. vt/cwe/fwe: `harpe eval ruler`.");
  harpe::cli::add_model_flags(cmd, a->m);
  harpe::cli::add_ruler_flags(cmd, a->r, "Comma-separated tasks, or all (the eight above); passkey = the passkey retrieval test (five NATO code words)");
  cmd->callback([a] { harpe::eval::eval_ruler(a->m, a->r, false); });
}

}  // namespace

HARPE_COMMAND("eval", setup);

// `harpe eval short`: short-context retention (the HARPE paper's Table 5 role): perplexity and the
// eight NIAH tasks at the model's original context.
#include "cli/cmd_eval_model_flags.h"
#include "cli/command.h"

namespace {

void setup(CLI::App& parent) {
  struct Args {
    harpe::eval::ModelArgs m;
    harpe::eval::PplArgs p;
    harpe::eval::RulerArgs r;
    int64_t context = 0;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = parent.add_subcommand(
      "short",
      "Short-context retention: `eval ppl` + `eval niah` (eight tasks) at the model's original\n"
      "context C0, read from config.json's original_max_position_embeddings, else run_config.json\n"
      "(harpe extend), else trainer_state.json's context, else max_position_embeddings.");
  harpe::cli::add_model_flags(cmd, a->m);
  cmd->add_option("--context", a->context, "Override C0 (tokens)");
  cmd->add_option("--stride", a->p.stride, "Perplexity stride")->capture_default_str();
  cmd->add_option("--corpus", a->p.corpus,
                  "Perplexity corpus directory (default: data/corpus when it exists)");
  cmd->add_option("--split", a->p.split, "Split of --corpus")->capture_default_str();
  cmd->add_option("--source", a->p.source, "Only documents of this source");
  cmd->add_option("--shard", a->p.shard, "Token shard instead of --corpus");
  cmd->add_option("--documents", a->p.documents, "At most n perplexity documents (0 = all)")
      ->capture_default_str();
  harpe::cli::add_tasks_flag(cmd, a->r.tasks, false, "all", "NIAH tasks (default all eight)");
  cmd->add_option("--samples,-n", a->r.samples, "NIAH samples per task")->capture_default_str();
  cmd->add_option("--jobs,-j", a->r.jobs, "NIAH samples decoded at once")->capture_default_str();
  cmd->add_option("--seed", a->r.seed, "NIAH sample seed")->capture_default_str();
  harpe::cli::add_tokens_to_generate_flag(cmd, a->r.tokens_to_generate);
  harpe::cli::add_haystack_flags(cmd, a->r.haystack_corpus, a->r.haystack_split, a->r.essay);
  cmd->callback([a] { harpe::eval::eval_short(a->m, a->p, a->r, a->context); });
}

}  // namespace

HARPE_COMMAND("eval", setup);

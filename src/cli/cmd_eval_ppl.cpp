// `harpe eval ppl`: sliding-window perplexity of a checkpoint on held-out documents.
#include "cli/cmd_eval_model_flags.h"
#include "cli/command.h"

namespace {

void setup(CLI::App& parent) {
  struct Args {
    harpe::eval::ModelArgs m;
    harpe::eval::PplArgs p;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = parent.add_subcommand(
      "ppl",
      "Sliding-window perplexity (Press et al.; the YaRN paper's evaluation): window = each "
      "length,\n"
      "stride S, every token scored once with as much context as the window allows. Documents are\n"
      "the held-out ones with at least max(--lengths) tokens, each cut to that many tokens, so "
      "every\n"
      "length scores the same tokens.");
  harpe::cli::add_model_flags(cmd, a->m);
  harpe::cli::add_lengths_flag(cmd, a->p.lengths, "Window lengths, comma-separated (4096 or 4k)");
  cmd->add_option("--stride", a->p.stride, "Stride S between window ends (S < length)")
      ->capture_default_str();
  cmd->add_option("--corpus", a->p.corpus,
                  "Corpus directory (harpe data corpus), tokenized with the model's tokenizer "
                  "(default: data/corpus when it exists)");
  cmd->add_option("--split", a->p.split, "Split of --corpus: test|validation|train")
      ->capture_default_str();
  cmd->add_option("--source", a->p.source, "Only documents of this source (e.g. bible, pari)");
  cmd->add_option("--shard", a->p.shard, "Token shard (harpe data shards) instead of --corpus");
  cmd->add_option("--documents", a->p.documents,
                  "Use at most n documents (0 = every long-enough document)")
      ->capture_default_str();
  cmd->callback([a] { harpe::eval::eval_ppl(a->m, a->p); });
}

}  // namespace

HARPE_COMMAND("eval", setup);

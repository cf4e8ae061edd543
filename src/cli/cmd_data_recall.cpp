// `harpe data recall`: associative-recall training sequences as a token shard with a loss mask.
#include <cstdio>

#include "cli/command.h"
#include "cli/recall_flags.h"
#include "core/error.h"
#include "eval/recall_data.h"

namespace {

void setup(CLI::App& parent) {
  struct Args {
    harpe::eval::RecallDataArgs d;
    harpe::cli::RecallTaskFlags task;
    std::string variants = "multiquery";
    int length = 64;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = parent.add_subcommand(
      "recall",
      "Associative-recall training data (docs/recall.md): key-value pairs in filler tokens, then\n"
      "queries; a token shard whose loss mask marks the answers (train with --loss answers),\n"
      "optionally the same sequences as JSONL. Seeds of the \"train\" stream: never the ones\n"
      "`harpe eval recall` generates. --input converts a JSONL file made elsewhere.");
  cmd->add_option("--out", a->d.out, "Token shard to write")->required();
  cmd->add_option("--jsonl", a->d.jsonl, "Also write the sequences as JSONL");
  cmd->add_option("--input", a->d.input, "Convert this JSONL file instead of generating");
  cmd->add_option(
         "--variants", a->variants,
         "Comma-separated: single, multikey, multivalue, multiquery, copy; all = the first "
         "four (sample i takes the (i mod n)-th)")
      ->capture_default_str();
  cmd->add_option("--length", a->length, "Tokens per sequence (the training context)")
      ->capture_default_str();
  cmd->add_option("--samples,-n", a->d.samples, "Sequences")->capture_default_str();
  cmd->add_option("--seed", a->d.seed, "Seed of the train stream")->capture_default_str();
  harpe::cli::add_recall_task_flags(cmd, a->task, "Vocabulary size V (default 512)");
  cmd->callback([a] {
    using namespace harpe;
    eval::RecallDataArgs d = a->d;
    d.spec.length = a->length;
    d.spec.vocab = a->task.vocab > 0 ? a->task.vocab : 512;
    d.spec.filler = a->task.filler;
    d.spec.pairs = a->task.pairs;
    d.spec.values = a->task.values;
    d.spec.queries = a->task.queries;
    d.spec.far = a->task.far;
    d.spec.span = a->task.span;
    d.spec.adjacent = a->task.copy == "adjacent";
    d.variants = eval::parse_recall_variants(a->variants, "--variants");
    const eval::RecallDataSummary s = eval::make_recall_data(d);
    std::printf("%s: %lld sequences, %lld tokens (%lld answer tokens scored), vocab %d\n",
                d.out.c_str(), static_cast<long long>(s.sequences),
                static_cast<long long>(s.tokens), static_cast<long long>(s.answer_tokens), s.vocab);
  });
}

}  // namespace

HARPE_COMMAND("data", setup);

// `harpe data tokenizer`: train a byte-fallback BPE SentencePiece model on a corpus's train split.
#include <cstdio>

#include "cli/command.h"
#include "core/timer.h"
#include "data/tokenizer.h"

namespace {

void setup(CLI::App& parent) {
  CLI::App* cmd = parent.add_subcommand(
      "tokenizer",
      "Train a BPE tokenizer (SentencePiece, byte fallback, unk=0 bos=1 eos=2) on "
      "DIR/train.jsonl.\n"
      "Deterministic: the same corpus and options give a byte-identical model.");
  auto corpus = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>("tokenizer.model");
  auto opt = std::make_shared<harpe::data::TokenizerTrainOptions>();
  cmd->add_option("--corpus", *corpus, "Corpus directory (from `harpe data corpus`)")->required();
  cmd->add_option("--vocab", opt->vocab_size, "Vocabulary size")->capture_default_str();
  cmd->add_flag("!--no-split-digits", opt->split_digits,
                "Let BPE merge digit runs (default: one token per digit)");
  cmd->add_option("--out", *out, "Output model file")->capture_default_str();
  cmd->add_option("--max-lines", opt->max_sentences,
                  "Cap on training lines, taken at an even stride (0 = all)")
      ->capture_default_str();
  cmd->add_option("--threads", opt->num_threads,
                  "SentencePiece trainer threads (1 keeps the model reproducible)")
      ->capture_default_str();
  cmd->callback([=] {
    harpe::data::TokenizerTrainOptions o = *opt;
    o.log = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
    harpe::Timer t;
    harpe::data::train_tokenizer_from_corpus(*corpus, *out, o);
    auto tok = harpe::data::Tokenizer::load(*out);
    std::printf("wrote %s: vocab %d, bos %d, eos %d (%.1f s)\n", out->c_str(), tok.vocab_size(),
                tok.bos_id(), tok.eos_id(), t.seconds());
  });
}

}  // namespace

HARPE_COMMAND("data", setup);

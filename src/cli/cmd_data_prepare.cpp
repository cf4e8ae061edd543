// `harpe data prepare`: the whole pipeline in one command: corpus -> tokenizer -> shards.
#include <omp.h>

#include <cstdio>
#include <filesystem>
#include <sstream>

#include "cli/command.h"
#include "cli/niah_data_flags.h"
#include "data/shard_build.h"

namespace {

void setup(CLI::App& parent) {
  CLI::App* cmd = parent.add_subcommand(
      "prepare",
      "Build corpus, tokenizer and shards in one go: OUT/corpus/, OUT/tokenizer.model,\n"
      "OUT/{train,validation,test}.bin. The default is the small bible+pari corpus.");
  auto out = std::make_shared<std::string>("data");
  auto sources = std::make_shared<std::string>("bible,pari");
  auto vocab = std::make_shared<int>(8192);
  auto tokenizer = std::make_shared<std::string>();
  auto opt0 = std::make_shared<harpe::data::CorpusOptions>();
  auto niah = std::make_shared<harpe::cli::NiahDataArgs>();
  cmd->add_option("--out", *out, "Output directory")->capture_default_str();
  cmd->add_option("--sources", *sources, "Comma-separated sources (see `harpe data corpus --help`)")
      ->capture_default_str();
  cmd->add_option("--vocab", *vocab, "Vocabulary size of the trained tokenizer")
      ->capture_default_str();
  auto split_digits = std::make_shared<bool>(true);
  cmd->add_flag("!--no-split-digits", *split_digits,
                "Trained tokenizer: let BPE merge digit runs (default: one token per digit)");
  cmd->add_option("--tokenizer", *tokenizer,
                  "Use this existing SentencePiece model instead of training one");
  cmd->add_option("--synthetic-docs", opt0->synthetic_documents,
                  "Synthetic records when 'synthetic' is a source")
      ->capture_default_str();
  harpe::cli::add_niah_data_flags(cmd, *niah);
  cmd->callback([=] {
    auto log = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
    namespace fs = std::filesystem;
    harpe::data::CorpusOptions copt = *opt0;
    copt.out_dir = (fs::path(*out) / "corpus").string();
    copt.sources.clear();
    std::stringstream ss(*sources);
    for (std::string item; std::getline(ss, item, ',');)
      if (!item.empty()) copt.sources.push_back(item);
    copt.log = log;
    harpe::cli::register_niah_source(copt, *niah);
    harpe::data::build_corpus(copt);
    std::string model =
        tokenizer->empty() ? (fs::path(*out) / "tokenizer.model").string() : *tokenizer;
    if (tokenizer->empty()) {
      harpe::data::TokenizerTrainOptions topt;
      topt.vocab_size = *vocab;
      topt.split_digits = *split_digits;
      topt.log = log;
      harpe::data::train_tokenizer_from_corpus(copt.out_dir, model, topt);
      std::fprintf(stderr, "tokenizer: wrote %s\n", model.c_str());
    }
    auto tok = harpe::data::Tokenizer::load(model);
    for (auto split :
         {harpe::data::Split::train, harpe::data::Split::validation, harpe::data::Split::test}) {
      std::string path =
          (fs::path(*out) / (std::string(harpe::data::split_name(split)) + ".bin")).string();
      auto res = harpe::data::build_shard(copt.out_dir, split, tok, path, log);
      std::printf(
          "== %s (%.2f MB text, %.2f MB/s wall with %d threads, %.2f MB per CPU-second)\n%s",
          path.c_str(), static_cast<double>(res.text_bytes) / 1e6, res.mb_per_s(),
          omp_get_max_threads(), res.mb_per_cpu_s(),
          harpe::data::format_stats(res.sources).c_str());
    }
  });
}

}  // namespace

HARPE_COMMAND("data", setup);

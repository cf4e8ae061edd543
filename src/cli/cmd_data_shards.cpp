// `harpe data shards`: tokenize one corpus split into a token shard.
#include <omp.h>

#include <cstdio>

#include "cli/command.h"
#include "data/shard_build.h"

namespace {

void setup(CLI::App& parent) {
  CLI::App* cmd = parent.add_subcommand(
      "shards",
      "Tokenize a corpus split (each document as BOS text EOS) into a token shard (docs/data.md)");
  auto corpus = std::make_shared<std::string>();
  auto tokenizer = std::make_shared<std::string>("tokenizer.model");
  auto split = std::make_shared<std::string>("train");
  auto out = std::make_shared<std::string>();
  cmd->add_option("--corpus", *corpus, "Corpus directory (from `harpe data corpus`)")->required();
  cmd->add_option("--tokenizer", *tokenizer, "SentencePiece model file")->capture_default_str();
  cmd->add_option("--split", *split, "train | validation | test")->capture_default_str();
  cmd->add_option("--out", *out, "Output shard file")->required();
  cmd->callback([=] {
    auto sp = harpe::data::parse_split(*split);
    auto tok = harpe::data::Tokenizer::load(*tokenizer);
    auto res = harpe::data::build_shard(*corpus, sp, tok, *out, [](const std::string& line) {
      std::fprintf(stderr, "%s\n", line.c_str());
    });
    std::printf("%s", harpe::data::format_stats(res.sources).c_str());
    std::printf(
        "wrote %s: %.2f MB of text in %.2f s wall = %.2f MB/s (%d threads); %.2f MB per "
        "CPU-second\n",
        out->c_str(), static_cast<double>(res.text_bytes) / 1e6, res.seconds, res.mb_per_s(),
        omp_get_max_threads(), res.mb_per_cpu_s());
  });
}

}  // namespace

HARPE_COMMAND("data", setup);

// `harpe data stats`: per-source document and length statistics of token shards.
#include <cstdio>

#include "cli/command.h"
#include "data/shard_build.h"

namespace {

void setup(CLI::App& parent) {
  CLI::App* cmd = parent.add_subcommand(
      "stats",
      "Per source: documents, tokens, documents longer than 4k/8k/32k/128k tokens, longest");
  auto files = std::make_shared<std::vector<std::string>>();
  cmd->add_option("files", *files, "Token shard files")->required();
  cmd->callback([=] {
    for (const auto& f : *files) {
      auto shard = harpe::data::Shard::open(f);
      std::printf("%s: %llu tokens, %llu documents, vocab %u, %u-byte tokens\n", f.c_str(),
                  static_cast<unsigned long long>(shard.n_tokens()),
                  static_cast<unsigned long long>(shard.n_documents()), shard.vocab_size(),
                  shard.token_bytes());
      std::printf("%s", harpe::data::format_stats(harpe::data::shard_stats(shard)).c_str());
    }
  });
}

}  // namespace

HARPE_COMMAND("data", setup);

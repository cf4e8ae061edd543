// `harpe data corpus`: JSONL corpus (train/validation/test) from Debian documentation packages.
#include <cstdio>
#include <sstream>

#include "cli/command.h"
#include "cli/niah_data_flags.h"
#include "data/corpus.h"

namespace {

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

void setup(CLI::App& parent) {
  std::string help =
      "Build a JSONL corpus (DIR/{train,validation,test}.jsonl + manifest.json) from Debian "
      "packages.\n"
      "Split: 90/5/5 by a hash of each document id. Sources:";
  for (const auto& s : harpe::data::known_sources())
    help += "\n  " + s.name + (s.in_default ? " (default)" : "") + ": " + s.description + " [" +
            s.packages + "]";
  help +=
      "\n  synthetic: key-value recall records (see docs/data.md); off by default\n  niah: "
      "NIAH-format training documents (RULER prompts + answers on --niah-haystack text); off by "
      "default\n  NAME=DIR: every text file under DIR";
  CLI::App* cmd = parent.add_subcommand("corpus", help);
  auto out = std::make_shared<std::string>();
  auto sources = std::make_shared<std::string>("bible,pari");
  auto strict = std::make_shared<bool>(false);
  auto opt0 = std::make_shared<harpe::data::CorpusOptions>();
  auto niah = std::make_shared<harpe::cli::NiahDataArgs>();
  cmd->add_option("--out", *out, "Output directory")->required();
  cmd->add_option(
         "--sources", *sources,
         "Comma-separated sources (bible,pari,hol-light,python,linux,synthetic,niah,NAME=DIR)")
      ->capture_default_str();
  cmd->add_flag("--strict-utf8", *strict, "Reject invalid UTF-8 instead of replacing it by U+FFFD");
  cmd->add_option("--synthetic-docs", opt0->synthetic_documents,
                  "Number of synthetic records (with source synthetic)")
      ->capture_default_str();
  cmd->add_option("--synthetic-chars", opt0->synthetic_chars,
                  "Approximate length of each synthetic record, characters")
      ->capture_default_str();
  cmd->add_option("--synthetic-seed", opt0->synthetic_seed, "Seed of the synthetic records")
      ->capture_default_str();
  harpe::cli::add_niah_data_flags(cmd, *niah);
  cmd->callback([=] {
    harpe::data::CorpusOptions opt = *opt0;
    opt.out_dir = *out;
    opt.sources = split_commas(*sources);
    opt.strict_utf8 = *strict;
    opt.log = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
    harpe::cli::register_niah_source(opt, *niah);
    auto summary = harpe::data::build_corpus(opt);
    std::printf("%-12s %8s %8s %8s %12s  %s\n", "source", "train", "valid", "test", "bytes",
                "license");
    for (const auto& name : opt.source_names()) {
      const auto& s = summary.at(name);
      std::printf("%-12s %8lld %8lld %8lld %12lld  %s\n", name.c_str(),
                  static_cast<long long>(s.documents[0]), static_cast<long long>(s.documents[1]),
                  static_cast<long long>(s.documents[2]),
                  static_cast<long long>(s.bytes[0] + s.bytes[1] + s.bytes[2]), s.license.c_str());
    }
    std::printf("wrote %s/{train,validation,test}.jsonl and manifest.json\n", out->c_str());
  });
}

}  // namespace

HARPE_COMMAND("data", setup);

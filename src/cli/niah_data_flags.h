// The "niah" corpus source (NIAH-format training documents, optionally passkey prompts and copy
// drills; eval/niah_training.h), shared by
// `harpe data corpus` and `harpe data prepare`.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "core/error.h"
#include "data/corpus.h"
#include "eval/niah_training.h"

namespace harpe::cli {

struct NiahDataArgs {
  int64_t documents = 2000;
  int64_t passkey_documents = 0;
  int64_t copy_documents = 0;
  std::string tokens = "64:4096";  // MIN:MAX, log-uniform
  std::string haystack = "bible";
  uint64_t seed = 7;
};

inline void add_niah_data_flags(CLI::App* cmd, NiahDataArgs& a) {
  cmd->add_option("--niah-docs", a.documents,
                  "NIAH-format training documents when 'niah' is a source")
      ->capture_default_str();
  cmd->add_option(
         "--niah-passkey-docs", a.passkey_documents,
         "Also passkey prompts with their answers (eval task passkey), lengths as --niah-tokens")
      ->capture_default_str();
  cmd->add_option("--niah-copy-docs", a.copy_documents,
                  "Also copy drills: 8 lines 'w1 .. wk = w1 .. wk.' of 3..8 NATO code words each")
      ->capture_default_str();
  cmd->add_option(
         "--niah-tokens", a.tokens,
         "MIN:MAX length of the NIAH-format documents in tokens (about 4 bytes each), log-uniform")
      ->capture_default_str();
  cmd->add_option("--niah-haystack", a.haystack,
                  "Source (also in --sources) whose training split gives the NIAH documents' essay "
                  "haystacks")
      ->capture_default_str();
  cmd->add_option("--niah-seed", a.seed, "Seed of the NIAH-format documents")
      ->capture_default_str();
}

// Registers the "niah" generator when it is among the sources.
inline void register_niah_source(data::CorpusOptions& opt, const NiahDataArgs& a) {
  const auto names = opt.source_names();
  if (std::find(names.begin(), names.end(), "niah") == names.end()) return;
  check(a.documents >= 0 && a.passkey_documents >= 0 && a.copy_documents >= 0 &&
            a.documents + a.passkey_documents + a.copy_documents > 0,
        "--niah-docs, --niah-passkey-docs, --niah-copy-docs: none negative, at least one positive");
  check(std::find(names.begin(), names.end(), a.haystack) != names.end(), "--niah-haystack ",
        a.haystack, ": not among --sources");
  eval::NiahTrainingOptions o;
  o.documents = a.documents;
  o.seed = a.seed;
  const auto colon = a.tokens.find(':');
  check(colon != std::string::npos, "--niah-tokens: expected MIN:MAX, got '", a.tokens, "'");
  try {
    o.min_tokens = std::stoll(a.tokens.substr(0, colon));
    o.max_tokens = std::stoll(a.tokens.substr(colon + 1));
  } catch (const std::exception&) {
    fail("--niah-tokens: expected MIN:MAX (integers), got '", a.tokens, "'");
  }
  const std::string haystack = a.haystack;
  const int64_t passkey = a.passkey_documents, copy = a.copy_documents;
  opt.generators["niah"] = [o, haystack, passkey,
                            copy](const std::map<std::string, std::string>& train_text) {
    auto it = train_text.find(haystack);
    check(it != train_text.end() && it->second.size() > 10000, "--niah-haystack ", haystack,
          ": its training split has too little text for haystacks");
    std::vector<data::Record> out;
    out.reserve(static_cast<size_t>(o.documents + passkey + copy));
    for (int64_t i = 0; i < o.documents; ++i)
      out.push_back(eval::niah_training_record(i, o, it->second));
    for (int64_t i = 0; i < passkey; ++i)
      out.push_back(eval::passkey_training_record(i, o, it->second));
    for (int64_t i = 0; i < copy; ++i) out.push_back(eval::copy_drill_record(i, o));
    return out;
  };
}

}  // namespace harpe::cli

// Corpora: documents from Debian packages as JSONL records {"id","source","license","text"}, one
// document per line, split deterministically into train/validation/test by a hash of the id.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace harpe::data {

struct Record {
  std::string id;  // unique, stable across rebuilds (e.g. "bible/Genesis", "pari/usersch3.tex/s05")
  std::string source;   // "bible", "pari", ...
  std::string license;  // short licence name and the copyright file it comes from
  std::string text;     // valid UTF-8
};

enum class Split { train, validation, test };
const char* split_name(Split s);
Split parse_split(std::string_view name);  // "train" | "validation" | "test"; throws otherwise

// 90/5/5 by FNV-1a 64 of the id: bucket = hash % 100; [0,90) train, [90,95) validation, [95,100)
// test. Depends on the id only, so a document lands in the same split whatever else is in the
// corpus.
Split split_of(std::string_view id);

std::string record_to_json(const Record& r);  // one line, no trailing newline
Record record_from_json(std::string_view line, const std::string& where);

// Calls fn for every record of a JSONL file, in file order. Errors name the file and line.
void for_each_record(const std::string& path, const std::function<void(Record&&)>& fn);
std::string corpus_split_path(const std::string& dir, Split s);  // DIR/<split>.jsonl

struct SourceInfo {
  std::string name;
  std::string packages;  // Debian packages to install for it
  std::string description;
  bool in_default;  // part of the small default corpus
};
const std::vector<SourceInfo>& known_sources();

struct CorpusOptions {
  std::string out_dir;
  // Known source names, or NAME=DIR for a user directory of text files (one document per file).
  std::vector<std::string> sources = {"bible", "pari"};
  bool strict_utf8 = false;  // reject invalid UTF-8 instead of replacing it by U+FFFD
  // Used when "synthetic" is among the sources.
  std::int64_t synthetic_documents = 2000;
  int synthetic_chars = 6000;
  std::uint64_t synthetic_seed = 1;
  // Sources produced by code outside this module, by name (the CLI registers "niah": RULER-format
  // documents that eval/ builds on another source's training text). They run after every other
  // source, with the training-split text of the sources read so far (joined per source).
  using Generator =
      std::function<std::vector<Record>(const std::map<std::string, std::string>& train_text)>;
  std::map<std::string, Generator> generators;
  std::function<void(const std::string&)> log = [](const std::string&) {};
  // Source names in order ("NAME=DIR" -> NAME).
  std::vector<std::string> source_names() const;
};

struct SourceSummary {
  std::string license;
  std::int64_t documents[3] = {0, 0, 0};  // by Split
  std::int64_t bytes[3] = {0, 0, 0};
  std::int64_t skipped_empty = 0, skipped_binary = 0, utf8_replacements = 0;
};

// Builds out_dir/{train,validation,test}.jsonl and out_dir/manifest.json; returns the summary
// by source (in the order given). Written atomically (temp name + rename).
std::map<std::string, SourceSummary> build_corpus(const CorpusOptions& opt);

// Licence from a Debian copyright file: the License of the "Files: *" paragraph of a
// machine-readable file, else `fallback`; always followed by " (see <path>)".
std::string license_from_copyright(const std::string& path, const std::string& fallback);

}  // namespace harpe::data

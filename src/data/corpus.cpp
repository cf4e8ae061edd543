#include "data/corpus.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "core/error.h"
#include "data/synthetic.h"
#include "data/text.h"

namespace fs = std::filesystem;

namespace harpe::data {

const char* split_name(Split s) {
  switch (s) {
    case Split::train:
      return "train";
    case Split::validation:
      return "validation";
    case Split::test:
      return "test";
  }
  return "?";
}

Split parse_split(std::string_view name) {
  if (name == "train") return Split::train;
  if (name == "validation") return Split::validation;
  if (name == "test") return Split::test;
  fail("unknown split '", name, "' (expected train, validation or test)");
}

Split split_of(std::string_view id) {
  std::uint64_t bucket = fnv1a64(id) % 100;
  if (bucket < 90) return Split::train;
  if (bucket < 95) return Split::validation;
  return Split::test;
}

std::string record_to_json(const Record& r) {
  nlohmann::json j = {{"id", r.id}, {"source", r.source}, {"license", r.license}, {"text", r.text}};
  return j.dump();
}

Record record_from_json(std::string_view line, const std::string& where) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(line);
  } catch (const std::exception& e) {
    fail(where, ": not a JSON record: ", e.what());
  }
  Record r;
  for (auto [key, field] : {std::pair{"id", &r.id},
                            {"source", &r.source},
                            {"license", &r.license},
                            {"text", &r.text}}) {
    auto it = j.find(key);
    check(it != j.end() && it->is_string(), where, ": record lacks string field \"", key, "\"");
    *field = it->get<std::string>();
  }
  return r;
}

std::string corpus_split_path(const std::string& dir, Split s) {
  return (fs::path(dir) / (std::string(split_name(s)) + ".jsonl")).string();
}

void for_each_record(const std::string& path, const std::function<void(Record&&)>& fn) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    fail("corpus file ", path, ": cannot open (build it with `harpe data corpus --out DIR`)");
  std::string line;
  std::int64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    fn(record_from_json(line, path + ":" + std::to_string(n)));
  }
}

const std::vector<SourceInfo>& known_sources() {
  static const std::vector<SourceInfo> sources = {
      {"bible", "bible-kjv bible-kjv-text", "King James Bible, one document per book (66)", true},
      {"pari", "pari-doc", "PARI/GP manuals (.tex), one document per \\section", true},
      {"hol-light", "hol-light", "HOL Light formal proofs (.ml), one document per file", false},
      {"python", "python3.11-doc",
       "Python 3.11 documentation sources (.rst), one document per file", false},
      {"linux", "linux-doc-6.1",
       "Linux 6.1 kernel documentation sources (.rst), one document per file", false},
  };
  return sources;
}

std::string license_from_copyright(const std::string& path, const std::string& fallback) {
  std::ifstream in(path);
  std::string found;
  if (in) {
    std::string line;
    bool machine_readable = false, in_star = false;
    while (std::getline(in, line)) {
      if (line.rfind("Format:", 0) == 0 && line.find("copyright-format") != std::string::npos)
        machine_readable = true;
      if (line.rfind("Files:", 0) == 0) {
        std::string v = line.substr(6);
        v.erase(0, v.find_first_not_of(" \t"));
        in_star = v == "*";
      } else if (machine_readable && in_star && line.rfind("License:", 0) == 0) {
        found = line.substr(8);
        found.erase(0, found.find_first_not_of(" \t"));
        break;
      }
    }
  }
  if (found.empty()) found = fallback;
  return found + " (see " + path + ")";
}

namespace {

struct Emitter {
  const CorpusOptions& opt;
  std::array<std::ofstream, 3>& out;
  std::map<std::string, SourceSummary>& summary;
  std::set<std::string> ids;
  std::map<std::string, std::string>* train_text = nullptr;  // collected when generators need it

  void emit(const std::string& source, const std::string& license, std::string id, std::string text,
            const std::string& origin) {
    SourceSummary& s = summary[source];
    s.license = license;
    if (text.find_first_not_of(" \t\r\n\f\v") == std::string::npos) {
      ++s.skipped_empty;
      opt.log("note: skipping empty document " + id + " (" + origin + ")");
      return;
    }
    std::size_t bad = repair_utf8(text);
    if (bad) {
      check(!opt.strict_utf8, origin, ": invalid UTF-8 (", bad, " bad bytes) in document ", id,
            " (rerun without --strict-utf8 to replace them by U+FFFD)");
      s.utf8_replacements += static_cast<std::int64_t>(bad);
      opt.log("note: " + origin + ": replaced " + std::to_string(bad) +
              " invalid UTF-8 byte(s) by U+FFFD");
    }
    check(ids.insert(id).second, "duplicate document id ", id, " (from ", origin, ")");
    Split sp = split_of(id);
    int k = static_cast<int>(sp);
    s.documents[k] += 1;
    s.bytes[k] += static_cast<std::int64_t>(text.size());
    if (train_text && sp == Split::train) ((*train_text)[source] += text) += "\n";
    out[k] << record_to_json(Record{std::move(id), source, license, std::move(text)}) << '\n';
  }
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) fail("cannot read ", p.string(), ": ", std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

[[noreturn]] void missing(const std::string& source, const std::string& what,
                          const std::string& packages) {
  fail("source ", source, ": ", what, " not found; install the Debian package(s) ", packages,
       " (apt-get install ", packages, ", or scripts/setup.sh",
       source == "bible" || source == "pari" ? "" : " --corpora-large", ")");
}

const char* kBibleBooks[66] = {"Genesis",
                               "Exodus",
                               "Leviticus",
                               "Numbers",
                               "Deuteronomy",
                               "Joshua",
                               "Judges",
                               "Ruth",
                               "1 Samuel",
                               "2 Samuel",
                               "1 Kings",
                               "2 Kings",
                               "1 Chronicles",
                               "2 Chronicles",
                               "Ezra",
                               "Nehemiah",
                               "Esther",
                               "Job",
                               "Psalms",
                               "Proverbs",
                               "Ecclesiastes",
                               "Song of Solomon",
                               "Isaiah",
                               "Jeremiah",
                               "Lamentations",
                               "Ezekiel",
                               "Daniel",
                               "Hosea",
                               "Joel",
                               "Amos",
                               "Obadiah",
                               "Jonah",
                               "Micah",
                               "Nahum",
                               "Habakkuk",
                               "Zephaniah",
                               "Haggai",
                               "Zechariah",
                               "Malachi",
                               "Matthew",
                               "Mark",
                               "Luke",
                               "John",
                               "Acts",
                               "Romans",
                               "1 Corinthians",
                               "2 Corinthians",
                               "Galatians",
                               "Ephesians",
                               "Philippians",
                               "Colossians",
                               "1 Thessalonians",
                               "2 Thessalonians",
                               "1 Timothy",
                               "2 Timothy",
                               "Titus",
                               "Philemon",
                               "Hebrews",
                               "James",
                               "1 Peter",
                               "2 Peter",
                               "1 John",
                               "2 John",
                               "3 John",
                               "Jude",
                               "Revelation"};

// "1Sm12:3" -> m[1] = "1Sm", m[2] = "12", m[3] = "3" (an optional digit, letters, digits ':'
// digits).
bool parse_reference(const std::string& s, std::string (&m)[4]) {
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  auto alpha = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); };
  std::size_t i = 0;
  if (i < s.size() && digit(s[i])) ++i;
  std::size_t a = i;
  while (i < s.size() && alpha(s[i])) ++i;
  if (i == a) return false;
  m[1] = s.substr(0, i);
  std::size_t c = i;
  while (i < s.size() && digit(s[i])) ++i;
  if (i == c || i >= s.size() || s[i] != ':') return false;
  m[2] = s.substr(c, i - c);
  std::size_t v = ++i;
  while (i < s.size() && digit(s[i])) ++i;
  if (i == v || i != s.size()) return false;
  m[3] = s.substr(v);
  return true;
}

// The `bible` program (bible-kjv) prints one verse per line as "Ge1:1 In the beginning ...";
// books appear in canonical order, so the n-th distinct abbreviation is kBibleBooks[n].
void collect_bible(Emitter& em) {
  const std::string pkgs = "bible-kjv bible-kjv-text";
  if (!fs::exists("/usr/bin/bible")) missing("bible", "/usr/bin/bible", pkgs);
  if (!fs::exists("/usr/lib/bible.data")) missing("bible", "/usr/lib/bible.data", pkgs);
  std::string license = license_from_copyright("/usr/share/doc/bible-kjv-text/copyright",
                                               "public-domain (KJV text, 1611)");
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(
      ::popen("COLUMNS=100000 /usr/bin/bible -f gen1:1-rev22:21 2>&1", "r"), ::pclose);
  if (!pipe) fail("source bible: cannot run /usr/bin/bible: ", std::strerror(errno));
  std::string abbrev, text, chapter, line;
  int book = -1;
  auto flush = [&] {
    if (book >= 0)
      em.emit("bible", license, std::string("bible/") + kBibleBooks[book], std::move(text),
              "bible output");
    text.clear();
  };
  char buf[1 << 16];
  while (std::fgets(buf, sizeof buf, pipe.get())) {
    line = buf;
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    if (line.empty()) continue;
    auto sp = line.find(' ');
    std::string m[4];
    if (sp == std::string::npos || !parse_reference(line.substr(0, sp), m)) {
      if (book >= 0) text += " " + line;  // a wrapped verse continues
      continue;
    }
    if (m[1] != abbrev) {
      flush();
      abbrev = m[1];
      ++book;
      check(book < 66, "source bible: more than 66 books in the output of /usr/bin/bible");
      text = std::string(kBibleBooks[book]) + "\n";
      chapter.clear();
    }
    if (m[2] != chapter) {
      chapter = m[2];
      text += "\nChapter " + chapter + "\n";
    }
    text += m[3] + " " + line.substr(sp + 1) + "\n";
  }
  flush();
  check(book == 65, "source bible: expected 66 books from /usr/bin/bible, got ", book + 1,
        " (is bible-kjv-text installed?)");
}

// PARI/GP manuals: each .tex file cut at its \section lines (macro files left out).
void collect_pari(Emitter& em) {
  const fs::path dir = "/usr/share/pari/doc";
  if (!fs::is_directory(dir)) missing("pari", dir.string(), "pari-doc");
  std::string license = license_from_copyright("/usr/share/doc/pari-doc/copyright", "GPL-2+");
  const std::set<std::string> skip = {"parimacro.tex", "pdfmacs.tex", "paricfg.tex", "users.tex"};
  std::vector<fs::path> files;
  for (auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".tex" &&
        !skip.count(e.path().filename().string()))
      files.push_back(e.path());
  std::sort(files.begin(), files.end());
  check(!files.empty(), "source pari: no .tex files in ", dir.string(), "; reinstall pari-doc");
  for (const auto& f : files) {
    std::string all = read_file(f);
    std::vector<std::size_t> cuts = {0};
    for (std::size_t p = all.find("\n\\section"); p != std::string::npos;
         p = all.find("\n\\section", p + 1))
      cuts.push_back(p + 1);
    cuts.push_back(all.size());
    for (std::size_t k = 0; k + 1 < cuts.size(); ++k) {
      char num[32];
      std::snprintf(num, sizeof num, "s%02zu", k);
      em.emit("pari", license, "pari/" + f.filename().string() + "/" + num,
              all.substr(cuts[k], cuts[k + 1] - cuts[k]), f.string());
    }
  }
}

// Every regular file under dir whose name ends with one of `exts` (all files when empty), sorted,
// one document each; binary files are skipped with a note.
void collect_dir(Emitter& em, const std::string& source, const fs::path& dir,
                 const std::vector<std::string>& exts, const std::string& license) {
  std::vector<fs::path> files;
  for (auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::string name = e.path().filename().string();
    bool ok = exts.empty();
    for (const auto& x : exts)
      ok =
          ok || (name.size() >= x.size() && name.compare(name.size() - x.size(), x.size(), x) == 0);
    if (ok) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  check(!files.empty(), "source ", source, ": no matching files under ", dir.string());
  for (const auto& f : files) {
    std::string text = read_file(f);
    if (looks_binary(text)) {
      em.summary[source].skipped_binary += 1;
      em.opt.log("note: skipping binary file " + f.string());
      continue;
    }
    em.emit(source, license, source + "/" + fs::relative(f, dir).string(), std::move(text),
            f.string());
  }
}

void collect_package_dir(Emitter& em, const std::string& source, const std::string& dir,
                         const std::string& pkg, const std::vector<std::string>& exts,
                         const std::string& license_fallback) {
  if (!fs::is_directory(dir)) missing(source, dir, pkg);
  collect_dir(em, source, dir, exts,
              license_from_copyright("/usr/share/doc/" + pkg + "/copyright", license_fallback));
}

void write_manifest(const std::string& path, const std::map<std::string, SourceSummary>& summary,
                    const std::vector<std::string>& order) {
  nlohmann::json j;
  j["format"] = "harpe-corpus-1";
  j["split_rule"] = "fnv1a64(id) % 100: <90 train, <95 validation, else test";
  nlohmann::json src = nlohmann::json::array();
  for (const auto& name : order) {
    const auto& s = summary.at(name);
    nlohmann::json e = {{"source", name},
                        {"license", s.license},
                        {"skipped_empty", s.skipped_empty},
                        {"skipped_binary", s.skipped_binary},
                        {"utf8_replacements", s.utf8_replacements}};
    for (int k = 0; k < 3; ++k)
      e[split_name(static_cast<Split>(k))] = {{"documents", s.documents[k]}, {"bytes", s.bytes[k]}};
    src.push_back(e);
  }
  j["sources"] = src;
  std::ofstream out(path);
  out << j.dump(2) << '\n';
  check(static_cast<bool>(out), "cannot write ", path);
}

}  // namespace

std::vector<std::string> CorpusOptions::source_names() const {
  std::vector<std::string> out;
  for (const auto& s : sources) out.push_back(s.substr(0, s.find('=')));
  return out;
}

std::map<std::string, SourceSummary> build_corpus(const CorpusOptions& opt) {
  check(!opt.out_dir.empty(), "--out: corpus directory required");
  check(!opt.sources.empty(), "--sources: at least one source required");
  std::error_code ec;
  fs::create_directories(opt.out_dir, ec);
  check(!ec, "--out ", opt.out_dir, ": cannot create directory: ", ec.message());
  std::string suffix = ".tmp." + std::to_string(::getpid());
  std::array<std::ofstream, 3> out;
  for (int k = 0; k < 3; ++k) {
    out[k].open(corpus_split_path(opt.out_dir, static_cast<Split>(k)) + suffix,
                std::ios::binary | std::ios::trunc);
    check(static_cast<bool>(out[k]), "--out ", opt.out_dir, ": cannot write ",
          split_name(static_cast<Split>(k)), ".jsonl");
  }
  std::map<std::string, SourceSummary> summary;
  Emitter em{opt, out, summary, {}};
  std::map<std::string, std::string> train_text;
  if (!opt.generators.empty()) em.train_text = &train_text;
  std::vector<std::string> order, generated;
  auto cleanup = [&] {
    for (int k = 0; k < 3; ++k) {
      out[k].close();
      std::remove((corpus_split_path(opt.out_dir, static_cast<Split>(k)) + suffix).c_str());
    }
  };
  try {
    for (const auto& spec : opt.sources) {
      auto eq = spec.find('=');
      std::string name = eq == std::string::npos ? spec : spec.substr(0, eq);
      check(!name.empty() && name.find('/') == std::string::npos, "--sources: bad source name in '",
            spec, "'");
      check(std::find(order.begin(), order.end(), name) == order.end(), "--sources: ", name,
            " given twice");
      order.push_back(name);
      summary[name];
      if (opt.generators.count(name)) {
        generated.push_back(name);  // after the sources whose text it draws on
        continue;
      }
      opt.log("corpus: collecting " + name);
      if (eq != std::string::npos) {
        std::string dir = spec.substr(eq + 1);
        check(fs::is_directory(dir), "--sources ", spec, ": ", dir, " is not a directory");
        collect_dir(em, name, dir, {}, "unknown (user-supplied directory " + dir + ")");
      } else if (name == "bible") {
        collect_bible(em);
      } else if (name == "pari") {
        collect_pari(em);
      } else if (name == "synthetic") {
        SyntheticOptions so;
        so.documents = opt.synthetic_documents;
        so.target_chars = opt.synthetic_chars;
        so.seed = opt.synthetic_seed;
        check(so.documents > 0, "--synthetic-docs must be positive");
        for (std::int64_t i = 0; i < so.documents; ++i) {
          Record r = synthetic_record(i, so);
          em.emit(name, r.license, std::move(r.id), std::move(r.text), "synthetic generator");
        }
      } else if (name == "hol-light") {
        collect_package_dir(em, name, "/usr/share/hol-light", "hol-light", {".ml"}, "BSD-2-clause");
      } else if (name == "python") {
        collect_package_dir(em, name, "/usr/share/doc/python3.11/html/_sources", "python3.11-doc",
                            {".rst.txt"}, "PSF-2.0");
      } else if (name == "linux") {
        collect_package_dir(em, name, "/usr/share/doc/linux-doc-6.1/html/_sources", "linux-doc-6.1",
                            {".rst.txt"}, "GPL-2");
      } else {
        std::string names;
        for (const auto& s : known_sources()) names += (names.empty() ? "" : ", ") + s.name;
        names += ", synthetic";
        fail("--sources: unknown source '", name, "' (known: ", names,
             "; or NAME=DIR for a directory of text files)");
      }
      const auto& s = summary[name];
      opt.log("corpus: " + name + ": " +
              std::to_string(s.documents[0] + s.documents[1] + s.documents[2]) + " documents");
    }
    em.train_text = nullptr;
    for (const auto& name : generated) {
      opt.log("corpus: generating " + name);
      for (Record& r : opt.generators.at(name)(train_text))
        em.emit(name, r.license, std::move(r.id), std::move(r.text), name + " generator");
      const auto& s = summary[name];
      opt.log("corpus: " + name + ": " +
              std::to_string(s.documents[0] + s.documents[1] + s.documents[2]) + " documents");
    }
    for (int k = 0; k < 3; ++k) {
      out[k].flush();
      check(static_cast<bool>(out[k]), "--out ", opt.out_dir, ": write failed (disk full?)");
      out[k].close();
    }
  } catch (...) {
    cleanup();
    throw;
  }
  for (int k = 0; k < 3; ++k) {
    std::string final_path = corpus_split_path(opt.out_dir, static_cast<Split>(k));
    fs::rename(final_path + suffix, final_path);
  }
  write_manifest((fs::path(opt.out_dir) / "manifest.json").string(), summary, order);
  return summary;
}

}  // namespace harpe::data

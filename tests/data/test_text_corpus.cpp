// UTF-8 handling, stable hashing, deterministic splits and corpus building from a directory.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/corpus.h"
#include "data/synthetic.h"
#include "data/text.h"

namespace fs = std::filesystem;
using namespace harpe::data;

namespace {

fs::path temp_dir(const std::string& name) {
  fs::path d =
      fs::temp_directory_path() / ("harpe_test_corpus_" + std::to_string(::getpid())) / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

void write(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << bytes;
}

std::vector<Record> read_split(const std::string& dir, Split s) {
  std::vector<Record> out;
  for_each_record(corpus_split_path(dir, s), [&](Record&& r) { out.push_back(std::move(r)); });
  return out;
}

}  // namespace

TEST(Text, Utf8Validation) {
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("\xC3\xA9t\xC3\xA9 \xE6\xBC\xA2 \xF0\x9F\x98\x80"));  // é, 漢, 😀
  EXPECT_TRUE(is_valid_utf8("\xF4\x8F\xBF\xBF"));                                 // U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));                                        // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xE0\x80\xAF"));      // overlong, 3 bytes
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));      // surrogate U+D800
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // > U+10FFFF
  EXPECT_FALSE(is_valid_utf8("abc\xE6\xBC"));       // truncated at end
  EXPECT_FALSE(is_valid_utf8("\x80"));              // lone continuation
  EXPECT_FALSE(is_valid_utf8("\xFF"));
}

TEST(Text, Utf8RepairReplacesEachBadByte) {
  std::string s = "ok\xFFok\xC3\xA9\x80!";
  EXPECT_EQ(repair_utf8(s), 2u);
  EXPECT_EQ(s, "ok\xEF\xBF\xBDok\xC3\xA9\xEF\xBF\xBD!");
  EXPECT_TRUE(is_valid_utf8(s));
  std::string good = "d\xC3\xA9j\xC3\xA0";
  EXPECT_EQ(repair_utf8(good), 0u);
  EXPECT_EQ(good, "d\xC3\xA9j\xC3\xA0");
}

TEST(Text, BinaryDetectionAndFnv) {
  EXPECT_FALSE(looks_binary("text\n"));
  EXPECT_TRUE(looks_binary(std::string("ELF\0\1", 5)));
  // Published FNV-1a 64 test vectors.
  EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(fnv1a64("foobar"), 0x85944171f73967e8ull);
}

TEST(Corpus, SplitByHashIsStableAndProportional) {
  int counts[3] = {0, 0, 0};
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    std::string id = "doc/" + std::to_string(i);
    Split s = split_of(id);
    EXPECT_EQ(s, split_of(id));
    std::uint64_t b = fnv1a64(id) % 100;
    EXPECT_EQ(s, b < 90 ? Split::train : b < 95 ? Split::validation : Split::test);
    counts[static_cast<int>(s)]++;
  }
  // Binomial standard deviations are ~0.2% (train) and ~0.15% (others); allow 1%.
  EXPECT_NEAR(counts[0] / double(n), 0.90, 0.01);
  EXPECT_NEAR(counts[1] / double(n), 0.05, 0.01);
  EXPECT_NEAR(counts[2] / double(n), 0.05, 0.01);
  EXPECT_EQ(parse_split("validation"), Split::validation);
  EXPECT_THROW(parse_split("dev"), harpe::Error);
}

TEST(Corpus, JsonRoundTrip) {
  Record r{"x/1", "src", "MIT",
           "quote \" backslash \\ newline \n tab \t unicode \xE6\xBC\xA2 ctrl \x01"};
  Record back = record_from_json(record_to_json(r), "test");
  EXPECT_EQ(back.id, r.id);
  EXPECT_EQ(back.text, r.text);
  EXPECT_EQ(record_to_json(r).find('\n'), std::string::npos);
  EXPECT_THROW(record_from_json("{\"id\": 1}", "test"), harpe::Error);
  EXPECT_THROW(record_from_json("not json", "test"), harpe::Error);
}

TEST(Corpus, DirectorySourceHandlesBadInput) {
  fs::path in = temp_dir("in");
  std::set<std::string> expected_ids;
  for (int i = 0; i < 60; ++i) {
    write(in / (std::string("d").append(std::to_string(i)).append(".txt")),
          "document number " + std::to_string(i) + "\n");
    expected_ids.insert(std::string("mine/d").append(std::to_string(i)).append(".txt"));
  }
  write(in / "sub/latin1.txt", "caf\xE9 au lait\n");  // Latin-1 byte: invalid UTF-8
  expected_ids.insert("mine/sub/latin1.txt");
  write(in / "blob.bin", std::string("\x7F"
                                     "ELF\0\0\1",
                                     7));
  write(in / "empty.txt", "  \n\n");
  fs::path out = temp_dir("out");
  std::vector<std::string> notes;
  CorpusOptions opt;
  opt.out_dir = out.string();
  opt.sources = {"mine=" + in.string()};
  opt.log = [&](const std::string& l) { notes.push_back(l); };
  auto summary = build_corpus(opt);
  const auto& s = summary.at("mine");
  EXPECT_EQ(s.skipped_binary, 1);
  EXPECT_EQ(s.skipped_empty, 1);
  EXPECT_EQ(s.utf8_replacements, 1);
  std::set<std::string> ids;
  std::int64_t total = 0;
  for (auto sp : {Split::train, Split::validation, Split::test}) {
    auto recs = read_split(out.string(), sp);
    EXPECT_EQ(static_cast<std::int64_t>(recs.size()), s.documents[static_cast<int>(sp)]);
    for (auto& r : recs) {
      EXPECT_EQ(split_of(r.id), sp) << r.id;
      EXPECT_TRUE(ids.insert(r.id).second) << "duplicate " << r.id;  // disjoint splits
      EXPECT_EQ(r.source, "mine");
      EXPECT_TRUE(is_valid_utf8(r.text));
      if (r.id == "mine/sub/latin1.txt") {
        EXPECT_EQ(r.text, "caf\xEF\xBF\xBD au lait\n");
      }
      ++total;
    }
  }
  EXPECT_EQ(ids, expected_ids);
  EXPECT_EQ(total, 61);
  bool binary_note = false;
  for (auto& n : notes)
    binary_note = binary_note || (n.find("binary") != std::string::npos &&
                                  n.find("blob.bin") != std::string::npos);
  EXPECT_TRUE(binary_note);
  EXPECT_TRUE(fs::exists(out / "manifest.json"));

  // Strict mode rejects, naming the file; no partial split files are left behind.
  fs::path out2 = temp_dir("out2");
  opt.out_dir = out2.string();
  opt.strict_utf8 = true;
  try {
    build_corpus(opt);
    ADD_FAILURE() << "strict UTF-8 accepted invalid input";
  } catch (const harpe::Error& e) {
    EXPECT_NE(std::string(e.what()).find("latin1.txt"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(out2 / "train.jsonl"));
  for (auto& e : fs::directory_iterator(out2)) ADD_FAILURE() << "left behind: " << e.path();
}

TEST(Corpus, GeneratedSourceRunsLastOnTrainingText) {
  fs::path in = temp_dir("gen_in");
  for (int i = 0; i < 40; ++i)
    write(in / std::string("d").append(std::to_string(i)).append(".txt"),
          std::string("text of document ").append(std::to_string(i)).append("\n"));
  CorpusOptions opt;
  opt.out_dir = temp_dir("gen_out").string();
  opt.sources = {"made", "mine=" + in.string()};  // listed first, generated after "mine"
  std::string seen;
  opt.generators["made"] = [&](const std::map<std::string, std::string>& train_text) {
    seen = train_text.at("mine");
    std::vector<Record> out;
    for (int i = 0; i < 30; ++i)
      out.push_back(Record{std::string("made/").append(std::to_string(i)), "made", "test",
                           std::string("generated ").append(std::to_string(i))});
    return out;
  };
  auto summary = build_corpus(opt);
  const auto& made = summary.at("made");
  EXPECT_EQ(made.documents[0] + made.documents[1] + made.documents[2], 30);
  // The generator saw exactly the training split of "mine", nothing held out.
  std::string expect;
  for (const auto& r : read_split(opt.out_dir, Split::train))
    if (r.source == "mine") expect += r.text + "\n";
  EXPECT_FALSE(expect.empty());
  for (auto sp : {Split::validation, Split::test})
    for (const auto& r : read_split(opt.out_dir, sp)) {
      if (r.source == "mine") {
        EXPECT_EQ(seen.find(r.text), std::string::npos) << r.id;
      }
    }
  EXPECT_EQ(seen.size(), expect.size());
  for (auto sp : {Split::train, Split::validation, Split::test})
    for (const auto& r : read_split(opt.out_dir, sp)) {
      if (r.source == "made") {
        EXPECT_EQ(split_of(r.id), sp);
      }
    }
}

TEST(Corpus, UnknownSourceAndMissingDirectory) {
  CorpusOptions opt;
  opt.out_dir = temp_dir("bad").string();
  opt.sources = {"nonesuch"};
  EXPECT_THROW(build_corpus(opt), harpe::Error);
  opt.sources = {"x=/nonexistent/dir"};
  EXPECT_THROW(build_corpus(opt), harpe::Error);
}

TEST(Synthetic, RecallRecordsAreDeterministicAndConsistent) {
  SyntheticOptions o;
  o.target_chars = 3000;
  for (int i = 0; i < 20; ++i) {
    Record a = synthetic_record(i, o), b = synthetic_record(i, o);
    EXPECT_EQ(a.text, b.text);
    EXPECT_EQ(a.source, "synthetic");
    EXPECT_NEAR(static_cast<double>(a.text.size()), 3000.0, 400.0);
    EXPECT_EQ(a.text.find("magic"), std::string::npos);  // no RULER template wording
    // Every question's answer is a number stated in the first fifth (before the filler).
    int questions = 0;
    for (std::size_t q = a.text.find("Question: what is the "); q != std::string::npos;
         q = a.text.find("Question: what is the ", q + 1)) {
      ++questions;
      std::size_t of = a.text.find(" number of ", q);
      std::size_t qm = a.text.find('?', of);
      std::string name = a.text.substr(of + 11, qm - of - 11);
      std::size_t ans = a.text.find("Answer: ", qm) + 8;
      std::string value = a.text.substr(ans, a.text.find('.', ans) - ans);
      std::size_t stated = a.text.find(name);
      ASSERT_NE(stated, std::string::npos);
      std::size_t line_end = a.text.find('\n', stated);
      EXPECT_NE(a.text.substr(stated, line_end - stated).find(value), std::string::npos)
          << name << " " << value;
      std::size_t line_start = a.text.rfind('\n', stated);
      EXPECT_NE(a.text.substr(line_start, line_end - line_start).find(value), std::string::npos);
      EXPECT_LT(stated, a.text.size() / 4) << "fact stated early";
      EXPECT_GT(q, a.text.size() * 3 / 4) << "asked late";
    }
    EXPECT_EQ(questions, o.questions);
  }
  EXPECT_NE(synthetic_record(0, o).text, synthetic_record(1, o).text);
}

// The `harpe data` commands end to end on a tiny directory corpus: exit codes, outputs,
// determinism.
#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "data/shard.h"
#include "support/run_program.h"

namespace fs = std::filesystem;

namespace {

using CliResult = harpe::testing::ProgramResult;

CliResult run(const std::string& args) { return harpe::testing::run_harpe(args); }

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// `docs` text files f<d>.txt of `words` words each (ten distinct words) under dir.
void write_toy_texts(const fs::path& dir, int docs, int words) {
  fs::create_directories(dir);
  const char* vocab[] = {"alpha", "beta",  "gamma",   "delta", "river",
                         "stone", "light", "harbour", "seven", "lemon"};
  for (int d = 0; d < docs; ++d) {
    std::ofstream f(dir / std::string("f").append(std::to_string(d)).append(".txt"),
                    std::ios::binary);
    for (int i = 0; i < words; ++i)
      f << vocab[(d * 3 + i * 7 + i / 4) % 10] << ((i % 11 == 10) ? ".\n" : " ");
  }
}

}  // namespace

TEST(DataCli, CorpusTokenizerShardsStats) {
  fs::path dir = fs::temp_directory_path() / ("harpe_test_datacli_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  write_toy_texts(dir / "in", 60, 150);
  std::string c = (dir / "corpus").string();
  CliResult r = run("data corpus --out " + c + " --sources toy=" + (dir / "in").string());
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("toy"), std::string::npos) << r.out;

  std::string m1 = (dir / "a.model").string(), m2 = (dir / "b.model").string();
  r = run("data tokenizer --corpus " + c + " --vocab 300 --out " + m1);
  ASSERT_EQ(r.code, 0) << r.out;
  r = run("data tokenizer --corpus " + c + " --vocab 300 --out " + m2);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(slurp(m1), slurp(m2)) << "two separate runs must give the same model";

  std::string shard = (dir / "train.bin").string();
  r = run("data shards --corpus " + c + " --tokenizer " + m1 + " --split train --out " + shard);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("MB/s"), std::string::npos) << r.out;
  auto s = harpe::data::Shard::open(shard);
  EXPECT_GT(s.n_documents(), 40u);
  EXPECT_EQ(s.vocab_size(), 300u);
  r = run("data stats " + shard);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("toy"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(">128k"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(std::to_string(s.n_tokens())), std::string::npos) << r.out;

  // Bad input: one-line error, exit 1.
  for (const std::string& bad :
       {"data stats " + (dir / "missing.bin").string(), "data stats " + m1,
        "data shards --corpus " + c + " --tokenizer " + m1 + " --split dev --out " + shard,
        "data tokenizer --corpus " + (dir / "nope").string() + " --out " + m2,
        "data corpus --out " + c + " --sources nosuchsource"}) {
    r = run(bad);
    EXPECT_EQ(r.code, 1) << bad << "\n" << r.out;
    // The error is the last line, one line long.
    std::string last = r.out.substr(r.out.rfind('\n', r.out.size() - 2) + 1);
    if (r.out.find('\n') == r.out.size() - 1) last = r.out;
    EXPECT_EQ(last.rfind("harpe: error: ", 0), 0u) << bad << "\n" << r.out;
  }
  fs::remove_all(dir);
}

TEST(DataCli, NiahSourceOnADirectoryHaystack) {
  fs::path dir =
      fs::temp_directory_path() / ("harpe_test_datacli_niah_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  write_toy_texts(dir / "in", 40, 400);
  const std::string c = (dir / "corpus").string(),
                    src = " --sources toy=" + (dir / "in").string() + ",niah";
  CliResult r = run("data corpus --out " + c + src +
                    " --niah-haystack toy --niah-docs 50 --niah-tokens 64:512");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("niah"), std::string::npos) << r.out;
  const std::string train = slurp(dir / "corpus" / "train.jsonl");
  EXPECT_NE(train.find("\"source\":\"niah\""), std::string::npos);
  EXPECT_NE(train.find("special magic"), std::string::npos);
  // The haystack source must be among the sources; a malformed range is refused.
  r = run("data corpus --out " + c + src + " --niah-haystack bible");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("--niah-haystack bible"), std::string::npos) << r.out;
  r = run("data corpus --out " + c + src + " --niah-haystack toy --niah-tokens 64-512");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("MIN:MAX"), std::string::npos) << r.out;
  fs::remove_all(dir);
}

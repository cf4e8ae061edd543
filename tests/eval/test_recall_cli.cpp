// `harpe eval recall` and `harpe data recall` as a user runs them on a tiny random model: the run
// directory (results.json with per-variant, per-length and per-bucket counts, results.md, heatmap
// SVGs), "Nx" lengths, a JSONL file made elsewhere, and one-line errors for bad input.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "eval/recall.h"
#include "eval/report.h"
#include "io/atomic_file.h"
#include "model_fixture.h"
#include "support/run_program.h"

namespace harpe::eval {
namespace {

namespace fs = std::filesystem;
using harpe::testing::run_harpe;

TEST(RecallCli, EvaluatesByLengthAndDistanceAndWritesTheRunDirectory) {
  const auto& ck = testing::tiny_checkpoint();
  const std::string out = ck.root + "/recall-run";
  // micro has vocab 360; its config says max_position_embeddings 1024, so C0 = 1024: 1x..
  const auto r = run_harpe("eval recall --model " + ck.model_dir +
                           " --lengths 64,128 --variants "
                           "multiquery,copy,multivalue -n 4 --out " +
                           out + " --group g");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("recall multiquery @ 128: query"), std::string::npos) << r.out;
  const RunResults run = read_run(out);
  ASSERT_EQ(run.recall.size(), 6u);
  EXPECT_EQ(run.meta.at("group"), "g");
  for (const RecallResult& x : run.recall) {
    EXPECT_EQ(x.sequences, 4);
    int64_t q = 0;
    for (const auto& b : x.buckets) q += b.queries;
    EXPECT_EQ(q, x.queries);
  }
  EXPECT_TRUE(fs::exists(out + "/results.md"));
  EXPECT_TRUE(fs::exists(out + "/recall_multiquery.svg"));
  EXPECT_TRUE(fs::exists(out + "/recall_copy.svg"));
  // "Nx" means N times C0 (here the config's 1024).
  const auto x = run_harpe("eval recall --model " + ck.model_dir + " --lengths 0.5x -n 1");
  EXPECT_NE(x.code, 0);
}

TEST(RecallCli, AFileMadeElsewhereAndBadInputAreOneLineErrors) {
  const auto& ck = testing::tiny_checkpoint();
  const std::string dir = ck.root + "/recall-files";
  fs::create_directories(dir);
  // A file written by `harpe data recall --jsonl` evaluates as is.
  auto r = run_harpe("data recall --out " + dir + "/t.bin --jsonl " + dir +
                     "/t.jsonl --length 96 "
                     "--samples 6 --variants all --vocab 300");
  ASSERT_EQ(r.code, 0) << r.out;
  r = run_harpe("eval recall --model " + ck.model_dir + " --input " + dir + "/t.jsonl");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("recall multikey @ 96"), std::string::npos) << r.out;
  // A malformed line, a token outside the model's vocabulary, a length the machine cannot hold.
  std::string good = io::read_file(dir + "/t.jsonl");
  good = good.substr(0, good.find('\n') + 1);
  io::write_text_atomic(dir + "/bad1.jsonl", good + "{\"vocab\": 300, \"tokens\": [1,2\n");
  io::write_text_atomic(
      dir + "/bad2.jsonl",
      good + R"({"vocab":400,"tokens":[1,390,3],"queries":[{"at":2,"answers":[3]}]})" + "\n");
  for (const auto& [file, needle] :
       {std::pair<std::string, std::string>{dir + "/bad1.jsonl", dir + "/bad1.jsonl:2"},
        {dir + "/bad2.jsonl", dir + "/bad2.jsonl:2: the sequence's vocabulary (400)"}}) {
    r = run_harpe("eval recall --model " + ck.model_dir + " --input " + file);
    EXPECT_EQ(r.code, 1) << r.out;
    EXPECT_NE(r.out.find(needle), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << "one line: " << r.out;
  }
  r = run_harpe("eval recall --model " + ck.model_dir +
                " --lengths 16000000 -n 1 --variants single");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("at inference but"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace harpe::eval

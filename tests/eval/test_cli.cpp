// `harpe eval tasks` and `harpe report` as a user runs them.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "eval/report.h"
#include "support/run_program.h"

namespace {

namespace fs = std::filesystem;

using CliRun = harpe::testing::ProgramResult;

CliRun harpe_run(const std::string& args) { return harpe::testing::run_harpe(args); }

TEST(Cli, EvalTasksJsonFitsTheBudget) {
  const CliRun r =
      harpe_run("eval tasks --task niah_multikey_3 --task vt --length 1024 2048 -n 2 --json");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 8u);  // 2 tasks x 2 lengths x 2 samples
  for (const auto& s : j) {
    EXPECT_LE(s["budget_tokens"].get<int64_t>(), s["length"].get<int64_t>());
    EXPECT_FALSE(s["outputs"].empty());
    for (const auto& o : s["outputs"])
      EXPECT_NE(s["input"].get<std::string>().find(o.get<std::string>()), std::string::npos);
  }
  EXPECT_EQ(j[0]["task"], "niah_multikey_3");
  EXPECT_EQ(j[7]["task"], "vt");
  EXPECT_EQ(j[7]["tokens_to_generate"], 30);
}

TEST(Cli, EvalTasksErrorsAreOneLine) {
  CliRun r = harpe_run("eval tasks --task nope");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out.rfind("harpe: error: unknown task 'nope'", 0), 0u) << r.out;
  r = harpe_run("eval tasks --task niah_single_2 --length 2048");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--essay"), std::string::npos) << r.out;
  r = harpe_run("eval tasks --task niah_single_1 --length 50");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("too small"), std::string::npos) << r.out;
  r = harpe_run("eval tasks --task niah_single_1 --tokenizer /nonexistent.model");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("/nonexistent.model"), std::string::npos) << r.out;
}

TEST(Cli, ReportMergesRuns) {
  const fs::path dir =
      fs::temp_directory_path() / ("harpe-test-cli-report-" + std::to_string(::getpid()));
  fs::create_directories(dir / "a");
  fs::create_directories(dir / "b");
  harpe::eval::RunResults a, b;
  a.name = "rope";
  a.tasks.resize(1);
  a.tasks[0].task = "niah_single_1";
  a.tasks[0].length = 4096;
  a.tasks[0].score = 40;
  b = a;
  b.name = "harpe";
  b.tasks[0].score = 95.5;
  harpe::eval::write_results(a, (dir / "a" / "results.json").string());
  harpe::eval::write_results(b, (dir / "b" / "results.json").string());
  const CliRun r = harpe_run("report " + (dir / "a").string() + " " + (dir / "b").string() +
                             " --out " + (dir / "out").string());
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("| rope | 40.00 | 40.00 |"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| harpe | 95.50 | 95.50 |"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::file_size(dir / "out" / "comparison.html") > 500);
  EXPECT_TRUE(fs::file_size(dir / "out" / "comparison.md") > 100);
  const CliRun bad = harpe_run("report " + (dir / "missing").string());
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.out.find("harpe: error:"), std::string::npos);
  fs::remove_all(dir);
}

TEST(Cli, ReportRescoreAddsWordScoresToOlderResults) {
  const fs::path dir =
      fs::temp_directory_path() / ("harpe-test-cli-rescore-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path file = dir / "results.json";
  {
    // As written before word_score existed: two passkey predictions, exact 50, partial 90.
    std::ofstream f(file);
    f << R"({"schema": "harpe.eval.v1", "name": "abf", "tasks": [{"task": "passkey", "length": 256,
      "score": 50, "samples": 2, "predictions": [
      {"expected": ["kilo whiskey victor bravo hotel"], "output": "kilo whiskey victor bravo hotel.", "score": 100},
      {"expected": ["alpha golf charlie zulu papa"], "output": "alpha golf zulu zulu papa.", "score": 0}]}],
      "ppl": [{"dataset": "corpus-test-bible", "window": 256, "stride": 64, "nll_sum": 300.0, "tokens": 100}]})";
  }
  const CliRun r = harpe_run("report --rescore " + dir.string());
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("| abf (1 tasks) | 90.00 | 90.00 |"), std::string::npos) << r.out;
  std::ifstream in(file);
  const auto j = nlohmann::json::parse(in);
  EXPECT_DOUBLE_EQ(j["tasks"][0]["word_score"].get<double>(), 90.0);
  EXPECT_DOUBLE_EQ(j["tasks"][0]["predictions"][1]["word_score"].get<double>(), 80.0);
  EXPECT_DOUBLE_EQ(j["tasks"][0]["word_baseline"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(j["tasks"][0]["score"].get<double>(), 50.0);  // the rest as it was
  EXPECT_EQ(j["ppl"][0]["nll_sum"].get<double>(), 300.0);
  EXPECT_EQ(j["name"], "abf");
  fs::remove_all(dir);
}

}  // namespace

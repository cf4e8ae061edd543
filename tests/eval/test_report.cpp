// Reports: the markdown table of a hand-made run (values checked by hand), the JSON round trip,
// and the multi-run comparison in markdown and HTML.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "eval/report.h"
#include "test_util.h"

namespace harpe::eval {
namespace {

namespace fs = std::filesystem;

TaskResult tr(const std::string& task, int64_t len, double score) {
  TaskResult t;
  t.task = task;
  t.length = len;
  t.score = score;
  t.word_score = score;
  t.samples = 2;
  return t;
}

RunResults run_a() {
  RunResults r;
  r.name = "harpe";
  r.meta = {{"method", "harpe"}, {"seed", "42"}};
  r.tasks = {tr("niah_single_1", 4096, 100), tr("niah_single_1", 8192, 90), tr("vt", 4096, 80),
             tr("vt", 8192, 50)};
  Prediction p;
  p.index = 0;
  p.length = 4096;
  p.expected = {"1234567"};
  p.output = "1234567.";
  p.score = 100;
  p.prompt_tokens = 3900;
  r.tasks[0].predictions = {p};
  return r;
}

TEST(Report, MarkdownTableOfOneRun) {
  const std::string md = markdown_table(run_a());
  const std::string expect =
      "| task | 4K | 8K | avg |\n"
      "| --- | ---: | ---: | ---: |\n"
      "| niah_single_1 | 100.00 | 90.00 | 95.00 |\n"
      "| vt | 80.00 | 50.00 | 65.00 |\n"
      "| avg | 90.00 | 70.00 | 80.00 |\n";
  EXPECT_EQ(md, expect);
  RunResults partial = run_a();
  partial.tasks.pop_back();  // vt @ 8K missing
  EXPECT_NE(markdown_table(partial).find("| vt | 80.00 | - | 80.00 |"), std::string::npos);
  EXPECT_NE(markdown_table(partial).find("| avg | 90.00 | 90.00 | 90.00 |"), std::string::npos);
  // The partial-credit table reads word_score.
  RunResults words = run_a();
  words.tasks[3].word_score = 70;
  EXPECT_NE(markdown_table(words, TaskMetric::words).find("| vt | 80.00 | 70.00 | 75.00 |"),
            std::string::npos);
  EXPECT_NE(markdown_table(words).find("| vt | 80.00 | 50.00 | 65.00 |"), std::string::npos);
}

TEST(Report, JsonRoundTrip) {
  RunResults r = run_a();
  r.has_needle = true;
  r.needle.lengths = {1024, 2048};
  r.needle.depths = {0, 100};
  r.needle.scores = {{100, std::nan("")}, {50, 0}};
  r.needle_svg = "needle.svg";
  r.ppl = {{"pg19-test", 4096, 256, 3000.0, 1000}};
  const RunResults back = results_from_json(results_to_json(r), "mem");
  EXPECT_EQ(back.name, "harpe");
  EXPECT_EQ(back.meta.at("seed"), "42");
  ASSERT_EQ(back.tasks.size(), 4u);
  EXPECT_EQ(back.tasks[3].task, "vt");
  EXPECT_EQ(back.tasks[3].length, 8192);
  EXPECT_DOUBLE_EQ(back.tasks[3].score, 50);
  ASSERT_EQ(back.tasks[0].predictions.size(), 1u);
  EXPECT_EQ(back.tasks[0].predictions[0].output, "1234567.");
  EXPECT_EQ(back.tasks[0].predictions[0].expected, std::vector<std::string>{"1234567"});
  EXPECT_DOUBLE_EQ(back.tasks[0].predictions[0].depth, -1);
  EXPECT_DOUBLE_EQ(back.tasks[0].word_score, 100);
  EXPECT_DOUBLE_EQ(back.tasks[0].predictions[0].word_score, 0);  // as written (run_a leaves it 0)
  ASSERT_TRUE(back.has_needle);
  EXPECT_TRUE(std::isnan(back.needle.scores[0][1]));
  EXPECT_DOUBLE_EQ(back.needle.scores[1][0], 50);
  EXPECT_EQ(back.needle_svg, "needle.svg");
  ASSERT_EQ(back.ppl.size(), 1u);
  EXPECT_NEAR(back.ppl[0].perplexity(), std::exp(3.0), 1e-12);
  // Without predictions.
  EXPECT_EQ(results_from_json(results_to_json(r, false), "m").tasks[0].predictions.size(), 0u);
  // Results written before word_score existed: recomputed from the kept predictions.
  const std::string old_json = R"({"schema": "harpe.eval.v1", "tasks": [{"task": "passkey",
      "length": 256, "score": 50, "samples": 2, "predictions": [
      {"expected": ["kilo whiskey victor bravo hotel"], "output": "kilo whiskey victor bravo hotel.", "score": 100},
      {"expected": ["alpha golf charlie zulu papa"], "output": "alpha golf zulu zulu papa.", "score": 0}]},
      {"task": "passkey", "length": 512, "score": 0}]})";
  const RunResults old = results_from_json(old_json, "old");
  EXPECT_DOUBLE_EQ(old.tasks[0].predictions[1].word_score, 80);
  EXPECT_DOUBLE_EQ(old.tasks[0].word_score, 90);
  // Baseline: output 0 vs key 1: nothing in place (0); output 1 vs key 0: nothing (0).
  EXPECT_DOUBLE_EQ(old.tasks[0].word_baseline, 0);
  EXPECT_TRUE(std::isnan(old.tasks[1].word_score));  // no predictions kept: unknown, shown as "-"
  EXPECT_THROW(results_from_json("{", "bad"), Error);
  EXPECT_THROW(results_from_json("{\"schema\": \"other\"}", "bad"), Error);
  // Found by tests/fuzz/fuzz_results: a schema of the wrong type escaped as a JSON library error.
  EXPECT_THROW(results_from_json("{\"schema\": []}", "bad"), Error);
  EXPECT_THROW(results_from_json("{\"schema\": 7}", "bad"), Error);
  // Also found by fuzzing: a float too large for a count was converted to an integer (undefined
  // behaviour); every integer field is read through the checked io::as_int.
  const std::string huge = "6" + std::string(120, '6');
  const std::string head = R"({"schema": "harpe.eval.v1", )";
  const std::vector<std::string> bad = {
      head + R"("recall": [{"variant": "single", "length": )" + huge +
          R"(, "queries": 1, "queries_exact": 1, "sequences": 1, "sequences_exact": 1}]})",
      head + R"("tasks": [{"task": "t", "length": 64, "score": 1, "samples": )" + huge + "}]}",
      head + R"("tasks": [{"task": "t", "length": 64.5, "score": 1}]})",
      head +
          R"("ppl": [{"dataset": "d", "window": 1e300, "stride": 1, "nll_sum": 1, "tokens": 1}]})",
      head + R"("needle": {"lengths": [1e300], "depths": [0], "scores": [[1]]}})"};
  for (const std::string& doc : bad) EXPECT_THROW(results_from_json(doc, "huge"), Error) << doc;
  EXPECT_THROW(
      results_from_json("{\"schema\": \"harpe.eval.v1\", \"tasks\": [{\"task\": 1}]}", "b"), Error);
}

TEST(Report, ComparisonOfRunsInMarkdownAndHtml) {
  RunResults a = run_a();
  RunResults b;
  b.name = "yarn";
  b.tasks = {tr("niah_single_1", 4096, 60), tr("niah_single_1", 16384, 20)};
  b.ppl = {{"pg19-test", 4096, 256, 2000.0, 1000}};
  const std::string md = comparison_markdown({a, b});
  // Summary: harpe 4K = mean(100, 80) = 90, 8K = 70, avg 80; yarn 4K 60, 16K 20, avg 40.
  EXPECT_NE(md.find("| run | 4K | 8K | 16K | avg |"), std::string::npos);
  EXPECT_NE(md.find("| harpe (2 tasks) | 90.00 | 70.00 | - | 80.00 |"), std::string::npos);
  EXPECT_NE(md.find("| yarn (1 tasks) | 60.00 | - | 20.00 | 40.00 |"), std::string::npos);
  EXPECT_NE(md.find("Partial credit (word_match"), std::string::npos);
  EXPECT_NE(md.find("## niah_single_1"), std::string::npos);
  EXPECT_NE(md.find("| yarn | 60.00 | - | 20.00 | 40.00 |"), std::string::npos);
  EXPECT_NE(md.find("| yarn | - | - | - | - |"), std::string::npos);  // yarn has no vt
  EXPECT_NE(md.find("| yarn | " + std::string("7.39") + " |"), std::string::npos);  // e^2
  EXPECT_THROW(comparison_markdown({}), Error);

  // HTML: the needle heatmap is redrawn from the scores, never read from the file the run names.
  const fs::path dir =
      fs::temp_directory_path() / ("harpe-test-report-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  a.has_needle = true;
  a.needle.lengths = {1024};
  a.needle.depths = {50};
  a.needle.scores = {{75}};
  a.needle_svg = "needle.svg";
  { std::ofstream(dir / "needle.svg") << "<svg id=\"marker\"></svg>"; }
  const std::string html = comparison_html({a, b});
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(html.find("<svg id=\"marker\"></svg>"), std::string::npos);
  EXPECT_NE(html.find("<title>length 1024, depth 50.0%: 75.0</title>"), std::string::npos);
  EXPECT_GE(testing::count_occurrences(html, "<table>"), 4);
  EXPECT_NE(html.find("Needle grid: harpe"), std::string::npos);
  // Files on disk: write_results / read_run.
  write_results(a, (dir / "results.json").string());
  const RunResults back = read_run(dir.string());
  EXPECT_EQ(back.name, "harpe");
  EXPECT_EQ(back.tasks.size(), 4u);
  EXPECT_THROW(read_run((dir / "nope").string()), Error);
  fs::remove_all(dir);
}

// A results.json is untrusted: its image paths name any file (a private key, an SVG carrying a
// <script>), its names can hold markup. The report reads no file it names and escapes its text.
TEST(Report, CraftedResultsCannotInlineFilesOrMarkup) {
  const fs::path dir =
      fs::temp_directory_path() / ("harpe-test-report-crafted-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "run");
  { std::ofstream(dir / "secret.txt") << "TOP-SECRET-KEY"; }
  { std::ofstream(dir / "run" / "needle.svg") << "<svg><script>alert('svg')</script></svg>"; }
  { std::ofstream(dir / "run" / "needle.png") << "\x89PNG\r\n\x1a\nPNG-BYTES-MARKER"; }
  const std::string secret = (dir / "secret.txt").string();
  for (const std::string& svg : {secret, std::string("../secret.txt"), std::string("needle.svg")}) {
    const std::string json =
        R"({"schema": "harpe.eval.v1", "name": "<script>alert('name')</script>",
      "tasks": [{"task": "<img src=x onerror=alert(1)>", "length": 1024, "score": 50, "samples": 1}],
      "needle": {"lengths": [1024], "depths": [50], "scores": [[75]], "svg": ")" +
        svg + R"(", "png": "needle.png"}})";
    { std::ofstream(dir / "run" / "results.json") << json; }
    const RunResults r = read_run((dir / "run").string());
    const std::string html = comparison_html({r});
    EXPECT_EQ(html.find("TOP-SECRET-KEY"), std::string::npos) << svg;
    EXPECT_EQ(html.find("PNG-BYTES-MARKER"), std::string::npos) << svg;
    EXPECT_EQ(html.find("data:image/png"), std::string::npos) << svg;
    EXPECT_EQ(html.find("<script>"), std::string::npos) << svg;
    EXPECT_EQ(html.find("<img src=x"), std::string::npos) << svg;
    EXPECT_NE(html.find("&lt;script&gt;alert("), std::string::npos) << svg;
    EXPECT_NE(html.find("<title>length 1024, depth 50.0%: 75.0</title>"), std::string::npos);
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace harpe::eval

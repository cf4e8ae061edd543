// RULER's string_match_all / string_match_part on hand-made predictions, and the task runner.
#include <gtest/gtest.h>

#include "core/error.h"
#include "eval/scoring.h"

namespace harpe::eval {
namespace {

TEST(Scoring, StringMatchAllCountsTheShareOfExpectedValuesFound) {
  const std::vector<std::string> four = {"1234567", "2345678", "3456789", "4567890"};
  EXPECT_DOUBLE_EQ(string_match_all("The numbers are 1234567 and 3456789.", four), 50.0);
  EXPECT_DOUBLE_EQ(string_match_all("1234567 2345678 3456789 4567890", four), 100.0);
  EXPECT_DOUBLE_EQ(string_match_all("none here", four), 0.0);
  EXPECT_DOUBLE_EQ(string_match_all("only 4567890", four), 25.0);
  // Case-insensitive substring match, as RULER's r.lower() in pred.lower().
  EXPECT_DOUBLE_EQ(string_match_all("It is 9F3C2A1E-0000-4ABC-8DEF-0123456789AB.",
                                    {"9f3c2a1e-0000-4abc-8def-0123456789ab"}),
                   100.0);
  EXPECT_DOUBLE_EQ(string_match_all("QUIET-HARBOR", {"quiet-harbor", "x"}), 50.0);
  EXPECT_THROW(string_match_all("x", std::vector<std::string>{}), Error);
}

TEST(Scoring, AveragesOverSamples) {
  const std::vector<std::string> preds = {"a b", "a", "nothing"};
  const std::vector<std::vector<std::string>> refs = {{"a", "b"}, {"a", "b"}, {"z"}};
  // (100 + 50 + 0) / 3
  EXPECT_NEAR(string_match_all(preds, refs), 50.0, 1e-12);
  // part: (1 + 1 + 0) / 3 * 100
  EXPECT_NEAR(string_match_part(preds, refs), 200.0 / 3, 1e-12);
  EXPECT_THROW(string_match_all(preds, {{"a"}}), Error);
  EXPECT_THROW(string_match_all(std::vector<std::string>{}, {}), Error);
}

TEST(Scoring, PostprocessReplacesControlCharactersAndTrims) {
  EXPECT_EQ(postprocess_prediction("  12\x01" "34 \n"), "12\n34");
  EXPECT_EQ(postprocess_prediction("\t\n"), "");
}

// a + b by append (gcc 12 warns falsely on const char* + std::string&&).
std::string cat(std::string a, const std::string& b) {
  a += b;
  return a;
}

TEST(Scoring, RunTaskScoresEachSampleAndPassesTheBudget) {
  std::vector<TaskSample> samples(4);
  for (int i = 0; i < 4; ++i) {
    samples[static_cast<size_t>(i)].task = "niah_multivalue";
    samples[static_cast<size_t>(i)].length = 4096;
    samples[static_cast<size_t>(i)].index = i;
    samples[static_cast<size_t>(i)].input = cat("prompt ", std::to_string(i));
    samples[static_cast<size_t>(i)].outputs = {cat("v", std::to_string(i)), cat("w", std::to_string(i))};
    samples[static_cast<size_t>(i)].tokens_to_generate = 128;
  }
  int calls = 0;
  // Answers both values for even samples, one value for odd ones: mean (100 + 50) / 2 = 75.
  auto gen = [&](const std::string& prompt, int max_new) {
    ++calls;
    EXPECT_EQ(max_new, 128);
    const int i = prompt.back() - '0';
    const std::string n = std::to_string(i);
    return i % 2 == 0 ? cat(cat(cat("v", n), " w"), n) : cat(" v", n);
  };
  const TaskResult r = run_task(samples, gen);
  EXPECT_EQ(calls, 4);
  EXPECT_EQ(r.task, "niah_multivalue");
  EXPECT_EQ(r.length, 4096);
  EXPECT_EQ(r.samples, 4);
  EXPECT_DOUBLE_EQ(r.score, 75.0);
  EXPECT_DOUBLE_EQ(r.predictions[1].score, 50.0);
  EXPECT_EQ(r.predictions[1].output, "v1");  // post-processed
  EXPECT_THROW(run_task({}, gen), Error);
}

}  // namespace
}  // namespace harpe::eval

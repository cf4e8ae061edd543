// RULER's string_match_all / string_match_part on hand-made predictions, and the task runner.
#include <gtest/gtest.h>

#include <cmath>

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

TEST(Scoring, WordMatchGivesPartialCreditForWordsInPlace) {
  const std::vector<std::string> key = {"kilo whiskey victor bravo hotel"};
  EXPECT_DOUBLE_EQ(word_match("kilo whiskey victor bravo hotel.", key), 100.0);
  EXPECT_DOUBLE_EQ(word_match("Kilo, WHISKEY victor bravo hotel", key),
                   100.0);  // case, punctuation
  // Four of five in place (the fourth word wrong): 80; string_match_all gives 0.
  EXPECT_DOUBLE_EQ(word_match("kilo whiskey victor alpha hotel.", key), 80.0);
  EXPECT_DOUBLE_EQ(string_match_all("kilo whiskey victor alpha hotel.", key), 0.0);
  // In place at the best offset: after a preamble, or starting mid-key (the rest in place).
  EXPECT_DOUBLE_EQ(word_match("the key: kilo whiskey victor", key), 60.0);
  EXPECT_DOUBLE_EQ(word_match("victor bravo hotel", key), 60.0);
  // The right words in the wrong order count only where they line up: "hotel" first, then
  // "kilo whiskey" shifted by one lines up 2 words at offset 1.
  EXPECT_DOUBLE_EQ(word_match("hotel kilo whiskey", key), 40.0);
  EXPECT_DOUBLE_EQ(word_match("hotel xray alpha zulu alpha.", key), 20.0);  // "hotel" at offset -4
  EXPECT_DOUBLE_EQ(word_match("", key), 0.0);
  // Words are whole: "12345678" does not contain the word "1234567" (string_match_all's substring
  // does).
  EXPECT_DOUBLE_EQ(word_match("12345678", {"1234567"}), 0.0);
  EXPECT_DOUBLE_EQ(string_match_all("12345678", {"1234567"}), 100.0);
  // Several answers: the mean of each answer's best share.
  EXPECT_DOUBLE_EQ(word_match("1234567 and 7654321", {"1234567", "7654321", "1111111", "2222222"}),
                   50.0);
  EXPECT_DOUBLE_EQ(word_match("alpha bravo", {"alpha bravo", "bravo charlie"}), 75.0);
  EXPECT_THROW(word_match("x", std::vector<std::string>{}), Error);
}

TEST(Scoring, WordBaselineScoresEachOutputAgainstTheNextSamplesAnswer) {
  std::vector<Prediction> p(3);
  p[0].expected = {"alpha bravo"};
  p[0].output = "alpha bravo";  // vs p[1]'s "alpha zulu": 50
  p[1].expected = {"alpha zulu"};
  p[1].output = "yankee";  // vs p[2]'s "xray yankee": 50 (offset -1)
  p[2].expected = {"xray yankee"};
  p[2].output = "alpha bravo";  // vs p[0]'s "alpha bravo": 100
  EXPECT_DOUBLE_EQ(word_baseline(p), 200.0 / 3);
  EXPECT_TRUE(std::isnan(word_baseline({p[0]})));
}

TEST(Scoring, PostprocessReplacesControlCharactersAndTrims) {
  EXPECT_EQ(postprocess_prediction("  12\x01"
                                   "34 \n"),
            "12\n34");
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
    samples[static_cast<size_t>(i)].outputs = {cat("v", std::to_string(i)),
                                               cat("w", std::to_string(i))};
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
  EXPECT_DOUBLE_EQ(r.word_score, 75.0);  // one-word answers: the same as string_match_all here
  EXPECT_DOUBLE_EQ(r.predictions[1].word_score, 50.0);
  // Baseline: sample i's output against sample i+1's answers (v, w of another index): no credit.
  EXPECT_DOUBLE_EQ(r.word_baseline, 0.0);
  EXPECT_EQ(r.predictions[1].output, "v1");  // post-processed
  EXPECT_THROW(run_task({}, gen), Error);
}

}  // namespace
}  // namespace harpe::eval

// NIAH-format training documents: deterministic, each one answers its own prompt with values that
// its haystack holds, lengths spread log-uniformly, all eight tasks drawn, haystacks cut from the
// given text at different places, and seed streams that do not meet.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "eval/niah_training.h"
#include "eval/ruler.h"
#include "test_util.h"

namespace harpe::eval {
namespace {

// "... mentioned in the provided text is 1234567." -> {"1234567"}; "are a, b, c." -> {a, b, c}.
std::vector<std::string> answers_of(const std::string& text) {
  const std::string tail = "mentioned in the provided text ";
  size_t at = text.rfind(tail);
  EXPECT_NE(at, std::string::npos) << text;
  std::string rest = text.substr(at + tail.size());
  rest = rest.substr(rest.find(' ') + 1);  // after "is" / "are"
  EXPECT_GE(rest.size(), 2u);
  EXPECT_EQ(rest.substr(rest.size() - 2), ".\n");
  rest = rest.substr(0, rest.size() - 2);
  std::vector<std::string> out;
  for (size_t start = 0;;) {
    size_t comma = rest.find(", ", start);
    out.push_back(rest.substr(start, comma - start));
    if (comma == std::string::npos) break;
    start = comma + 2;
  }
  return out;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(NiahTraining, DocumentsAnswerTheirOwnPrompts) {
  const std::string haystack = testing::make_essay(4000, 3);
  NiahTrainingOptions o;
  o.min_tokens = 64;
  o.max_tokens = 2048;
  std::set<std::string> tasks;
  for (int64_t i = 0; i < 64; ++i) {
    const data::Record r = niah_training_record(i, o, haystack);
    const data::Record again = niah_training_record(i, o, haystack);
    EXPECT_EQ(r.text, again.text);
    EXPECT_EQ(r.id, again.id);
    EXPECT_EQ(r.source, "niah");
    ASSERT_EQ(r.id.rfind("niah/niah_", 0), 0u) << r.id;
    const std::string task = r.id.substr(5, r.id.rfind('-') - 5);
    EXPECT_TRUE(is_niah_task(task)) << task;
    tasks.insert(task);
    const auto values = answers_of(r.text);
    EXPECT_EQ(values.size(),
              static_cast<size_t>(niah_spec(task).num_values * niah_spec(task).num_queries))
        << r.id;
    // Each answer is stated in the haystack (its needle) and once more as the answer.
    for (const auto& v : values) EXPECT_GE(count(r.text, v), 2u) << r.id << ": " << v;
  }
  EXPECT_EQ(tasks.size(), 8u);  // every task drawn in 64 documents
}

TEST(NiahTraining, LengthsAreLogUniformAndHaystacksVary) {
  const std::string haystack = testing::make_essay(6000, 5);
  NiahTrainingOptions o;
  o.min_tokens = 128;
  o.max_tokens = 8192;
  const TokenCounter approx = approximate_token_counter();
  std::vector<double> logs;
  std::set<std::string> openings;
  for (int64_t i = 0; i < 200; ++i) {
    const data::Record r = niah_training_record(i, o, haystack);
    const int64_t n = approx(r.text);
    // Never over the maximum by more than the final answer; short draws grow to the task's minimum.
    EXPECT_LE(n, o.max_tokens + 64) << r.id;
    EXPECT_GE(n, 32) << r.id;
    logs.push_back(std::log(static_cast<double>(n)));
    // The essay tasks' haystack starts at a different place each time.
    const std::string task = r.id.substr(5, r.id.rfind('-') - 5);
    if (niah_spec(task).haystack == Haystack::essay) {
      const size_t nl = r.text.find('\n');
      openings.insert(r.text.substr(nl + 1, 40));
    }
  }
  std::sort(logs.begin(), logs.end());
  // Median of log-uniform [log 128, log 8192] is log 1024; the short end is lifted a little.
  const double median = std::exp(logs[logs.size() / 2]);
  EXPECT_GT(median, 600) << median;
  EXPECT_LT(median, 1800) << median;
  EXPECT_LT(std::exp(logs.front()), 400);
  EXPECT_GT(std::exp(logs.back()), 4000);
  EXPECT_GT(openings.size(), 40u);
}

// Passkey documents: the evaluation's passkey prompt, answered with the key its needle states, not
// the evaluation's prompts (another seed stream), lengths within the options' range.
TEST(NiahTraining, PasskeyDocumentsAnswerTheirOwnKey) {
  const std::string haystack = testing::make_essay(4000, 4);
  NiahTrainingOptions o;
  o.min_tokens = 64;
  o.max_tokens = 512;
  const TokenCounter approx = approximate_token_counter();
  GenOptions eval_opt;
  eval_opt.count_tokens = approx;
  eval_opt.essay = haystack;
  eval_opt.tokens_to_generate = 0;
  std::set<std::string> keys;
  for (int64_t i = 0; i < 40; ++i) {
    const data::Record r = passkey_training_record(i, o, haystack);
    EXPECT_EQ(r.id.rfind("niah/passkey-", 0), 0u) << r.id;
    const std::string q = "What is the pass key? The pass key is ";
    const size_t at = r.text.rfind(q);
    ASSERT_NE(at, std::string::npos);
    std::string key = r.text.substr(at + q.size());
    ASSERT_GE(key.size(), 3u);
    EXPECT_EQ(key.substr(key.size() - 2), ".\n");
    key = key.substr(0, key.size() - 2);
    keys.insert(key);
    EXPECT_EQ(count(r.text, passkey_needle(key)), 1u) << r.text;
    EXPECT_LE(approx(r.text), o.max_tokens + 8);
    EXPECT_EQ(r.text, passkey_training_record(i, o, haystack).text);  // a pure function
    EXPECT_NE(r.text.substr(0, r.text.size() - key.size() - 3),
              generate_sample("passkey", approx(r.text), static_cast<int>(i), eval_opt).input);
  }
  EXPECT_GE(keys.size(), 39u);
}

// Copy drills: eight lines whose two halves are equal, of 3..8 code words, lengths varying.
TEST(NiahTraining, CopyDrillLinesRepeatTheirFirstHalf) {
  NiahTrainingOptions o;
  std::set<size_t> lengths;
  const auto& words = passkey_words();
  for (int64_t i = 0; i < 20; ++i) {
    const data::Record r = copy_drill_record(i, o);
    EXPECT_EQ(r.id.rfind("niah/copy-", 0), 0u);
    EXPECT_EQ(r.text, copy_drill_record(i, o).text);
    EXPECT_NE(r.text, copy_drill_record(i + 1, o).text);
    size_t lines = 0;
    for (size_t start = 0; start < r.text.size(); ++lines) {
      const size_t end = r.text.find('\n', start);
      ASSERT_NE(end, std::string::npos);
      const std::string line = r.text.substr(start, end - start);
      start = end + 1;
      const size_t eq = line.find(" = ");
      ASSERT_NE(eq, std::string::npos) << line;
      const std::string first = line.substr(0, eq), second = line.substr(eq + 3);
      EXPECT_EQ(first + ".", second);
      size_t n = 1;
      for (char c : first) n += c == ' ';
      EXPECT_GE(n, 3u);
      EXPECT_LE(n, 8u);
      lengths.insert(n);
      std::stringstream ss(first);
      for (std::string w; ss >> w;)
        EXPECT_NE(std::find(words.begin(), words.end(), w), words.end()) << w;
    }
    EXPECT_EQ(lines, 8u);
  }
  EXPECT_EQ(lengths.size(), 6u);  // every k in 3..8 occurs
}

TEST(NiahTraining, SeedStreamsAndApproximateCounter) {
  const std::string haystack = testing::make_essay(3000, 9);
  NiahTrainingOptions a, b;
  b.seed = a.seed + 1;
  a.max_tokens = b.max_tokens = 512;
  int same = 0;
  for (int64_t i = 0; i < 32; ++i)
    same += niah_training_record(i, a, haystack).text == niah_training_record(i, b, haystack).text;
  EXPECT_EQ(same, 0);
  const TokenCounter approx = approximate_token_counter();
  EXPECT_EQ(approx("1234567"), 7);   // digits are one token each
  EXPECT_EQ(approx("abcdefgh"), 2);  // about four bytes per token otherwise
  EXPECT_EQ(approx("is 42."), 2 + 1);
  NiahTrainingOptions bad;
  bad.min_tokens = 8;
  EXPECT_THROW(niah_training_record(0, bad, haystack), Error);
  bad.min_tokens = 600;
  bad.max_tokens = 500;
  EXPECT_THROW(niah_training_record(0, bad, haystack), Error);
}

}  // namespace
}  // namespace harpe::eval

// The RULER task generators against RULER's definitions: needle and distractor counts, value and
// key formats, answers present exactly as stated, prompt templates, length budgets, depth spread,
// and vt/cwe/fwe answers re-derived from the prompt text.
// gcc 12 warns falsely inside <regex> (std::function in _StateT) under -O2 with sanitizers.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "core/error.h"
#include "eval/ruler.h"
#include "eval/scoring.h"
#include "test_util.h"

namespace harpe::eval {
namespace {

using testing::count_occurrences;
using testing::make_essay;

GenOptions word_options(uint64_t seed = 42) {
  GenOptions o;
  o.count_tokens = whitespace_word_counter();
  o.essay = make_essay(400);
  o.seed = seed;
  return o;
}

const std::regex kSeven("^[1-9][0-9]{6}$");
const std::regex kUuid4("^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
const std::regex kWordKey("^[a-z]+-[a-z]+$");
// "One of the special magic numbers for KEY is: VALUE."
const std::regex kNeedle("One of the special magic (numbers|uuids) for ([^ ]+) is: ([^ \n]+)\\.");

struct Needle {
  std::string kind, key, value;
};

std::vector<Needle> needles_in(const std::string& text) {
  std::vector<Needle> out;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), kNeedle);
       it != std::sregex_iterator(); ++it)
    out.push_back({(*it)[1], (*it)[2], (*it)[3]});
  return out;
}

// The keys asked about, read back from the question: "...for a, b, c, and d mentioned in...".
std::vector<std::string> queried_keys(const std::string& prompt) {
  const size_t q = prompt.rfind("\nWhat ");
  const size_t f = prompt.find(" for ", q);
  const size_t e = prompt.find(" mentioned in the provided text?", f);
  std::string list = prompt.substr(f + 5, e - f - 5);
  std::vector<std::string> keys;
  std::stringstream ss(list);
  std::string part;
  while (std::getline(ss, part, ',')) {
    while (!part.empty() && part[0] == ' ') part.erase(0, 1);
    if (part.rfind("and ", 0) == 0) part.erase(0, 4);
    keys.push_back(part);
  }
  return keys;
}

TEST(Words, ListsAreLargeLowercaseAndDistinct) {
  EXPECT_GE(adjectives().size(), 300u);
  EXPECT_GE(nouns().size(), 300u);
  EXPECT_GE(verbs().size(), 150u);
  for (const auto* list : {&adjectives(), &nouns(), &verbs()}) {
    EXPECT_TRUE(std::is_sorted(list->begin(), list->end()));
    EXPECT_EQ(std::adjacent_find(list->begin(), list->end()), list->end());
    for (auto w : *list)
      for (char c : w) ASSERT_TRUE(c >= 'a' && c <= 'z') << w;
  }
}

TEST(Ruler, TaskTableMatchesRuler) {
  EXPECT_EQ(ruler_task_names().size(), 11u);
  const NiahSpec mk1 = niah_spec("niah_multikey_1");
  EXPECT_EQ(mk1.num_keys, 4);
  EXPECT_EQ(mk1.haystack, Haystack::essay);
  EXPECT_EQ(niah_spec("niah_single_1").haystack, Haystack::noise);
  EXPECT_EQ(niah_spec("niah_multikey_2").haystack, Haystack::needle);
  EXPECT_EQ(niah_spec("niah_multikey_3").key, NeedleKind::uuids);
  EXPECT_EQ(niah_spec("niah_multikey_3").value, NeedleKind::uuids);
  EXPECT_EQ(niah_spec("niah_single_3").value, NeedleKind::uuids);
  EXPECT_EQ(niah_spec("niah_multivalue").num_values, 4);
  EXPECT_EQ(niah_spec("niah_multiquery").num_queries, 4);
  EXPECT_EQ(default_tokens_to_generate("niah_single_2"), 128);
  EXPECT_EQ(default_tokens_to_generate("vt"), 30);
  EXPECT_EQ(default_tokens_to_generate("cwe"), 120);
  EXPECT_EQ(default_tokens_to_generate("fwe"), 50);
  EXPECT_THROW(default_tokens_to_generate("niah_single_9"), Error);
  EXPECT_THROW(niah_spec("vt"), Error);
}

struct Expect {
  int needles;  // real needles in the context (query + distractor keys x values)
  int keys, queries, answers;
  bool uuid_values, uuid_keys;
};

const std::map<std::string, Expect> kExpect = {
    {"niah_single_1", {1, 1, 1, 1, false, false}},
    {"niah_single_2", {1, 1, 1, 1, false, false}},
    {"niah_single_3", {1, 1, 1, 1, true, false}},
    {"niah_multikey_1", {4, 4, 1, 1, false, false}},
    {"niah_multikey_2", {1, 1, 1, 1, false, false}},
    {"niah_multikey_3", {1, 1, 1, 1, true, true}},
    {"niah_multivalue", {4, 1, 1, 4, false, false}},
    {"niah_multiquery", {4, 4, 4, 4, false, false}},
};

TEST(Ruler, NiahNeedlesKeysValuesAndCounts) {
  const GenOptions opt = word_options();
  for (const auto& [task, ex] : kExpect) {
    SCOPED_TRACE(task);
    const NiahSpec spec = niah_spec(task);
    for (const TaskSample& s : generate_samples(task, 1500, 3, opt)) {
      const std::vector<Needle> all = needles_in(s.input);
      ASSERT_EQ(static_cast<int>(s.keys.size()), ex.keys);
      ASSERT_EQ(static_cast<int>(s.queries.size()), ex.queries);
      ASSERT_EQ(static_cast<int>(s.outputs.size()), ex.answers);
      ASSERT_EQ(static_cast<int>(s.depths.size()), ex.needles);
      // Real needles: every needle whose key is one of the sample's keys.
      std::set<std::string> keyset(s.keys.begin(), s.keys.end());
      ASSERT_EQ(keyset.size(), s.keys.size()) << "keys must be distinct";
      int real = 0, distractor_lines = 0;
      for (const Needle& n : all) (keyset.count(n.key) ? real : distractor_lines)++;
      EXPECT_EQ(real, ex.needles);
      if (spec.haystack == Haystack::needle) {
        EXPECT_EQ(distractor_lines, s.haystack_units);  // every haystack line is a distractor
        EXPECT_GT(distractor_lines, 50);
      } else {
        EXPECT_EQ(distractor_lines, 0);
      }
      for (const Needle& n : all) {
        EXPECT_EQ(n.kind, ex.uuid_values ? "uuids" : "numbers");
        EXPECT_TRUE(std::regex_match(n.value, ex.uuid_values ? kUuid4 : kSeven)) << n.value;
        EXPECT_TRUE(std::regex_match(n.key, ex.uuid_keys ? kUuid4 : kWordKey)) << n.key;
        if (!ex.uuid_keys) {
          EXPECT_TRUE(is_word_key(n.key)) << n.key;
        }
      }
      // The question asks exactly the queried keys, and each expected value is stated in the
      // haystack exactly once, in a needle of a queried key.
      EXPECT_EQ(queried_keys(s.input), s.queries);
      for (const std::string& v : s.outputs) {
        int hits = 0;
        for (const Needle& n : all)
          if (n.value == v) {
            ++hits;
            EXPECT_TRUE(std::find(s.queries.begin(), s.queries.end(), n.key) != s.queries.end());
          }
        EXPECT_EQ(hits, 1) << v;
        EXPECT_EQ(count_occurrences(s.input, v), 1) << v;
      }
      // A distractor key never equals a queried key.
      for (const Needle& n : all) {
        if (!keyset.count(n.key)) {
          EXPECT_TRUE(std::find(s.queries.begin(), s.queries.end(), n.key) == s.queries.end());
        }
      }
    }
  }
}

TEST(Ruler, NiahTemplateSingularAndPlural) {
  const GenOptions opt = word_options();
  const TaskSample s = generate_sample("niah_single_1", 400, 0, opt);
  const std::string key = s.queries.at(0);
  const std::string head =
      "A special magic number is hidden within the following text. Make sure to memorize it. I "
      "will quiz you about the number afterwards.\n";
  const std::string tail = "\nWhat is the special magic number for " + key +
                           " mentioned in the provided text? The special magic number for " + key +
                           " mentioned in the provided text is";
  ASSERT_EQ(s.input.substr(0, head.size()), head);
  ASSERT_GE(s.input.size(), tail.size());
  EXPECT_EQ(s.input.substr(s.input.size() - tail.size()), tail);
  // The noise haystack is the filler, one per line, with the needle on its own line.
  const std::string ctx = s.input.substr(head.size(), s.input.size() - head.size() - tail.size());
  std::stringstream lines(ctx);
  std::string line;
  int filler = 0, needle = 0;
  while (std::getline(lines, line)) {
    if (line == kNoiseFiller)
      ++filler;
    else if (line == niah_needle(NeedleKind::numbers, key, s.outputs[0]))
      ++needle;
    else
      ADD_FAILURE() << "unexpected line: " << line;
  }
  EXPECT_EQ(needle, 1);
  EXPECT_EQ(filler, s.haystack_units);

  const TaskSample mq = generate_sample("niah_multiquery", 800, 0, opt);
  const std::string q =
      mq.queries[0] + ", " + mq.queries[1] + ", " + mq.queries[2] + ", and " + mq.queries[3];
  EXPECT_EQ(mq.input.rfind("Some special magic numbers are hidden within the following text. Make "
                           "sure to memorize it. I will quiz you about the numbers afterwards.\n",
                           0),
            0u);
  const std::string mq_tail = "\nWhat are all the special magic numbers for " + q +
                              " mentioned in the provided text? The special magic numbers for " +
                              q + " mentioned in the provided text are";
  EXPECT_EQ(mq.input.substr(mq.input.size() - mq_tail.size()), mq_tail);

  const TaskSample u = generate_sample("niah_single_3", 800, 0, opt);
  EXPECT_NE(u.input.find("A special magic uuid is hidden"), std::string::npos);
  EXPECT_NE(u.input.find("One of the special magic uuids for "), std::string::npos);
}

TEST(Ruler, LengthsFitTheBudgetTightly) {
  const GenOptions opt = word_options();
  const TokenCounter count = whitespace_word_counter();
  for (const std::string& task : ruler_task_names()) {
    for (int64_t len : {1024, 2048, 4096}) {
      SCOPED_TRACE(task + " @ " + std::to_string(len));
      const TaskSample s = generate_sample(task, len, 0, opt);
      std::string joined;
      for (const auto& o : s.outputs) joined += (joined.empty() ? "" : " ") + o;
      const int64_t budget = count(s.input + " " + joined) + s.tokens_to_generate;
      EXPECT_EQ(budget, s.budget_tokens);
      EXPECT_EQ(count(s.input), s.prompt_tokens);
      EXPECT_LE(budget, len);
      EXPECT_LE(s.prompt_tokens + s.tokens_to_generate, len);
      EXPECT_EQ(s.tokens_to_generate, default_tokens_to_generate(task));
      // Tight: one more haystack unit would not fit. Units are 1 essay word, one 18-word filler
      // paragraph (noise, vt), one distractor line (~9 words), or a few words (cwe, fwe).
      int64_t slack = 20;
      if (task == "cwe") slack = len < 4096 ? 8 : 70;  // a word repeats 6 (or 30) times
      if (task_needs_essay(task)) slack = 1;
      if (task == "cwe" && len >= 4096) continue;  // may run out of vocabulary first
      EXPECT_LT(len - budget, slack);
    }
  }
}

TEST(Ruler, DepthsSpreadOverTheDocumentAndMatchTheText) {
  const GenOptions opt = word_options(3);
  std::vector<double> all;
  for (const TaskSample& s : generate_samples("niah_single_2", 1200, 40, opt)) {
    ASSERT_EQ(s.depths.size(), 1u);
    // The recorded depth is where the needle really is in the context.
    const std::string needle = niah_needle(NeedleKind::numbers, s.queries[0], s.outputs[0]);
    const size_t ctx_begin = s.input.find('\n') + 1;
    const size_t ctx_end = s.input.rfind("\nWhat is");
    const double where = static_cast<double>(s.input.find(needle) - ctx_begin) /
                         static_cast<double>(ctx_end - ctx_begin);
    EXPECT_NEAR(where, s.depths[0], 1e-9);
    all.push_back(s.depths[0]);
  }
  for (const TaskSample& s : generate_samples("niah_multikey_1", 1200, 10, opt)) {
    ASSERT_EQ(s.depths.size(), 4u);
    EXPECT_TRUE(std::is_sorted(s.depths.begin(), s.depths.end()));
    all.insert(all.end(), s.depths.begin(), s.depths.end());
  }
  const double mn = *std::min_element(all.begin(), all.end());
  const double mx = *std::max_element(all.begin(), all.end());
  double mean = 0;
  for (double d : all) mean += d / static_cast<double>(all.size());
  EXPECT_LT(mn, 0.1);
  EXPECT_GT(mx, 0.9);
  EXPECT_NEAR(mean, 0.5, 0.12);
  // Every tenth of the document holds at least one needle among the 80.
  std::set<int> deciles;
  for (double d : all) deciles.insert(std::min(9, static_cast<int>(d * 10)));
  EXPECT_EQ(deciles.size(), 10u);
}

TEST(Ruler, DeterministicWithSeed) {
  const GenOptions a = word_options(11), b = word_options(11), c = word_options(12);
  for (const std::string task : {"niah_multikey_2", "vt", "cwe", "fwe"}) {
    const TaskSample x = generate_sample(task, 1024, 2, a), y = generate_sample(task, 1024, 2, b);
    const TaskSample z = generate_sample(task, 1024, 2, c);
    EXPECT_EQ(x.input, y.input) << task;
    EXPECT_EQ(x.outputs, y.outputs) << task;
    EXPECT_NE(x.input, z.input) << task;
  }
  // Samples of one task differ from each other.
  EXPECT_NE(generate_sample("niah_single_1", 512, 0, a).outputs,
            generate_sample("niah_single_1", 512, 1, a).outputs);
}

TEST(Ruler, BadInputIsAnError) {
  GenOptions opt = word_options();
  EXPECT_THROW(generate_sample("niah_single_1", 100, 0, opt), Error);  // 128 to generate
  EXPECT_THROW(generate_sample("no_such_task", 1000, 0, opt), Error);
  opt.essay.clear();
  EXPECT_THROW(generate_sample("niah_single_2", 1000, 0, opt), Error);
  EXPECT_NO_THROW(generate_sample("niah_single_1", 1000, 0, opt));  // noise needs no essay
  GenOptions none;
  EXPECT_THROW(generate_sample("niah_single_1", 1000, 0, none), Error);
}

// ---------------------------------------------------------------- vt, cwe, fwe by construction

TEST(Ruler, VariableTrackingAnswerFollowsTheChain) {
  const GenOptions opt = word_options();
  for (const TaskSample& s : generate_samples("vt", 2000, 4, opt)) {
    // The main prompt follows the in-context example; resolve every "VAR X = ..." in it.
    const std::string head = "Memorize and track the chain(s) of variable assignment";
    const size_t main_at = s.input.rfind(head);
    ASSERT_NE(main_at, std::string::npos);
    ASSERT_GT(main_at, 0u) << "the solved in-context example comes first";
    const std::string body = s.input.substr(main_at);
    std::map<std::string, std::string> assign;
    const std::regex stmt("VAR ([A-Z]+) = (VAR [A-Z]+|[0-9]+)");
    for (auto it = std::sregex_iterator(body.begin(), body.end(), stmt);
         it != std::sregex_iterator(); ++it)
      assign[(*it)[1]] = (*it)[2];
    std::smatch m;
    ASSERT_TRUE(std::regex_search(body, m, std::regex("assigned the value ([0-9]+) in the text")));
    const std::string value = m[1];
    std::set<std::string> resolved;
    for (const auto& [var, rhs] : assign) {
      std::string r = rhs;
      for (int hop = 0; hop < 10 && r.rfind("VAR ", 0) == 0; ++hop) r = assign.at(r.substr(4));
      if (r == value) resolved.insert(var);
    }
    EXPECT_EQ(resolved, std::set<std::string>(s.outputs.begin(), s.outputs.end()));
    EXPECT_EQ(s.outputs.size(), 5u);
    for (const auto& v : s.outputs) EXPECT_TRUE(std::regex_match(v, std::regex("^[A-Z]{5}$")));
    EXPECT_GE(std::stoi(value), 10000);
    EXPECT_LE(std::stoi(value), 99999);
    const std::string tail = "5 variables are assigned the value " + value + ", they are: ";
    EXPECT_EQ(s.input.substr(s.input.size() - tail.size()), tail);
  }
}

std::map<std::string, int> count_words(const std::string& text) {
  std::map<std::string, int> c;
  std::stringstream ss(text);
  std::string w;
  while (ss >> w) c[w]++;
  return c;
}

TEST(Ruler, CommonWordsAnswerIsTheTenMostFrequent) {
  const GenOptions opt = word_options();
  for (int64_t len : {1500, 4096}) {
    const TaskSample s = generate_sample("cwe", len, 0, opt);
    const std::string head = "Memorize the ones that appear most often.\n";
    const size_t b = s.input.rfind(head) + head.size();
    const size_t e = s.input.find("\nQuestion:", b);
    const std::string list = s.input.substr(b, e - b);
    // "1. w 2. w ..." numbered consecutively.
    std::stringstream ss(list);
    std::string num, word;
    std::map<std::string, int> counts;
    int expect = 1;
    while (ss >> num >> word) {
      ASSERT_EQ(num, std::to_string(expect++) + ".");
      counts[word]++;
    }
    std::vector<std::pair<int, std::string>> byc;
    for (const auto& [w, c] : counts) byc.push_back({c, w});
    std::sort(byc.rbegin(), byc.rend());
    ASSERT_GT(byc.size(), 10u);
    std::set<std::string> top;
    for (int i = 0; i < 10; ++i) top.insert(byc[static_cast<size_t>(i)].second);
    EXPECT_EQ(top, std::set<std::string>(s.outputs.begin(), s.outputs.end()));
    EXPECT_GT(byc[9].first, byc[10].first);
    EXPECT_EQ(byc[0].first, len < 4096 ? 6 : 30);  // RULER's repeats
    EXPECT_EQ(byc[10].first, len < 4096 ? 1 : 3);
  }
}

TEST(Ruler, FrequentWordsAnswerIsTheThreeMostFrequentCodedWords) {
  const GenOptions opt = word_options();
  for (int64_t len : {1024, 4096}) {
    const TaskSample s = generate_sample("fwe", len, 1, opt);
    const std::string head = "Find the three most frequently appeared coded words. ";
    const size_t b = s.input.find(head) + head.size();
    const size_t e = s.input.find("\nQuestion:", b);
    std::map<std::string, int> counts = count_words(s.input.substr(b, e - b));
    EXPECT_GT(counts["..."], 0);
    const int dots = counts["..."];
    counts.erase("...");
    std::vector<std::pair<int, std::string>> byc;
    for (const auto& [w, c] : counts) byc.push_back({c, w});
    std::sort(byc.rbegin(), byc.rend());
    ASSERT_GE(byc.size(), 4u);
    EXPECT_GT(dots, byc[0].first);  // the noise is the most frequent
    EXPECT_EQ(std::set<std::string>({byc[0].second, byc[1].second, byc[2].second}),
              std::set<std::string>(s.outputs.begin(), s.outputs.end()));
    EXPECT_GT(byc[2].first, byc[3].first);
    for (const auto& w : s.outputs) EXPECT_TRUE(std::regex_match(w, std::regex("^[a-z]{6}$")));
    // Zipf with alpha 2: the rank-2 word is about a quarter as frequent as the rank-1 noise.
    EXPECT_NEAR(static_cast<double>(byc[0].first) / dots, 0.25, 0.05);
  }
}

// Passkey: one needle stating a five-word NATO key twice, inside the essay, the key once in the
// answers, the budget tight, depths spread, and the same prompt for the same seed.
TEST(Ruler, PasskeyStatesItsKeyTwiceAndFitsTheBudget) {
  const GenOptions opt = word_options(5);
  const TokenCounter count = whitespace_word_counter();
  const std::regex kKey(
      "^((alpha|bravo|charlie|delta|echo|foxtrot|golf|hotel|india|juliet|kilo|lima|mike|november|"
      "oscar|papa|quebec|romeo|sierra|tango|uniform|victor|whiskey|xray|yankee|zulu) ){4}"
      "(alpha|bravo|charlie|delta|echo|foxtrot|golf|hotel|india|juliet|kilo|lima|mike|november|"
      "oscar|papa|quebec|romeo|sierra|tango|uniform|victor|whiskey|xray|yankee|zulu)$");
  EXPECT_TRUE(task_needs_essay("passkey"));
  EXPECT_EQ(default_tokens_to_generate("passkey"), 16);
  std::set<std::string> keys;
  double lo = 1, hi = 0;
  for (int i = 0; i < 30; ++i) {
    const TaskSample s = generate_sample("passkey", 600, i, opt);
    ASSERT_EQ(s.outputs.size(), 1u);
    const std::string& key = s.outputs[0];
    EXPECT_TRUE(std::regex_match(key, kKey)) << key;
    keys.insert(key);
    EXPECT_EQ(count_occurrences(s.input, passkey_needle(key)), 1);
    EXPECT_EQ(count_occurrences(s.input, key), 2);  // twice in the needle, never elsewhere
    EXPECT_EQ(s.input.rfind("There is an important info hidden inside", 0), 0u);
    EXPECT_EQ(s.input.substr(s.input.size() - 37), "What is the pass key? The pass key is");
    EXPECT_LE(s.budget_tokens, 600);
    EXPECT_GT(s.budget_tokens, 600 - 2);  // one more essay word would not fit
    EXPECT_EQ(count(s.input + " " + key) + 16, s.budget_tokens);
    ASSERT_EQ(s.depths.size(), 1u);
    lo = std::min(lo, s.depths[0]);
    hi = std::max(hi, s.depths[0]);
  }
  EXPECT_GE(keys.size(), 29u);
  EXPECT_LT(lo, 0.2);
  EXPECT_GT(hi, 0.8);
  EXPECT_EQ(generate_sample("passkey", 600, 3, opt).input,
            generate_sample("passkey", 600, 3, opt).input);
  EXPECT_NE(generate_sample("passkey", 600, 3, opt).input,
            generate_sample("passkey", 600, 4, opt).input);
  GenOptions no_essay = opt;
  no_essay.essay.clear();
  EXPECT_THROW(generate_sample("passkey", 600, 0, no_essay), Error);
  EXPECT_THROW(generate_sample("passkey", 20, 0, opt), LengthTooSmall);
}

TEST(Ruler, NeedleAtChosenDepth) {
  const GenOptions opt = word_options();
  for (Haystack h : {Haystack::noise, Haystack::essay}) {
    for (double depth : {0.0, 25.0, 50.0, 75.0, 100.0}) {
      const TaskSample s = generate_needle_sample(3000, depth, 0, h, opt);
      ASSERT_EQ(s.depths.size(), 1u);
      EXPECT_NEAR(s.depths[0] * 100, depth, 3.0) << depth;
      EXPECT_LE(s.budget_tokens, 3000);
      EXPECT_EQ(count_occurrences(s.input, s.outputs[0]), 1);
    }
  }
  EXPECT_THROW(generate_needle_sample(3000, 120, 0, Haystack::noise, opt), Error);
}

// An oracle that reads the prompt like a perfect model: it finds the queried keys in the question
// and answers with the values their needles state. It must score 100 on every NIAH task.
std::string oracle(const std::string& prompt, int) {
  std::string answer;
  const auto keys = queried_keys(prompt);
  for (const Needle& n : needles_in(prompt))
    if (std::find(keys.begin(), keys.end(), n.key) != keys.end()) answer += " " + n.value;
  return answer;
}

TEST(Ruler, OracleScoresFullMarksAndSilenceScoresZero) {
  const GenOptions opt = word_options();
  for (const auto& [task, ex] : kExpect) {
    const auto samples = generate_samples(task, 1200, 3, opt);
    EXPECT_DOUBLE_EQ(run_task(samples, oracle).score, 100.0) << task;
    EXPECT_DOUBLE_EQ(run_task(samples, [](const std::string&, int) { return std::string(); }).score,
                     0.0)
        << task;
  }
}

}  // namespace
}  // namespace harpe::eval

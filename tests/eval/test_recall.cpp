// Associative recall (eval/recall.h): the generator's determinism and answers for every variant,
// distances (uniform and far), the JSONL round trip and its one-line errors, scoring (multivalue's
// order-free rule), distance buckets, and the training data's loss mask.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/shard.h"
#include "eval/chart.h"
#include "eval/recall.h"
#include "eval/recall_data.h"
#include "eval/report.h"

namespace harpe::eval {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("harpe_test_recall_" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

RecallSpec spec_of(RecallVariant v, int length = 128) {
  RecallSpec s;
  s.variant = v;
  s.length = length;
  s.vocab = 256;
  return s;
}

// Every property a generated sequence must have, checked from the tokens alone.
void expect_consistent(const RecallSpec& spec, const RecallSequence& s) {
  SCOPED_TRACE(std::string(recall_variant_name(spec.variant)));
  ASSERT_EQ(static_cast<int>(s.tokens.size()), spec.length);
  EXPECT_NO_THROW(validate_recall(s, "generated"));
  EXPECT_EQ(static_cast<int>(s.queries.size()), spec.used_queries());
  const int ctx = spec.length - spec.query_tokens();
  std::set<int32_t> keys_seen;
  for (const RecallQuery& q : s.queries) {
    const int kpos = q.at - 1;
    const int32_t key = s.tokens[static_cast<size_t>(kpos)];
    EXPECT_GE(key, spec.first_key());
    EXPECT_LT(key, spec.first_value());
    EXPECT_TRUE(keys_seen.insert(key).second) << "a key is queried twice";
    EXPECT_EQ(static_cast<int>(q.answers.size()), spec.values_per_key());
    EXPECT_EQ(q.order_free, spec.values_per_key() > 1);
    // The answers are exactly the values that follow the key in the context part, in order.
    std::vector<int32_t> values;
    int first = -1;
    for (int p = 0; p + 1 < ctx; ++p)
      if (s.tokens[static_cast<size_t>(p)] == key) {
        values.push_back(s.tokens[static_cast<size_t>(p) + 1]);
        if (first < 0) first = p;
      }
    EXPECT_EQ(values, q.answers);
    EXPECT_EQ(q.distance, kpos - first);
    for (int32_t v : q.answers) {
      EXPECT_GE(v, spec.first_value());
      EXPECT_LT(v, spec.vocab);
    }
  }
  // Every other context token is a filler, a key followed by a value, or that value.
  int pairs = 0;
  for (int p = 0; p < ctx; ++p) {
    const int32_t t = s.tokens[static_cast<size_t>(p)];
    if (t < spec.used_filler()) continue;
    ASSERT_LT(t, spec.first_value()) << "a value without its key at " << p;
    ASSERT_LT(p + 1, ctx);
    EXPECT_GE(s.tokens[static_cast<size_t>(p) + 1], spec.first_value());
    ++pairs;
    ++p;
  }
  EXPECT_EQ(pairs, spec.used_pairs() - 1 + spec.values_per_key());
}

TEST(Recall, GeneratorIsDeterministicAndAnswersEveryVariant) {
  for (RecallVariant v : all_recall_variants()) {
    const RecallSpec spec = spec_of(v);
    for (uint64_t seed = 1; seed <= 40; ++seed) {
      const RecallSequence a = generate_recall(spec, seed), b = generate_recall(spec, seed);
      EXPECT_EQ(a.tokens, b.tokens);
      expect_consistent(spec, a);
    }
    EXPECT_NE(generate_recall(spec, 1).tokens, generate_recall(spec, 2).tokens);
  }
  // The variants' shapes: single has one pair, multikey one query among pairs, multiquery all.
  EXPECT_EQ(spec_of(RecallVariant::single).used_pairs(), 1);
  EXPECT_EQ(spec_of(RecallVariant::multikey).used_queries(), 1);
  EXPECT_EQ(spec_of(RecallVariant::multiquery).used_queries(), 4);
  EXPECT_EQ(spec_of(RecallVariant::multivalue).values_per_key(), 4);
}

TEST(Recall, CopyRepeatsASpanAndQueriesItsSecondCopy) {
  RecallSpec spec = spec_of(RecallVariant::copy, 96);
  spec.span = 12;
  std::set<int> lengths;
  for (uint64_t seed = 0; seed < 100; ++seed) {
    const RecallSequence s = generate_recall(spec, seed);
    EXPECT_EQ(s.tokens, generate_recall(spec, seed).tokens);
    ASSERT_NO_THROW(validate_recall(s, "copy"));
    const int r = static_cast<int>(s.queries.size()) + 1;
    lengths.insert(r);
    ASSERT_GE(r, 4);
    ASSERT_LE(r, 12);
    const int second = 96 - r, first = second - s.queries[0].distance;
    std::set<int32_t> distinct;
    for (int j = 0; j < r; ++j) {
      const int32_t t = s.tokens[static_cast<size_t>(second + j)];
      EXPECT_EQ(s.tokens[static_cast<size_t>(first + j)], t);
      EXPECT_GE(t, spec.used_filler());
      distinct.insert(t);
    }
    EXPECT_EQ(static_cast<int>(distinct.size()), r);  // distinct: each token has one successor
    for (size_t q = 0; q < s.queries.size(); ++q)
      EXPECT_EQ(s.queries[q].at, second + static_cast<int>(q) + 1);
    // Outside the two copies only filler.
    for (int t = 0; t < 96; ++t)
      if ((t < first || t >= first + r) && t < second) {
        EXPECT_LT(s.tokens[static_cast<size_t>(t)], spec.used_filler());
      }
  }
  EXPECT_GT(lengths.size(), 5u);
  spec.far = 60;
  for (uint64_t seed = 0; seed < 50; ++seed)
    EXPECT_GE(generate_recall(spec, seed).queries[0].distance, 60);
  EXPECT_EQ(parse_recall_variants("all,copy", "--variants").size(), 5u);
  EXPECT_EQ(parse_recall_variants("copy,multiquery,copy", "--variants").size(), 2u);
  EXPECT_THROW(parse_recall_variants("copy,", "--variants"), Error);
}

TEST(Recall, DistancesAreUniformOverTheWindowOrFar) {
  RecallSpec spec = spec_of(RecallVariant::single, 512);
  std::vector<int> quarter(4, 0);
  double sum = 0;
  const int n = 2000;
  for (int i = 0; i < n; ++i) {
    const int d = generate_recall(spec, static_cast<uint64_t>(i)).queries[0].distance;
    ASSERT_GE(d, 1);
    ASSERT_LT(d, 512);
    ++quarter[static_cast<size_t>(std::min(3, d / 128))];
    sum += d;
  }
  // Uniform on about [2, 510]: each quarter ~500 (binomial sd ~19), mean ~256.
  for (int q : quarter) EXPECT_NEAR(q, n / 4, 100);
  EXPECT_NEAR(sum / n, 256, 15);
  spec.variant = RecallVariant::multiquery;
  spec.far = 300;
  for (uint64_t seed = 0; seed < 200; ++seed)
    for (const RecallQuery& q : generate_recall(spec, seed).queries) EXPECT_GE(q.distance, 300);
}

TEST(Recall, SpecsThatCannotHoldAreOneLineErrors) {
  RecallSpec s = spec_of(RecallVariant::multiquery, 20);
  s.pairs = 8;
  EXPECT_THROW(s.validate(), Error);
  s = spec_of(RecallVariant::multikey);
  s.pairs = 1;
  EXPECT_THROW(s.validate(), Error);
  s = spec_of(RecallVariant::multiquery);
  s.queries = 9;
  EXPECT_THROW(s.validate(), Error);
  s = spec_of(RecallVariant::single);
  s.far = 200;
  EXPECT_THROW(s.validate(), Error);
  EXPECT_THROW(parse_recall_variant("multi"), Error);
}

TEST(Recall, SeedStreamsKeepEvaluationHeldOut) {
  std::set<uint64_t> train, eval;
  for (uint64_t i = 0; i < 1000; ++i) {
    train.insert(recall_sample_seed(1, "train", RecallVariant::multiquery, 64, i));
    eval.insert(recall_sample_seed(1, "eval", RecallVariant::multiquery, 64, i));
  }
  for (uint64_t s : eval) EXPECT_EQ(train.count(s), 0u);
  EXPECT_NE(recall_sample_seed(1, "eval", RecallVariant::multiquery, 64, 0),
            recall_sample_seed(1, "eval", RecallVariant::multiquery, 128, 0));
}

TEST(Recall, JsonlRoundTripAndOneLineErrorsNamingFileAndLine) {
  TempDir tmp;
  std::vector<RecallSequence> seqs;
  for (RecallVariant v : all_recall_variants()) seqs.push_back(generate_recall(spec_of(v, 96), 3));
  const std::string path = tmp.file("r.jsonl");
  write_recall_jsonl(seqs, path);
  const std::vector<RecallSequence> back = read_recall_jsonl(path);
  ASSERT_EQ(back.size(), seqs.size());
  for (size_t i = 0; i < seqs.size(); ++i) {
    EXPECT_EQ(back[i].variant, seqs[i].variant);
    EXPECT_EQ(back[i].vocab, seqs[i].vocab);
    EXPECT_EQ(back[i].tokens, seqs[i].tokens);
    ASSERT_EQ(back[i].queries.size(), seqs[i].queries.size());
    for (size_t q = 0; q < seqs[i].queries.size(); ++q) {
      EXPECT_EQ(back[i].queries[q].at, seqs[i].queries[q].at);
      EXPECT_EQ(back[i].queries[q].answers, seqs[i].queries[q].answers);
      EXPECT_EQ(back[i].queries[q].order_free, seqs[i].queries[q].order_free);
      EXPECT_EQ(back[i].queries[q].distance, seqs[i].queries[q].distance);
    }
  }
  EXPECT_EQ(back[2].where, path + ":3");

  auto error_of = [&](const std::string& second_line) {
    std::ofstream(path) << recall_to_json(seqs[0]) << "\n" << second_line << "\n";
    try {
      read_recall_jsonl(path);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string ok = recall_to_json(seqs[1]);
  for (const std::string& bad :
       {std::string("{not json"), std::string("[1,2]"),
        std::string(R"({"vocab":8,"tokens":[1,9],"queries":[{"at":1,"answers":[9]}]})"),
        std::string(R"({"vocab":8,"tokens":[1,2,3],"queries":[{"at":1,"answers":[3]}]})"),
        std::string(R"({"vocab":8,"tokens":[1,2,3],"queries":[{"at":0,"answers":[1]}]})"),
        std::string(R"({"vocab":8,"tokens":[1,2,3],"queries":[]})"),
        std::string(R"({"vocab":8,"tokens":"abc","queries":[]})")}) {
    const std::string e = error_of(bad);
    EXPECT_NE(e.find(path + ":2"), std::string::npos) << bad << " -> " << e;
    EXPECT_EQ(e.find('\n'), std::string::npos) << e;
  }
  EXPECT_EQ(error_of(ok), "no error");
}

TEST(Recall, ScoringIsExactPerQueryAndOrderFreeForMultivalue) {
  RecallSequence s;
  s.variant = "t";
  s.vocab = 20;
  //          0  1   2  3  4   5  6  7   8   9  10  11
  s.tokens = {1, 10, 15, 1, 11, 16, 2, 10, 15, 11, 16, 3};
  s.queries = {{8, {15}, false, 7}, {10, {16}, false, 6}};
  ASSERT_NO_THROW(validate_recall(s, "t"));
  std::vector<int32_t> pred(s.tokens.size() - 1, 0);
  pred[7] = 15;
  pred[9] = 16;
  EXPECT_EQ(score_recall(s, pred), (std::vector<bool>{true, true}));
  pred[9] = 15;
  EXPECT_EQ(score_recall(s, pred), (std::vector<bool>{true, false}));

  // One key, answers {15, 16, 17}: the model's own continuation, any order, each value once.
  RecallSequence mv;
  mv.variant = "multivalue";
  mv.vocab = 20;
  mv.tokens = {10, 15, 10, 16, 10, 17, 1, 10, 15, 16, 17};
  mv.queries = {{8, {15, 16, 17}, true, 7}};
  ASSERT_NO_THROW(validate_recall(mv, "mv"));
  const std::vector<int32_t> p(mv.tokens.size() - 1, 0);
  auto score = [&](std::vector<int32_t> generated) {
    return static_cast<bool>(score_recall(mv, p, {generated})[0]);
  };
  EXPECT_TRUE(score({15, 16, 17}));
  EXPECT_TRUE(score({17, 15, 16}));
  EXPECT_FALSE(score({15, 15, 17}));         // a value twice, one missing
  EXPECT_FALSE(score({15, 16, 14}));         // not a value of the key
  EXPECT_THROW(score_recall(mv, p), Error);  // an order-free query needs the generated tokens
}

TEST(Recall, DistanceBucketsAndResultCounts) {
  EXPECT_EQ(recall_distance_bucket(0), 0);
  EXPECT_EQ(recall_distance_bucket(15), 0);
  EXPECT_EQ(recall_distance_bucket(16), 1);
  EXPECT_EQ(recall_distance_bucket(31), 1);
  EXPECT_EQ(recall_distance_bucket(32), 2);
  EXPECT_EQ(recall_distance_bucket(2047), 7);
  EXPECT_EQ(recall_bucket_lo(7), 1024);
  EXPECT_EQ(recall_bucket_hi(7), 2048);
  EXPECT_EQ(recall_bucket_label(0), "<16");
  EXPECT_EQ(recall_bucket_label(2), "32-63");
  EXPECT_EQ(recall_bucket_label(7), "1K-2K");

  RecallSequence s;
  s.tokens.assign(100, 0);
  s.queries = {{50, {1}, false, 40}, {60, {1}, false, 5}};
  RecallResult r;
  r.add(s, {true, false});
  r.add(s, {true, true});
  EXPECT_EQ(r.queries, 4);
  EXPECT_EQ(r.queries_exact, 3);
  EXPECT_DOUBLE_EQ(r.query_score(), 75.0);
  EXPECT_DOUBLE_EQ(r.sequence_score(), 50.0);
  ASSERT_EQ(r.buckets.size(), 2u);
  EXPECT_EQ(r.buckets[0].bucket, 0);
  EXPECT_EQ(r.buckets[0].exact, 1);
  EXPECT_EQ(r.buckets[1].bucket, 2);
  EXPECT_EQ(r.buckets[1].exact, 2);

  // results.json keeps the counts and buckets.
  RunResults run;
  run.name = "r";
  r.variant = "multiquery";
  r.length = 100;
  run.recall.push_back(r);
  const RunResults back = results_from_json(results_to_json(run), "mem");
  ASSERT_EQ(back.recall.size(), 1u);
  EXPECT_EQ(back.recall[0].queries_exact, 3);
  EXPECT_EQ(back.recall[0].sequences_exact, 1);
  ASSERT_EQ(back.recall[0].buckets.size(), 2u);
  EXPECT_EQ(back.recall[0].buckets[1].bucket, 2);
  const std::string md = recall_markdown(back);
  EXPECT_NE(md.find("| multiquery | 75.00 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 32-63 | 100.00 |"), std::string::npos) << md;
}

TEST(Recall, TrainingShardMasksExactlyTheAnswers) {
  TempDir tmp;
  RecallDataArgs a;
  a.out = tmp.file("train.bin");
  a.jsonl = tmp.file("train.jsonl");
  a.variants = all_recall_variants();
  a.spec = spec_of(RecallVariant::multiquery, 64);
  a.samples = 8;
  a.seed = 5;
  const RecallDataSummary sum = make_recall_data(a);
  EXPECT_EQ(sum.sequences, 8);
  EXPECT_EQ(sum.tokens, 8 * 64);
  const std::vector<RecallSequence> seqs = read_recall_jsonl(a.jsonl);
  ASSERT_EQ(seqs.size(), 8u);
  const data::Shard shard = data::Shard::open(a.out);
  ASSERT_TRUE(shard.has_loss_mask());
  int64_t answers = 0;
  for (size_t d = 0; d < seqs.size(); ++d) {
    EXPECT_EQ(seqs[d].variant, recall_variant_name(a.variants[d % 4]));
    const data::DocumentSpan doc = shard.document(d);
    ASSERT_EQ(doc.length, 64u);
    const std::vector<uint8_t> mask = recall_answer_mask(seqs[d]);
    for (uint64_t i = 0; i < doc.length; ++i) {
      EXPECT_EQ(shard.token(doc.offset + i), seqs[d].tokens[i]);
      EXPECT_EQ(shard.scored(doc.offset + i), mask[i] != 0) << d << " " << i;
      answers += mask[i];
    }
  }
  EXPECT_EQ(answers, sum.answer_tokens);
  // The same seeds give the same shard; converting the JSONL gives the same tokens and mask.
  RecallDataArgs c;
  c.out = tmp.file("conv.bin");
  c.input = a.jsonl;
  make_recall_data(c);
  const data::Shard conv = data::Shard::open(c.out);
  ASSERT_EQ(conv.n_tokens(), shard.n_tokens());
  for (uint64_t i = 0; i < shard.n_tokens(); ++i) {
    EXPECT_EQ(conv.token(i), shard.token(i));
    EXPECT_EQ(conv.scored(i), shard.scored(i));
  }
}

}  // namespace
}  // namespace harpe::eval

namespace harpe::eval {
namespace {

RunResults recall_run(const std::string& name, const std::string& group, double s64, double s2k) {
  RunResults r;
  r.name = name;
  r.meta["group"] = group;
  for (auto [L, score] : {std::pair<int64_t, double>{64, s64}, {2048, s2k}}) {
    RecallResult x;
    x.variant = "multiquery";
    x.length = L;
    x.queries = 100;
    x.queries_exact = static_cast<int64_t>(score);
    x.sequences = 25;
    x.sequences_exact = 10;
    x.buckets = {{L == 64 ? 2 : 7, 100, static_cast<int64_t>(score)}};
    r.recall.push_back(x);
  }
  return r;
}

TEST(RecallReport, GroupsSeedsIntoMeanAndSpreadAndNamesAWinnerOnlyBeyondIt) {
  const std::vector<RunResults> runs = {
      recall_run("a-s1", "a", 100, 90), recall_run("a-s2", "a", 98, 80),
      recall_run("b-s1", "b", 99, 40), recall_run("b-s2", "b", 97, 85)};
  const std::vector<RunGroup> groups = group_runs(runs);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].name, "a");
  EXPECT_EQ(groups[0].runs.size(), 2u);
  const std::string md = recall_comparison_markdown(runs);
  EXPECT_NE(md.find("| a (2) | 99.0 (98.0-100.0) | 85.0 (80.0-90.0) |"), std::string::npos) << md;
  EXPECT_NE(md.find("| b (2) | 98.0 (97.0-99.0) | 62.5 (40.0-85.0) |"), std::string::npos) << md;
  // a's 64 mean is best but b's best run (99) beats a's worst (98): within the spread; at 2K too.
  EXPECT_NE(md.find("| best | a (within the spread) | a (within the spread) |"), std::string::npos)
      << md;
  std::vector<RunResults> clear = runs;
  clear[3] = recall_run("b-s2", "b", 97, 30);  // b's best at 2K (40) < a's worst (80)
  EXPECT_NE(recall_comparison_markdown(clear).find("a (beyond the spread) |\n"), std::string::npos);
  const std::string html = recall_comparison_html(runs);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("(log2 scale)"), std::string::npos);
  EXPECT_NE(html.find("fill-opacity=\"0.18\""), std::string::npos);  // the seed band
  EXPECT_NE(html.find("a: multiquery"), std::string::npos);          // a's pooled heatmap
  // Columns ascend by length; the comparison page carries the recall section.
  EXPECT_LT(md.find("| 64 |"), md.find("| 2K |"));
  EXPECT_NE(comparison_markdown(runs).find("## Associative recall"), std::string::npos);
}

TEST(RecallReport, ChartEscapesNamesAndRejectsBadInput) {
  LineChart c;
  c.title = "<script>alert(1)</script>";
  c.series.push_back({"m<&>", {64, 128}, {1, 2}, {}, {}});
  const std::string svg = line_chart_svg(c);
  EXPECT_EQ(svg.find("<script>"), std::string::npos);
  EXPECT_NE(svg.find("m&lt;&amp;&gt;"), std::string::npos);
  c.series[0].x[0] = 0;  // not on a log axis
  EXPECT_THROW(line_chart_svg(c), Error);
  c.series[0].x = {64};
  EXPECT_THROW(line_chart_svg(c), Error);
  // Found by fuzzing: a huge axis value that is a multiple of 1024 was cast to an integer for a
  // "1K"-style label (undefined behaviour); such values are labelled in %g form.
  c.series[0] = {"ppl", {64, 128}, {1.0e20, 2.0e20}, {}, {}};
  c.fixed_y = true;
  c.y_max = std::ldexp(1.0, 70);  // ticks at exact multiples of 1024 beyond any int64
  EXPECT_NE(line_chart_svg(c).find(">1.18e+21<"), std::string::npos);
}

}  // namespace
}  // namespace harpe::eval

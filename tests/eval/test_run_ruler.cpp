// RULER runs: the runner scores a generator that knows the answers at 100, a wrong one at 0, a
// half-right one at 50; worker threads change nothing; end to end on a tiny random checkpoint the
// run directory holds well-formed results.json / results.md with scores in [0, 100].
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "eval/model_commands.h"
#include "eval/model_eval.h"
#include "eval/run_needle.h"
#include "eval/run_ruler.h"
#include "io/atomic_file.h"
#include "model_fixture.h"

namespace harpe::eval {
namespace {

namespace fs = std::filesystem;

RulerRunOptions small_options() {
  RulerRunOptions o;
  o.tasks = niah_task_names();
  o.tasks.push_back("vt");
  o.lengths = {400, 700};
  o.samples = 3;
  o.gen.count_tokens = whitespace_word_counter();
  o.gen.essay = testing::make_essay(300, 3);
  return o;
}

// Answers from the samples the runner will generate (same options, same seed).
std::map<std::string, std::vector<std::string>> answer_key(const RulerRunOptions& o) {
  std::map<std::string, std::vector<std::string>> key;
  for (const auto& t : o.tasks)
    for (int64_t L : o.lengths)
      for (const auto& s : generate_samples(t, L, o.samples, o.gen)) key[s.input] = s.outputs;
  return key;
}

TEST(RunRuler, OracleScores100WrongScores0HalfScores50) {
  const RulerRunOptions o = small_options();
  const auto key = answer_key(o);
  auto oracle = [&](int) -> Generator {
    return [&](const std::string& p, int) {
      std::string out;
      for (const auto& a : key.at(p)) out += " " + a;
      return out;
    };
  };
  auto results = run_ruler(o, oracle);
  ASSERT_EQ(results.size(), o.tasks.size() * o.lengths.size());
  for (const auto& r : results) {
    EXPECT_DOUBLE_EQ(r.score, 100.0) << r.task << " " << r.length;
    EXPECT_EQ(r.samples, 3);
  }
  EXPECT_EQ(results[0].task, "niah_single_1");
  EXPECT_EQ(results[1].length, 700);

  results = run_ruler(
      o, [](int) -> Generator { return [](const std::string&, int) { return "no idea"; }; });
  for (const auto& r : results) EXPECT_DOUBLE_EQ(r.score, 0.0) << r.task;

  // Two of the four expected values of niah_multivalue / multiquery: 50.
  RulerRunOptions mv = o;
  mv.tasks = {"niah_multivalue", "niah_multiquery"};
  results = run_ruler(mv, [&](int) -> Generator {
    return [&](const std::string& p, int) { return key.at(p)[0] + ", " + key.at(p)[3]; };
  });
  for (const auto& r : results) EXPECT_DOUBLE_EQ(r.score, 50.0) << r.task;
}

TEST(RunRuler, LengthTooShortForATaskIsLeftOut) {
  RulerRunOptions o = small_options();
  o.tasks = {"niah_single_1", "niah_multikey_3"};
  o.lengths = {20, 700};  // 20 words hold no NIAH prompt at all
  o.gen.tokens_to_generate = 4;
  int calls = 0;
  const auto results = run_ruler(o, [&](int) -> Generator {
    return [&](const std::string&, int ttg) {
      EXPECT_EQ(ttg, 4);
      ++calls;
      return std::string("x");
    };
  });
  ASSERT_EQ(results.size(), 2u);  // the 700-word cells only, not 0-scored 20-word cells
  for (const auto& r : results) EXPECT_EQ(r.length, 700);
  EXPECT_EQ(calls, 2 * o.samples);
}

TEST(RunRuler, WorkersGiveTheSameResults) {
  RulerRunOptions o = small_options();
  o.tasks = {"niah_single_1", "niah_multikey_2"};
  // A deterministic fake whose output depends on the prompt only.
  auto fake = [](int) -> Generator {
    return [](const std::string& p, int) { return p.substr(p.size() / 2, 40); };
  };
  const auto one = run_ruler(o, fake);
  o.jobs = 2;
  const auto two = run_ruler(o, fake);
  ASSERT_EQ(one.size(), two.size());
  for (size_t i = 0; i < one.size(); ++i) {
    ASSERT_EQ(one[i].predictions.size(), two[i].predictions.size());
    for (size_t j = 0; j < one[i].predictions.size(); ++j)
      EXPECT_EQ(one[i].predictions[j].output, two[i].predictions[j].output);
  }
  // An exception in a worker reaches the caller.
  EXPECT_THROW(run_ruler(o,
                         [](int) -> Generator {
                           return [](const std::string&, int) -> std::string { fail("boom"); };
                         }),
               Error);
}

TEST(RunRuler, TaskListParsing) {
  EXPECT_EQ(parse_task_list("all", false), niah_task_names());
  EXPECT_EQ(niah_task_names().size(), 8u);
  EXPECT_EQ(parse_task_list("ruler", true).size(), 11u);
  EXPECT_EQ(parse_task_list("vt,niah_single_2", true),
            (std::vector<std::string>{"vt", "niah_single_2"}));
  EXPECT_THROW(parse_task_list("vt", false), Error);
  EXPECT_THROW(parse_task_list("niah_single_9", true), Error);
  EXPECT_THROW(parse_task_list("", true), Error);
}

TEST(RunRuler, NeedleGridOracleIs100) {
  NeedleGridSpec spec;
  spec.lengths = {300, 500};
  spec.depths = {0, 50, 100};
  GenOptions g;
  g.count_tokens = whitespace_word_counter();
  std::map<std::string, std::string> key;
  for (const auto& c : generate_needle_grid(spec, g))
    for (const auto& s : c.samples) key[s.input] = s.outputs[0];
  std::vector<Prediction> preds;
  const NeedleGrid grid = run_needle(
      spec, g, 2,
      [&](int) -> Generator { return [&](const std::string& p, int) { return key.at(p); }; },
      &preds, {});
  EXPECT_DOUBLE_EQ(grid.average(), 100.0);
  EXPECT_EQ(preds.size(), 6u);
}

TEST(RunRuler, TinyModelEndToEnd) {
  const auto& ck = testing::tiny_checkpoint();
  ModelArgs m;
  m.model_dir = ck.model_dir;
  m.out_dir = ck.root + "/niah-run";
  m.quiet = true;
  RulerArgs a;
  a.tasks = parse_task_list("all", false);
  a.lengths = {900};
  a.samples = 1;
  a.essay = ck.essay_path;
  const RunResults run = eval_ruler(m, a, false);
  ASSERT_EQ(run.tasks.size(), 8u);
  const RunResults back = read_run(m.out_dir);
  EXPECT_EQ(back.name, "niah-run");
  ASSERT_EQ(back.tasks.size(), 8u);
  for (const auto& t : back.tasks) {
    EXPECT_GE(t.score, 0.0);
    EXPECT_LE(t.score, 100.0);
    EXPECT_EQ(t.length, 900);
    ASSERT_EQ(t.predictions.size(), 1u);
    EXPECT_LE(t.predictions[0].prompt_tokens, 900);
    EXPECT_GT(t.predictions[0].prompt_tokens, 450);
  }
  EXPECT_EQ(back.meta.at("self_extend"), "none");
  const std::string md = io::read_file(m.out_dir + "/results.md");
  EXPECT_NE(md.find("niah_multiquery"), std::string::npos);
  EXPECT_NE(md.find("avg"), std::string::npos);

  // Self-Extend on the same checkpoint, two tasks, and the needle grid.
  m.position = rope::parse_position_map("64,4");
  m.out_dir = ck.root + "/niah-se";
  a.tasks = {"niah_single_1", "niah_multikey_3"};
  const RunResults se = eval_ruler(m, a, false);
  EXPECT_EQ(se.tasks.size(), 2u);
  EXPECT_EQ(read_run(m.out_dir).meta.at("self_extend"), "64,4");

  NeedleArgs n;
  n.lengths = {600, 800};
  n.depths = {0, 100};
  n.png = false;
  m.out_dir = ck.root + "/needle";
  const RunResults nr = eval_needle(m, n);
  ASSERT_TRUE(nr.has_needle);
  const RunResults nb = read_run(m.out_dir);
  ASSERT_TRUE(nb.has_needle);
  EXPECT_EQ(nb.needle.lengths, (std::vector<int64_t>{600, 800}));
  for (const auto& row : nb.needle.scores)
    for (double s : row) EXPECT_TRUE(s >= 0 && s <= 100);
  EXPECT_TRUE(fs::exists(m.out_dir + "/needle.svg"));
  EXPECT_EQ(nlohmann::json::parse(io::read_file(m.out_dir + "/needle_predictions.json")).size(),
            4u);
}

TEST(RunRuler, ShortUsesTheOriginalContext) {
  const auto& ck = testing::tiny_checkpoint();
  const model::ModelConfig cfg = model::read_hf_config(ck.model_dir + "/config.json");
  const OriginalContext c0 = original_context(ck.model_dir, cfg);
  EXPECT_EQ(c0.tokens, 1024);
  EXPECT_NE(c0.source.find("max_position_embeddings"), std::string::npos);
  ModelArgs m;
  m.model_dir = ck.model_dir;
  m.quiet = true;
  PplArgs p;
  p.corpus = ck.corpus_dir;
  p.stride = 128;
  RulerArgs r;
  r.tasks = {"niah_single_1", "niah_multikey_2"};
  r.samples = 1;
  const RunResults run = eval_short(m, p, r, 0);
  ASSERT_EQ(run.ppl.size(), 1u);
  EXPECT_EQ(run.ppl[0].window, 1024);
  EXPECT_EQ(run.ppl[0].stride, 128);
  EXPECT_EQ(run.ppl[0].tokens, 3 * 1023);    // three long-enough documents cut to 1024 tokens
  EXPECT_GT(run.ppl[0].perplexity(), 50.0);  // random model, vocabulary 360
  ASSERT_EQ(run.tasks.size(), 2u);
  EXPECT_EQ(run.tasks[0].length, 1024);
  EXPECT_EQ(run.meta.at("original_context"), "1024");
}

TEST(RunRuler, FlagParsing) {
  EXPECT_EQ(parse_lengths("512,4k,8K", "--lengths"), (std::vector<int64_t>{512, 4096, 8192}));
  EXPECT_THROW(parse_lengths("12,x", "--lengths"), Error);
  EXPECT_THROW(parse_lengths("0", "--lengths"), Error);
  EXPECT_THROW(parse_lengths("", "--lengths"), Error);
  EXPECT_EQ(parse_depths("0,50,100"), (std::vector<double>{0, 50, 100}));
  EXPECT_THROW(parse_depths("101"), Error);
  EXPECT_THROW(parse_depths("-1"), Error);
  EXPECT_THROW(parse_depths("a"), Error);
  EXPECT_THROW(parse_depths(""), Error);
  EXPECT_FALSE(rope::parse_position_map("").self_extend());
  const rope::PositionMap p = rope::parse_position_map("1024,32");
  EXPECT_EQ(p.window, 1024);
  EXPECT_EQ(p.group, 32);
  EXPECT_THROW(rope::parse_position_map("4,8"), Error);
  EXPECT_THROW(rope::parse_position_map("12"), Error);
  EXPECT_THROW(rope::parse_position_map("a,b"), Error);
}

TEST(RunRuler, LibraryCallersGetLengthAndDepthChecks) {
  const auto& ck = testing::tiny_checkpoint();
  ModelArgs m;
  m.model_dir = ck.model_dir;
  m.quiet = true;
  RulerArgs a;
  a.lengths = {};
  EXPECT_THROW(eval_ruler(m, a, false), Error);
  a.lengths = {900, -5};
  EXPECT_THROW(eval_ruler(m, a, false), Error);
  a.lengths = {900};
  a.tasks = {"vt"};  // not a NIAH task: only `eval ruler` (allow_other) runs it
  EXPECT_THROW(eval_ruler(m, a, false), Error);
  a.tasks = {"no_such_task"};
  EXPECT_THROW(eval_ruler(m, a, true), Error);
  a.tasks = {};
  EXPECT_THROW(eval_ruler(m, a, true), Error);
  NeedleArgs n;
  n.depths = {50, 150};
  EXPECT_THROW(eval_needle(m, n), Error);
  PplArgs p;
  p.lengths = {0};
  EXPECT_THROW(eval_ppl(m, p), Error);
}

}  // namespace
}  // namespace harpe::eval

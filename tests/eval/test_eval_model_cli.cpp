// `harpe eval ppl|niah|ruler|needle|short|tokens` as a user runs them: help texts, one-line errors,
// a run directory `harpe report` reads.
#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "data/tokenizer.h"
#include "eval/report.h"
#include "io/atomic_file.h"
#include "model/model.h"
#include "model/weights_io.h"
#include "model_fixture.h"
#include "support/run_program.h"

namespace {

using CliRun = harpe::testing::ProgramResult;

CliRun harpe(const std::string& args) { return harpe::testing::run_harpe(args); }

void expect_error(const std::string& args, const std::string& fragment) {
  const CliRun r = harpe(args);
  EXPECT_NE(r.code, 0) << args;
  // Progress lines may come first; the error is the last line, and one line.
  std::string last = r.out;
  while (!last.empty() && last.back() == '\n') last.pop_back();
  last = last.substr(last.rfind('\n') == std::string::npos ? 0 : last.rfind('\n') + 1);
  EXPECT_EQ(last.rfind("harpe: error:", 0), 0u) << args << "\n" << r.out;
  EXPECT_NE(last.find(fragment), std::string::npos) << args << "\n" << r.out;
}

TEST(EvalModelCli, NiahHelpListsTheEightTasks) {
  const CliRun r = harpe("eval niah --help");
  ASSERT_EQ(r.code, 0) << r.out;
  for (const char* t : {"niah_single_1", "niah_single_2", "niah_single_3", "niah_multikey_1",
                        "niah_multikey_2", "niah_multikey_3", "niah_multivalue", "niah_multiquery"})
    EXPECT_NE(r.out.find(t), std::string::npos) << t;
  for (const char* f : {"--model", "--lengths", "--samples", "--self-extend", "--haystack-corpus"})
    EXPECT_NE(r.out.find(f), std::string::npos) << f;
  for (const char* cmd : {"ppl", "ruler", "needle", "short"}) {
    const CliRun h = harpe(std::string("eval ") + cmd + " --help");
    EXPECT_EQ(h.code, 0) << cmd;
    EXPECT_NE(h.out.find("--self-extend"), std::string::npos) << cmd;
  }
}

TEST(EvalModelCli, BadInputIsOneLineError) {
  const auto& ck = harpe::eval::testing::tiny_checkpoint();
  const std::string m = "--model " + ck.model_dir;
  expect_error("eval niah --model /nonexistent/ckpt", "/nonexistent/ckpt");
  expect_error("eval niah " + m + " --tasks niah_single_9", "niah_single_9");
  expect_error("eval niah " + m + " --tasks vt", "harpe eval ruler");
  expect_error("eval niah " + m + " --lengths 4k,abc", "--lengths");
  expect_error("eval niah " + m + " --self-extend 8", "--self-extend");
  expect_error("eval niah " + m + " --samples 0", "--samples");
  expect_error("eval ppl " + m + " --corpus " + ck.corpus_dir + " --lengths 100000",
               "has >= 100000 tokens");
  expect_error("eval ppl " + m + " --shard /nonexistent.bin --lengths 64", "/nonexistent.bin");
  expect_error("eval ppl " + m + " --corpus " + ck.corpus_dir + " --stride 0 --lengths 64",
               "--stride");
  expect_error("eval needle " + m + " --depths 50,150", "--depths");
  expect_error("eval needle " + m + " --haystack sand", "--haystack");
  expect_error("eval niah " + m + " --bogus-flag", "bogus");
}

TEST(EvalModelCli, PplRunDirectoryAndReport) {
  const auto& ck = harpe::eval::testing::tiny_checkpoint();
  const std::string out = ck.root + "/cli-ppl";
  const CliRun r = harpe("eval ppl --model " + ck.model_dir + " --corpus " + ck.corpus_dir +
                         " --lengths 64,128 --stride 32 --documents 2 --out " + out);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("2 document(s)"), std::string::npos) << r.out;
  const harpe::eval::RunResults run = harpe::eval::read_run(out);
  ASSERT_EQ(run.ppl.size(), 2u);
  EXPECT_EQ(run.ppl[0].window, 64);
  EXPECT_EQ(run.ppl[1].window, 128);
  EXPECT_EQ(run.ppl[0].tokens, 2 * 127);  // both lengths score the same tokens
  EXPECT_EQ(run.ppl[1].tokens, 2 * 127);
  EXPECT_EQ(run.ppl[0].dataset, "corpus-test");
  EXPECT_NE(harpe::io::read_file(out + "/results.md").find("| corpus-test |"), std::string::npos);
  const CliRun rep = harpe("report " + out);
  EXPECT_EQ(rep.code, 0) << rep.out;
  EXPECT_NE(rep.out.find("cli-ppl"), std::string::npos) << rep.out;
}

// --precision on generate and the evals: the weights line names the precision and the bytes,
// results.json records it, a bad value is a one-line error naming the flag.
TEST(EvalModelCli, PrecisionFlagChoosesTheWeights) {
  const auto& ck = harpe::eval::testing::tiny_checkpoint();
  const std::string gen = "generate --model " + ck.model_dir + " --prompt hello -n 3 --precision ";
  for (const char* p : {"bf16", "fp32"}) {
    const CliRun r = harpe(gen + p);
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find(std::string("weights ") + p + ", "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(std::string("KV cache ") + p), std::string::npos) << r.out;
  }
  expect_error(gen + "fp16", "--precision");
  const std::string out = ck.root + "/cli-ppl-bf16";
  const CliRun r = harpe("eval ppl --precision bf16 --model " + ck.model_dir + " --corpus " +
                         ck.corpus_dir + " --lengths 64 --stride 32 --documents 1 --out " + out);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("weights bf16"), std::string::npos) << r.out;
  EXPECT_EQ(harpe::eval::read_run(out).meta.at("weights"), "bf16");
  EXPECT_EQ(harpe::eval::read_run(out).meta.at("kv_cache"), "bf16");
}

// `eval tokens`: one line per token, their mean equal to the model's own forward loss, and the
// repeated tokens marked.
TEST(EvalModelCli, TokensPrintsEveryTokenLoss) {
  const auto& ck = harpe::eval::testing::tiny_checkpoint();
  const std::string text = "the cat sat on the mat";
  const CliRun r =
      harpe("eval tokens --precision fp32 --model " + ck.model_dir + " --text '" + text + "'");
  ASSERT_EQ(r.code, 0) << r.out;
  harpe::model::Model m = harpe::model::load_model_dir(ck.model_dir);
  harpe::data::Tokenizer tok = harpe::data::Tokenizer::load(ck.model_dir + "/tokenizer.model");
  std::vector<int32_t> ids = {tok.bos_id()};
  for (int32_t t : tok.encode(text)) ids.push_back(t);
  const int T = static_cast<int>(ids.size()) - 1;
  harpe::model::Workspace ws(m.config, 1, T, harpe::model::Mode::infer);
  std::vector<int32_t> in(ids.begin(), ids.end() - 1), tgt(ids.begin() + 1, ids.end());
  const double mean = harpe::model::forward_loss(m, ws, in.data(), tgt.data()).sum / T;
  std::istringstream lines(r.out);
  std::string line;
  int rows = 0, repeated = 0;
  double printed_mean = -1;
  while (std::getline(lines, line)) {
    int pos = 0;
    char piece[64];
    double loss = 0;
    if (std::sscanf(line.c_str(), "%d %63s %lf", &pos, piece, &loss) == 3) {
      ++rows;
      repeated += line.find("yes") != std::string::npos;
    }
    std::sscanf(line.c_str(), "tokens %*d, mean loss %lf", &printed_mean);
  }
  EXPECT_EQ(rows, T) << r.out;
  EXPECT_GE(repeated, 1) << r.out;  // the second "the"
  EXPECT_NEAR(printed_mean, mean, 1e-4 * mean) << r.out;
  // bf16 weights (scored through the inference session): close to the fp32 loss, not equal.
  const CliRun b = harpe("eval tokens --precision bf16 --summary --model " + ck.model_dir +
                         " --text '" + text + "'");
  ASSERT_EQ(b.code, 0) << b.out;
  double bf16_mean = -1;
  std::sscanf(b.out.c_str(), "tokens %*d, mean loss %lf", &bf16_mean);
  EXPECT_NEAR(bf16_mean, mean, 1e-2 * mean) << b.out;
  EXPECT_NE(r.out.find("seen before:"), std::string::npos);
  expect_error("eval tokens --model " + ck.model_dir, "--text");
}

}  // namespace

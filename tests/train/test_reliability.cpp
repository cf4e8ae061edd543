// What harpe promises about training runs (docs/promises.md), tested from outside as a user sees
// them: a stop signal at a random moment mid-step saves a loadable checkpoint and exits 130; one
// run per directory; metrics never written through a planted symlink; a fresh run never appends to
// old metrics; bad budgets refused; --resume refuses changed hyper-parameters unless --override.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/precision.h"
#include "data/shard.h"
#include "io/atomic_file.h"
#include "model/config.h"
#include "model/model.h"
#include "support/run_program.h"
#include "train/checkpoint.h"
#include "train/optimizer.h"

namespace harpe::train {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("harpe_test_reliab_" + std::to_string(::getpid()));
  TempDir() {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

std::string make_shard(const TempDir& t) {
  const std::string p = (t.path / "c.bin").string();
  if (fs::exists(p)) return p;
  data::ShardWriter w(p, 256);
  std::vector<int32_t> tok(60000);
  for (std::size_t i = 0; i < tok.size(); ++i)
    tok[i] = static_cast<int32_t>((i * 7 + i / 13) % 251);
  w.add_document(tok);
  w.finish();
  return p;
}

// A child `harpe ARGS...` with stdout+stderr on a pipe.
struct Child {
  pid_t pid = -1;
  int out = -1;
  std::string text;
  Child(const std::vector<std::string>& args, int threads) {
    int p[2];
    if (::pipe(p) != 0) return;
    pid = ::fork();
    if (pid == 0) {
      ::dup2(p[1], 1);
      ::dup2(p[1], 2);
      ::close(p[0]);
      ::close(p[1]);
      ::setenv("OMP_NUM_THREADS", std::to_string(threads).c_str(), 1);
      std::vector<char*> argv;
      argv.push_back(const_cast<char*>(HARPE_BINARY));
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(HARPE_BINARY, argv.data());
      ::_exit(127);
    }
    ::close(p[1]);
    out = p[0];
  }
  // Reads until `needle` appears in the output (or EOF); true when it did.
  bool wait_for(const std::string& needle) {
    char buf[4096];
    while (text.find(needle) == std::string::npos) {
      const ssize_t n = ::read(out, buf, sizeof buf);
      if (n <= 0) return false;
      text.append(buf, static_cast<size_t>(n));
    }
    return true;
  }
  int finish() {  // drains the output, returns the exit status (-signal when killed)
    char buf[4096];
    for (ssize_t n; (n = ::read(out, buf, sizeof buf)) > 0;)
      text.append(buf, static_cast<size_t>(n));
    ::close(out);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  }
};

std::vector<std::string> pretrain_args(const std::string& shard, const std::string& out,
                                       long steps) {
  return {"pretrain",
          "--preset",
          "micro",
          "--data",
          shard,
          "--out",
          out,
          "--context",
          "128",
          "--batch",
          "4",
          "--steps",
          std::to_string(steps),
          "--warmup",
          "1",
          "--log-every",
          "1"};
}

// 50 runs (25 single-threaded, 25 with two threads): SIGINT, SIGTERM or SIGHUP at a random moment
// after training started; every run exits 130 and leaves a checkpoint that loads.
TEST(Promises, StopSignalMidStepSavesALoadableCheckpoint) {
  TempDir t;
  const std::string shard = make_shard(t);
  std::mt19937 rng(12345);
  const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
  int ok = 0;
  for (int i = 0; i < 50; ++i) {
    const std::string out = (t.path / ("run" + std::to_string(i))).string();
    Child c(pretrain_args(shard, out, 100000), i < 25 ? 1 : 2);
    ASSERT_GT(c.pid, 0);
    ASSERT_TRUE(c.wait_for("step 1/")) << c.text;
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 40000));
    ::kill(c.pid, sigs[i % 3]);
    const int code = c.finish();
    EXPECT_EQ(code, 130) << "run " << i << ":\n" << c.text;
    const std::string dir = resolve_checkpoint(out + "/checkpoint");
    model::Model m(model::read_hf_config(dir + "/config.json"));
    AdamWState opt(m.layout.total);
    TrainerState st;
    EXPECT_NO_THROW(load_checkpoint(dir, m, opt, st)) << "run " << i;
    EXPECT_GE(st.step, 1);
    ok += code == 130;
    fs::remove_all(out);
  }
  RecordProperty("stopped_cleanly", ok);
}

TEST(Promises, OneRunPerDirectory) {
  TempDir t;
  const std::string shard = make_shard(t), out = (t.path / "shared").string();
  Child first(pretrain_args(shard, out, 100000), 1);
  ASSERT_TRUE(first.wait_for("step 1/")) << first.text;
  const auto second =
      harpe::testing::run_harpe("pretrain --preset micro --data " + shard + " --out " + out +
                                " --context 128 --steps 5 --resume");
  EXPECT_EQ(second.code, 1) << second.out;
  EXPECT_NE(second.out.find("is in use by another harpe run (pid " + std::to_string(first.pid)),
            std::string::npos)
      << second.out;
  ::kill(first.pid, SIGTERM);
  EXPECT_EQ(first.finish(), 130);
}

TEST(Promises, MetricsAreNeverWrittenThroughASymlinkNorAppendedToOldLines) {
  TempDir t;
  const std::string shard = make_shard(t), out = (t.path / "m").string();
  fs::create_directories(out);
  const std::string victim = (t.path / "victim").string();
  io::write_text_atomic(victim, "precious\n");
  fs::create_symlink(victim, out + "/metrics.jsonl");
  auto r = harpe::testing::run_harpe("pretrain --preset micro --data " + shard + " --out " + out +
                                     " --context 64 --batch 2 --steps 3 --warmup 1");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(io::read_file(victim), "precious\n");
  EXPECT_FALSE(fs::is_symlink(out + "/metrics.jsonl"));
  int lines = 0;
  for (char ch : io::read_file(out + "/metrics.jsonl")) lines += ch == '\n';
  EXPECT_EQ(lines, 3);
}

TEST(Promises, BadBudgetsAndChangedHyperParametersAreRefused) {
  TempDir t;
  const std::string shard = make_shard(t), out = (t.path / "h").string();
  const std::string base = "pretrain --preset micro --data " + shard + " --out " + out +
                           " --context 64 --batch 2 --warmup 1";
  for (const char* bad : {" --steps -5", " --steps 0", " --tokens 0", " --lr nan",
                          " --steps 3 --override train.lr"}) {
    const auto r = harpe::testing::run_harpe(base + std::string(bad));
    EXPECT_NE(r.code, 0) << bad << ": " << r.out;
    EXPECT_FALSE(fs::exists(out + "/checkpoint")) << bad;
  }
  auto r = harpe::testing::run_harpe(base + " --steps 2 --lr 1e-3");
  ASSERT_EQ(r.code, 0) << r.out;
  r = harpe::testing::run_harpe(base + " --steps 4 --lr 2e-3 --resume");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("train.lr"), std::string::npos) << r.out;
  r = harpe::testing::run_harpe(base +
                                " --steps 4 --lr 2e-3 --resume --override train.lr,train.steps");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(io::read_file(out + "/run_config.json").find("0.002"), std::string::npos);
  // `harpe train` saves on a signal and exits 130 like the others.
  Child c({"train", "--preset", "micro", "--data", shard, "--out", (t.path / "tr").string(),
           "--context", "128", "--batch", "4", "--steps", "100000", "--log-every", "1"},
          1);
  ASSERT_TRUE(c.wait_for("step 1/")) << c.text;
  ::kill(c.pid, SIGINT);
  EXPECT_EQ(c.finish(), 130) << c.text;
  EXPECT_NO_THROW(resolve_checkpoint((t.path / "tr" / "checkpoint").string()));
}

TEST(Promises, PrecisionIsPrintedRecordedAndChangedOnlyByOverride) {
  TempDir t;
  const std::string shard = make_shard(t), out = (t.path / "p").string();
  const std::string base = "pretrain --preset micro --data " + shard + " --out " + out +
                           " --context 64 --batch 2 --warmup 1";
  auto r = harpe::testing::run_harpe(base + " --steps 2 --precision fp32");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("precision: fp32 ("), std::string::npos) << r.out;
  const std::string rc = out + "/run_config.json";
  const std::string recorded = "\"precision\": \"fp32\"";
  std::string text = io::read_file(rc);
  ASSERT_NE(text.find(recorded), std::string::npos) << text;
  // A run directory from before --precision existed (no such key) resumes as fp32.
  text.erase(text.find(recorded), recorded.size() + 1);  // and the comma after it
  io::write_text_atomic(rc, text);
  r = harpe::testing::run_harpe(base + " --steps 3 --precision fp32 --resume");
  EXPECT_EQ(r.code, 0) << r.out;
  if (!harpe::cpu_has_bf16_matmul()) return;  // bf16 GEMMs may have no implementation here
  r = harpe::testing::run_harpe(base + " --steps 4 --precision bf16 --resume");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("train.precision"), std::string::npos) << r.out;
  r = harpe::testing::run_harpe(base + " --steps 4 --precision bf16 --resume --override " +
                                "train.precision");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("precision: bf16 ("), std::string::npos) << r.out;
  EXPECT_NE(io::read_file(rc).find("\"precision\": \"bf16\""), std::string::npos);
}

}  // namespace
}  // namespace harpe::train

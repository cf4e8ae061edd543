// `harpe pretrain` / `harpe extend` as a user runs them: help texts, errors, a small run.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/shard.h"
#include "io/atomic_file.h"
#include "io/json_util.h"
#include "model/config.h"
#include "support/run_program.h"
#include "train/checkpoint.h"

namespace harpe::train {
namespace {

namespace fs = std::filesystem;

using Cli = harpe::testing::ProgramResult;

Cli run(const std::string& args) { return harpe::testing::run_harpe(args); }

TEST(ExtendCli, HelpDocumentsEveryMethodAndFlag) {
  const Cli r = run("extend --help");
  ASSERT_EQ(r.code, 0) << r.out;
  for (const char* s : {"pi",
                        "abf",
                        "ntk",
                        "yarn",
                        "harpe",
                        "uniform-desc",
                        "peak-valley",
                        "--from",
                        "--data",
                        "--out",
                        "--method",
                        "--context",
                        "--original-context",
                        "--factor",
                        "--abf-base",
                        "--beta-fast",
                        "--beta-slow",
                        "--bases",
                        "--bases-min",
                        "--bases-max",
                        "--bases-stride",
                        "--stages",
                        "--stages-file",
                        "--self-extend",
                        "--tokens",
                        "--steps",
                        "--batch",
                        "--grad-accum",
                        "--lr",
                        "--warmup",
                        "--schedule",
                        "--beta1",
                        "--beta2",
                        "--weight-decay",
                        "--clip",
                        "--recompute",
                        "--save-every",
                        "--resume",
                        "--tokenizer",
                        "--print-settings",
                        "run_config.json",
                        "Ctrl-C"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s;
  const Cli p = run("pretrain --help");
  ASSERT_EQ(p.code, 0) << p.out;
  for (const char* s :
       {"--preset", "--config", "--data", "--out", "--context", "--rope-base", "--steps",
        "--tokens", "--lr", "--save-every", "--resume", "--tokenizer", "Ctrl-C"})
    EXPECT_NE(p.out.find(s), std::string::npos) << s;
}

TEST(ExtendCli, PrintSettingsShowsThePaperMappingAndTheScaledOne) {
  Cli r = run("extend --print-settings --original-context 4096 --context 131072 --head-dim 128");
  ASSERT_EQ(r.code, 0) << r.out;
  // The paper's setting maps onto itself: both columns read 5e+06 for the ABF base.
  const std::size_t at = r.out.find("  abf base ");
  ASSERT_NE(at, std::string::npos) << r.out;
  const std::string line = r.out.substr(at, r.out.find('\n', at) - at);
  const std::size_t first = line.find("5e+06");
  ASSERT_NE(first, std::string::npos) << line;
  EXPECT_NE(line.find("5e+06", first + 1), std::string::npos) << line;
  r = run("extend --print-settings --original-context 64 --context 2048 --head-dim 16");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("297000"), std::string::npos) << r.out;  // 2.97e5, see the scaling test
  EXPECT_NE(r.out.find("64 -> 2048"), std::string::npos) << r.out;
}

TEST(ExtendCli, BadFlagsGiveOneLineErrors) {
  const fs::path dir =
      fs::temp_directory_path() / ("harpe_extend_cli_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  struct Case {
    std::string args, needle;
  };
  const std::vector<Case> cases = {
      {"extend --method pi --context 2048 --steps 1 --data x --out " + dir.string() + "/o",
       "--from is required"},
      {"extend --from " + dir.string() +
           "/none --method pi --context 2048 --steps 1 --data x --out " + dir.string() + "/o",
       "--from"},
      {"extend --print-settings --context 2048", "--original-context"},
      {"extend --print-settings --original-context 64 --context 32 --head-dim 16", "--context"},
      {"pretrain --preset micro --data x --out " + dir.string() + "/p", "--steps"},
      {"pretrain --preset nope --data x --out " + dir.string() + "/p --steps 1", "preset"},
  };
  for (const Case& c : cases) {
    const Cli r = run(c.args);
    EXPECT_EQ(r.code, 1) << c.args << "\n" << r.out;
    EXPECT_EQ(r.out.rfind("harpe: error: ", 0), 0u) << c.args << "\n" << r.out;
    EXPECT_NE(r.out.find(c.needle), std::string::npos) << c.args << "\n" << r.out;
    EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << "one line: " << r.out;
  }
  fs::remove_all(dir);
}

// pretrain -> extend (harpe peak-valley) -> generate-ready checkpoint, through the program.
TEST(ExtendCli, PretrainThenExtendWritesAReproducibleRun) {
  const fs::path dir =
      fs::temp_directory_path() / ("harpe_extend_cli_run_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string shard = (dir / "c.bin").string();
  {
    data::ShardWriter w(shard, 256);
    std::vector<int32_t> t(1200);
    for (std::size_t i = 0; i < t.size(); ++i) t[i] = static_cast<int32_t>(3 + (i * 7) % 23);
    w.add_document(t);
    w.finish();
  }
  const std::string tok = (dir / "tok.model").string();
  io::write_text_atomic(tok, "not really a tokenizer, copied verbatim");
  const std::string base = (dir / "base").string();
  Cli r = run("pretrain --preset micro --data " + shard + " --out " + base +
              " --context 32 --batch 2 --steps 4 --warmup 1 --save-every 2 --tokenizer " + tok);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("step 4/4 | loss"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("ETA"), std::string::npos) << r.out;
  EXPECT_EQ(io::read_file(base + "/checkpoint/tokenizer.model"), io::read_file(tok));

  const std::string ext = (dir / "ext").string();
  const std::string args = "extend --from " + base + " --data " + shard + " --out " + ext +
                           " --method harpe --bases peak-valley --context 512 --tokens 1024";
  r = run(args);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("C0 32 -> L 512"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("step 2/2"), std::string::npos) << r.out;  // 1024 tokens / 512 per step
  EXPECT_NE(r.out.find("RoPE base bound (Men et al. 2024) for L 512"), std::string::npos) << r.out;
  // A base below Men et al.'s bound for L is named in a warning; one above it is not.
  const std::string low = "extend --from " + base + " --data " + shard +
                          " --method abf --context "
                          "512 --steps 1 --abf-base 50 --out " +
                          (dir / "low").string();
  Cli w = run(low);
  ASSERT_EQ(w.code, 0) << w.out;
  EXPECT_NE(w.out.find("warning: 2 of 2 KV heads are below the bound"), std::string::npos) << w.out;
  w = run("extend --from " + base + " --data " + shard +
          " --method abf --context 512 --steps 1 "
          "--abf-base 1e7 --out " +
          (dir / "high").string());
  ASSERT_EQ(w.code, 0) << w.out;
  EXPECT_EQ(w.out.find("warning:"), std::string::npos) << w.out;
  EXPECT_NE(w.out.find("effective base of the slowest frequency 1e+07"), std::string::npos)
      << w.out;
  EXPECT_EQ(io::read_file(ext + "/checkpoint/tokenizer.model"), io::read_file(tok));
  const io::Json rc = io::parse_json(io::read_file(ext + "/run_config.json"), "run_config");
  EXPECT_EQ(rc["method"], "harpe");
  EXPECT_EQ(rc["stages"][0]["steps"], 2);
  const model::ModelConfig cfg = model::read_hf_config(ext + "/checkpoint/config.json");
  EXPECT_EQ(cfg.rope.scheme, rope::Scheme::harpe);
  std::vector<double> bases;
  for (const auto& b : rc["stages"][0]["rope"]["bases"]) bases.push_back(b.get<double>());
  EXPECT_EQ(cfg.rope.bases, bases);

  // Running the same command again refuses to overwrite; --resume of a finished run is a no-op.
  r = run(args);
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("--resume"), std::string::npos) << r.out;
  r = run(args + " --resume");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(read_trainer_state(ext + "/checkpoint").step, 2);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace harpe::train

// Data parallel over MPI, end to end: `mpirun -np 2 harpe train` must give the 1-rank run's
// losses (same global batch and seed) to within float round-off, rank 0 alone must print, and a
// run may resume on a different rank count. Built and registered only when MPI is found.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/shard.h"
#include "mpi_runs.h"

namespace {

namespace fs = std::filesystem;

using namespace harpe::testing;

const std::string kOne = on_ranks(1);
const std::string kTwo = on_ranks(2);

// Step 1 sees the same parameters, so loss and gradient norm agree to float round-off (only the
// summation order differs: per-rank partial gradients added by the all-reduce). Later steps
// follow AdamW updates, whose early m / sqrt(v) turns round-off in near-zero gradients into
// differences of order lr, so they get a looser (still data-sensitive) tolerance.
void expect_same_run(const std::vector<Line>& a, const std::vector<Line>& b, bool first_exact) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double tol = (i == 0 && first_exact) ? 1e-6 : 1e-3;
    EXPECT_EQ(a[i].step, b[i].step);
    EXPECT_EQ(a[i].tokens_seen, b[i].tokens_seen);
    EXPECT_NEAR(a[i].loss, b[i].loss, tol * a[i].loss) << "step " << a[i].step;
    EXPECT_NEAR(a[i].grad_norm, b[i].grad_norm, 10 * tol * a[i].grad_norm) << "step " << a[i].step;
  }
}

TEST(TrainMpi, TwoRanksMatchOneRankAndResumeAcrossRankCounts) {
  const fs::path dir = fs::temp_directory_path() / ("harpe_test_mpi_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string shard = (dir / "train.bin").string();
  {
    harpe::data::ShardWriter w(shard, 256);
    // Every 100-token block draws from its own range, so different windows give clearly
    // different gradients: a wrong split of the batch would show in the step-1 gradient norm.
    std::vector<int32_t> t(4000);
    uint32_t s = 12;
    for (std::size_t i = 0; i < t.size(); ++i) {
      s = s * 1664525u + 1013904223u;
      const uint32_t range = 2u + 31u * static_cast<uint32_t>((i / 100) % 9);
      t[i] = static_cast<int32_t>((s >> 8) % range);
    }
    w.add_document(t);
    w.finish();
  }
  const std::string common = " train --preset micro --data " + shard +
                             " --context 32 --batch 4 --grad-accum 2 --warmup 1 --lr 3e-4 --out ";
  const fs::path one = dir / "one", two = dir / "two", mixed = dir / "mixed";

  CliResult r = run(kOne + common + one.string() + " --steps 5");
  ASSERT_EQ(r.code, 0) << r.out;
  r = run(kTwo + common + two.string() + " --steps 5 --distributed");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("data parallel: 2 ranks, 2 sequences each"), std::string::npos) << r.out;
  // Rank 0 alone prints.
  EXPECT_EQ(r.out.find("step 5/5"), r.out.rfind("step 5/5")) << r.out;
  const std::vector<Line> a = read_metrics(one / "metrics.jsonl");
  ASSERT_EQ(a.size(), 5u);
  // Windows differ enough that a wrong slice would show far above the tolerances below.
  EXPECT_GT(std::fabs(a.back().loss - a.front().loss), 1e-2);
  expect_same_run(a, read_metrics(two / "metrics.jsonl"), true);

  // 3 steps on two ranks, then resumed on one: the data position is global.
  r = run(kTwo + common + mixed.string() + " --steps 3");
  ASSERT_EQ(r.code, 0) << r.out;
  r = run(kOne + common + mixed.string() + " --steps 5 --resume");
  ASSERT_EQ(r.code, 0) << r.out;
  expect_same_run(a, read_metrics(mixed / "metrics.jsonl"), true);

  // A global batch that does not split evenly is refused with a message naming the flag.
  r = run(kTwo + " train --preset micro --data " + shard +
          " --context 32 --batch 3 --steps 1 --out " + (dir / "odd").string());
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("--batch 3 must be a multiple of the 2"), std::string::npos) << r.out;
  fs::remove_all(dir);
}

// `harpe pretrain` and `harpe extend` (single stage and ABF's three stages, whose seed checkpoints
// rank 0 writes between stages) run data-parallel the same way.
TEST(TrainMpi, PretrainAndExtendTwoRanksMatchOneRank) {
  const fs::path dir =
      fs::temp_directory_path() / ("harpe_test_mpi_ext_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string shard = (dir / "train.bin").string();
  {
    harpe::data::ShardWriter w(shard, 256);
    std::vector<int32_t> t(6000);
    uint32_t s = 7;
    for (std::size_t i = 0; i < t.size(); ++i) {
      s = s * 1664525u + 1013904223u;
      t[i] = static_cast<int32_t>((s >> 8) % (3u + 29u * static_cast<uint32_t>((i / 64) % 8)));
    }
    w.add_document(t);
    w.finish();
  }
  const std::string pre = " pretrain --preset micro --data " + shard +
                          " --context 16 --batch 4 --steps 4 --warmup 1 --lr 1e-3 --out ";
  CliResult r = run(kOne + pre + (dir / "p1").string());
  ASSERT_EQ(r.code, 0) << r.out;
  r = run(kTwo + pre + (dir / "p2").string() + " --distributed");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("data parallel: 2 ranks, 2 sequences each"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("step 4/4"), r.out.rfind("step 4/4")) << r.out;  // rank 0 alone prints
  expect_same_run(read_metrics(dir / "p1" / "metrics.jsonl"),
                  read_metrics(dir / "p2" / "metrics.jsonl"), true);

  const std::string from = (dir / "p1").string();
  for (const std::string method :
       {"--method harpe --bases uniform", "--method abf --stages scaled"}) {
    const std::string ext = " extend --from " + from + " --data " + shard + " " + method +
                            " --context 128 --steps 2 --batch 2 --lr 1e-3 --out ";
    const fs::path e1 = dir / "e1", e2 = dir / "e2";
    fs::remove_all(e1);
    fs::remove_all(e2);
    r = run(kOne + ext + e1.string());
    ASSERT_EQ(r.code, 0) << method << "\n" << r.out;
    r = run(kTwo + ext + e2.string() + " --distributed");
    ASSERT_EQ(r.code, 0) << method << "\n" << r.out;
    // Split, not two copies of the whole batch (which would give the same losses).
    EXPECT_NE(r.out.find("data parallel: 2 ranks, 1 sequences each"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("saved " + e2.string() + "/checkpoint"),
              r.out.rfind("saved " + e2.string() + "/checkpoint"))
        << r.out;
    const std::vector<Line> a = read_metrics(e1 / "metrics.jsonl");
    ASSERT_GE(a.size(), 2u) << method;
    expect_same_run(a, read_metrics(e2 / "metrics.jsonl"), true);
    EXPECT_EQ(fs::exists(e1 / "stage3"), fs::exists(e2 / "stage3")) << method;
  }
  fs::remove_all(dir);
}

}  // namespace

// Context parallel over MPI, end to end: `mpirun -np 2 harpe train --context-parallel 2` splits
// every sequence over the two ranks (rank r holds chunks r and 3-r of 4) with ring attention; it
// must give the 1-rank run's losses and gradient norms (same sequences, same seed) to within
// float round-off. Built and registered only when MPI is found.
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
// Four ranks on two cores: only to exercise a ring of more than one shift and the 2-D layout.
const std::string kFour = on_ranks(4);

// Step 1 sees the same parameters: only the summation order differs (the attention of a row is
// merged from blocks, the gradient summed over ranks). Later steps follow AdamW, whose early
// m / sqrt(v) amplifies round-off in tiny gradients, so they get a looser bound.
void expect_same_run(const std::vector<Line>& a, const std::vector<Line>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    std::printf("step %ld: loss %.9f vs %.9f (rel %.1e), grad norm %.7f vs %.7f (rel %.1e)\n",
                a[i].step, a[i].loss, b[i].loss, std::fabs(a[i].loss - b[i].loss) / a[i].loss,
                a[i].grad_norm, b[i].grad_norm,
                std::fabs(a[i].grad_norm - b[i].grad_norm) / a[i].grad_norm);
    // Measured (micro, context 64): ~3e-9 at step 1, <= 5e-8 (loss) and 3e-6 (grad norm) by
    // step 5, so these bounds are 20-30x the round-off yet far below a step's loss change.
    const double tol = i == 0 ? 1e-6 : 1e-5;
    EXPECT_EQ(a[i].step, b[i].step);
    EXPECT_EQ(a[i].tokens_seen, b[i].tokens_seen);
    EXPECT_NEAR(a[i].loss, b[i].loss, tol * a[i].loss) << "step " << a[i].step;
    EXPECT_NEAR(a[i].grad_norm, b[i].grad_norm, 10 * tol * a[i].grad_norm) << "step " << a[i].step;
  }
}

TEST(TrainMpiContextParallel, SplitSequencesMatchOneRank) {
  const fs::path dir = fs::temp_directory_path() / ("harpe_test_cp_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  const std::string shard = (dir / "train.bin").string();
  {
    harpe::data::ShardWriter w(shard, 256);
    // Long-range structure: the second half of every 64-token window repeats its first half, so
    // late chunks depend on early ones through attention (a broken ring would show in the loss).
    std::vector<int32_t> t;
    uint32_t s = 5;
    for (int win = 0; win < 80; ++win) {
      std::vector<int32_t> half(32);
      for (int32_t& x : half) {
        s = s * 1664525u + 1013904223u;
        x = static_cast<int32_t>((s >> 8) % 200u);
      }
      t.insert(t.end(), half.begin(), half.end());
      t.insert(t.end(), half.begin(), half.end());
    }
    w.add_document(t);
    w.finish();
  }
  // fp32: the comparison is to 1e-5; in bf16 the ring's attention tiles (bf16 GEMMs) and the
  // one-rank attention kernel (fp32) would differ by bf16 rounding.
  const std::string common = " train --preset micro --precision fp32 --data " + shard +
                             " --warmup 1 --lr 1e-2 --steps 5 --out ";
  const fs::path one = dir / "one", cp = dir / "cp", one_b = dir / "one_b", cp_dp = dir / "cp_b";

  // One sequence per step: CP=2 vs 1 rank.
  CliResult r = run(kOne + common + one.string() + " --context 64 --batch 1");
  ASSERT_EQ(r.code, 0) << r.out;
  r = run(kTwo + common + cp.string() +
          " --context 64 --batch 1 --distributed --context-parallel 2");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("context parallel: 2 ranks per sequence (32 tokens each)"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("step 5/5"), r.out.rfind("step 5/5")) << r.out;  // rank 0 alone prints
  const std::vector<Line> a = read_metrics(one / "metrics.jsonl");
  ASSERT_EQ(a.size(), 5u);
  EXPECT_GT(std::fabs(a.back().loss - a.front().loss), 1e-2);  // the steps do differ
  expect_same_run(a, read_metrics(cp / "metrics.jsonl"));

  // Two sequences per micro-batch and gradient accumulation, still CP=2 (DP=1).
  r = run(kOne + common + one_b.string() + " --context 64 --batch 2 --grad-accum 2");
  ASSERT_EQ(r.code, 0) << r.out;
  r = run(kTwo + common + cp_dp.string() +
          " --context 64 --batch 2 --grad-accum 2 --context-parallel 2");
  ASSERT_EQ(r.code, 0) << r.out;
  expect_same_run(read_metrics(one_b / "metrics.jsonl"), read_metrics(cp_dp / "metrics.jsonl"));

  // A ring of 4 (three K/V shifts, dK/dV travelling three hops home) and the 2-D layout
  // DP=2 x CP=2, both against the same 1-rank run (2 sequences, accumulation 2).
  const fs::path cp4 = dir / "cp4", dp2cp2 = dir / "dp2cp2";
  r = run(kFour + common + cp4.string() +
          " --context 64 --batch 2 --grad-accum 2 --context-parallel 4");
  ASSERT_EQ(r.code, 0) << r.out;
  expect_same_run(read_metrics(one_b / "metrics.jsonl"), read_metrics(cp4 / "metrics.jsonl"));
  r = run(kFour + common + dp2cp2.string() +
          " --context 64 --batch 2 --grad-accum 2 --context-parallel 2");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("x 2 data-parallel groups of 1 sequences"), std::string::npos) << r.out;
  expect_same_run(read_metrics(one_b / "metrics.jsonl"), read_metrics(dp2cp2 / "metrics.jsonl"));

  // Clear refusals: a context that does not split into 2C equal chunks, a CP size that does not
  // divide the ranks, and CP on a single rank.
  r = run(kTwo + common + (dir / "bad1").string() + " --context 66 --batch 1 --context-parallel 2");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("--context 66 must be a multiple of 2 x --context-parallel = 4"),
            std::string::npos)
      << r.out;
  r = run(kTwo + common + (dir / "bad2").string() + " --context 64 --batch 1 --context-parallel 3");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("--context-parallel 3 must divide the 2 ranks"), std::string::npos) << r.out;
  r = run(kOne + common + (dir / "bad3").string() + " --context 64 --batch 1 --context-parallel 2");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.out.find("--context-parallel 2 needs 2 MPI ranks per sequence"), std::string::npos)
      << r.out;
  if (!HasFailure()) fs::remove_all(dir);  // kept for a look when something failed
}

}  // namespace

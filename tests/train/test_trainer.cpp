// Trainer pieces against hand-computed values (schedule, AdamW, clipping, data windows) and the
// loop's invariants: bit-identical resume, save/load round trip, learning a repeated pattern, the
// NaN guard, and `harpe train` / `harpe bench train` end to end.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/shard.h"
#include "io/safetensors.h"
#include "model/weights_io.h"
#include "support/run_program.h"
#include "train/checkpoint.h"
#include "train/trainer.h"

namespace harpe::train {
namespace {

namespace fs = std::filesystem;

fs::path temp_dir(const std::string& name) {
  fs::path p =
      fs::temp_directory_path() / ("harpe_test_train_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

model::ModelConfig small_config() {
  model::ModelConfig c;
  c.vocab_size = 64;
  c.hidden_size = 32;
  c.intermediate_size = 64;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 8;
  c.max_position_embeddings = 64;
  c.tie_word_embeddings = true;
  c.rope.scheme = rope::Scheme::harpe;
  c.rope.bases = {100.0, 10000.0};
  return c;
}

std::vector<int32_t> pseudo_random_tokens(std::size_t n, int V, uint32_t seed) {
  std::vector<int32_t> t(n);
  uint32_t s = seed;
  for (auto& x : t) {
    s = s * 1664525u + 1013904223u;
    x = static_cast<int32_t>((s >> 8) % static_cast<uint32_t>(V));
  }
  return t;
}

TrainOptions options(long steps) {
  TrainOptions o;
  o.config = small_config();
  o.context = 16;
  o.batch = 2;
  o.grad_accum = 2;
  o.steps = steps;
  o.schedule.peak = 3e-3;
  o.schedule.warmup = 2;
  o.seed = 5;
  return o;
}

TEST(Schedule, WarmupCosineAndConstantByHand) {
  LrSchedule s;
  s.peak = 1e-3;
  s.warmup = 10;
  s.total = 110;
  s.min_ratio = 0.1;
  EXPECT_DOUBLE_EQ(s.at(0), 1e-4);  // (0 + 1) / 10 of peak
  EXPECT_DOUBLE_EQ(s.at(9), 1e-3);
  EXPECT_DOUBLE_EQ(s.at(10), 1e-3);                 // cosine starts at the peak
  EXPECT_NEAR(s.at(60), 1e-4 + 9e-4 * 0.5, 1e-15);  // half way: cos(pi/2) = 0
  EXPECT_NEAR(s.at(35), 1e-4 + 9e-4 * 0.5 * (1 + std::cos(M_PI * 0.25)), 1e-15);
  EXPECT_DOUBLE_EQ(s.at(110), 1e-4);
  EXPECT_DOUBLE_EQ(s.at(500), 1e-4);
  s.kind = Schedule::constant;
  EXPECT_DOUBLE_EQ(s.at(3), 4e-4);
  EXPECT_DOUBLE_EQ(s.at(80), 1e-3);
  EXPECT_THROW(parse_schedule("linear"), Error);
}

TEST(Optimizer, FirstAdamWStepAndClippingByHand) {
  model::Model m(small_config());
  model::init_params(m, 1);
  m.enable_grads();
  for (std::size_t i = 0; i < m.grads.size(); ++i) m.grads[i] = 0.0f;
  // Gradient 3 on every element of two tensors (a matrix and a norm), 0 elsewhere.
  const model::TensorInfo* wq = m.layout.find("model.layers.0.self_attn.q_proj.weight");
  const model::TensorInfo* ln = m.layout.find("model.layers.1.input_layernorm.weight");
  for (std::size_t i = 0; i < wq->numel; ++i) m.grads[wq->offset + i] = 3.0f;
  for (std::size_t i = 0; i < ln->numel; ++i) m.grads[ln->offset + i] = 3.0f;
  const double norm = 3.0 * std::sqrt(double(wq->numel + ln->numel));
  EXPECT_NEAR(grad_norm(m), norm, 1e-9 * norm);
  // Clip to 0.5 * norm: every gradient becomes 1.5.
  EXPECT_NEAR(clip_grad_norm(m, 0.5 * norm), norm, 1e-9 * norm);
  EXPECT_NEAR(m.grads[wq->offset + 7], 1.5f, 1e-6f);

  std::vector<float> before(m.params.begin(), m.params.end());
  AdamWState st(m.layout.total);
  AdamWConfig cfg;
  cfg.weight_decay = 0.1;
  const double lr = 0.01;
  adamw_update(m, st, cfg, lr);
  EXPECT_EQ(st.step, 1);
  // Step 1 with bias correction: mhat = g, vhat = g^2, update = lr (g/(|g| + eps) + wd p).
  for (std::size_t i : {std::size_t{0}, std::size_t{100}}) {
    const double p0 = before[wq->offset + i];
    const double want = p0 - lr * (1.5 / (1.5 + 1e-8) + 0.1 * p0);
    EXPECT_NEAR(m.params[wq->offset + i], want, 1e-7);
  }
  // Norms: no weight decay (p0 = 1 would lose lr * 0.1 * 1 = 1e-3 with it).
  EXPECT_NEAR(m.params[ln->offset + 3], 1.0 - lr * (1.5 / (1.5 + 1e-8)), 1e-7);
  // Zero gradient, matrix: only the decay moves it.
  const model::TensorInfo* wk = m.layout.find("model.layers.0.self_attn.k_proj.weight");
  const double p0 = before[wk->offset + 5];
  EXPECT_NEAR(m.params[wk->offset + 5], p0 - lr * 0.1 * p0, 1e-9);
}

TEST(Data, ConsecutiveWindowsShiftedTargetsAndWrap) {
  std::vector<int32_t> toks(23);
  for (int i = 0; i < 23; ++i) toks[i] = i;
  TokenWindows w = TokenWindows::from_tokens(toks);
  std::vector<int32_t> x(2 * 5), y(2 * 5);
  w.next_batch(2, 5, x.data(), y.data());
  EXPECT_EQ(x, (std::vector<int32_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(y, (std::vector<int32_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  EXPECT_EQ(w.position(), 10u);
  w.next_batch(2, 5, x.data(), y.data());  // windows [10, 16) and [15, 21)
  EXPECT_EQ(x[5], 15);
  EXPECT_EQ(y[9], 20);
  EXPECT_EQ(w.position(), 20u);
  w.next_batch(1, 5, x.data(), y.data());  // 20 + 6 > 23: wraps to 0
  EXPECT_EQ(x[0], 0);
  EXPECT_EQ(w.epoch(), 1u);
  EXPECT_THROW(w.next_batch(1, 30, x.data(), y.data()), Error);
}

TEST(Trainer, ResumeIsBitIdentical) {
  const long N = 6, K = 3;
  const auto tokens = pseudo_random_tokens(1000, 64, 9);
  std::vector<double> straight;
  Trainer a(options(N), TokenWindows::from_tokens(tokens));
  for (long s = 0; s < N; ++s) straight.push_back(a.step().loss);

  const fs::path dir = temp_dir("resume");
  std::vector<double> split;
  {
    Trainer b(options(N), TokenWindows::from_tokens(tokens));
    for (long s = 0; s < K; ++s) split.push_back(b.step().loss);
    b.save((dir / "ckpt").string());
  }
  Trainer c(options(N), TokenWindows::from_tokens(tokens), (dir / "ckpt").string());
  EXPECT_EQ(c.steps_done(), K);
  for (long s = K; s < N; ++s) split.push_back(c.step().loss);
  ASSERT_EQ(split.size(), straight.size());
  for (std::size_t i = 0; i < split.size(); ++i) EXPECT_EQ(split[i], straight[i]) << "step " << i;
  EXPECT_EQ(std::memcmp(a.model().params.data(), c.model().params.data(),
                        a.model().params.size() * sizeof(float)),
            0);
  EXPECT_LT(straight.back(), straight.front());  // it did train
  fs::remove_all(dir);
}

TEST(Trainer, ResumeRefusesADifferentBatchShape) {
  const fs::path dir = temp_dir("shape");
  const auto tokens = pseudo_random_tokens(500, 64, 3);
  {
    Trainer t(options(2), TokenWindows::from_tokens(tokens));
    t.step();
    t.save((dir / "ckpt").string());
  }
  TrainOptions o = options(2);
  o.batch = 3;
  EXPECT_THROW(Trainer(o, TokenWindows::from_tokens(tokens), (dir / "ckpt").string()), Error);
  fs::remove_all(dir);
}

TEST(Checkpoint, SaveLoadRoundTripGivesIdenticalLoss) {
  const fs::path dir = temp_dir("roundtrip");
  Trainer t(options(3), TokenWindows::from_tokens(pseudo_random_tokens(500, 64, 4)));
  t.step();
  t.step();
  const std::string ck = (dir / "ckpt").string();
  t.save(ck);
  t.save(ck);  // a second save replaces the first through ckpt.tmp / ckpt.old
  EXPECT_FALSE(fs::exists(ck + ".tmp"));
  EXPECT_FALSE(fs::exists(ck + ".old"));
  for (const char* f :
       {"config.json", "model.safetensors", "optimizer.safetensors", "trainer_state.json"})
    EXPECT_TRUE(fs::exists(fs::path(ck) / f)) << f;

  model::Model loaded = model::load_model_dir(ck);
  const auto tok = pseudo_random_tokens(2 * 16, 64, 77), tgt = pseudo_random_tokens(2 * 16, 64, 78);
  model::Workspace w1(t.model().config, 2, 16, model::Mode::infer);
  model::Workspace w2(loaded.config, 2, 16, model::Mode::infer);
  std::vector<float> l1(32), l2(32);
  const double s1 = model::forward_loss(t.model(), w1, tok.data(), tgt.data(), l1.data()).sum;
  const double s2 = model::forward_loss(loaded, w2, tok.data(), tgt.data(), l2.data()).sum;
  EXPECT_EQ(s1, s2);
  EXPECT_EQ(l1, l2);
  const TrainerState st = read_trainer_state(ck);
  EXPECT_EQ(st.step, 2);
  EXPECT_EQ(st.data_position, 2u * 2 * 2 * 16);  // 2 steps x 2 micro-batches x 2 rows x T
  EXPECT_EQ(st.schedule.peak, 3e-3);

  // An interrupted swap (DIR renamed to DIR.old, DIR.tmp not yet renamed) still resumes.
  fs::rename(ck, ck + ".old");
  EXPECT_EQ(resolve_checkpoint(ck), ck + ".old");
  fs::remove_all(ck + ".old");
  EXPECT_THROW(resolve_checkpoint(ck), Error);
  fs::remove_all(dir);
}

// A period-7 pattern: after a few dozen steps the model predicts it (loss far below ln 64 = 4.16).
TEST(Trainer, LearnsARepeatedPattern) {
  std::vector<int32_t> tokens;
  const int pattern[] = {5, 17, 3, 42, 8, 60, 23};
  for (int i = 0; i < 2000; ++i) tokens.push_back(pattern[i % 7]);
  TrainOptions o = options(60);
  o.grad_accum = 1;
  o.batch = 4;
  o.context = 32;
  o.schedule.peak = 1e-2;
  o.schedule.warmup = 5;
  Trainer t(o, TokenWindows::from_tokens(tokens));
  double first = 0, last = 0;
  for (long s = 0; s < o.steps; ++s) {
    const StepResult r = t.step();
    ASSERT_TRUE(r.finite);
    if (s == 0) first = r.loss;
    last = r.loss;
  }
  EXPECT_GT(first, 3.5);
  EXPECT_LT(last, 0.3);
}

TEST(Trainer, NonFiniteLossStopsWithoutUpdating) {
  // A learning rate of 1e30 (no clipping, no warmup) blows the weights up after one step; the next
  // step's loss or gradient is not finite and must leave the weights as they were. (A NaN planted
  // in a checkpoint is refused when it loads: Config limits tests.)
  TrainOptions o = options(5);
  o.schedule.peak = 1e30;
  o.schedule.warmup = 0;
  o.clip = 0;
  Trainer t(o, TokenWindows::from_tokens(pseudo_random_tokens(500, 64, 6)));
  StepResult r;
  long steps = 0;
  std::vector<float> before;
  do {
    before.assign(t.model().params.begin(), t.model().params.end());
    r = t.step();
    ++steps;
  } while (r.finite && steps < 5);
  EXPECT_FALSE(r.finite);
  EXPECT_EQ(t.steps_done(), steps - 1);
  EXPECT_EQ(std::memcmp(before.data(), t.model().params.data(), before.size() * 4), 0);
}

// ---- CLI -------------------------------------------------------------------------------------

using CliResult = harpe::testing::ProgramResult;

CliResult run_cli(const std::string& args) { return harpe::testing::run_harpe(args); }

std::string write_shard(const fs::path& dir) {
  const std::string path = (dir / "train.bin").string();
  data::ShardWriter w(path, 256);
  w.add_document(pseudo_random_tokens(3000, 256, 12));
  w.finish();
  return path;
}

long count_lines(const fs::path& p) {
  std::ifstream in(p);
  std::string line;
  long n = 0;
  while (std::getline(in, line)) ++n;
  return n;
}

TEST(TrainCli, TrainsSavesAndResumes) {
  const fs::path dir = temp_dir("cli");
  const std::string shard = write_shard(dir);
  const std::string out = (dir / "run").string();
  const std::string common = "train --preset micro --data " + shard + " --out " + out +
                             " --context 32 --batch 2 --warmup 1 --save-every 2";
  CliResult r = run_cli(common + " --steps 3");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("memory:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("step 3/3 | loss"), std::string::npos) << r.out;
  EXPECT_EQ(count_lines(fs::path(out) / "metrics.jsonl"), 3);
  EXPECT_EQ(read_trainer_state(out + "/checkpoint").step, 3);

  r = run_cli(common + " --steps 3");  // refuses to overwrite a run without --resume
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--resume"), std::string::npos) << r.out;

  r = run_cli(common + " --steps 5 --resume");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("resumed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("step 5/5"), std::string::npos) << r.out;
  EXPECT_EQ(count_lines(fs::path(out) / "metrics.jsonl"), 5);
  EXPECT_EQ(read_trainer_state(out + "/checkpoint").step, 5);
  fs::remove_all(dir);
}

// --dtype / --max-shard-size shape the exported model directories (OUT/model, OUT/step-N); the
// checkpoint stays one F32 file, so --resume is unaffected.
TEST(TrainCli, ExportsBf16ShardsAndKeepsTheCheckpointF32) {
  const fs::path dir = temp_dir("export");
  const std::string shard = write_shard(dir);
  const std::string out = (dir / "run").string();
  CliResult r = run_cli("train --preset micro --data " + shard + " --out " + out +
                        " --context 16 --batch 1 --steps 2 --keep-every 1 --dtype bf16"
                        " --max-shard-size 20KB");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("exported " + out + "/model (BF16, sharded"), std::string::npos) << r.out;
  for (const std::string& d : {out + "/model", out + "/step-1"}) {
    EXPECT_TRUE(fs::exists(d + "/model.safetensors.index.json")) << d;
    EXPECT_FALSE(fs::exists(d + "/model.safetensors")) << d;
  }
  EXPECT_FALSE(fs::exists(out + "/checkpoint/model.safetensors.index.json"));
  const io::SafetensorsFile ck(out + "/checkpoint/model.safetensors");
  for (const std::string& n : ck.names()) EXPECT_EQ(ck.info(n).dtype, "F32") << n;
  // The export is the checkpoint's weights rounded to bf16, exactly.
  const model::Model exported = model::load_model_dir(out + "/model");
  const model::Model f32 = model::load_model_dir(out + "/checkpoint");
  ASSERT_EQ(exported.params.size(), f32.params.size());
  for (std::size_t i = 0; i < f32.params.size(); ++i)
    ASSERT_EQ(exported.params[i], io::bf16_to_f32(io::f32_to_bf16(f32.params[i]))) << i;
  // Bad values are refused before anything runs.
  r = run_cli("train --preset micro --data " + shard + " --out " + out + "2 --dtype f16");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--dtype"), std::string::npos) << r.out;
  r = run_cli("train --preset micro --data " + shard + " --out " + out +
              "2 --max-shard-size 1.5GB");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--max-shard-size: \"1.5GB\" is not a size"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(out + "2"));
  fs::remove_all(dir);
}

TEST(TrainCli, DivergenceStopsWithAClearMessageAndKeepsTheCheckpoint) {
  const fs::path dir = temp_dir("nan_cli");
  const std::string shard = write_shard(dir);
  const std::string out = (dir / "run").string();
  // lr 1e30 without clipping: step 1 is finite, its update makes the next loss overflow.
  CliResult r = run_cli("train --preset micro --data " + shard + " --out " + out +
                        " --context 16 --batch 1 --steps 4 --warmup 0 --schedule constant --clip 0"
                        " --lr 1e30 --save-every 1");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("harpe: error: step "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("not finite"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("is intact"), std::string::npos) << r.out;
  const TrainerState st = read_trainer_state(out + "/checkpoint");
  EXPECT_GE(st.step, 1);
  EXPECT_TRUE(std::isfinite(st.last_loss));
  fs::remove_all(dir);
}

TEST(TrainCli, BadFlagsAreRefused) {
  CliResult r = run_cli("train --preset nope --data x --out /tmp/harpe_nope");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("preset"), std::string::npos) << r.out;
  r = run_cli("train --data x --out /tmp/harpe_nope");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--preset or --config"), std::string::npos) << r.out;
  r = run_cli("bench train --preset micro --steps 0");
  EXPECT_EQ(r.code, 1);
}

TEST(BenchTrainCli, LastLineIsTheRatio) {
  CliResult r = run_cli("bench train --preset micro --context 64 --steps 1");
  ASSERT_EQ(r.code, 0) << r.out;
  std::string s = r.out;
  while (!s.empty() && s.back() == '\n') s.pop_back();
  const std::string last = s.substr(s.rfind('\n') + 1);
  ASSERT_EQ(last.rfind("vs_sgemm=", 0), 0u) << r.out;
  const double ratio = std::stod(last.substr(9));
  EXPECT_GT(ratio, 0.0);
  EXPECT_LT(ratio, 2.0);
  EXPECT_NE(r.out.find("tokens/s:"), std::string::npos);
}

}  // namespace
}  // namespace harpe::train

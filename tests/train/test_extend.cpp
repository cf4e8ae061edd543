// End to end: pretrain a micro model at C0 = 64, extend it to 2048 with every method, generate
// from each, and rebuild each checkpoint's RoPE table from its config.json alone. Plus the
// interruption path (a real SIGINT through the handler) and the memory preflight.
#include <gtest/gtest.h>

#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/shard.h"
#include "infer/session.h"
#include "io/atomic_file.h"
#include "io/json_util.h"
#include "io/safetensors.h"
#include "model/weights_io.h"
#include "rope/bases.h"
#include "train/checkpoint.h"
#include "train/extend.h"

namespace harpe::train {
namespace {

namespace fs = std::filesystem;

constexpr int kC0 = 64;
constexpr int kL = 2048;

fs::path temp_dir(const std::string& name) {
  const fs::path d =
      fs::temp_directory_path() / ("harpe_extend_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// A learnable stream: a period-17 motif with every 7th token replaced by a pseudo-random one.
std::string write_corpus(const fs::path& dir) {
  const std::string path = (dir / "corpus.bin").string();
  data::ShardWriter w(path, 256);
  uint64_t x = 12345;
  for (int doc = 0; doc < 3; ++doc) {
    std::vector<int32_t> t(2600);
    for (std::size_t i = 0; i < t.size(); ++i) {
      x = x * 6364136223846793005ULL + 1442695040888963407ULL;
      t[i] = i % 7 == 6 ? static_cast<int32_t>(3 + (x >> 33) % 250)
                        : static_cast<int32_t>(3 + (i * 5) % 17);
    }
    w.add_document(t);
  }
  w.finish();
  return path;
}

PretrainOptions pretrain_options(const std::string& shard, const std::string& out, long steps) {
  PretrainOptions p;
  p.train.config = model::preset("micro");
  p.train.context = kC0;
  p.train.batch = 4;
  p.train.steps = steps;
  p.train.schedule.peak = 3e-3;
  p.train.schedule.warmup = 2;
  p.data_path = shard;
  p.out_dir = out;
  p.hooks.quiet = true;
  return p;
}

// --bases as the CLI parses it: a strategy name or an explicit list.
void set_bases(ExtendOptions& o, const std::string& text) {
  if (text == "uniform" || text == "uniform-desc" || text == "peak-valley")
    o.base_strategy = rope::parse_base_strategy(text);
  else
    o.bases = parse_base_list(text);
}

// --stages as the CLI parses it: "scaled" or a list.
void set_stages(ExtendOptions& o, const std::string& text) {
  if (text == "scaled")
    o.scaled_stages = true;
  else
    o.stages = parse_stages(text);
}

ExtendOptions extend_options(const std::string& from, const std::string& shard,
                             const std::string& out, const std::string& method) {
  ExtendOptions o;
  o.from = from;
  o.data_path = shard;
  o.out_dir = out;
  o.method = rope::parse_method(method);
  o.context = kL;
  o.steps = 2;
  o.lr = 1e-3;
  o.hooks.quiet = true;
  return o;
}

std::vector<float> read_params(const std::string& dir) {
  model::Model m = model::load_model_dir(dir);
  return std::vector<float>(m.params.data(), m.params.data() + m.params.size());
}

// The table a method must give, computed here from the published formulas (not the builders).
std::vector<double> expected_row(double base, int d) {
  std::vector<double> r(static_cast<std::size_t>(d / 2));
  for (int i = 0; i < d / 2; ++i) r[i] = std::pow(base, -2.0 * i / d);
  return r;
}

struct Fixture {
  fs::path dir;
  std::string shard, base_run;
};

// Removes the shared directory when the test program ends.
struct Cleanup : ::testing::Environment {
  void TearDown() override;
};

bool g_made_flag = false;
Fixture& pretrained() {
  static Fixture f = [] {
    g_made_flag = true;
    Fixture x;
    x.dir = temp_dir("e2e");
    x.shard = write_corpus(x.dir);
    x.base_run = (x.dir / "base").string();
    EXPECT_EQ(run_pretrain(pretrain_options(x.shard, x.base_run, 30)), RunEnd::finished);
    return x;
  }();
  return f;
}

void Cleanup::TearDown() {
  if (g_made_flag) fs::remove_all(pretrained().dir);
}
[[maybe_unused]] ::testing::Environment* const g_cleanup =
    ::testing::AddGlobalTestEnvironment(new Cleanup);

TEST(Pretrain, LearnsAndRecordsC0) {
  Fixture& f = pretrained();
  const std::string ckpt = f.base_run + "/checkpoint";
  const model::ModelConfig cfg = model::read_hf_config(ckpt + "/config.json");
  EXPECT_EQ(cfg.max_position_embeddings, kC0);
  EXPECT_EQ(cfg.rope.scheme, rope::Scheme::rope);
  EXPECT_EQ(cfg.rope.base, 10000.0);
  EXPECT_EQ(read_trainer_state(ckpt).context, kC0);
  EXPECT_EQ(read_trainer_state(ckpt).step, 30);
  // The loss falls on the learnable stream (first vs last metrics line).
  std::ifstream in(f.base_run + "/metrics.jsonl");
  std::string line, first, last;
  long n = 0;
  while (std::getline(in, line)) {
    if (n++ == 0) first = line;
    last = line;
  }
  EXPECT_EQ(n, 30);
  const double l0 = io::Json::parse(first)["loss"].get<double>();
  const double l1 = io::Json::parse(last)["loss"].get<double>();
  EXPECT_LT(l1, l0 - 1.0) << l0 << " -> " << l1;
  EXPECT_TRUE(fs::exists(f.base_run + "/run_config.json"));
}

struct MethodCase {
  std::string name, method, bases, stages;
};

class ExtendEveryMethod : public ::testing::TestWithParam<MethodCase> {};

TEST_P(ExtendEveryMethod, TrainsRebuildsItsTableAndGenerates) {
  Fixture& f = pretrained();
  const MethodCase& mc = GetParam();
  ExtendOptions o =
      extend_options(f.base_run, f.shard, (f.dir / ("ext_" + mc.name)).string(), mc.method);
  if (!mc.bases.empty()) set_bases(o, mc.bases);
  if (!mc.stages.empty()) {
    set_stages(o, mc.stages);
    o.steps = 0;
  }
  const ExtendPlan plan = plan_extend(o);
  EXPECT_EQ(plan.original_context, kC0);  // from the source's trainer state
  ASSERT_EQ(run_extend(o), RunEnd::finished);

  const std::string ckpt = o.out_dir + "/checkpoint";
  const model::ModelConfig cfg = model::read_hf_config(ckpt + "/config.json");
  const model::ModelConfig src = model::read_hf_config(f.base_run + "/checkpoint/config.json");
  EXPECT_EQ(cfg.max_position_embeddings, kL);
  const int d = cfg.head_size(), H = cfg.num_attention_heads, G = H / cfg.kv_heads();
  const rope::ScaledSettings sc = rope::scaled_settings(kC0, kL, d);

  // The table from config.json alone equals the one the run trained with (the plan's last stage)
  // and the formulas.
  const rope::RopeTable from_cfg = rope::build_table(cfg.rope, cfg.table_shape(), kL);
  const model::ModelConfig trained_cfg =
      stage_config(plan, static_cast<int>(plan.stages.size()) - 1);
  const rope::RopeTable trained =
      rope::build_table(trained_cfg.rope, trained_cfg.table_shape(), kL);
  ASSERT_EQ(from_cfg.inv_freq.size(), trained.inv_freq.size());
  for (std::size_t i = 0; i < trained.inv_freq.size(); ++i)
    ASSERT_EQ(from_cfg.inv_freq[i], trained.inv_freq[i]) << i;
  EXPECT_EQ(from_cfg.attn_factor, trained.attn_factor);

  const double s = double(kL) / kC0;
  std::vector<double> head_base(static_cast<std::size_t>(H), 0);
  if (mc.method == "pi" || mc.method == "ntk" || mc.method == "yarn") {
    EXPECT_EQ(cfg.rope.factor, s);
  }
  if (mc.method == "pi") {
    const auto r = expected_row(src.rope.base, d);
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < d / 2; ++i) EXPECT_NEAR(from_cfg.head(h)[i], r[i] / s, 1e-6 * r[i]);
  } else if (mc.method == "ntk") {
    const auto r = expected_row(src.rope.base * std::pow(s, d / (d - 2.0)), d);
    for (int i = 0; i < d / 2; ++i) EXPECT_NEAR(from_cfg.head(0)[i], r[i], 1e-6 * r[i]);
  } else if (mc.method == "yarn") {
    EXPECT_EQ(cfg.rope.original_context, kC0);
    EXPECT_NEAR(from_cfg.attn_factor, 0.1 * std::log(s) + 1.0, 1e-6);
    const auto r = expected_row(src.rope.base, d);
    // Every pair lies between PI (r/s) and plain RoPE (r); the fastest is untouched, the slowest
    // fully interpolated.
    for (int i = 0; i < d / 2; ++i) {
      EXPECT_LE(from_cfg.head(0)[i], r[i] * (1 + 1e-6));
      EXPECT_GE(from_cfg.head(0)[i], r[i] / s * (1 - 1e-6));
    }
    EXPECT_NEAR(from_cfg.head(0)[0], 1.0, 1e-6);
    EXPECT_NEAR(from_cfg.head(0)[d / 2 - 1], r[d / 2 - 1] / s, 1e-6 * r[d / 2 - 1]);
  } else if (mc.method == "abf") {
    const double b = mc.stages.empty() ? sc.abf_base : 3e5;
    EXPECT_EQ(cfg.rope.scheme, rope::Scheme::rope);
    EXPECT_EQ(cfg.rope.base, b);
    for (int h = 0; h < H; ++h) head_base[h] = b;
  } else if (mc.method == "harpe") {
    ASSERT_EQ(cfg.rope.scheme, rope::Scheme::harpe);
    ASSERT_EQ(static_cast<int>(cfg.rope.bases.size()), cfg.kv_heads());
    std::vector<double> want;
    if (mc.bases == "uniform")
      want = rope::uniform_bases(cfg.kv_heads(), sc.harpe_min, sc.harpe_max);
    if (mc.bases == "uniform-desc")
      want = rope::uniform_bases(cfg.kv_heads(), sc.harpe_min, sc.harpe_max, true);
    if (mc.bases == "peak-valley")
      want = rope::peak_valley_bases(cfg.kv_heads(), sc.harpe_min, sc.harpe_max, sc.harpe_stride,
                                     sc.peak_valley)
                 .bases;
    EXPECT_EQ(cfg.rope.bases, want);
    // The strategy is recorded next to the bases.
    EXPECT_NE(cfg.rope_scaling_extra.find(mc.bases), std::string::npos) << cfg.rope_scaling_extra;
    for (int h = 0; h < H; ++h) head_base[h] = cfg.rope.bases[h / G];
  }
  for (int h = 0; h < H; ++h) {
    if (head_base[h] == 0) continue;
    const auto r = expected_row(head_base[h], d);
    for (int i = 0; i < d / 2; ++i)
      EXPECT_NEAR(from_cfg.head(h)[i], r[i], 1e-6 * r[i]) << h << "," << i;
  }

  // Trained: the step count, metrics, and the weights moved away from the source's.
  const long total = plan.stages.back().end_step;
  EXPECT_EQ(read_trainer_state(ckpt).step, total);
  EXPECT_EQ(read_trainer_state(ckpt).context, kL);
  const std::vector<float> before = read_params(f.base_run + "/checkpoint");
  const std::vector<float> after = read_params(ckpt);
  ASSERT_EQ(before.size(), after.size());
  double moved = 0;
  for (std::size_t i = 0; i < before.size(); ++i) moved += std::fabs(after[i] - before[i]);
  EXPECT_GT(moved, 0.0);
  const io::Json rc = io::parse_json(io::read_file(o.out_dir + "/run_config.json"), "run_config");
  EXPECT_EQ(rc["original_context"].get<int>(), kC0);
  EXPECT_EQ(rc["context"].get<int>(), kL);
  EXPECT_EQ(rc["train"]["adamw"]["beta2"].get<double>(), 0.95);

  if (plan.stages.size() > 1) {
    // Multi-stage: each stage's model saved; the AdamW state was carried (its step counts all
    // stages), and each stage's config has its own base and context.
    io::SafetensorsFile opt(ckpt + "/optimizer.safetensors");
    EXPECT_EQ(opt.metadata().at("adamw_step"), std::to_string(total));
    for (std::size_t k = 0; k < plan.stages.size(); ++k) {
      const model::ModelConfig sk =
          model::read_hf_config(o.out_dir + "/stage" + std::to_string(k + 1) + "/config.json");
      EXPECT_EQ(sk.rope.base, plan.stages[k].rope.base);
      EXPECT_EQ(sk.max_position_embeddings, plan.stages[k].context);
    }
  }

  // Generate past C0 with the KV-cache session from the checkpoint alone.
  const model::Model m = model::load_model_dir(ckpt);
  infer::SessionOptions so;
  so.capacity = 3 * kC0;
  infer::Session session(m, so);
  std::vector<int32_t> prompt;
  for (int i = 0; i < 2 * kC0; ++i) prompt.push_back(3 + (i * 5) % 17);
  infer::SamplingOptions sampling;
  sampling.max_new_tokens = 8;
  const std::vector<int32_t> out = infer::generate(session, prompt, sampling);
  ASSERT_EQ(out.size(), 8u);
  for (int32_t t : out) {
    EXPECT_GE(t, 0);
    EXPECT_LT(t, m.config.vocab_size);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Methods, ExtendEveryMethod,
    ::testing::Values(MethodCase{"pi", "pi", "", ""}, MethodCase{"abf", "abf", "", ""},
                      MethodCase{"ntk", "ntk", "", ""}, MethodCase{"yarn", "yarn", "", ""},
                      MethodCase{"harpe_uniform", "harpe", "uniform", ""},
                      MethodCase{"harpe_uniform_desc", "harpe", "uniform-desc", ""},
                      MethodCase{"harpe_peak_valley", "harpe", "peak-valley", ""},
                      MethodCase{"abf_3stage", "abf", "",
                                 "base=1e5:len=512:steps=1,base=2e5:len=1024:steps=1,"
                                 "base=3e5:len=2048:tokens=2048"}),
    [](const ::testing::TestParamInfo<MethodCase>& i) { return i.param.name; });

// SIGINT through the installed handler: the loop saves and returns; --resume finishes with the
// same parameters as a run that was never interrupted (multi-stage, interrupted inside stage 2).
TEST(Extend, InterruptAndResumeMatchAnUninterruptedRun) {
  Fixture& f = pretrained();
  auto opts = [&](const std::string& out) {
    ExtendOptions o = extend_options(f.base_run, f.shard, (f.dir / out).string(), "abf");
    o.context = 256;
    o.steps = 0;
    set_stages(o, "base=2e4:len=128:steps=2,base=5e4:len=256:steps=3");
    return o;
  };
  const ExtendOptions whole = opts("whole");
  ASSERT_EQ(run_extend(whole), RunEnd::finished);

  ExtendOptions cut = opts("cut");
  cut.hooks.on_step = [](long step) {
    if (step == 3) std::raise(SIGINT);
  };
  ASSERT_EQ(run_extend(cut), RunEnd::interrupted);
  EXPECT_EQ(read_trainer_state(cut.out_dir + "/checkpoint").step, 3);
  cut.hooks.on_step = nullptr;
  cut.resume = true;
  ASSERT_EQ(run_extend(cut), RunEnd::finished);
  EXPECT_EQ(read_trainer_state(cut.out_dir + "/checkpoint").step, 5);
  EXPECT_EQ(read_params(cut.out_dir + "/checkpoint"), read_params(whole.out_dir + "/checkpoint"));

  // --resume with different flags is refused.
  ExtendOptions other = opts("cut");
  other.resume = true;
  other.lr = 2e-3;
  EXPECT_THROW(run_extend(other), Error);
}

TEST(Pretrain, InterruptAndResumeMatchAnUninterruptedRun) {
  Fixture& f = pretrained();
  PretrainOptions whole = pretrain_options(f.shard, (f.dir / "pt_whole").string(), 6);
  ASSERT_EQ(run_pretrain(whole), RunEnd::finished);
  PretrainOptions cut = pretrain_options(f.shard, (f.dir / "pt_cut").string(), 6);
  cut.hooks.on_step = [](long step) {
    if (step == 2) std::raise(SIGTERM);
  };
  ASSERT_EQ(run_pretrain(cut), RunEnd::interrupted);
  EXPECT_EQ(read_trainer_state(cut.out_dir + "/checkpoint").step, 2);
  cut.hooks.on_step = nullptr;
  cut.resume = true;
  ASSERT_EQ(run_pretrain(cut), RunEnd::finished);
  EXPECT_EQ(read_params(cut.out_dir + "/checkpoint"), read_params(whole.out_dir + "/checkpoint"));
}

TEST(Extend, RefusesWhatWouldNotFitAndBadInput) {
  Fixture& f = pretrained();
  ExtendOptions o = extend_options(f.base_run, f.shard, (f.dir / "huge").string(), "pi");
  o.context = 1 << 22;
  o.batch = 256;  // 2^30 tokens a step: still an int, far beyond memory
  try {
    run_extend(o);
    FAIL() << "expected a memory refusal";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not enough memory"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(o.out_dir + "/checkpoint"));

  EXPECT_THROW(rope::parse_method("nope"), Error);
  ExtendOptions bad = extend_options(f.base_run, f.shard, (f.dir / "bad").string(), "pi");
  set_stages(bad, "base=1e5:len=2048:steps=1");
  EXPECT_THROW(plan_extend(bad), Error);  // stages only for abf
  bad.method = rope::Method::abf;
  set_stages(bad, "base=1e5:len=1024:steps=1");
  bad.steps = 0;
  EXPECT_THROW(plan_extend(bad), Error);  // last stage != --context
  bad = extend_options(f.base_run, f.shard, (f.dir / "bad").string(), "harpe");
  set_bases(bad, "1e5,2e5,3e5");  // micro has 2 KV heads / 4 heads
  EXPECT_THROW(plan_extend(bad), Error);
  set_bases(bad, "1e5,2e5");
  EXPECT_NO_THROW(plan_extend(bad));
  bad.steps = 0;
  EXPECT_THROW(plan_extend(bad), Error);  // no budget
  bad.from = (f.dir / "missing").string();
  EXPECT_THROW(plan_extend(bad), Error);
  // A source that is already extended is refused (extension starts from plain RoPE).
  ExtendOptions chained =
      extend_options(f.dir.string() + "/ext_pi", f.shard, (f.dir / "chain").string(), "pi");
  if (fs::exists(f.dir / "ext_pi")) {
    EXPECT_THROW(plan_extend(chained), Error);
  }
}

}  // namespace
}  // namespace harpe::train

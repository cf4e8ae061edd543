#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/atomic_file.h"
#include "model/config.h"
#include "rope/rope_table.h"

using harpe::Error;
using harpe::model::ModelConfig;
using harpe::rope::Layout;
using harpe::rope::RopeSpec;
using harpe::rope::Scheme;
namespace model = harpe::model;

namespace {

// Parses and expects an error mentioning every fragment (and fitting on one line).
void expect_parse_error(const std::string& json, std::vector<std::string> fragments) {
  try {
    model::parse_hf_config(json, "cfg/config.json");
    FAIL() << "expected an error for: " << json;
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("cfg/config.json"), std::string::npos) << m;
    for (const auto& f : fragments)
      EXPECT_NE(m.find(f), std::string::npos) << "[" << f << "] in " << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
}

void expect_same(const ModelConfig& a, const ModelConfig& b) {
  EXPECT_EQ(a.vocab_size, b.vocab_size);
  EXPECT_EQ(a.hidden_size, b.hidden_size);
  EXPECT_EQ(a.intermediate_size, b.intermediate_size);
  EXPECT_EQ(a.num_hidden_layers, b.num_hidden_layers);
  EXPECT_EQ(a.num_attention_heads, b.num_attention_heads);
  EXPECT_EQ(a.kv_heads(), b.kv_heads());
  EXPECT_EQ(a.head_size(), b.head_size());
  EXPECT_EQ(a.rotary_dims(), b.rotary_dims());
  EXPECT_EQ(a.rms_norm_eps, b.rms_norm_eps);  // exact: doubles printed at full precision
  EXPECT_EQ(a.max_position_embeddings, b.max_position_embeddings);
  EXPECT_EQ(a.tie_word_embeddings, b.tie_word_embeddings);
  EXPECT_EQ(a.rope_layout, b.rope_layout);
  EXPECT_EQ(a.bos_token_id, b.bos_token_id);
  EXPECT_EQ(a.eos_token_id, b.eos_token_id);
  EXPECT_EQ(a.extra_eos_token_ids, b.extra_eos_token_ids);
  const RopeSpec &x = a.rope, &y = b.rope;
  EXPECT_EQ(x.scheme, y.scheme);
  EXPECT_EQ(x.base, y.base);
  EXPECT_EQ(x.factor, y.factor);
  EXPECT_EQ(x.original_context, y.original_context);
  EXPECT_EQ(x.beta_fast, y.beta_fast);
  EXPECT_EQ(x.beta_slow, y.beta_slow);
  EXPECT_EQ(x.attention_factor, y.attention_factor);
  EXPECT_EQ(x.low_freq_factor, y.low_freq_factor);
  EXPECT_EQ(x.high_freq_factor, y.high_freq_factor);
  EXPECT_EQ(x.bases, y.bases);
}

const char* kLlama2_7b = R"({
  "architectures": ["LlamaForCausalLM"],
  "bos_token_id": 1,
  "eos_token_id": 2,
  "hidden_act": "silu",
  "hidden_size": 4096,
  "initializer_range": 0.02,
  "intermediate_size": 11008,
  "max_position_embeddings": 4096,
  "model_type": "llama",
  "num_attention_heads": 32,
  "num_hidden_layers": 32,
  "num_key_value_heads": 32,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": null,
  "tie_word_embeddings": false,
  "torch_dtype": "float16",
  "transformers_version": "4.31.0.dev0",
  "use_cache": true,
  "vocab_size": 32000
})";

const char* kLlama31_8b = R"({
  "architectures": ["LlamaForCausalLM"],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 128000,
  "eos_token_id": [128001, 128008, 128009],
  "hidden_act": "silu",
  "hidden_size": 4096,
  "initializer_range": 0.02,
  "intermediate_size": 14336,
  "max_position_embeddings": 131072,
  "mlp_bias": false,
  "model_type": "llama",
  "num_attention_heads": 32,
  "num_hidden_layers": 32,
  "num_key_value_heads": 8,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": {
    "factor": 8.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
    "original_max_position_embeddings": 8192,
    "rope_type": "llama3"
  },
  "rope_theta": 500000.0,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "use_cache": true,
  "vocab_size": 128256
})";

// A small GQA base config for round trips: 8 heads, 4 KV heads of 32.
ModelConfig base_config() {
  ModelConfig c = model::preset("tiny");
  c.rms_norm_eps = 1.0 / 3.0 * 1e-5;  // not representable in few digits
  c.rope.base = 12345.678901234567;
  c.max_position_embeddings = 777;
  return c;
}

}  // namespace

// ---- presets -------------------------------------------------------------------------------

TEST(Config, PresetParameterCountsByHand) {
  // tiny: vocab 8192, d 256, 4 layers, 8 heads x 32, 4 KV heads, ffn 688, tied.
  ModelConfig t = model::preset("tiny");
  long emb = 8192L * 256;
  long attn = 256L * 256 + 2 * 256L * 128 + 256L * 256;  // q, k, v (128 = 4 x 32), o
  long mlp = 3 * 256L * 688;
  EXPECT_EQ(t.parameter_count(), emb + 4 * (attn + mlp + 2 * 256) + 256);
  EXPECT_EQ(t.parameter_count(), 4999424L);
  EXPECT_EQ(t.head_size(), 32);
  EXPECT_EQ(t.kv_heads(), 4);
  EXPECT_TRUE(t.tie_word_embeddings);

  // small: vocab 8192, d 512, 8 layers, 8 heads x 64, 8 KV heads, ffn 1376, tied.
  ModelConfig s = model::preset("small");
  emb = 8192L * 512;
  attn = 4 * 512L * 512;
  mlp = 3 * 512L * 1376;
  EXPECT_EQ(s.parameter_count(), emb + 8 * (attn + mlp + 2 * 512) + 512);
  EXPECT_EQ(s.parameter_count(), 29499904L);
  EXPECT_EQ(s.head_size(), 64);

  // micro: vocab 256, d 64, 2 layers, 4 heads x 16, 2 KV heads, ffn 160, tied.
  ModelConfig m = model::preset("micro");
  EXPECT_EQ(m.parameter_count(),
            256L * 64 + 2 * (64 * 64 + 2 * 64 * 32 + 64 * 64 + 3 * 64 * 160 + 128) + 64);
  EXPECT_EQ(m.parameter_count(), 102720L);

  // Untying adds exactly one vocab x d matrix; matmul params exclude norms but count lm_head.
  ModelConfig u = t;
  u.tie_word_embeddings = false;
  EXPECT_EQ(u.parameter_count() - t.parameter_count(), 8192L * 256);
  EXPECT_EQ(t.matmul_parameter_count(),
            4 * (256L * 256 * 2 + 2 * 256 * 128 + 3 * 256 * 688) + 8192L * 256);

  for (const auto& name : model::preset_names())
    EXPECT_NO_THROW(model::preset(name).validate()) << name;
  try {
    model::preset("huge");
    FAIL();
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("\"huge\""), std::string::npos);
    EXPECT_NE(msg.find("tiny"), std::string::npos);
  }
}

TEST(Config, TableShapeAndDefaults) {
  ModelConfig c;
  c.vocab_size = 100;
  c.hidden_size = 96;
  c.intermediate_size = 200;
  c.num_hidden_layers = 1;
  c.num_attention_heads = 6;  // head_dim and kv heads left at 0 = defaults
  EXPECT_EQ(c.head_size(), 16);
  EXPECT_EQ(c.kv_heads(), 6);
  EXPECT_EQ(c.rotary_dims(), 16);
  c.num_key_value_heads = 2;
  c.rot_dims = 8;
  c.rope_layout = Layout::interleaved;
  harpe::rope::TableShape s = c.table_shape();
  EXPECT_EQ(s.n_heads, 6);
  EXPECT_EQ(s.n_kv_heads, 2);
  EXPECT_EQ(s.head_dim, 16);
  EXPECT_EQ(s.rot_dims, 8);
  EXPECT_EQ(s.layout, Layout::interleaved);
  EXPECT_EQ(c.q_dim(), 96);
  EXPECT_EQ(c.kv_dim(), 32);
  EXPECT_NO_THROW(c.validate());
}

TEST(Config, ValidateNamesTheField) {
  auto expect_invalid = [](ModelConfig c, const std::string& fragment) {
    try {
      c.validate();
      FAIL() << fragment;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  ModelConfig c = model::preset("tiny");
  ModelConfig bad = c;
  bad.num_key_value_heads = 3;
  expect_invalid(bad, "num_key_value_heads (3) must divide num_attention_heads (8)");
  bad = c;
  bad.rot_dims = 7;
  expect_invalid(bad, "rotary dims");
  bad = c;
  bad.rot_dims = 64;
  expect_invalid(bad, "rotary dims");
  bad = c;
  bad.vocab_size = 0;
  expect_invalid(bad, "vocab_size");
  bad = c;
  bad.eos_token_id = 8192;
  expect_invalid(bad, "eos_token_id 8192");
  bad = c;
  bad.rope.base = 0.5;
  expect_invalid(bad, "rope_theta");
  bad = c;
  bad.rope.scheme = Scheme::yarn;
  bad.rope.factor = 4;
  expect_invalid(bad, "original_max_position_embeddings");
  bad = c;
  bad.rope.scheme = Scheme::harpe;
  bad.rope.bases = {1e4, 2e4, 3e4};
  expect_invalid(bad, "rope_scaling.bases has 3 entries");
  bad.rope.bases = {1e4, 1e4, 2e4, 2e4, 3e4, 3e4, 4e4, 5e4};  // per head, last group differs
  expect_invalid(bad, "bases[7]");
  bad.rope.bases = {1e4, 1e4, 2e4, 2e4, 3e4, 3e4, 4e4, 4e4};
  EXPECT_NO_THROW(bad.validate());
}

// ---- HF examples ---------------------------------------------------------------------------

TEST(Config, Llama2_7bConfig) {
  ModelConfig c = model::parse_hf_config(kLlama2_7b);
  EXPECT_EQ(c.vocab_size, 32000);
  EXPECT_EQ(c.hidden_size, 4096);
  EXPECT_EQ(c.intermediate_size, 11008);
  EXPECT_EQ(c.num_hidden_layers, 32);
  EXPECT_EQ(c.num_attention_heads, 32);
  EXPECT_EQ(c.kv_heads(), 32);
  EXPECT_EQ(c.head_size(), 128);
  EXPECT_EQ(c.rotary_dims(), 128);
  EXPECT_EQ(c.rms_norm_eps, 1e-5);
  EXPECT_EQ(c.max_position_embeddings, 4096);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.bos_token_id, 1);
  EXPECT_EQ(c.eos_token_id, 2);
  EXPECT_EQ(c.rope.scheme, Scheme::rope);
  EXPECT_EQ(c.rope.base, 10000.0);  // rope_theta absent: LlamaConfig default
  EXPECT_EQ(c.rope_layout, Layout::half_split);
  // Llama 2 7B: 32 x (4 x 4096^2 + 3 x 4096 x 11008 + 2 x 4096) + 2 x 32000 x 4096 + 4096.
  EXPECT_EQ(c.parameter_count(), 6738415616L);
}

TEST(Config, Llama31_8bWithLlama3Scaling) {
  ModelConfig c = model::parse_hf_config(kLlama31_8b);
  EXPECT_EQ(c.vocab_size, 128256);
  EXPECT_EQ(c.kv_heads(), 8);
  EXPECT_EQ(c.head_size(), 128);
  EXPECT_EQ(c.max_position_embeddings, 131072);
  EXPECT_EQ(c.bos_token_id, 128000);
  EXPECT_EQ(c.eos_token_id, 128001);
  EXPECT_EQ(c.extra_eos_token_ids, (std::vector<int>{128008, 128009}));
  EXPECT_EQ(c.rope.scheme, Scheme::llama3);
  EXPECT_EQ(c.rope.base, 500000.0);
  EXPECT_EQ(c.rope.factor, 8.0);
  EXPECT_EQ(c.rope.low_freq_factor, 1.0);
  EXPECT_EQ(c.rope.high_freq_factor, 4.0);
  EXPECT_EQ(c.rope.original_context, 8192);
  // Llama 3.1 8B: 32 x (2 x 4096^2 + 2 x 4096 x 1024 + 3 x 4096 x 14336 + 2 x 4096)
  //               + 2 x 128256 x 4096 + 4096.
  EXPECT_EQ(c.parameter_count(), 8030261248L);
  // And it survives our writer.
  ModelConfig again = model::parse_hf_config(model::to_hf_config(c));
  expect_same(c, again);
}

TEST(Config, HfVariants) {
  // Older "type" key, linear scaling.
  std::string j = R"({"vocab_size": 100, "hidden_size": 64, "intermediate_size": 128,
    "num_hidden_layers": 2, "num_attention_heads": 4, "rope_theta": 10000,
    "rope_scaling": {"type": "linear", "factor": 4}})";
  ModelConfig c = model::parse_hf_config(j);
  EXPECT_EQ(c.rope.scheme, Scheme::pi);
  EXPECT_EQ(c.rope.factor, 4.0);
  EXPECT_EQ(c.rms_norm_eps, 1e-6);  // LlamaConfig default when absent
  EXPECT_EQ(c.kv_heads(), 4);
  // Dynamic without original_max_position_embeddings: the model's max_position_embeddings.
  j = R"({"vocab_size": 100, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
    "num_attention_heads": 4, "max_position_embeddings": 1024,
    "rope_scaling": {"rope_type": "dynamic", "factor": 2.0}})";
  c = model::parse_hf_config(j);
  EXPECT_EQ(c.rope.scheme, Scheme::dynamic);
  EXPECT_EQ(c.rope.original_context, 1024);
  // YaRN defaults (beta_fast 32, beta_slow 1, attention_factor unset = 0).
  j = R"({"vocab_size": 100, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
    "num_attention_heads": 4, "max_position_embeddings": 8192,
    "rope_scaling": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 2048}})";
  c = model::parse_hf_config(j);
  EXPECT_EQ(c.rope.scheme, Scheme::yarn);
  EXPECT_EQ(c.rope.original_context, 2048);
  EXPECT_EQ(c.rope.beta_fast, 32.0);
  EXPECT_EQ(c.rope.beta_slow, 1.0);
  EXPECT_EQ(c.rope.attention_factor, 0.0);
  // rope_type "default" with partial rotary, null bos, 4096.0 accepted as an integer.
  j = R"({"vocab_size": 100, "hidden_size": 64.0, "intermediate_size": 128, "num_hidden_layers": 2,
    "num_attention_heads": 4, "partial_rotary_factor": 0.25, "bos_token_id": null,
    "rope_scaling": {"rope_type": "default"}})";
  c = model::parse_hf_config(j);
  EXPECT_EQ(c.rope.scheme, Scheme::rope);
  EXPECT_EQ(c.rotary_dims(), 4);
  EXPECT_EQ(c.bos_token_id, -1);
  EXPECT_EQ(c.hidden_size, 64);
}

TEST(Config, ErrorsNameTheKeyAndFile) {
  const std::string head = R"({"vocab_size": 100, "hidden_size": 64, "intermediate_size": 128,
    "num_hidden_layers": 2, "num_attention_heads": 4)";
  expect_parse_error(head + R"(, "rope_scaling": {"rope_type": "foo", "factor": 2}})",
                     {"unknown rope_type \"foo\""});
  expect_parse_error(head + R"(, "rope_scaling": {"factor": 2}})", {"rope_type"});
  expect_parse_error(head + R"(, "rope_scaling": {"rope_type": "linear"}})", {"\"factor\""});
  expect_parse_error(head + R"(, "rope_scaling": {"rope_type": "linear", "factor": "2"}})",
                     {"\"factor\" must be a number, got string"});
  expect_parse_error(head + R"(, "rope_scaling": {"rope_type": "llama3", "factor": 8,
    "low_freq_factor": 1, "high_freq_factor": 4}})",
                     {"original_max_position_embeddings"});
  expect_parse_error(head + R"(, "rope_scaling": {"rope_type": "harpe"}})", {"bases"});
  expect_parse_error(
      head + R"(, "rope_scaling": {"rope_type": "harpe", "bases": [1e4, "x", 1e4, 1e4]}})",
      {"bases[1]"});
  expect_parse_error(head + R"(, "rope_scaling": 3})", {"rope_scaling"});
  expect_parse_error(
      head + R"(, "rope_scaling": {"rope_type": "yarn", "factor": 4, "mscale": 0.707}})",
      {"mscale"});
  expect_parse_error(head + R"(, "rope_theta": "big"})", {"rope_theta"});
  expect_parse_error(head + R"(, "harpe_layout": "zigzag"})", {"harpe_layout"});
  expect_parse_error(head + R"(, "num_key_value_heads": 3})", {"num_key_value_heads (3)"});
  expect_parse_error(head + R"(, "hidden_act": "gelu"})", {"hidden_act"});
  expect_parse_error(head + R"(, "attention_bias": true})", {"attention_bias"});
  expect_parse_error(head + R"(, "model_type": "qwen2"})", {"model_type"});
  expect_parse_error(head + R"(, "partial_rotary_factor": 0.3})", {"partial_rotary_factor"});
  expect_parse_error(R"({"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
    "num_attention_heads": 4})",
                     {"missing key \"vocab_size\""});
  expect_parse_error(R"({"vocab_size": 100, "hidden_size": "64", "intermediate_size": 128,
    "num_hidden_layers": 2, "num_attention_heads": 4})",
                     {"\"hidden_size\" must be an integer"});
  expect_parse_error(R"({"vocab_size": 100, "hidden_size": 64.5, "intermediate_size": 128,
    "num_hidden_layers": 2, "num_attention_heads": 4})",
                     {"hidden_size"});
  expect_parse_error(R"({"vocab_size": 1e20, "hidden_size": 64, "intermediate_size": 128,
    "num_hidden_layers": 2, "num_attention_heads": 4})",
                     {"vocab_size"});
  expect_parse_error("{\"vocab_size\": 100,\n", {"invalid JSON"});
  expect_parse_error("[1, 2]", {"expected a JSON object"});
}

// ---- round trips ---------------------------------------------------------------------------

TEST(Config, RoundTripEveryRopeScheme) {
  std::vector<ModelConfig> cases;
  ModelConfig c = base_config();
  cases.push_back(c);  // rope
  c.rope.scheme = Scheme::pi;
  c.rope.factor = 2.7182818284590451;
  cases.push_back(c);
  c.rope.scheme = Scheme::ntk;
  c.rope.factor = 8.125;
  cases.push_back(c);
  c.rope.scheme = Scheme::dynamic;
  c.rope.factor = 3.0;
  c.rope.original_context = 333;
  cases.push_back(c);
  c.rope.scheme = Scheme::yarn;
  c.rope.factor = 16.0;
  c.rope.original_context = 4096;
  c.rope.beta_fast = 31.5;
  c.rope.beta_slow = 0.75;
  cases.push_back(c);
  c.rope.attention_factor = 1.0 + 0.1 * std::log(16.0);  // explicit value also survives
  cases.push_back(c);
  c.rope = RopeSpec{};
  c.rope.scheme = Scheme::llama3;
  c.rope.base = 500000.0;
  c.rope.factor = 8.0;
  c.rope.low_freq_factor = 1.5;
  c.rope.high_freq_factor = 4.25;
  c.rope.original_context = 8192;
  cases.push_back(c);
  c.rope = RopeSpec{};
  c.rope.scheme = Scheme::harpe;
  c.rope.base = 10000.0;
  c.rope.bases = {10000.0, 23456.789012345678, 1.0e5 / 3.0, 500000.0};  // one per KV head
  cases.push_back(c);
  c.rope.bases = {1e4, 1e4, 2e4, 2e4, 4e4, 4e4, 8e4, 8e4};  // one per head, constant per group
  c.rope_layout = Layout::interleaved;
  c.rot_dims = 16;  // partial rotary: factor 0.5
  c.extra_eos_token_ids = {5, 6};
  cases.push_back(c);

  for (std::size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE("case " + std::to_string(i));
    std::string text = model::to_hf_config(cases[i]);
    ModelConfig back = model::parse_hf_config(text);
    expect_same(cases[i], back);
    EXPECT_EQ(model::to_hf_config(back), text);  // write(read(x)) == x, byte for byte
    EXPECT_NE(text.find("\"LlamaForCausalLM\""), std::string::npos);
    EXPECT_NE(text.find("\"model_type\": \"llama\""), std::string::npos);
  }
  // Plain RoPE writes rope_scaling null, the HF way; half_split writes no harpe_layout.
  std::string plain = model::to_hf_config(cases[0]);
  EXPECT_NE(plain.find("\"rope_scaling\": null"), std::string::npos);
  EXPECT_EQ(plain.find("harpe_layout"), std::string::npos);
  EXPECT_NE(model::to_hf_config(cases.back()).find("\"harpe_layout\": \"interleaved\""),
            std::string::npos);
}

TEST(Config, HarpeExtrasKeptAndFileRoundTrip) {
  std::string j = R"({"vocab_size": 256, "hidden_size": 64, "intermediate_size": 160,
    "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
    "rope_theta": 10000.0,
    "rope_scaling": {"rope_type": "harpe", "bases": [10000, 640000],
                     "strategy": "peak_valley", "selection": {"context": 4096, "seed": 7}}})";
  ModelConfig c = model::parse_hf_config(j);
  EXPECT_EQ(c.rope.scheme, Scheme::harpe);
  EXPECT_EQ(c.rope.bases, (std::vector<double>{10000.0, 640000.0}));
  std::string out = model::to_hf_config(c);
  EXPECT_NE(out.find("\"strategy\": \"peak_valley\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"seed\": 7"), std::string::npos) << out;

  char tmpl[] = "/tmp/harpe_cfg_XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string path = dir + "/config.json";
  model::write_hf_config(path, c);
  ModelConfig back = model::read_hf_config(path);
  expect_same(c, back);
  EXPECT_EQ(back.rope_scaling_extra, c.rope_scaling_extra);
  // Errors from a file name the file.
  harpe::io::write_text_atomic(path, R"({"vocab_size": 1})");
  try {
    model::read_hf_config(path);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path + ": missing key \"hidden_size\""), std::string::npos)
        << e.what();
  }
  std::system(("rm -rf '" + dir + "'").c_str());
}

TEST(Config, HarpeConfigBuildsPerHeadTable) {
  // The whole chain: config.json -> RopeSpec + TableShape -> RopeTable, one base per KV group.
  std::string j = R"({"vocab_size": 256, "hidden_size": 64, "intermediate_size": 160,
    "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
    "rope_scaling": {"rope_type": "harpe", "bases": [10000, 640000]}})";
  ModelConfig c = model::parse_hf_config(j);
  harpe::rope::RopeTable t = harpe::rope::build_table(c.rope, c.table_shape());
  ASSERT_EQ(t.n_heads, 4);
  ASSERT_EQ(t.rot_dims, 16);
  const double bases[2] = {10000.0, 640000.0};
  for (int h = 0; h < 4; ++h)
    for (int i = 0; i < 8; ++i)
      EXPECT_NEAR(t.head(h)[i], std::pow(bases[h / 2], -2.0 * i / 16),
                  1e-6 * std::pow(bases[h / 2], -2.0 * i / 16))
          << h << " " << i;
}

TEST(Config, DescribeIsOneLine) {
  ModelConfig c = model::preset("tiny");
  std::string d = model::describe(c);
  EXPECT_NE(d.find("layers=4"), std::string::npos) << d;
  EXPECT_NE(d.find("heads=8/4x32"), std::string::npos) << d;
  EXPECT_NE(d.find("params=4.999M"), std::string::npos) << d;
  EXPECT_NE(d.find("rope(base=10000)"), std::string::npos) << d;
  EXPECT_EQ(d.find('\n'), std::string::npos);
}

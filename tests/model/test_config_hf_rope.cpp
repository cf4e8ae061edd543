// Every rope_scaling the engine implements, read from a config.json written the way transformers'
// LlamaConfig.to_json_string writes one (json.dumps(config, indent=2, sort_keys=True): every
// LlamaConfig key, floats as Python prints them; the keys below are LlamaConfig's documented ones,
// no file is copied), then turned into the RoPE table the kernels use. The expected inverse
// frequencies and attention factors are computed here, independently, from HF's formulas
// (modeling_rope_utils: linear, dynamic, yarn, llama3) in double precision.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include "core/error.h"
#include "model/config.h"
#include "rope/rope_table.h"

namespace {

using harpe::model::ModelConfig;
using harpe::rope::Scheme;

constexpr int kDim = 64;  // head_dim: hidden 256 / 4 heads

// A LlamaConfig as to_json_string writes it, with `rope_scaling` (a JSON object text or "null").
std::string hf_config(const std::string& rope_scaling, double rope_theta, int max_pos) {
  char theta[64], buf[4096];
  std::snprintf(theta, sizeof theta, "%.1f", rope_theta);  // Python prints 10000.0
  std::snprintf(buf, sizeof buf, R"({
  "architectures": [
    "LlamaForCausalLM"
  ],
  "attention_bias": false,
  "attention_dropout": 0.0,
  "bos_token_id": 1,
  "eos_token_id": 2,
  "head_dim": 64,
  "hidden_act": "silu",
  "hidden_size": 256,
  "initializer_range": 0.02,
  "intermediate_size": 688,
  "max_position_embeddings": %d,
  "mlp_bias": false,
  "model_type": "llama",
  "num_attention_heads": 4,
  "num_hidden_layers": 2,
  "num_key_value_heads": 2,
  "pretraining_tp": 1,
  "rms_norm_eps": 1e-05,
  "rope_scaling": %s,
  "rope_theta": %s,
  "tie_word_embeddings": false,
  "torch_dtype": "float32",
  "transformers_version": "4.46.0",
  "use_cache": true,
  "vocab_size": 1000
}
)",
                max_pos, rope_scaling.c_str(), theta);
  return buf;
}

harpe::rope::RopeTable table_of(const std::string& json, int seq_len = 0) {
  const ModelConfig c = harpe::model::parse_hf_config(json, "config.json");
  return harpe::rope::build_table(c.rope, c.table_shape(), seq_len);
}

// HF's default inverse frequencies: base^(-2i/dim).
std::vector<double> default_inv(double base) {
  std::vector<double> f(kDim / 2);
  for (int i = 0; i < kDim / 2; ++i) f[i] = 1.0 / std::pow(base, 2.0 * i / kDim);
  return f;
}

void expect_table(const harpe::rope::RopeTable& t, const std::vector<double>& inv, double attn,
                  const std::string& what) {
  ASSERT_EQ(t.pairs(), static_cast<int>(inv.size())) << what;
  for (int h = 0; h < t.n_heads; ++h)
    for (int i = 0; i < t.pairs(); ++i)
      EXPECT_NEAR(t.head(h)[i], inv[i], 1e-6 * inv[i]) << what << " head " << h << " pair " << i;
  EXPECT_NEAR(t.attn_factor, attn, 1e-6) << what;
}

// _compute_yarn_parameters with truncate (the default): correction range from beta_fast/slow,
// a linear ramp between, interpolation (/ factor) below and extrapolation above.
std::vector<double> yarn_inv(double base, double factor, int orig, double beta_fast,
                             double beta_slow) {
  auto corr_dim = [&](double rotations) {
    return kDim * std::log(orig / (rotations * 2 * std::numbers::pi)) / (2 * std::log(base));
  };
  double low = std::max(0.0, std::floor(corr_dim(beta_fast)));
  double high = std::min(kDim - 1.0, std::ceil(corr_dim(beta_slow)));
  if (low == high) high += 0.001;
  const std::vector<double> pos = default_inv(base);
  std::vector<double> f(kDim / 2);
  for (int i = 0; i < kDim / 2; ++i) {
    const double ramp = std::clamp((i - low) / (high - low), 0.0, 1.0);
    const double extrapolation = 1 - ramp;
    f[i] = pos[i] / factor * (1 - extrapolation) + pos[i] * extrapolation;
  }
  return f;
}

TEST(HfRopeScaling, DefaultAndNull) {
  expect_table(table_of(hf_config("null", 10000, 2048)), default_inv(10000), 1.0, "null");
  expect_table(table_of(hf_config(R"({"rope_type": "default"})", 500000, 2048)),
               default_inv(500000), 1.0, "default");
}

TEST(HfRopeScaling, Linear) {
  std::vector<double> f = default_inv(10000);
  for (double& x : f) x /= 4.0;
  expect_table(table_of(hf_config(R"({
    "factor": 4.0,
    "rope_type": "linear"
  })",
                                  10000, 8192)),
               f, 1.0, "linear");
  // Legacy "type" as old configs wrote it, and as LlamaConfig re-saves it (both keys).
  expect_table(table_of(hf_config(R"({"type": "linear", "factor": 4.0})", 10000, 8192)), f, 1.0,
               "legacy type");
  expect_table(table_of(hf_config(R"({
    "factor": 4.0,
    "rope_type": "linear",
    "type": "linear"
  })",
                                  10000, 8192)),
               f, 1.0, "rope_type and type");
}

TEST(HfRopeScaling, Dynamic) {
  const std::string j = hf_config(R"({
    "factor": 2.0,
    "rope_type": "dynamic"
  })",
                                  10000, 2048);
  // Up to max_position_embeddings: the default frequencies.
  expect_table(table_of(j, 2048), default_inv(10000), 1.0, "dynamic at 2048");
  // Longer: base * ((factor * L / max_pos) - (factor - 1)) ^ (dim / (dim - 2)).
  const double base = 10000 * std::pow(2.0 * 6144 / 2048 - 1.0, kDim / (kDim - 2.0));
  expect_table(table_of(j, 6144), default_inv(base), 1.0, "dynamic at 6144");
  expect_table(table_of(hf_config(R"({"type": "dynamic", "factor": 2.0})", 10000, 2048), 6144),
               default_inv(base), 1.0, "legacy dynamic");
}

TEST(HfRopeScaling, YarnWithAndWithoutItsOptionalKeys) {
  // Only the required keys: beta_fast 32, beta_slow 1, attention_factor 0.1 ln(factor) + 1.
  expect_table(table_of(hf_config(R"({
    "factor": 4.0,
    "original_max_position_embeddings": 2048,
    "rope_type": "yarn"
  })",
                                  10000, 8192)),
               yarn_inv(10000, 4, 2048, 32, 1), 0.1 * std::log(4.0) + 1, "yarn defaults");
  // Every optional key given.
  expect_table(table_of(hf_config(R"({
    "attention_factor": 1.25,
    "beta_fast": 16.0,
    "beta_slow": 2.0,
    "factor": 8.0,
    "original_max_position_embeddings": 4096,
    "rope_type": "yarn"
  })",
                                  500000, 32768)),
               yarn_inv(500000, 8, 4096, 16, 2), 1.25, "yarn all keys");
  // original_max_position_embeddings absent: max_position_embeddings; legacy "type".
  expect_table(table_of(hf_config(R"({"type": "yarn", "factor": 2.0})", 10000, 4096)),
               yarn_inv(10000, 2, 4096, 32, 1), 0.1 * std::log(2.0) + 1, "legacy yarn");
  // "truncate": true is HF's default and what the engine computes; false is refused, not ignored.
  const std::string base = R"({"rope_type": "yarn", "factor": 4.0, "truncate": )";
  expect_table(table_of(hf_config(base + "true}", 10000, 8192)), yarn_inv(10000, 4, 8192, 32, 1),
               0.1 * std::log(4.0) + 1, "truncate true");
  EXPECT_THROW(table_of(hf_config(base + "false}", 10000, 8192)), harpe::Error);
}

TEST(HfRopeScaling, Llama3) {
  // Llama 3.1's keys: factor 8, low 1, high 4, original 8192, rope_theta 500000.
  const double base = 500000, factor = 8, lo = 1, hi = 4, orig = 8192;
  std::vector<double> f = default_inv(base);
  for (double& x : f) {
    const double wavelen = 2 * std::numbers::pi / x;
    if (wavelen > orig / lo) {
      x /= factor;
    } else if (wavelen >= orig / hi) {
      const double smooth = (orig / wavelen - lo) / (hi - lo);
      x = (1 - smooth) * x / factor + smooth * x;
    }
  }
  expect_table(table_of(hf_config(R"({
    "factor": 8.0,
    "high_freq_factor": 4.0,
    "low_freq_factor": 1.0,
    "original_max_position_embeddings": 8192,
    "rope_type": "llama3"
  })",
                                  base, 131072)),
               f, 1.0, "llama3");
}

}  // namespace

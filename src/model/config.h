// The model's shape and position scheme: a Llama-style decoder (RMSNorm, GQA attention with RoPE,
// SwiGLU MLP). Read from / written to HF's config.json so a checkpoint directory (config.json +
// model.safetensors) is all a run needs; see docs/formats.md for the keys and our extensions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "rope/rope_table.h"

namespace harpe::model {

struct ModelConfig {
  int vocab_size = 0;
  int hidden_size = 0;
  int intermediate_size = 0;
  int num_hidden_layers = 0;
  int num_attention_heads = 0;
  int num_key_value_heads = 0;  // 0 means num_attention_heads (no GQA)
  int head_dim = 0;             // 0 means hidden_size / num_attention_heads
  double rms_norm_eps = 1e-5;
  int max_position_embeddings = 2048;
  bool tie_word_embeddings = false;
  int rot_dims = 0;  // rotated dims per head (partial rotary); 0 means head_dim
  // half_split = HF's q/k weight layout for rotate_half, so HF checkpoints load as-is.
  rope::Layout rope_layout = rope::Layout::half_split;
  int bos_token_id = 1;  // -1: none
  int eos_token_id = 2;  // -1: none
  std::vector<int>
      extra_eos_token_ids;  // Llama 3.x lists several eos ids; the first is eos_token_id
  rope::RopeSpec rope;      // rope_theta + rope_scaling (method and its parameters)
  // rope_scaling keys we do not interpret (e.g. HARPE's "strategy"/"selection", kept for humans),
  // as JSON object text ("" = none); written back unchanged.
  std::string rope_scaling_extra;

  // Resolved values (the 0 defaults above applied).
  int kv_heads() const {
    return num_key_value_heads > 0 ? num_key_value_heads : num_attention_heads;
  }
  int head_size() const {
    return head_dim > 0 ? head_dim
                        : (num_attention_heads > 0 ? hidden_size / num_attention_heads : 0);
  }
  int rotary_dims() const { return rot_dims > 0 ? rot_dims : head_size(); }
  int q_dim() const { return num_attention_heads * head_size(); }  // q_proj output width
  int kv_dim() const { return kv_heads() * head_size(); }          // k_proj / v_proj output width

  // What rope::build_table needs besides the RopeSpec.
  rope::TableShape table_shape() const;

  // Number of parameters: embeddings, per layer q,k,v,o + gate,up,down + 2 norms, the final norm,
  // and lm_head unless tied. No biases (Llama).
  long parameter_count() const;
  // Parameters that take part in matmuls per token (q,k,v,o, mlp, lm_head or the tied embedding):
  // the N of the 6*N FLOPs/token estimate.
  long matmul_parameter_count() const;

  // Throws harpe::Error with a one-line message naming the offending field. Checks every size
  // against the limits below and every size product (heads x head_dim, vocab x hidden, ...) in
  // 64-bit arithmetic, and every float field for finiteness and range, so that no product of two
  // fields can overflow `int` anywhere downstream.
  void validate() const;
};

// Limits of a config (docs/formats.md): far above any real model, low enough that every size the
// engine computes in `int` (a tensor's rows x columns included) fits.
struct ConfigLimits {
  static constexpr int vocab_size = 1 << 24;         // 16,777,216
  static constexpr int hidden_size = 1 << 16;        // 65,536
  static constexpr int intermediate_size = 1 << 20;  // 1,048,576
  static constexpr int num_hidden_layers = 4096;
  static constexpr int num_attention_heads = 1024;
  static constexpr int head_dim = 4096;
  static constexpr int max_position_embeddings = 1 << 26;        // 67,108,864
  static constexpr long long tensor_elements = (1LL << 31) - 1;  // one weight matrix
  static constexpr long long parameters = 1LL << 40;             // ~1.1T parameters (4 TiB of F32)
  static constexpr double rope_factor = 1e6;                     // rope_scaling factors
};

// Named presets (see docs/formats.md for shapes and parameter counts):
//   "micro" 102,720 parameters (vocab 256, hidden 64, 2 layers, 4 heads x 16, 2 KV heads), for
//   gradient checks and fast tests "tiny"  4,999,424 parameters (vocab 8192, hidden 256, 4 layers,
//   8 heads x 32, 4 KV heads) "small" 29,499,904 parameters (vocab 8192, hidden 512, 8 layers, 8
//   heads x 64, 8 KV heads)
// Throws harpe::Error naming the valid presets on an unknown name.
ModelConfig preset(std::string_view name);
std::vector<std::string> preset_names();

// HF config.json (LlamaConfig keys + rope_scaling, and our "harpe"/"ntk" rope types and
// "harpe_layout"). `source` names the file in error messages. Unknown rope_type, missing or
// ill-typed keys throw a one-line harpe::Error naming the key and source.
ModelConfig parse_hf_config(std::string_view json_text, const std::string& source = "config.json");
std::string to_hf_config(const ModelConfig& cfg);  // pretty JSON; doubles at full precision
ModelConfig read_hf_config(const std::string& path);
void write_hf_config(const std::string& path, const ModelConfig& cfg);  // atomic (tmp + rename)

// One line for logs: "layers=4 hidden=256 heads=8/4x32 ffn=688 vocab=8192 params=4.999M rope=..."
std::string describe(const ModelConfig& cfg);

}  // namespace harpe::model

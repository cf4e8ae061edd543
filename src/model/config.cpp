#include "model/config.h"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <utility>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/json_util.h"
#include "io/read_limits.h"

namespace harpe::model {

using io::Json;
using rope::Scheme;

rope::TableShape ModelConfig::table_shape() const {
  rope::TableShape s;
  s.n_heads = num_attention_heads;
  s.n_kv_heads = kv_heads();
  s.head_dim = head_size();
  s.rot_dims = rotary_dims();
  s.layout = rope_layout;
  return s;
}

long ModelConfig::matmul_parameter_count() const {
  // 64-bit throughout: validate() bounds the result, but this must not overflow before it does.
  const std::int64_t d = hidden_size, ff = intermediate_size, q = q_dim(), kv = kv_dim();
  const std::int64_t attn = d * q + 2 * d * kv + q * d;  // q,k,v,o
  const std::int64_t mlp = 3 * d * ff;                   // gate,up,down
  return static_cast<long>(std::int64_t{num_hidden_layers} * (attn + mlp) +
                           std::int64_t{vocab_size} * d);  // + lm_head
}

long ModelConfig::parameter_count() const {
  const std::int64_t d = hidden_size, v = vocab_size;
  const std::int64_t layer_norms = std::int64_t{num_hidden_layers} * 2 * d;
  const std::int64_t embeddings =
      v * d * (tie_word_embeddings ? 1 : 2);  // embed_tokens (+ lm_head)
  const std::int64_t matmul_layers = matmul_parameter_count() - v * d;
  return static_cast<long>(embeddings + matmul_layers + layer_norms + d);  // + final norm
}

namespace {

using L = ConfigLimits;

// v in [lo, hi], else one line naming the config key.
void in_range(long long v, long long lo, long long hi, const char* key) {
  check(v >= lo && v <= hi, key, " must be in [", lo, ", ", hi, "], got ", v);
}

// Each size in [1, limit] first, so that the products below (and any downstream) are exact.
void validate_sizes(const ModelConfig& c) {
  in_range(c.vocab_size, 1, L::vocab_size, "vocab_size");
  in_range(c.hidden_size, 1, L::hidden_size, "hidden_size");
  in_range(c.intermediate_size, 1, L::intermediate_size, "intermediate_size");
  in_range(c.num_hidden_layers, 1, L::num_hidden_layers, "num_hidden_layers");
  in_range(c.num_attention_heads, 1, L::num_attention_heads, "num_attention_heads");
  in_range(c.num_key_value_heads, 0, L::num_attention_heads, "num_key_value_heads");
  in_range(c.head_dim, 0, L::head_dim, "head_dim");
  in_range(c.rot_dims, 0, L::head_dim, "rot_dims");
  in_range(c.max_position_embeddings, 1, L::max_position_embeddings, "max_position_embeddings");
  check(c.num_attention_heads % c.kv_heads() == 0, "num_key_value_heads (", c.kv_heads(),
        ") must divide num_attention_heads (", c.num_attention_heads, ")");
  if (c.head_dim == 0)
    check(c.hidden_size % c.num_attention_heads == 0, "hidden_size (", c.hidden_size,
          ") is not a multiple of num_attention_heads (", c.num_attention_heads, "); set head_dim");
  check(c.head_size() >= 2, "head_dim must be at least 2, got ", c.head_size());
  check(c.rotary_dims() >= 2 && c.rotary_dims() <= c.head_size() && c.rotary_dims() % 2 == 0,
        "rotary dims (head_dim * partial_rotary_factor = ", c.rotary_dims(),
        ") must be even and in [2, head_dim = ", c.head_size(), "]");
  // Size products in 64 bits: every weight matrix, then the whole parameter count.
  const std::int64_t C = c.hidden_size, F = c.intermediate_size, V = c.vocab_size;
  const std::int64_t HD = std::int64_t{c.num_attention_heads} * c.head_size();
  const std::int64_t KVD = std::int64_t{c.kv_heads()} * c.head_size();
  auto tensor = [](std::int64_t rows, std::int64_t cols, const char* what) {
    check(rows * cols <= L::tensor_elements, what, " is ", rows, " x ", cols, " = ", rows * cols,
          " elements, more than the limit of ", L::tensor_elements);
  };
  tensor(V, C, "the embedding (vocab_size x hidden_size)");
  tensor(HD, C, "q_proj (num_attention_heads x head_dim x hidden_size)");
  tensor(KVD, C, "k_proj (num_key_value_heads x head_dim x hidden_size)");
  tensor(F, C, "the MLP (intermediate_size x hidden_size)");
  const std::int64_t per_layer = 2 * HD * C + 2 * KVD * C + 3 * F * C + 2 * C;
  const std::int64_t params = std::int64_t{c.num_hidden_layers} * per_layer + V * C * 2 + C;
  check(params <= L::parameters, "the model has ", params,
        " parameters (num_hidden_layers x per-layer size + embeddings), more than the limit of ",
        L::parameters);
}

void validate_norm_and_token_ids(const ModelConfig& c) {
  check(std::isfinite(c.rms_norm_eps) && c.rms_norm_eps > 0 && c.rms_norm_eps < 1,
        "rms_norm_eps must be in (0, 1), got ", c.rms_norm_eps);
  check(c.bos_token_id >= -1 && c.bos_token_id < c.vocab_size, "bos_token_id ", c.bos_token_id,
        " is outside the vocabulary [0, ", c.vocab_size, ")");
  check(c.eos_token_id >= -1 && c.eos_token_id < c.vocab_size, "eos_token_id ", c.eos_token_id,
        " is outside the vocabulary [0, ", c.vocab_size, ")");
  for (int id : c.extra_eos_token_ids)
    check(id >= 0 && id < c.vocab_size, "eos_token_id ", id, " is outside the vocabulary [0, ",
          c.vocab_size, ")");
}

void validate_rope(const ModelConfig& c) {
  // Every float of the RoPE spec finite, whether or not its scheme reads it.
  const rope::RopeSpec& r = c.rope;
  for (const auto& [key, v] :
       {std::pair{"rope_theta", r.base}, std::pair{"rope_scaling.factor", r.factor},
        std::pair{"rope_scaling.beta_fast", r.beta_fast},
        std::pair{"rope_scaling.beta_slow", r.beta_slow},
        std::pair{"rope_scaling.attention_factor", r.attention_factor},
        std::pair{"rope_scaling.low_freq_factor", r.low_freq_factor},
        std::pair{"rope_scaling.high_freq_factor", r.high_freq_factor}})
    check(std::isfinite(v), key, " must be finite, got ", v);
  check(r.base > 1, "rope_theta must be > 1, got ", r.base);
  if (r.scheme == Scheme::dynamic || r.scheme == Scheme::yarn || r.scheme == Scheme::llama3)
    in_range(r.original_context, 1, L::max_position_embeddings,
             "rope_scaling.original_max_position_embeddings");
  if (r.scheme != Scheme::rope && r.scheme != Scheme::harpe)
    check(r.factor >= 1 && r.factor <= L::rope_factor, "rope_scaling.factor must be in [1, ",
          L::rope_factor, "], got ", r.factor);
  if (r.scheme == Scheme::yarn) {
    check(std::isfinite(r.beta_fast) && std::isfinite(r.beta_slow) && r.beta_fast > r.beta_slow &&
              r.beta_slow > 0,
          "rope_scaling: need beta_fast > beta_slow > 0, got beta_fast=", r.beta_fast,
          " beta_slow=", r.beta_slow);
    check(r.attention_factor >= 0 && r.attention_factor <= L::rope_factor,
          "rope_scaling.attention_factor must be in [0, ", L::rope_factor, "], got ",
          r.attention_factor);
  }
  if (r.scheme == Scheme::llama3)
    check(std::isfinite(r.low_freq_factor) && std::isfinite(r.high_freq_factor) &&
              r.low_freq_factor > 0 && r.high_freq_factor > r.low_freq_factor,
          "rope_scaling: need high_freq_factor > low_freq_factor > 0, got low=", r.low_freq_factor,
          " high=", r.high_freq_factor);
  if (r.scheme == Scheme::harpe) {
    int n = static_cast<int>(r.bases.size());
    check(n == c.kv_heads() || n == c.num_attention_heads, "rope_scaling.bases has ", n,
          " entries; need one per KV head (", c.kv_heads(), ") or per attention head (",
          c.num_attention_heads, ")");
    for (int i = 0; i < n; ++i)
      check(std::isfinite(r.bases[i]) && r.bases[i] > 1, "rope_scaling.bases[", i,
            "] must be > 1, got ", r.bases[i]);
    if (n == c.num_attention_heads && n != c.kv_heads()) {
      int g = c.num_attention_heads / c.kv_heads();
      for (int i = 0; i < n; ++i)
        check(r.bases[i] == r.bases[i / g * g], "rope_scaling.bases[", i, "] = ", r.bases[i],
              " differs from bases[", i / g * g, "] = ", r.bases[i / g * g],
              " in the same KV group (heads sharing a key head need one base)");
    }
  }
}

}  // namespace

void ModelConfig::validate() const {
  validate_sizes(*this);
  validate_norm_and_token_ids(*this);
  validate_rope(*this);
}

// ---- presets -------------------------------------------------------------------------------

namespace {

ModelConfig make(int vocab, int hidden, int ffn, int layers, int heads, int kv, int max_pos,
                 bool tied) {
  ModelConfig c;
  c.vocab_size = vocab;
  c.hidden_size = hidden;
  c.intermediate_size = ffn;
  c.num_hidden_layers = layers;
  c.num_attention_heads = heads;
  c.num_key_value_heads = kv;
  c.head_dim = hidden / heads;
  c.rot_dims = c.head_dim;
  c.max_position_embeddings = max_pos;
  c.tie_word_embeddings = tied;
  c.rms_norm_eps = 1e-5;
  c.bos_token_id = 1;
  c.eos_token_id = 2;
  c.rope.base = 10000.0;
  return c;
}

}  // namespace

std::vector<std::string> preset_names() { return {"micro", "tiny", "small"}; }

ModelConfig preset(std::string_view name) {
  if (name == "micro") return make(256, 64, 160, 2, 4, 2, 256, true);
  if (name == "tiny") return make(8192, 256, 688, 4, 8, 4, 512, true);
  if (name == "small") return make(8192, 512, 1376, 8, 8, 8, 1024, true);
  std::string known;
  for (const auto& n : preset_names()) known += (known.empty() ? "" : ", ") + n;
  fail("unknown model preset \"", name, "\" (known: ", known, ")");
}

// ---- config.json ---------------------------------------------------------------------------

namespace {

int to_int(std::int64_t v, const char* key, const std::string& where) {
  check(v >= std::numeric_limits<int>::min() && v <= std::numeric_limits<int>::max(), where, ": \"",
        key, "\" = ", v, " is out of range");
  return static_cast<int>(v);
}

int req_int(const Json& j, const char* key, const std::string& where) {
  return to_int(io::json_int(j, key, where), key, where);
}

int opt_int(const Json& j, const char* key, int def, const std::string& where) {
  return to_int(io::json_int_or(j, key, def, where), key, where);
}

// rope_scaling keys each type reads; everything else is kept verbatim in rope_scaling_extra.
bool interpreted(const std::string& key) {
  static const char* known[] = {
      "rope_type",        "type",      "factor",           "original_max_position_embeddings",
      "beta_fast",        "beta_slow", "attention_factor", "low_freq_factor",
      "high_freq_factor", "bases"};
  for (const char* k : known)
    if (key == k) return true;
  return false;
}

void parse_rope_scaling(const Json& rs, ModelConfig& c, const std::string& src) {
  const std::string where = src + ": rope_scaling";
  rope::RopeSpec& r = c.rope;
  if (rs.is_null()) return;
  if (!rs.is_object()) fail(where, " must be an object or null, got ", rs.type_name());
  std::string type;
  if (rs.contains("rope_type") && !rs["rope_type"].is_null())
    type = io::json_string(rs, "rope_type", where);
  else if (rs.contains("type") && !rs["type"].is_null())
    type = io::json_string(rs, "type", where);
  else
    fail(where, ": missing key \"rope_type\"");

  auto orig = [&] {
    return opt_int(rs, "original_max_position_embeddings", c.max_position_embeddings, where);
  };
  r.scheme = rope::scheme_of_rope_type(type, where);
  switch (r.scheme) {
    case Scheme::rope:
      break;
    case Scheme::pi:
    case Scheme::ntk:
      r.factor = io::json_double(rs, "factor", where);
      break;
    case Scheme::dynamic:
      r.factor = io::json_double(rs, "factor", where);
      r.original_context = orig();
      break;
    case Scheme::yarn:
      r.factor = io::json_double(rs, "factor", where);
      r.original_context = orig();
      r.beta_fast = io::json_double_or(rs, "beta_fast", 32.0, where);
      r.beta_slow = io::json_double_or(rs, "beta_slow", 1.0, where);
      r.attention_factor = io::json_double_or(rs, "attention_factor", 0.0, where);
      for (const char* k : {"mscale", "mscale_all_dim"})  // DeepSeek's YaRN variant: refuse
        check(!rs.contains(k) || rs[k].is_null(), where, ": \"", k,
              "\" (DeepSeek YaRN) is not supported");
      // HF's optional "truncate" (default true: the correction range rounded to whole dims, as
      // here); false changes the frequencies, so refuse it rather than ignore it.
      check(!rs.contains("truncate") || rs["truncate"].is_null() ||
                (rs["truncate"].is_boolean() && rs["truncate"].get<bool>()),
            where, ": \"truncate\": ", rs.contains("truncate") ? rs["truncate"].dump() : "",
            " is not supported (only the rounded YaRN correction range, HF's default true)");
      break;
    case Scheme::llama3:
      r.factor = io::json_double(rs, "factor", where);
      r.low_freq_factor = io::json_double(rs, "low_freq_factor", where);
      r.high_freq_factor = io::json_double(rs, "high_freq_factor", where);
      r.original_context = req_int(rs, "original_max_position_embeddings", where);
      break;
    case Scheme::harpe: {
      if (!rs.contains("bases")) fail(where, ": missing key \"bases\"");
      const Json& b = rs["bases"];
      if (!b.is_array() || b.empty())
        fail(where, ": \"bases\" must be a non-empty array of numbers, got ", b.type_name());
      r.bases.clear();
      for (std::size_t i = 0; i < b.size(); ++i)
        r.bases.push_back(io::as_double(b[i], where + ".bases[" + std::to_string(i) + "]"));
      break;
    }
  }
  Json extra = Json::object();
  for (auto it = rs.begin(); it != rs.end(); ++it)
    if (!interpreted(it.key())) extra[it.key()] = it.value();
  c.rope_scaling_extra = extra.empty() ? "" : extra.dump();
}

}  // namespace

ModelConfig parse_hf_config(std::string_view json_text, const std::string& source) {
  Json j = io::parse_json(json_text, source);
  if (!j.is_object()) fail(source, ": expected a JSON object, got ", j.type_name());
  const std::string& w = source;

  std::string model_type = io::json_string_or(j, "model_type", "llama", w);
  if (model_type == "mistral") {
    check(!j.contains("sliding_window") || j["sliding_window"].is_null(), w,
          ": \"sliding_window\" attention is not supported (model_type mistral)");
  } else if (model_type != "llama") {
    fail(w, ": model_type \"", model_type, "\" is not supported (llama or mistral)");
  }
  check(!io::json_bool_or(j, "attention_bias", false, w), w,
        ": \"attention_bias\": true is not supported (Llama has no biases)");
  check(!io::json_bool_or(j, "mlp_bias", false, w), w,
        ": \"mlp_bias\": true is not supported (Llama has no biases)");
  std::string act = io::json_string_or(j, "hidden_act", "silu", w);
  check(act == "silu", w, ": \"hidden_act\" \"", act, "\" is not supported (silu)");

  ModelConfig c;
  c.vocab_size = req_int(j, "vocab_size", w);
  c.hidden_size = req_int(j, "hidden_size", w);
  c.intermediate_size = req_int(j, "intermediate_size", w);
  c.num_hidden_layers = req_int(j, "num_hidden_layers", w);
  c.num_attention_heads = req_int(j, "num_attention_heads", w);
  c.num_key_value_heads = opt_int(j, "num_key_value_heads", c.num_attention_heads, w);
  check(c.num_attention_heads > 0, w, ": \"num_attention_heads\" must be positive, got ",
        c.num_attention_heads);
  c.head_dim = opt_int(j, "head_dim", c.hidden_size / c.num_attention_heads, w);
  c.rms_norm_eps = io::json_double_or(j, "rms_norm_eps", 1e-6, w);  // LlamaConfig's default
  c.max_position_embeddings = opt_int(j, "max_position_embeddings", 2048, w);
  c.tie_word_embeddings = io::json_bool_or(j, "tie_word_embeddings", false, w);
  double prf = io::json_double_or(j, "partial_rotary_factor", 1.0, w);
  check(std::isfinite(prf) && prf > 0 && prf <= 1, w,
        ": \"partial_rotary_factor\" must be in (0, 1], got ", prf);
  c.rot_dims = static_cast<int>(std::lround(prf * c.head_dim));
  check(std::fabs(prf * c.head_dim - c.rot_dims) < 1e-6, w, ": \"partial_rotary_factor\" ", prf,
        " times head_dim ", c.head_dim, " is not a whole number of dims");
  // Absent: LlamaConfig's defaults (1, 2); null: no such token (-1).
  c.bos_token_id = j.contains("bos_token_id") ? opt_int(j, "bos_token_id", -1, w) : 1;
  c.eos_token_id = 2;
  c.extra_eos_token_ids.clear();
  if (j.contains("eos_token_id") && j["eos_token_id"].is_array()) {
    check(!j["eos_token_id"].empty(), w, ": \"eos_token_id\" is an empty array");
    const Json& e = j["eos_token_id"];
    for (std::size_t i = 0; i < e.size(); ++i) {
      int id = to_int(io::as_int(e[i], w + ": \"eos_token_id\"[" + std::to_string(i) + "]"),
                      "eos_token_id", w);
      if (i == 0)
        c.eos_token_id = id;
      else
        c.extra_eos_token_ids.push_back(id);
    }
  } else {
    c.eos_token_id = j.contains("eos_token_id") ? opt_int(j, "eos_token_id", -1, w) : 2;
  }

  std::string layout = io::json_string_or(j, "harpe_layout", "half_split", w);
  if (layout == "half_split")
    c.rope_layout = rope::Layout::half_split;
  else if (layout == "interleaved")
    c.rope_layout = rope::Layout::interleaved;
  else
    fail(w, ": unknown \"harpe_layout\" \"", layout, "\" (half_split or interleaved)");

  c.rope = rope::RopeSpec{};
  c.rope.base = io::json_double_or(j, "rope_theta", 10000.0, w);
  if (j.contains("rope_scaling")) parse_rope_scaling(j["rope_scaling"], c, w);

  try {
    c.validate();
  } catch (const Error& e) {
    fail(w, ": ", e.what());
  }
  return c;
}

std::string to_hf_config(const ModelConfig& c) {
  c.validate();
  using OJ = nlohmann::ordered_json;
  OJ j;
  j["architectures"] = OJ::array({"LlamaForCausalLM"});
  j["model_type"] = "llama";
  j["vocab_size"] = c.vocab_size;
  j["hidden_size"] = c.hidden_size;
  j["intermediate_size"] = c.intermediate_size;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["num_attention_heads"] = c.num_attention_heads;
  j["num_key_value_heads"] = c.kv_heads();
  j["head_dim"] = c.head_size();
  j["hidden_act"] = "silu";
  j["rms_norm_eps"] = c.rms_norm_eps;
  j["max_position_embeddings"] = c.max_position_embeddings;
  j["tie_word_embeddings"] = c.tie_word_embeddings;
  j["attention_bias"] = false;
  j["mlp_bias"] = false;
  if (c.rotary_dims() != c.head_size())
    j["partial_rotary_factor"] = static_cast<double>(c.rotary_dims()) / c.head_size();
  if (c.rope_layout != rope::Layout::half_split) j["harpe_layout"] = "interleaved";
  j["bos_token_id"] = c.bos_token_id >= 0 ? OJ(c.bos_token_id) : OJ(nullptr);
  if (c.extra_eos_token_ids.empty()) {
    j["eos_token_id"] = c.eos_token_id >= 0 ? OJ(c.eos_token_id) : OJ(nullptr);
  } else {
    OJ ids = OJ::array({c.eos_token_id});
    for (int id : c.extra_eos_token_ids) ids.push_back(id);
    j["eos_token_id"] = ids;
  }

  const rope::RopeSpec& r = c.rope;
  j["rope_theta"] = r.base;
  OJ rs;
  switch (r.scheme) {
    case Scheme::rope:
      break;
    case Scheme::pi:
      rs["rope_type"] = rope::rope_type_name(r.scheme);
      rs["factor"] = r.factor;
      break;
    case Scheme::ntk:
      rs["rope_type"] = rope::rope_type_name(r.scheme);
      rs["factor"] = r.factor;
      break;
    case Scheme::dynamic:
      rs["rope_type"] = rope::rope_type_name(r.scheme);
      rs["factor"] = r.factor;
      rs["original_max_position_embeddings"] = r.original_context;
      break;
    case Scheme::yarn:
      rs["rope_type"] = rope::rope_type_name(r.scheme);
      rs["factor"] = r.factor;
      rs["original_max_position_embeddings"] = r.original_context;
      rs["beta_fast"] = r.beta_fast;
      rs["beta_slow"] = r.beta_slow;
      if (r.attention_factor != 0) rs["attention_factor"] = r.attention_factor;
      break;
    case Scheme::llama3:
      rs["rope_type"] = rope::rope_type_name(r.scheme);
      rs["factor"] = r.factor;
      rs["low_freq_factor"] = r.low_freq_factor;
      rs["high_freq_factor"] = r.high_freq_factor;
      rs["original_max_position_embeddings"] = r.original_context;
      break;
    case Scheme::harpe:
      rs["rope_type"] = rope::rope_type_name(r.scheme);
      rs["bases"] = r.bases;
      break;
  }
  if (!c.rope_scaling_extra.empty()) {
    OJ extra = OJ::parse(c.rope_scaling_extra, nullptr, false);
    check(extra.is_object(),
          "rope_scaling_extra must be a JSON object, got: ", c.rope_scaling_extra.substr(0, 80));
    if (rs.is_null() && !extra.empty()) rs["rope_type"] = rope::rope_type_name(Scheme::rope);
    for (auto it = extra.begin(); it != extra.end(); ++it)
      if (!rs.contains(it.key())) rs[it.key()] = it.value();
  }
  j["rope_scaling"] = rs;  // null when plain RoPE
  j["torch_dtype"] = "float32";
  return j.dump(2) + "\n";
}

ModelConfig read_hf_config(const std::string& path) {
  return parse_hf_config(io::read_regular_file(path, io::kConfigFileLimit, "config"), path);
}

void write_hf_config(const std::string& path, const ModelConfig& cfg) {
  io::write_text_atomic(path, to_hf_config(cfg));
}

std::string describe(const ModelConfig& c) {
  char params[32];
  std::snprintf(params, sizeof params, "%.3fM", c.parameter_count() / 1e6);
  std::string s =
      "layers=" + std::to_string(c.num_hidden_layers) + " hidden=" + std::to_string(c.hidden_size) +
      " heads=" + std::to_string(c.num_attention_heads) + "/" + std::to_string(c.kv_heads()) + "x" +
      std::to_string(c.head_size()) + " ffn=" + std::to_string(c.intermediate_size) +
      " vocab=" + std::to_string(c.vocab_size) + " params=" + params + " rope=";
  const rope::RopeSpec& r = c.rope;
  char buf[96];
  switch (r.scheme) {
    case Scheme::rope:
      std::snprintf(buf, sizeof buf, "rope(base=%g)", r.base);
      break;
    case Scheme::pi:
      std::snprintf(buf, sizeof buf, "pi(base=%g,s=%g)", r.base, r.factor);
      break;
    case Scheme::ntk:
      std::snprintf(buf, sizeof buf, "ntk(base=%g,s=%g)", r.base, r.factor);
      break;
    case Scheme::dynamic:
      std::snprintf(buf, sizeof buf, "dynamic(base=%g,s=%g,orig=%d)", r.base, r.factor,
                    r.original_context);
      break;
    case Scheme::yarn:
      std::snprintf(buf, sizeof buf, "yarn(base=%g,s=%g,orig=%d)", r.base, r.factor,
                    r.original_context);
      break;
    case Scheme::llama3:
      std::snprintf(buf, sizeof buf, "llama3(base=%g,s=%g,orig=%d)", r.base, r.factor,
                    r.original_context);
      break;
    case Scheme::harpe: {
      std::string b = "harpe(bases=";
      for (std::size_t i = 0; i < r.bases.size(); ++i) {
        std::snprintf(buf, sizeof buf, "%s%g", i ? "," : "", r.bases[i]);
        b += buf;
      }
      return s + b + ")";
    }
  }
  return s + buf;
}

}  // namespace harpe::model

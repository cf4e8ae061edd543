#include "model/gguf_export.h"

#include <cmath>
#include <deque>

#include "core/error.h"

namespace harpe::model {

using rope::Scheme;

GgufVocab placeholder_vocab(const ModelConfig& cfg) {
  GgufVocab v;
  v.placeholder = true;
  const int n = cfg.vocab_size;
  v.tokens.resize(static_cast<std::size_t>(n));
  v.scores.assign(static_cast<std::size_t>(n), 0.f);
  v.types.assign(static_cast<std::size_t>(n), kTokenNormal);
  for (int i = 0; i < n; ++i)
    v.tokens[static_cast<std::size_t>(i)] = "<tok_" + std::to_string(i) + ">";
  auto special = [&](int id, const char* name, std::int32_t type) {
    if (id < 0 || id >= n) return -1;
    v.tokens[static_cast<std::size_t>(id)] = name;
    v.types[static_cast<std::size_t>(id)] = type;
    return id;
  };
  v.bos = special(cfg.bos_token_id, "<s>", kTokenControl);
  v.eos = cfg.eos_token_id != cfg.bos_token_id ? special(cfg.eos_token_id, "</s>", kTokenControl)
                                               : v.bos;
  if (v.bos != 0 && v.eos != 0) v.unk = special(0, "<unk>", kTokenUnknown);
  return v;
}

std::string gguf_unsupported_reason(const ModelConfig& cfg) {
  const rope::RopeSpec& r = cfg.rope;
  if (r.scheme == Scheme::harpe)
    return "its RoPE is HARPE (one base per KV head), and no engine outside harpe implements "
           "per-head RoPE bases yet: llama.cpp's llama architecture has one rope table for "
           "every head";
  if (r.scheme == Scheme::dynamic)
    return "its RoPE is dynamic NTK, whose table changes with the sequence length; llama.cpp has "
           "no such scaling";
  if (cfg.rotary_dims() != cfg.head_size())
    return "it rotates " + std::to_string(cfg.rotary_dims()) + " of " +
           std::to_string(cfg.head_size()) +
           " dims per head (partial rotary), which llama.cpp's llama architecture does not do";
  if (r.scheme == Scheme::yarn && (r.beta_fast != 32.0 || r.beta_slow != 1.0))
    return "its YaRN beta_fast/beta_slow are not 32/1, the only values llama.cpp's llama "
           "architecture uses";
  return "";
}

GgufRope gguf_rope(const ModelConfig& cfg) {
  const std::string why = gguf_unsupported_reason(cfg);
  check(why.empty(), "export gguf: this checkpoint cannot be exported because ", why);
  const rope::RopeSpec& r = cfg.rope;
  const int rot = cfg.rotary_dims();
  GgufRope g;
  g.freq_base = r.base;
  switch (r.scheme) {
    case Scheme::rope:
      break;
    case Scheme::pi:
      g.scaling_type = "linear";
      g.factor = r.factor;
      break;
    case Scheme::ntk:  // NTK-aware scaling is plain RoPE with base * s^(r/(r-2))
      g.freq_base = r.base * std::pow(r.factor, rot / (rot - 2.0));
      break;
    case Scheme::yarn: {
      g.scaling_type = "yarn";
      g.factor = r.factor;
      g.original_context = r.original_context;
      // llama.cpp applies YaRN's default 0.1 ln(s) + 1 itself; a config's own attention_factor
      // replaces it, so the key carries the ratio.
      const double dflt = r.factor > 1.0 ? 0.1 * std::log(r.factor) + 1.0 : 1.0;
      g.attn_factor = r.attention_factor > 0 ? r.attention_factor / dflt : 1.0;
      break;
    }
    case Scheme::llama3: {
      // ggml divides each pair's angle by its factor: factor = base frequency / llama3 frequency.
      const rope::RopeTable t = rope::build_table(r, cfg.table_shape());
      g.freq_factors.resize(static_cast<std::size_t>(rot / 2));
      for (int i = 0; i < rot / 2; ++i)
        g.freq_factors[static_cast<std::size_t>(i)] =
            static_cast<float>(std::pow(r.base, -2.0 * i / rot) / t.head(0)[i]);
      break;
    }
    default:
      fail("export gguf: unexpected rope scheme ", rope::scheme_name(r.scheme));
  }
  return g;
}

std::vector<float> interleave_rope_rows(const float* w, int heads, int head_dim, int cols) {
  const auto C = static_cast<std::size_t>(cols);
  const int half = head_dim / 2;
  std::vector<float> out(static_cast<std::size_t>(heads) * head_dim * C);
  for (int h = 0; h < heads; ++h)
    for (int i = 0; i < half; ++i)
      for (int j = 0; j < 2; ++j) {
        const auto dst = static_cast<std::size_t>(h * head_dim + 2 * i + j);
        const auto src = static_cast<std::size_t>(h * head_dim + j * half + i);
        std::copy(w + src * C, w + (src + 1) * C, out.data() + dst * C);
      }
  return out;
}

void export_gguf(const Model& m, const GgufVocab& vocab, const GgufExportOptions& opts,
                 const std::string& path) {
  const ModelConfig& c = m.config;
  const GgufRope rope = gguf_rope(c);
  const auto V = static_cast<std::size_t>(c.vocab_size);
  check(vocab.tokens.size() == V && vocab.scores.size() == V && vocab.types.size() == V,
        "export gguf: the vocabulary has ", vocab.tokens.size(), " tokens, the model ", V);
  using io::gguf::TensorType;
  const bool f16 = opts.type == TensorType::f16;

  io::gguf::Writer w;
  w.add_string("general.architecture", "llama");
  w.add_string("general.name", opts.name);
  w.add_u32("general.file_type", f16 ? 1 : 0);  // llama_ftype: ALL_F32 / MOSTLY_F16
  w.add_u32("llama.vocab_size", static_cast<std::uint32_t>(c.vocab_size));
  w.add_u32("llama.context_length", static_cast<std::uint32_t>(c.max_position_embeddings));
  w.add_u32("llama.embedding_length", static_cast<std::uint32_t>(c.hidden_size));
  w.add_u32("llama.block_count", static_cast<std::uint32_t>(c.num_hidden_layers));
  w.add_u32("llama.feed_forward_length", static_cast<std::uint32_t>(c.intermediate_size));
  w.add_u32("llama.attention.head_count", static_cast<std::uint32_t>(c.num_attention_heads));
  w.add_u32("llama.attention.head_count_kv", static_cast<std::uint32_t>(c.kv_heads()));
  w.add_u32("llama.attention.key_length", static_cast<std::uint32_t>(c.head_size()));
  w.add_u32("llama.attention.value_length", static_cast<std::uint32_t>(c.head_size()));
  w.add_f32("llama.attention.layer_norm_rms_epsilon", static_cast<float>(c.rms_norm_eps));
  w.add_u32("llama.rope.dimension_count", static_cast<std::uint32_t>(c.rotary_dims()));
  w.add_f32("llama.rope.freq_base", static_cast<float>(rope.freq_base));
  w.add_string("llama.rope.scaling.type", rope.scaling_type);
  if (rope.scaling_type != "none")
    w.add_f32("llama.rope.scaling.factor", static_cast<float>(rope.factor));
  if (rope.scaling_type == "yarn") {
    w.add_u32("llama.rope.scaling.original_context_length",
              static_cast<std::uint32_t>(rope.original_context));
    w.add_f32("llama.rope.scaling.attn_factor", static_cast<float>(rope.attn_factor));
    w.add_f32("llama.rope.scaling.yarn_beta_fast", static_cast<float>(c.rope.beta_fast));
    w.add_f32("llama.rope.scaling.yarn_beta_slow", static_cast<float>(c.rope.beta_slow));
  }
  w.add_string("tokenizer.ggml.model", "llama");
  w.add_strings("tokenizer.ggml.tokens", vocab.tokens);
  w.add_f32s("tokenizer.ggml.scores", vocab.scores);
  w.add_i32s("tokenizer.ggml.token_type", vocab.types);
  if (vocab.bos >= 0)
    w.add_u32("tokenizer.ggml.bos_token_id", static_cast<std::uint32_t>(vocab.bos));
  if (vocab.eos >= 0)
    w.add_u32("tokenizer.ggml.eos_token_id", static_cast<std::uint32_t>(vocab.eos));
  if (vocab.unk >= 0)
    w.add_u32("tokenizer.ggml.unknown_token_id", static_cast<std::uint32_t>(vocab.unk));
  w.add_bool("tokenizer.ggml.add_bos_token", vocab.bos >= 0);
  w.add_bool("tokenizer.ggml.add_eos_token", false);

  const auto C = static_cast<std::uint64_t>(c.hidden_size);
  const auto F = static_cast<std::uint64_t>(c.intermediate_size);
  const auto D = c.head_size();
  const TensorType mat = f16 ? TensorType::f16 : TensorType::f32;
  w.add_tensor("token_embd.weight", {C, V}, mat, m.w.embed);
  w.add_tensor("output_norm.weight", {C}, TensorType::f32, m.w.norm);
  if (!c.tie_word_embeddings) w.add_tensor("output.weight", {C, V}, mat, m.w.lm_head);
  if (!rope.freq_factors.empty())
    w.add_tensor("rope_freqs.weight", {rope.freq_factors.size()}, TensorType::f32,
                 rope.freq_factors.data());
  std::deque<std::vector<float>> permuted;  // q/k in GGUF's pair order, alive until write()
  const bool permute = c.rope_layout == rope::Layout::half_split;
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    const LayerWeights& lw = m.w.layers[static_cast<std::size_t>(l)];
    const std::string p = "blk." + std::to_string(l) + ".";
    const float* wq = lw.wq;
    const float* wk = lw.wk;
    if (permute) {
      wq = permuted
               .emplace_back(interleave_rope_rows(lw.wq, c.num_attention_heads, D, c.hidden_size))
               .data();
      wk =
          permuted.emplace_back(interleave_rope_rows(lw.wk, c.kv_heads(), D, c.hidden_size)).data();
    }
    const auto Q = static_cast<std::uint64_t>(c.q_dim()),
               KV = static_cast<std::uint64_t>(c.kv_dim());
    w.add_tensor(p + "attn_norm.weight", {C}, TensorType::f32, lw.ln1);
    w.add_tensor(p + "attn_q.weight", {C, Q}, mat, wq);
    w.add_tensor(p + "attn_k.weight", {C, KV}, mat, wk);
    w.add_tensor(p + "attn_v.weight", {C, KV}, mat, lw.wv);
    w.add_tensor(p + "attn_output.weight", {Q, C}, mat, lw.wo);
    w.add_tensor(p + "ffn_norm.weight", {C}, TensorType::f32, lw.ln2);
    w.add_tensor(p + "ffn_gate.weight", {C, F}, mat, lw.wg);
    w.add_tensor(p + "ffn_up.weight", {C, F}, mat, lw.wu);
    w.add_tensor(p + "ffn_down.weight", {F, C}, mat, lw.wd);
  }
  w.write(path);
}

}  // namespace harpe::model

// A harpe checkpoint as a GGUF file of llama.cpp's "llama" architecture (io/gguf.h is the
// format), so llama.cpp and the tools built on it run the model. docs/formats.md ("GGUF export")
// lists the keys and tensors.
//
// Only checkpoints whose RoPE is one frequency table for every head export: rope and ABF (a
// base), PI (linear scaling), NTK (the equivalent base), YaRN (llama.cpp's own yarn scaling with
// the same ramp and attention factor), Llama 3 (a rope_freqs.weight tensor of per-pair factors,
// as llama.cpp's converter writes it). HARPE (one base per head), dynamic NTK (a table that
// depends on the sequence length) and partial rotary are refused: no engine outside harpe
// implements them for this architecture.
//
// q/k weights: GGUF llama rotates adjacent pairs (2i, 2i+1), i.e. harpe's `interleaved` layout.
// A half_split (HF) checkpoint's q_proj/k_proj rows are permuted within each head as llama.cpp's
// converter does (interleave_rope_rows); an interleaved checkpoint is written as is.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "model/model.h"

namespace harpe::model {

// llama.cpp's token types (tokenizer.ggml.token_type).
enum GgufTokenType : std::int32_t {
  kTokenNormal = 1,
  kTokenUnknown = 2,
  kTokenControl = 3,
  kTokenUserDefined = 4,
  kTokenUnused = 5,
  kTokenByte = 6,
};

// What goes into tokenizer.ggml.* ("llama" = SentencePiece model).
struct GgufVocab {
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<std::int32_t> types;
  int bos = -1, eos = -1, unk = -1;  // -1: none
  bool placeholder = false;          // no tokenizer: tokens are named "<tok_N>"
};

// A vocabulary of placeholder pieces for a model without a tokenizer (the recall lab's synthetic
// ids): "<tok_N>" of type normal and score 0, except the config's bos/eos ("<s>", "</s>",
// control) and id 0 as "<unk>" when it is neither. llama.cpp loads it; text in or out of such a
// model is meaningless, token ids are not.
GgufVocab placeholder_vocab(const ModelConfig& cfg);

// How the RoPE of a config is written (llama.rope.* keys and the optional rope_freqs tensor).
struct GgufRope {
  std::string scaling_type = "none";  // llama.rope.scaling.type: none, linear, yarn
  double freq_base = 10000;           // llama.rope.freq_base
  double factor = 1;                  // llama.rope.scaling.factor (linear, yarn)
  int original_context = 0;           // llama.rope.scaling.original_context_length (yarn)
  double attn_factor = 1;             // llama.rope.scaling.attn_factor (multiplies yarn's own)
  std::vector<float> freq_factors;    // rope_freqs.weight [rot/2] (llama3), empty otherwise
};

// "" when the config exports; otherwise one sentence saying why not (used in the error).
std::string gguf_unsupported_reason(const ModelConfig& cfg);
// Throws harpe::Error with that reason when the config does not export.
GgufRope gguf_rope(const ModelConfig& cfg);

// HF half_split q/k rows to the interleaved pairs GGUF llama rotates, per head of head_dim rows:
// output row h*D + 2i + j = input row h*D + j*D/2 + i  (j in {0, 1}, i < D/2). w is [heads*D,
// cols].
std::vector<float> interleave_rope_rows(const float* w, int heads, int head_dim, int cols);

struct GgufExportOptions {
  io::gguf::TensorType type = io::gguf::TensorType::f32;  // matrices; norms stay F32
  std::string name = "harpe";                             // general.name
};

// Writes the model as GGUF at `path` (atomically). Throws harpe::Error when the config does not
// export (gguf_unsupported_reason) or the vocabulary does not match vocab_size.
void export_gguf(const Model& m, const GgufVocab& vocab, const GgufExportOptions& opts,
                 const std::string& path);

}  // namespace harpe::model

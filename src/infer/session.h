// Inference on one sequence: a KV cache, prefill (the tiled attention kernel when the cache is
// empty), incremental decoding, optional Self-Extend (grouped positions beyond a neighbour window),
// greedy or sampled generation. The RoPE table comes from the model's config; with Self-Extend the
// cache also keeps each key rotated at its grouped position. The weights come from an
// InferenceModel, in fp32 or bf16 (infer/inference_model.h). The KV cache is held in the weights'
// precision unless SessionOptions says otherwise: bf16 halves the bytes every decoded token reads
// (at 4k context the cache of a small model outweighs its bf16 weights). New keys and values are
// computed in fp32 and rounded once when stored; attention reads them widened exactly, so the
// scores, softmax and sums stay fp32. Activations are fp32.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "core/buffer.h"
#include "core/precision.h"
#include "infer/inference_model.h"
#include "model/model.h"
#include "rope/rope_table.h"

namespace harpe::infer {

struct SessionOptions {
  int capacity = 0;            // maximum sequence length (prompt + generated)
  rope::PositionMap position;  // identity, or Self-Extend (window, group)
  // Appends of at most kLeanTokens tokens run token by token through serial single-row kernels
  // (kernels/decode.h: GEMV, fused norms, cached_attention_row): no GEMM call, no OpenMP region,
  // no allocation per token. false sends every append through the batched GEMM path (the
  // reference the lean path is tested and benchmarked against).
  bool lean_decode = true;
  // Precision of the KV cache; unset = the weights' (InferenceModel::precision()).
  std::optional<Precision> kv_cache = std::nullopt;
};

class Session {
 public:
  static constexpr int kLeanTokens = 4;  // largest append that takes the lean path

  // m must outlive the session.
  Session(const InferenceModel& m, const SessionOptions& opts);
  // fp32 weights: a view of m, which must outlive the session.
  Session(const model::Model& m, const SessionOptions& opts);

  // Appends n tokens and runs them through the model. If logits is non-null it receives the
  // next-token logits after the last appended token ([vocab]). If all_logits is non-null it
  // receives logits for every appended token ([n, vocab]) — for tests and scoring.
  void append(const int32_t* tokens, int n, float* logits, float* all_logits = nullptr);

  int length() const { return length_; }
  int capacity() const { return capacity_; }
  int vocab() const { return m_->config().vocab_size; }
  Precision kv_cache_precision() const { return kv_; }
  void reset() { length_ = 0; }

 private:
  void init(const SessionOptions& opts);
  void run_chunk(const int32_t* tokens, int n, float* logits, float* all_logits);
  void decode_token(int32_t token, float* logits);  // the lean path, one token

  std::unique_ptr<InferenceModel> view_;  // the Model constructor's fp32 view
  const InferenceModel* m_ = nullptr;
  int capacity_ = 0;
  rope::PositionMap pos_map_;
  rope::RopeTable table_;
  // Stores n tokens' rows (src: [n][KV][D], fp32) at position pos of layer l's cache c (k_, v_ or
  // kg_ and their bf16 twins), rounding them to bf16 for a bf16 cache.
  void store(Buffer<float>& c32, Buffer<uint16_t>& c16, int l, int pos, const float* src, int n);
  // Layer l's attention over the cache: cached_attention or cached_attention_row (scratch
  // non-null) in the cache's precision.
  void attend(float* out, const float* q, const float* qg, int l, int Tq, int p0, float* scratch);

  std::size_t layer_kv_ = 0;  // elements per layer in one of k/v/kg: capacity * KV * D
  Precision kv_ = Precision::fp32;
  Buffer<float> k_, v_, kg_;           // fp32 cache [L][capacity][KV][D]
  Buffer<uint16_t> k16_, v16_, kg16_;  // bf16 cache, the same layout (only one pair is allocated)
  bool lean_ = true;
  // Lean-path scratch, allocated once: x, ln [C]; q, qg, att [H*D]; gate, up [F];
  // scores [H * (capacity + 1)]; cos/sin of the token's position(s) [3][2 * KV * pairs];
  // the new token's k, v, kg [KV*D] before they are stored.
  Buffer<float> scratch_;
  float *x_ = nullptr, *ln_ = nullptr, *q_ = nullptr, *qg_ = nullptr, *att_ = nullptr,
        *gate_ = nullptr, *up_ = nullptr, *scores_ = nullptr, *cs_ = nullptr, *kn_ = nullptr,
        *vn_ = nullptr, *kgn_ = nullptr;
  int length_ = 0;
};

struct SamplingOptions {
  int max_new_tokens = 64;
  float temperature = 0.f;  // 0 = greedy
  int top_k = 0;            // 0 = all
  float top_p = 1.f;
  uint64_t seed = 1;
  std::vector<int32_t> stop_tokens;  // generation ends after emitting one of these
};

// Generates up to max_new_tokens after the prompt (the prompt is appended to the session first).
// on_token (optional) is called for each new token as it is produced; returning false stops.
std::vector<int32_t> generate(Session& s, const std::vector<int32_t>& prompt,
                              const SamplingOptions& opts,
                              const std::function<bool(int32_t)>& on_token = {});

// Pick the next token from logits (greedy when temperature == 0).
int32_t sample_token(const float* logits, int vocab, const SamplingOptions& opts, uint64_t& state);

}  // namespace harpe::infer

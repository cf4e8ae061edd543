// The Llama-architecture model with an explicit forward and a hand-written backward, in the spirit
// of llm.c: ONE allocation for the parameters, one for the gradients, one for the activations;
// every tensor is a view (offset, shape) into its arena.
//
//   x0 = embed[tokens]
//   for each layer:  a = rmsnorm(x) ; q,k,v = a Wq^T, a Wk^T, a Wv^T ; rope(q), rope(k)
//                    x = x + attention(q, k, v) Wo^T
//                    m = rmsnorm(x) ; x = x + (silu(m Wg^T) * (m Wu^T)) Wd^T
//   loss = xent(rmsnorm(x) W_head^T, targets)
//
// Linear weights use the HF layout [out, in] (y = x W^T); tensor names are HF's, so the parameter
// arena written tensor by tensor is a loadable model.safetensors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/buffer.h"
#include "kernels/attention.h"
#include "model/config.h"
#include "rope/rope_table.h"

namespace harpe::model {

// One tensor of the parameter arena.
struct TensorInfo {
  std::string name;            // HF name, e.g. "model.layers.3.self_attn.q_proj.weight"
  std::size_t offset = 0;      // in floats, 16-float (64-byte) aligned
  std::vector<int64_t> shape;  // [out, in] for linear weights, [C] for norms
  std::size_t numel = 0;
  bool decay = false;   // AdamW weight decay applies (matrices); not to norms
  bool matmul = false;  // takes part in a matmul (counted in the FLOP convention)
};

struct ParamLayout {
  std::vector<TensorInfo> tensors;
  std::size_t total = 0;         // floats in the arena, padding included
  std::size_t count = 0;         // parameters, padding excluded
  std::size_t matmul_count = 0;  // parameters that are matmul weights (lm head counted once)
  const TensorInfo* find(const std::string& name) const;
};

ParamLayout param_layout(const ModelConfig& cfg);

// Pointers into one arena (parameters or gradients) with the layout above.
struct LayerWeights {
  float *ln1, *wq, *wk, *wv, *wo, *ln2, *wg, *wu, *wd;
};
struct Weights {
  float* embed = nullptr;  // [V, C]
  std::vector<LayerWeights> layers;
  float* norm = nullptr;     // [C]
  float* lm_head = nullptr;  // [V, C]; == embed when tied
};
Weights bind_weights(const ModelConfig& cfg, const ParamLayout& layout, float* base);

struct Model {
  ModelConfig config;
  ParamLayout layout;
  Buffer<float> params;
  Buffer<float> grads;  // allocated by enable_grads(); empty for inference
  Weights w;            // views into params
  Weights g;            // views into grads

  explicit Model(const ModelConfig& cfg);  // parameters zero; call init_params or load them
  void enable_grads();
  void zero_grads() { grads.zero(); }
  bool has_grads() const { return grads.size() != 0; }
};

// Normal(0, 0.02) for matrices, the output projections (o_proj, down_proj) scaled by
// 1/sqrt(2 * layers), norms 1. Deterministic from the seed (own generator, not libstdc++'s
// distributions, so the numbers do not depend on the standard library).
void init_params(Model& m, uint64_t seed);

// ---------------------------------------------------------------------------------------------
// Activations. One arena, sized by plan_activations() — the same function gives the preflight's
// memory estimate, so the estimate and the allocation cannot disagree.
enum class Mode {
  infer,            // forward only, one layer's activations at a time
  train,            // every layer's activations kept for the backward pass
  train_recompute,  // only each layer's input kept; the layer forward is recomputed in backward
};

struct ActivationPlan {
  Mode mode = Mode::train;
  int B = 0, T = 0;
  std::size_t layer_floats = 0;    // one layer's saved activations
  std::size_t layer_blocks = 0;    // L (train) or 1 (infer, recompute)
  std::size_t resid_floats = 0;    // residual stream inputs kept: (L + 1) or 2 times N*C
  std::size_t final_floats = 0;    // final norm output + rstd
  std::size_t scratch_floats = 0;  // backward scratch (0 for infer)
  std::size_t total_floats = 0;
  std::size_t int_count = 0;   // int32: default positions
  std::size_t xent_bytes = 0;  // working memory of the chunked LM head (estimate)
  std::size_t bytes() const { return total_floats * sizeof(float) + int_count * 4 + xent_bytes; }
};

ActivationPlan plan_activations(const ModelConfig& cfg, int B, int T, Mode mode);

// Bytes a training run needs: parameters, gradients, two AdamW moments and the activations.
struct MemoryEstimate {
  std::size_t params = 0, grads = 0, optimizer = 0, activations = 0;
  std::size_t total() const { return params + grads + optimizer + activations; }
};
MemoryEstimate estimate_training_memory(const ModelConfig& cfg, int B, int T, bool recompute);

// Views of one layer's saved activations (N = B*T rows).
struct LayerActs {
  float *ln1, *rstd1, *q, *k, *v, *att, *lse, *xmid, *ln2, *rstd2, *gate, *up, *h;
};

// Replaces every layer's causal attention kernel pair (same contract as kernels/attention.h).
// Context-parallel training installs one that runs ring attention over the ranks
// (train/context_parallel.h); null, the default, is the local kernel.
struct AttentionOverride {
  virtual ~AttentionOverride() = default;
  virtual void forward(float* out, float* lse, const float* q, const float* k, const float* v,
                       const kernels::AttentionShape& s) = 0;
  virtual void backward(float* dq, float* dk, float* dv, const float* dout, const float* q,
                        const float* k, const float* v, const float* out, const float* lse,
                        const kernels::AttentionShape& s) = 0;
};

struct Workspace {
  ActivationPlan plan;
  Buffer<float> arena;
  Buffer<int32_t> default_positions;       // [B, T]: 0..T-1 in every row
  rope::RopeTable rope;                    // built from the config for this T (or rope_seq_len)
  AttentionOverride* attention = nullptr;  // not owned; null: local causal attention
  // rope_seq_len (0: T) is the sequence length the RoPE table is built for (only `dynamic`
  // depends on it): a context-parallel rank holds T/C rows of a longer sequence.
  Workspace(const ModelConfig& cfg, int B, int T, Mode mode, int rope_seq_len = 0);

  std::size_t n() const { return static_cast<std::size_t>(plan.B) * plan.T; }
  float* resid(int l);  // residual stream input of layer l (l == L: input of the final norm)
  LayerActs layer(int l);
  float* final_ln() { return arena.data() + final_off_; }
  float* final_rstd() { return final_ln() + n() * hidden_; }
  float* scratch() { return arena.data() + scratch_off_; }

 private:
  int hidden_ = 0;
  int layers_ = 0;
  std::size_t layers_off_ = 0, final_off_ = 0, scratch_off_ = 0;
  std::vector<std::size_t> layer_offsets_;  // inside one layer block
};

// ---------------------------------------------------------------------------------------------
// Passes. tokens/targets are [B, T] row-major; positions (optional, [B, T]) default to 0..T-1 in
// every row. A target < 0 is not scored.

struct LossSum {
  double sum = 0;  // sum of token losses
  long count = 0;  // scored tokens
  double mean() const { return count ? sum / count : 0.0; }
};

// Forward and backward: gradients of (loss_scale * sum of token losses) are ADDED to m.grads
// (so gradient accumulation is repeated calls). Needs a workspace in a train mode.
LossSum forward_backward(Model& m, Workspace& ws, const int32_t* tokens, const int32_t* targets,
                         float loss_scale, const int32_t* positions = nullptr);

// Forward only (any mode). per_token (optional, [B*T]) receives each token's loss.
LossSum forward_loss(const Model& m, Workspace& ws, const int32_t* tokens, const int32_t* targets,
                     float* per_token = nullptr, const int32_t* positions = nullptr);

// Final-norm hidden states of the last position of each row: out [B, C]. For generation.
void forward_last_hidden(const Model& m, Workspace& ws, const int32_t* tokens, float* out,
                         const int32_t* positions = nullptr);

// Logits of the last position of each row: out [B, V].
void logits_last(const Model& m, Workspace& ws, const int32_t* tokens, float* out,
                 const int32_t* positions = nullptr);

// Model FLOPs per token (forward + backward), the convention of docs/engine.md:
// 6 * matmul parameters + 6 * L * T * (H * head_dim)  (causal attention counted at half).
double flops_per_token(const ModelConfig& cfg, int T);

}  // namespace harpe::model

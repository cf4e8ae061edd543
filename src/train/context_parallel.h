// Context parallel (CP) training: one sequence of length T split over the C ranks of a CP group.
// The sequence is cut into 2C chunks of c = T / (2C) tokens; rank r holds chunks r and 2C-1-r
// (one early, one late), so every rank does the same causal attention work. A rank's local
// sequence is those two chunks back to back (2c rows); embedding, norms, MLP and the LM head are
// per token and run locally; RoPE uses the chunks' global positions; attention runs ring-style
// (RingAttention below). See docs/distributed.md.
#pragma once

#include <cstdint>
#include <vector>

#include "core/buffer.h"
#include "model/model.h"
#include "train/dist.h"

namespace harpe::train {

// Global index of local chunk `half` (0 or 1) of CP rank r in a group of C.
inline int cp_chunk_index(int C, int r, int half) { return half == 0 ? r : 2 * C - 1 - r; }

// local[b, :] = the two chunks of full[b, :] that rank r holds (full: [B, T], local: [B, T / C]).
void cp_slice(int32_t* local, const int32_t* full, int B, int T, int C, int r);
// Global positions of rank r's local tokens, [B, T / C].
void cp_positions(int32_t* pos, int B, int T, int C, int r);

// Bytes of RingAttention's buffers for a local batch of B sequences of local_T = T / C tokens
// (two packed K/V pairs, three packed dK/dV pairs, a partial output, three [B, H, local_T]
// rows); the preflight adds them to the activations.
std::size_t cp_ring_bytes(const model::ModelConfig& cfg, int B, int local_T);

// The ring attention of one CP group, installed as the workspace's attention override. Forward:
// the local causal kernel on the two diagonal chunk pairs, the block kernel for chunk 2C-1-r
// against chunk r, then C-1 ring steps, each passing the packed K/V of the local chunks to the
// next rank (non-blocking, overlapped with the block compute of the current step) and merging
// the visible blocks by log-sum-exp. Backward: the same blocks with the saved final lse; K/V
// ring again (overlapped likewise) and each pair's dK/dV sum travels one hop behind it: a rank
// computes its contribution while the sum so far arrives, adds the two and sends the result on;
// the last hop brings every rank's dK/dV home. All ranks of the group must call every layer in
// the same order.
class RingAttention : public model::AttentionOverride {
 public:
  explicit RingAttention(const dist::Comm& group) : group_(group) {}
  void forward(float* out, float* lse, const float* q, const float* k, const float* v,
               const kernels::AttentionShape& s) override;
  void backward(float* dq, float* dk, float* dv, const float* dout, const float* q, const float* k,
                const float* v, const float* out, const float* lse,
                const kernels::AttentionShape& s) override;

 private:
  void reserve(const kernels::AttentionShape& s);
  dist::Comm group_;
  Buffer<float> kv_[2];      // packed [k | v] of a chunk pair: the one in use, the one arriving
  Buffer<float> dkv_[3];     // packed [dk | dv]: this step's sum (two, alternating) and the arrival
  Buffer<float> part_out_;   // [B, 2c, H, D] a block's partial output
  Buffer<float> part_lse_;   // [B, H, 2c]
  Buffer<float> lse_pairs_;  // [2B, H, c]: lse in the causal kernel's layout
  Buffer<float> delta_;      // [B, H, 2c]
};

}  // namespace harpe::train

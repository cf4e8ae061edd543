// The training loop: gradient accumulation over micro-batches, global-norm clipping, AdamW with a
// warmup + cosine/constant schedule, a NaN/Inf guard, progress lines, a JSONL metrics log and
// atomic checkpoints that resume bit-identically.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/precision.h"
#include "core/system.h"
#include "model/model.h"
#include "train/checkpoint.h"
#include "train/context_parallel.h"
#include "train/data.h"
#include "train/dist.h"
#include "train/optimizer.h"

namespace harpe::train {

struct TrainOptions {
  model::ModelConfig config;
  int context = 256;
  int batch = 8;
  int grad_accum = 1;
  long steps = 100;
  LrSchedule schedule;  // total is set to `steps`
  AdamWConfig adamw;
  double clip = 1.0;  // <= 0: no clipping
  bool recompute = false;
  uint64_t seed = 1337;
  // Loss on the shard's answer tokens only (its loss mask, data/shard.h); the loss and its
  // gradient are the mean over the scored tokens.
  bool answers_only = false;
  // Seed of the shard's document order (0: the order every run had before this option).
  uint64_t data_seed = 0;
  // Split every micro-batch over dist::world()'s ranks (batch / ranks sequences each) and sum the
  // gradients over ranks. Off: this process trains alone whatever the world is.
  bool data_parallel = false;
  // Context parallel: every sequence split over groups of this many consecutive ranks (ring
  // attention, train/context_parallel.h); the world is DP x CP. 1: off. Needs data_parallel and
  // a world size divisible by it, and context divisible by 2 * context_parallel.
  int context_parallel = 1;
  // The arithmetic of the step's GEMMs (kernels::gemm_precision() during step()): bf16 rounds
  // GEMM inputs to bf16 and accumulates in fp32; master weights, gradients, AdamW state,
  // softmax, norms and the loss stay fp32 either way. The library default is fp32; the CLI's
  // --precision defaults to bf16 where the CPU multiplies bf16 natively.
  Precision precision = Precision::fp32;
};

struct StepResult {
  long step = 0;    // steps done after this one
  double loss = 0;  // mean over the step's tokens
  double lr = 0;
  double grad_norm = 0;  // before clipping
  double seconds = 0;
  bool finite = true;  // false: loss or gradient not finite; parameters were NOT updated
};

class Trainer {
 public:
  // A fresh run: parameters from init_params(seed), data from position 0.
  Trainer(const TrainOptions& opts, TokenWindows data);
  // Continues the checkpoint in `dir` (its config.json defines the model; opts.config is ignored).
  // Batch, context and grad_accum must match the checkpoint's for the data order to continue.
  Trainer(const TrainOptions& opts, TokenWindows data, const std::string& dir);

  StepResult step();
  void save(const std::string& dir, const std::string& tokenizer = "") const;

  long steps_done() const { return state_.step; }
  const TrainerState& state() const { return state_; }
  const model::Model& model() const { return *model_; }
  const TrainOptions& options() const { return opts_; }
  uint64_t tokens_per_step() const {
    return static_cast<uint64_t>(opts_.batch) * opts_.context * opts_.grad_accum;
  }

 private:
  void setup();
  model::LossSum local_forward_backward(float scale);
  model::LossSum cp_forward_backward(float scale);
  TrainOptions opts_;
  dist::Comm comm_;     // all ranks that sum gradients (one rank unless opts_.data_parallel)
  dist::Comm cp_comm_;  // this rank's context-parallel group (one rank unless CP)
  int dp_rank_ = 0, dp_size_ = 1;  // data-parallel index / count (groups of CP ranks)
  int local_batch_ = 0;            // this rank's sequences per micro-batch
  int local_context_ = 0;          // this rank's tokens per sequence (context / CP)
  TokenWindows data_;
  std::unique_ptr<model::Model> model_;
  std::unique_ptr<model::Workspace> ws_;
  std::unique_ptr<AdamWState> opt_;
  TrainerState state_;
  std::vector<int32_t> tokens_, targets_;
  std::vector<int32_t> full_tokens_, full_targets_, positions_;  // CP only
  std::unique_ptr<RingAttention> ring_;                          // CP only; installed in ws_
};

}  // namespace harpe::train

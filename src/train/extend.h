// Context extension as a user runs it (docs/extend.md); `harpe pretrain` (the base at C0) is
// train/run.h's run_pretrain.
//   run_extend    continue a checkpoint at a longer context L with a new RoPE table
//                 (`harpe extend`): pi, abf, ntk, yarn, harpe (per-head bases), and multi-stage
//                 abf where each stage continues from the previous one's weights AND optimizer.
// Training goes through the one driver (train/run.h): SIGINT/SIGTERM/SIGHUP save the checkpoint
// after the current step and return RunEnd::interrupted; --resume continues.
//
// How a new RoPE spec starts from old weights without touching the trainer: the extension writes
// a "seed" checkpoint in OUT/checkpoint (the source's weights, the stage's config.json, zero or
// carried AdamW moments, a trainer state at the stage's batch/context) and the Trainer resumes it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "rope/bases.h"
#include "rope/methods.h"
#include "rope/rope_table.h"
#include "rope/scaling.h"
#include "train/run.h"
#include "train/trainer.h"

namespace harpe::train {

// ---------------------------------------------------------------------------------------------
// harpe extend.

// One stage of a multi-stage schedule: "base=B:len=L:tokens=N" (or steps=S instead of tokens).
struct StageSpec {
  double base = 0;
  int length = 0;
  uint64_t tokens = 0;  // 0: use steps
  long steps = 0;       // 0: use tokens
};
// "base=1e6:len=512:tokens=4096,base=2e6:len=1024:tokens=4096"; keys may come in any order.
std::vector<StageSpec> parse_stages(const std::string& text);
// The same syntax, one stage per line (or comma separated); '#' starts a comment.
std::vector<StageSpec> read_stages_file(const std::string& path);
// "1e5,2e5,..." (each > 1): an explicit HARPE base list; errors name --bases.
std::vector<double> parse_base_list(const std::string& text);

struct ExtendOptions {
  std::string from;  // source: a checkpoint dir, a model dir, or a run dir holding checkpoint/
  std::string data_path;
  std::string out_dir;
  rope::Method method = rope::Method::abf;
  int context = 0;           // L
  int original_context = 0;  // C0; 0 = from the source (trainer state context, else config)
  // Method parameters; 0 / empty means the scaled default (rope/scaling.h).
  double factor = 0;                     // pi, ntk, yarn
  double abf_base = 0;                   // abf
  double beta_fast = 32, beta_slow = 1;  // yarn
  // harpe: an explicit list (one base per KV head) when non-empty, else the strategy over
  // [bases_min, bases_max] (0: the scaled defaults).
  rope::BaseStrategy base_strategy = rope::BaseStrategy::peak_valley;
  std::vector<double> bases;
  double bases_min = 0, bases_max = 0, bases_stride = 0;
  // abf: multi-stage. scaled_stages: the scaled 3-stage schedule, the budget split evenly;
  // else an explicit list (each stage with its own budget). Both empty/false: one stage.
  bool scaled_stages = false;
  std::vector<StageSpec> stages;
  // For inference, recorded in run_config.json; unset: the scaled setting.
  std::optional<rope::PositionMap> self_extend;
  // Training.
  int batch = 1, grad_accum = 1;
  uint64_t tokens = 0;  // budget (single stage, or split evenly over "scaled" stages)
  long steps = 0;       // alternative to tokens
  double lr = 5e-5;
  long warmup = -1;  // -1: 5% of the total steps (at least 1)
  std::string schedule = "constant";
  double min_lr_ratio = 0.1;
  double beta1 = 0.9, beta2 = 0.95, weight_decay = 0.1, clip = 1.0;
  bool recompute = false;
  Precision precision = Precision::fp32;  // of the GEMMs (TrainOptions::precision)
  bool answers_only = false;              // loss on the shard's answer tokens only (TrainOptions)
  uint64_t data_seed = 0;                 // the shard's document order (TrainOptions)
  bool resume = false;
  std::string override_keys;  // --resume: run_config keys that may change ("train.lr")
  std::string tokenizer;      // "" = the source's tokenizer.model if it has one
  LoopHooks hooks;
};

// One resolved stage: the RoPE table it trains with, its context and its step budget.
struct ExtendStage {
  rope::RopeSpec rope;
  std::string harpe_extra;  // rope_scaling extra keys (JSON object text) for harpe
  int context = 0;
  long steps = 0;
  long end_step = 0;  // cumulative optimizer steps at the end of this stage
};

struct ExtendPlan {
  std::string source_dir;  // the resolved checkpoint / model directory
  model::ModelConfig source_config;
  int original_context = 0, context = 0;
  rope::ScaledSettings scaled;  // the scaled-settings defaults for (C0, L, head dim)
  std::vector<ExtendStage> stages;
  long warmup = 0;
  std::string tokenizer;   // resolved ("" = none)
  std::string run_config;  // JSON text written to OUT/run_config.json
};

// Resolves the source, C0, the method's parameters (computing HARPE bases) and the budget;
// validates everything. No training, no writes.
ExtendPlan plan_extend(const ExtendOptions& opts);
// The model config of stage i: the source's with the stage's RoPE spec and context.
model::ModelConfig stage_config(const ExtendPlan& plan, int i);
RunEnd run_extend(const ExtendOptions& opts);

// A checkpoint/model directory from FROM (FROM itself, FROM/checkpoint, or their .old).
std::string resolve_model_source(const std::string& from);

// Text lines showing the scaled-settings rule for (C0, L, d) next to the paper's values.
std::string describe_scaled_settings(const rope::ScaledSettings& s);

}  // namespace harpe::train

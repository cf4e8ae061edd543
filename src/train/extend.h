// Context extension as a user runs it (docs/extend.md):
//   run_pretrain  train a base model from scratch at a short context C0 (`harpe pretrain`)
//   run_extend    continue a checkpoint at a longer context L with a new RoPE table
//                 (`harpe extend`): pi, abf, ntk, yarn, harpe (per-head bases), and multi-stage
//                 abf where each stage continues from the previous one's weights AND optimizer.
// Both stop cleanly on SIGINT/SIGTERM: the handler only sets a flag; the loop finishes the
// current step, saves the checkpoint and returns RunEnd::interrupted, and --resume continues.
//
// How a new RoPE spec starts from old weights without touching the trainer: the extension writes
// a "seed" checkpoint in OUT/checkpoint (the source's weights, the stage's config.json, zero or
// carried AdamW moments, a trainer state at the stage's batch/context) and the Trainer resumes it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "rope/rope_table.h"
#include "rope/scaling.h"
#include "train/trainer.h"

namespace harpe::train {

enum class RunEnd { finished, interrupted };

// SIGINT/SIGTERM handling. StopGuard installs the handlers (flag cleared) and restores the
// previous ones on destruction.
struct StopGuard {
  StopGuard();
  ~StopGuard();
  StopGuard(const StopGuard&) = delete;
  StopGuard& operator=(const StopGuard&) = delete;
};
bool stop_requested();

// What both commands share besides the model and the data.
struct LoopHooks {
  long save_every = 0;  // 0: only at the end (and on interruption)
  // > 0: also keep the model every this many steps as OUT/step-N (config.json and
  // model.safetensors: a model directory to evaluate, e.g. for a learning curve).
  long keep_every = 0;
  int log_every = 1;
  std::string tokenizer;  // copied into every saved checkpoint (for `harpe generate`)
  // Called after each step (tests: raise SIGINT here to exercise the handler).
  std::function<void(long step)> on_step;
  bool quiet = false;  // no progress lines
  // Data parallel over MPI (train/dist.h): under mpirun every rank takes batch/R sequences of each
  // micro-batch and gradients are summed; rank 0 alone prints and writes. `distributed` makes a
  // build or launch without MPI an error instead of a single-rank run.
  bool distributed = false;
};

// ---------------------------------------------------------------------------------------------
// harpe pretrain: a fresh model at context C0 (config.max_position_embeddings is set to C0), or
// --resume of OUT/checkpoint. Writes OUT/checkpoint, OUT/metrics.jsonl, OUT/run_config.json.
struct PretrainOptions {
  TrainOptions train;
  std::string data_path, out_dir;
  bool resume = false;
  LoopHooks hooks;
};
RunEnd run_pretrain(const PretrainOptions& opts);

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

struct ExtendOptions {
  std::string from;      // source: a checkpoint dir, a model dir, or a run dir holding checkpoint/
  std::string data_path;
  std::string out_dir;
  std::string method;    // pi | abf | ntk | yarn | harpe
  int context = 0;       // L
  int original_context = 0;  // C0; 0 = from the source (trainer state context, else config)
  // Method parameters; 0 / empty means the scaled default (rope/scaling.h).
  double factor = 0;         // pi, ntk, yarn
  double abf_base = 0;       // abf
  double beta_fast = 32, beta_slow = 1;  // yarn
  std::string bases = "peak-valley";  // harpe: uniform | uniform-desc | peak-valley | "b1,b2,..."
  double bases_min = 0, bases_max = 0, bases_stride = 0;
  std::string stages;        // abf: stage list, or "scaled" (the scaled 3-stage schedule)
  std::string stages_file;   // abf: stage list from a file
  std::string self_extend;   // "W,G" for inference, recorded in run_config.json; "" = scaled
  // Training.
  int batch = 1, grad_accum = 1;
  uint64_t tokens = 0;  // budget (single stage, or split evenly over "scaled" stages)
  long steps = 0;       // alternative to tokens
  double lr = 5e-5;
  long warmup = -1;     // -1: 5% of the total steps (at least 1)
  std::string schedule = "constant";
  double min_lr_ratio = 0.1;
  double beta1 = 0.9, beta2 = 0.95, weight_decay = 0.1, clip = 1.0;
  bool recompute = false;
  bool answers_only = false;  // loss on the shard's answer tokens only (TrainOptions)
  uint64_t data_seed = 0;     // the shard's document order (TrainOptions)
  bool resume = false;
  std::string tokenizer;  // "" = the source's tokenizer.model if it has one
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
  std::string source_dir;   // the resolved checkpoint / model directory
  model::ModelConfig source_config;
  int original_context = 0, context = 0;
  rope::ScaledSettings scaled;  // the scaled-settings defaults for (C0, L, head dim)
  std::vector<ExtendStage> stages;
  long warmup = 0;
  std::string tokenizer;    // resolved ("" = none)
  std::string run_config;   // JSON text written to OUT/run_config.json
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

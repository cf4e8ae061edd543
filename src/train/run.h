// The one training driver. `harpe train`, `harpe pretrain` and every stage of `harpe extend` run
// through it, so they share one behaviour: data/context parallel setup over MPI, the memory
// preflight, a lock on the run directory, the stop guard (Ctrl-C / SIGTERM / SIGHUP save and
// return RunEnd::interrupted; the CLI exits 130), the NaN guard, progress lines, metrics.jsonl,
// checkpoints (tokenizer inside, complete before they become visible), --keep-every copies and
// --resume.
//
//   prepare_parallel  once per run: MPI, the DP/CP checks, which rank prints
//   preflight         the memory estimate (the sizing function that allocates) vs available RAM
//   drive             the loop over a Trainer until a given step
//   run_pretrain      a fresh (or resumed) run: `harpe train` and `harpe pretrain`
#pragma once

#include <functional>
#include <string>

#include "model/weights_io.h"
#include "train/trainer.h"

namespace harpe::train {

enum class RunEnd { finished, interrupted };

// What every training command shares besides the model and the data.
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
  // The format of the model directories a run exports (OUT/step-N, extend's OUT/stageK, OUT/model);
  // checkpoints stay F32 in one file whatever it says. export_model: also write the final model as
  // OUT/model at the end of a finished run (the CLI sets it when --dtype or --max-shard-size is
  // given).
  model::WeightsFormat weights;
  bool export_model = false;
};

// Starts MPI when launched by mpirun (or fails when `distributed` or context parallel cannot be
// honoured), checks batch and context against the data- and context-parallel layout, sets
// t.data_parallel, and returns hooks that are quiet on every rank but 0.
LoopHooks prepare_parallel(TrainOptions& t, const LoopHooks& hooks);

// The start-of-run line "precision: bf16 (avx512f avx512_bf16)": the GEMM precision and the
// CPU's bf16 features it was chosen from.
void print_precision(Precision p);

// Refuses (one-line error) a run whose memory estimate exceeds the available RAM; prints it.
void preflight(const TrainOptions& t, bool quiet);

// Where a run writes and how far the loop goes.
struct RunTarget {
  std::string out_dir;   // OUT: checkpoint/, metrics.jsonl, step-N/
  long end_step = 0;     // the loop runs until the trainer has done this many steps
  long total_steps = 0;  // of the whole run (progress line and ETA)
  int stage = -1;        // recorded in progress lines and metrics when >= 0
};
std::string checkpoint_dir(const RunTarget& t);
std::string metrics_path(const RunTarget& t);

// The loop. `last_saved` is the step of the checkpoint already in OUT/checkpoint (-1: none).
// Returns interrupted after saving when a stop was requested; throws Error (naming the last good
// checkpoint) on a non-finite loss or gradient, and on a failed write.
RunEnd drive(Trainer& t, const RunTarget& target, const LoopHooks& hooks, long last_saved);

// A model directory (config.json, the weights in `format`, tokenizer.model when `tokenizer` is
// given), written to a temp directory and renamed over `dir`: complete whenever it exists.
void write_model_dir(const model::Model& m, const std::string& dir, const std::string& tokenizer,
                     const model::WeightsFormat& format);
// The model directory OUT/model a finished run exports when hooks.export_model is set (rank 0).
std::string export_dir(const RunTarget& t);
void export_model(const Trainer& t, const RunTarget& target, const LoopHooks& hooks, bool quiet);

// Saves t's checkpoint into dir with the tokenizer inside (rank 0; the others wait).
void save_run_checkpoint(const Trainer& t, const std::string& dir, const std::string& tokenizer);

// ---------------------------------------------------------------------------------------------
// `harpe pretrain` (record_c0: config.max_position_embeddings = context, the C0 `harpe extend`
// reads) and `harpe train` (the model as configured). A fresh run at step 0, or --resume of
// OUT/checkpoint, which refuses changed hyper-parameters (run_config.json) unless `override` names
// them. Writes OUT/checkpoint, OUT/metrics.jsonl, OUT/run_config.json.
struct PretrainOptions {
  TrainOptions train;
  std::string data_path, out_dir;
  bool resume = false;
  std::string command = "pretrain";  // recorded in run_config.json
  bool record_c0 = true;
  // --resume: the run_config keys that may differ from the first run's ("train.lr,data").
  std::string override_keys;
  LoopHooks hooks;
};
RunEnd run_pretrain(const PretrainOptions& opts);

// The training options as run_config.json records them.
std::string train_options_json(const TrainOptions& o);

// Keeps the metrics lines of steps <= `step` (a resumed run rewrites what came after); atomic.
void truncate_metrics(const std::string& path, long step);

// Compares a resumed run's configuration with the recorded one: every top-level key (and, for
// objects, every key inside) must match unless listed in `override_keys` ("a,b.c"); the step
// budget (train.steps) may always grow. Throws Error naming the first difference.
void check_same_run_config(const std::string& saved_json, const std::string& now_json,
                           const std::string& path, const std::string& override_keys);

}  // namespace harpe::train

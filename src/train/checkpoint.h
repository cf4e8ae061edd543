// Training checkpoints: one directory holding
//   config.json            the model (HF keys; io's writer)
//   model.safetensors      parameters, F32, HF names — loadable on its own (model/weights_io.h)
//   optimizer.safetensors  AdamW moments: "<name>.exp_avg", "<name>.exp_avg_sq"
//   trainer_state.json     step, data position, seed, LR schedule, optimizer and run settings
// Written to DIR.tmp (every file fsync'ed), then DIR is renamed to DIR.old, DIR.tmp to DIR, and
// DIR.old removed: at every instant one complete checkpoint exists under DIR or DIR.old, and
// loading falls back to DIR.old when DIR is missing (a crash between the two renames).
#pragma once

#include <cstdint>
#include <string>

#include "model/model.h"
#include "train/optimizer.h"

namespace harpe::train {

struct TrainerState {
  long step = 0;               // optimizer steps done
  uint64_t data_position = 0;  // next window's first token
  uint64_t data_epoch = 0;     // passes over the data completed
  uint64_t seed = 0;           // the initialisation seed (training itself draws no randomness)
  uint64_t tokens_seen = 0;
  double last_loss = 0;
  LrSchedule schedule;
  AdamWConfig adamw;
  double clip = 1.0;
  int batch = 0, context = 0, grad_accum = 1;
  std::string data;  // the data source's name (shard path), for the record
};

// tokenizer (optional): a tokenizer.model copied into the checkpoint before it becomes visible.
void save_checkpoint(const std::string& dir, const model::Model& m, const AdamWState& opt,
                     const TrainerState& state, const std::string& tokenizer = "");

// The directory to load from: dir, or dir.old after an interrupted save; throws if neither holds
// a checkpoint.
std::string resolve_checkpoint(const std::string& dir);
TrainerState read_trainer_state(const std::string& dir);
// Loads parameters and moments into a model built from dir's config.json.
void load_checkpoint(const std::string& dir, model::Model& m, AdamWState& opt, TrainerState& state);

}  // namespace harpe::train

// AdamW over the parameter arena, global-norm clipping and the learning-rate schedule.
#pragma once

#include <string>
#include <string_view>

#include "core/buffer.h"
#include "model/model.h"

namespace harpe::train {

enum class Schedule { cosine, constant };
Schedule parse_schedule(std::string_view name);  // "cosine" | "constant"; throws otherwise
std::string_view schedule_name(Schedule s);

// Linear warmup from peak/warmup to peak over `warmup` steps, then cosine decay to
// peak * min_ratio at step `total` (or constant at peak).
struct LrSchedule {
  Schedule kind = Schedule::cosine;
  double peak = 3e-4;
  long warmup = 0;
  long total = 1;
  double min_ratio = 0.1;
  double at(long step) const;  // step counts from 0
};

struct AdamWConfig {
  double beta1 = 0.9, beta2 = 0.95, eps = 1e-8;
  double weight_decay = 0.1;  // applied to matrices only (TensorInfo::decay), not to norms
};

// First and second moments, one arena each with the parameters' layout.
struct AdamWState {
  Buffer<float> m, v;
  long step = 0;  // updates done
  explicit AdamWState(std::size_t n) : m(n), v(n) {}
};

// sqrt(sum of squared gradients) over the whole arena (padding is zero).
double grad_norm(const model::Model& m);
// Scales gradients so their global norm is at most max_norm (no-op if max_norm <= 0). Returns the
// norm before clipping.
double clip_grad_norm(model::Model& m, double max_norm);
// One AdamW update with learning rate lr (increments state.step first).
void adamw_update(model::Model& m, AdamWState& state, const AdamWConfig& cfg, double lr);

}  // namespace harpe::train

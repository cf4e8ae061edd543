#include "train/optimizer.h"

#include <cmath>

#include "core/error.h"
#include "kernels/ops.h"

namespace harpe::train {

Schedule parse_schedule(std::string_view name) {
  if (name == "cosine") return Schedule::cosine;
  if (name == "constant") return Schedule::constant;
  fail("unknown LR schedule \"", name, "\" (known: cosine, constant)");
}

std::string_view schedule_name(Schedule s) { return s == Schedule::cosine ? "cosine" : "constant"; }

double LrSchedule::at(long step) const {
  if (step < warmup) return peak * static_cast<double>(step + 1) / static_cast<double>(warmup);
  if (kind == Schedule::constant) return peak;
  const long span = std::max(1L, total - warmup);
  const double progress =
      std::min(1.0, static_cast<double>(step - warmup) / static_cast<double>(span));
  const double floor = peak * min_ratio;
  return floor + (peak - floor) * 0.5 * (1.0 + std::cos(M_PI * progress));
}

double grad_norm(const model::Model& m) {
  return std::sqrt(kernels::sum_squares(m.grads.data(), m.grads.size()));
}

double clip_grad_norm(model::Model& m, double max_norm) {
  const double norm = grad_norm(m);
  if (max_norm > 0 && std::isfinite(norm) && norm > max_norm)
    kernels::scale_inplace(m.grads.data(), static_cast<float>(max_norm / norm), m.grads.size());
  return norm;
}

void adamw_update(model::Model& m, AdamWState& s, const AdamWConfig& cfg, double lr) {
  ++s.step;
  for (const model::TensorInfo& t : m.layout.tensors)
    kernels::adamw_step(m.params.data() + t.offset, m.grads.data() + t.offset,
                        s.m.data() + t.offset, s.v.data() + t.offset, t.numel,
                        static_cast<float>(lr), static_cast<float>(cfg.beta1),
                        static_cast<float>(cfg.beta2), static_cast<float>(cfg.eps),
                        t.decay ? static_cast<float>(cfg.weight_decay) : 0.0f, s.step);
}

}  // namespace harpe::train

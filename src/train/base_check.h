// `harpe extend`'s check of the new RoPE table against Men et al.'s base bound (rope/base_bound.h):
// per KV head, the effective base of the slowest frequency and how far B(m) = sum_i cos(m theta_i)
// stays non-negative, next to the smallest base that supports L.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/config.h"

namespace harpe::train {

struct BaseBoundCheck {
  int head_dim = 0;                // rotated dims per head
  int64_t context = 0;             // L
  double bound = 0;                // the smallest base supporting L (grid precision 1e-3)
  std::vector<double> effective;   // per KV head: theta_min^(-d/(d-2))
  std::vector<int64_t> supported;  // per KV head: first m < L with B(m) < 0, or -1 (all of L)
  int heads_below = 0;             // KV heads whose B(m) turns negative before L
  std::string text;                // one line; a second "warning: ..." line when heads_below > 0
};

BaseBoundCheck check_base_bound(const model::ModelConfig& cfg, int context);

}  // namespace harpe::train

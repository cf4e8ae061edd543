#include "train/base_check.h"

#include <algorithm>
#include <cstdio>
#include <sstream>

#include "rope/base_bound.h"
#include "rope/rope_table.h"

namespace harpe::train {

BaseBoundCheck check_base_bound(const model::ModelConfig& cfg, int context) {
  const rope::RopeTable table = rope::build_table(cfg.rope, cfg.table_shape(), context);
  BaseBoundCheck c;
  c.head_dim = table.rot_dims;
  c.context = context;
  c.bound = rope::base_lower_bound(table.rot_dims, context);
  for (int g = 0; g < table.n_kv_heads; ++g) {
    const float* row = table.kv_head(g);
    std::vector<double> theta(row, row + table.pairs());
    c.effective.push_back(rope::effective_base(theta.back(), table.rot_dims));
    c.supported.push_back(rope::first_negative_decay(theta, context));
    if (c.supported.back() >= 0) ++c.heads_below;
  }
  const auto [lo, hi] = std::minmax_element(c.effective.begin(), c.effective.end());
  std::ostringstream o;
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "RoPE base bound (Men et al. 2024) for L %d at head dim %d: %.3g; %s: effective "
                "base of the slowest frequency ",
                context, c.head_dim, c.bound,
                std::string(rope::scheme_name(cfg.rope.scheme)).c_str());
  o << buf;
  if (*lo == *hi)
    std::snprintf(buf, sizeof buf, "%.3g", *lo);
  else
    std::snprintf(buf, sizeof buf, "%.3g..%.3g over the heads", *lo, *hi);
  o << buf;
  if (c.heads_below == 0) {
    o << " (sum_i cos(m theta_i) >= 0 for every m < L)\n";
  } else {
    int64_t worst = context;
    for (int64_t s : c.supported)
      if (s >= 0) worst = std::min(worst, s);
    std::snprintf(buf, sizeof buf,
                  "\nwarning: %d of %zu KV heads are below the bound: their sum_i cos(m theta_i) "
                  "turns negative from m = %lld < L, so they cannot tell a similar token from a "
                  "random one that far back (low perplexity, failed retrieval)\n",
                  c.heads_below, c.effective.size(), static_cast<long long>(worst));
    o << buf;
  }
  c.text = o.str();
  return c;
}

}  // namespace harpe::train

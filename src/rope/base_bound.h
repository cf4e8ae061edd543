// The RoPE-base lower bound of Men et al. 2024 ("Base of RoPE Bounds Context Length",
// arXiv 2405.14591): attention can still tell a similar token from a random one at relative
// distance m only while B(m) = sum_{i < d/2} cos(m * b^(-2i/d)) >= 0, so a model meant to use a
// context of L tokens needs the smallest base b with B(m) >= 0 for every m < L. A base below it
// still gives low perplexity but fails retrieval ("superficial" long context).
#pragma once

#include <cstdint>
#include <vector>

namespace harpe::rope {

// B(m) for base b and head dimension d (even), summed directly with std::cos (the reference).
double decay_sum(double base, int head_dim, int64_t m);

// The first m in [0, L) with B(m) < 0, or -1 when there is none (the base supports L).
// Incremental rotations, re-anchored with std::cos every 256 positions (error < 1e-12).
int64_t first_negative_decay(double base, int head_dim, int64_t context);

// The smallest base supporting `context` tokens at head dimension d: the first base of the grid
// b_k = 2 (1 + rel_precision)^k (k = 0, 1, ...) with B(m) >= 0 for every m < L. The grid is
// scanned upward, not bisected: which bases pass is not monotone in b (docs/rope.md).
double base_lower_bound(int head_dim, int64_t context, double rel_precision = 1e-3);

// A table over context lengths (one bound each).
struct BaseBoundRow {
  int64_t context = 0;
  double base = 0;
};
std::vector<BaseBoundRow> base_lower_bounds(int head_dim, const std::vector<int64_t>& contexts,
                                            double rel_precision = 1e-3);

// The same for any set of inverse frequencies (a RoPE table's row: PI, YaRN, ... are not one
// base): the first m < L with sum_i cos(m theta_i) < 0, or -1.
int64_t first_negative_decay(const std::vector<double>& theta, int64_t context);

// The base b whose slowest frequency b^(-(d-2)/d) equals theta (the "effective base" of a table
// row's last inverse frequency): b = theta^(-d/(d-2)).
double effective_base(double slowest_inv_freq, int head_dim);

}  // namespace harpe::rope

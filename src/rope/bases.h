// Per-head RoPE base selection for HARPE (Lian et al. 2025):
//   uniform      (paper Eq. 9)  b_h = b_min + h (b_max - b_min) / (N - 1), ascending over heads
//   uniform-desc                the same bases, descending over heads
//   peak-valley  (Algorithm 1)  greedy search over a grid of candidate bases whose attention
//                               waveforms (waveform.h) put peaks where the chosen ones have
//                               troughs and vice versa, so the heads' sum is flatter.
// The result feeds RopeSpec::bases (rope_table.h). docs/bases.md states the exact procedure.
#pragma once

#include <string_view>
#include <vector>

namespace harpe::rope {

enum class BaseStrategy { uniform, uniform_desc, peak_valley };

std::string_view base_strategy_name(BaseStrategy s);  // "uniform", "uniform-desc", "peak-valley"
BaseStrategy parse_base_strategy(std::string_view name);  // throws harpe::Error on unknown names

// Eq. 9. n_heads == 1 gives {b_min}. Throws on n_heads <= 0 or !(0 < b_min < b_max).
std::vector<double> uniform_bases(int n_heads, double b_min, double b_max, bool descending = false);

// Constants of the peak-valley search; defaults are the paper's (d = 128, 128k context). A later
// issue scales them for small models.
struct PeakValleyParams {
  int head_dim = 128;           // d
  int m_lo = 1000;              // first relative position of the waveform
  int m_hi = 131072;            // last relative position (inclusive): the target context
  int max_chain = 30;           // K: at most this many peaks / troughs per base
  double tolerance = 1e-3;      // an extremum within this of the running target joins the chain
  int peak_gap = 50;            // a recorded peak is more than this after the previous one
  int trough_gap = 60;          // a recorded trough is more than this before the previous one
  int skip = 50;                // after a match the next target is searched from +-skip on
  int window = 500;             // peaks: next target = max over [idx, idx + window)
  int cover_radius = 3;         // r: a peak and a trough "cover" each other when |a - b| <= r
  bool naive_waveform = false;  // std::cos at every point (slow reference for checks)
};

// Sanity limits: a waveform of more positions than this (8 bytes each, one per thread), or more
// candidate bases than this, is a typo rather than a request.
inline constexpr long kMaxWaveformPositions = 1L << 26;
inline constexpr double kMaxCandidates = 1e7;

// Throws harpe::Error (one line, naming the field) when the params are unusable.
void validate(const PeakValleyParams& p);

// The peak and trough chains of one waveform, as absolute relative positions m (ascending).
struct Chains {
  std::vector<int> peaks;
  std::vector<int> troughs;
};

// f[i] is the waveform at m = m_lo + i (positions below are indices i internally, reported as m).
Chains extrema_chains(const std::vector<double>& f, int m_lo, const PeakValleyParams& p);

// Waveform of `base` over [p.m_lo, p.m_hi] (fast or naive per p.naive_waveform), then its chains.
Chains base_chains(double base, const PeakValleyParams& p);

// Pairs (a, b) in A x B (multisets, sorted ascending) with |a - b| <= radius, and the sum of
// (a - b)^2 over them.
struct Cover {
  long pairs = 0;
  long sum_sq = 0;
};
Cover cover(const std::vector<int>& a_sorted, const std::vector<int>& b_sorted, int radius);

struct BaseSelection {
  std::vector<double> bases;            // per head, in head order
  std::vector<double> selection_order;  // the order the search picked them (== bases for uniform)
};

// Algorithm 1 over candidates b_min + i * stride, i = 0..floor((b_max - b_min) / stride).
// Throws when there are fewer candidates than heads or any argument is invalid.
BaseSelection peak_valley_bases(int n_heads, double b_min, double b_max, double stride,
                                const PeakValleyParams& p = {});

// Dispatch on the strategy (stride and p matter only for peak_valley).
BaseSelection select_bases(BaseStrategy strategy, int n_heads, double b_min, double b_max,
                           double stride, const PeakValleyParams& p = {});

}  // namespace harpe::rope

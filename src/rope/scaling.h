// The scaled-settings rule: maps the paper's context-extension settings (Llama 2 7B, head dim 128,
// 4k -> 128k) to a model with head dim d extended from C0 to L.
//
//   bases   (ABF, multi-stage ABF, HARPE b_min/b_max): keep each base's longest wavelength
//           lambda(b) = 2 pi b^((d-2)/d) in the same ratio to the target length as in the paper:
//           lambda_d(b') / L = lambda_128(b) / 131072, i.e. b' = (rho L / 2 pi)^(d/(d-2)) with
//           rho = lambda_128(b) / 131072. Rounded to 3 significant digits.
//   stride  HARPE's candidate stride keeps the number of candidates (b_max - b_min) / stride.
//   stages  stage lengths scale by L / 131072 (at least C0); bases by the rule above.
//   factor  PI / NTK / YaRN factor = L / C0 (the paper's 32 = 131072 / 4096).
//   peak-valley  m_lo scales by L / 131072 (at least 1), m_hi = L, head_dim = d; the fine-structure
//           constants (peak/trough gaps, skip, cover radius) keep the paper's values and the
//           window is capped at (L - m_lo) / 4 (scaling those down made the search degenerate).
//   Self-Extend  window scales by C0 / 4096 (the paper's 1024 = 4096 / 4); group = L / C0 (32),
//           at most the window (Self-Extend needs W >= G).
// With (C0, L, d) = (4096, 131072, 128) every value is the paper's. docs/extend.md has tables.
#pragma once

#include <vector>

#include "rope/bases.h"

namespace harpe::rope {

// The paper's settings (Lian et al. 2025, Llama2-7B, 4k -> 128k).
struct PaperSettings {
  static constexpr int head_dim = 128;
  static constexpr int original_context = 4096;
  static constexpr int context = 131072;
  static constexpr double abf_base = 5e6;
  static constexpr double stage_bases[3] = {1e6, 2e6, 5e6};
  static constexpr int stage_lengths[3] = {32768, 65536, 131072};
  static constexpr double harpe_min = 1e6;
  static constexpr double harpe_max = 5e6;
  static constexpr double harpe_stride = 30000;
  static constexpr int self_extend_window = 1024;
  static constexpr int self_extend_group = 32;
};

struct StageSetting {
  double base = 0;
  int length = 0;
};

struct ScaledSettings {
  int original_context = 0;  // C0
  int context = 0;           // L
  int head_dim = 0;          // d
  double factor = 0;         // L / C0: pi, ntk, yarn
  double abf_base = 0;
  std::vector<StageSetting> stages;  // multi-stage ABF
  double harpe_min = 0, harpe_max = 0, harpe_stride = 0;
  PeakValleyParams peak_valley;
  int self_extend_window = 0, self_extend_group = 0;
};

// 2 pi b^((d-2)/d): the longest period, in tokens, of a RoPE head of dim d with base b.
double longest_wavelength(double base, int head_dim);
// The base whose longest wavelength relative to L equals that of paper_base (d = 128) relative
// to 131072, rounded to 3 significant digits (round_sig = false: unrounded).
double scale_base(double paper_base, int context, int head_dim, bool round_sig = true);
// Rounds to `digits` significant digits.
double round_significant(double x, int digits);

// Throws harpe::Error unless 0 < C0 < L and d is even and >= 4.
ScaledSettings scaled_settings(int original_context, int context, int head_dim);

}  // namespace harpe::rope

#include "rope/scaling.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/error.h"

namespace harpe::rope {

namespace {

int scale_position(int paper_value, double s, int minimum) {
  return std::max(minimum, static_cast<int>(std::lround(paper_value * s)));
}

}  // namespace

double longest_wavelength(double base, int head_dim) {
  return 2.0 * std::numbers::pi * std::pow(base, (head_dim - 2.0) / head_dim);
}

double round_significant(double x, int digits) {
  if (x == 0 || !std::isfinite(x)) return x;
  const double e = std::floor(std::log10(std::fabs(x))) - (digits - 1);
  const double unit = std::pow(10.0, e);
  return std::round(x / unit) * unit;
}

double scale_base(double paper_base, int context, int head_dim, bool round_sig) {
  check(paper_base > 1 && std::isfinite(paper_base), "scale_base: base must be > 1, got ",
        paper_base);
  check(context > 0, "scale_base: context must be positive, got ", context);
  check(head_dim >= 4 && head_dim % 2 == 0, "scale_base: head dim must be even and >= 4, got ",
        head_dim);
  const double rho =
      longest_wavelength(paper_base, PaperSettings::head_dim) / PaperSettings::context;
  const double lambda = rho * context;
  const double b = std::pow(lambda / (2.0 * std::numbers::pi), head_dim / (head_dim - 2.0));
  return round_sig ? round_significant(b, 3) : b;
}

ScaledSettings scaled_settings(int original_context, int context, int head_dim) {
  check(original_context > 0, "--original-context (C0) must be positive, got ", original_context);
  check(context > original_context, "--context (", context,
        ") must be larger than the source's trained context C0 (", original_context, ")");
  check(head_dim >= 4 && head_dim % 2 == 0, "--head-dim must be even and >= 4, got ", head_dim);
  ScaledSettings s;
  s.original_context = original_context;
  s.context = context;
  s.head_dim = head_dim;
  s.factor = static_cast<double>(context) / original_context;
  s.abf_base = scale_base(PaperSettings::abf_base, context, head_dim);

  const double len_ratio = static_cast<double>(context) / PaperSettings::context;
  for (int i = 0; i < 3; ++i) {
    StageSetting st;
    st.base = scale_base(PaperSettings::stage_bases[i], context, head_dim);
    st.length =
        i == 2
            ? context
            : std::clamp(static_cast<int>(std::lround(PaperSettings::stage_lengths[i] * len_ratio)),
                         original_context, context);
    s.stages.push_back(st);
  }

  s.harpe_min = scale_base(PaperSettings::harpe_min, context, head_dim);
  s.harpe_max = scale_base(PaperSettings::harpe_max, context, head_dim);
  const double candidates =
      (PaperSettings::harpe_max - PaperSettings::harpe_min) / PaperSettings::harpe_stride;
  s.harpe_stride = round_significant((s.harpe_max - s.harpe_min) / candidates, 3);

  const PeakValleyParams paper;
  PeakValleyParams& p = s.peak_valley;
  p.head_dim = head_dim;
  p.m_hi = context;
  p.m_lo = scale_position(paper.m_lo, len_ratio, 1);
  // Gaps, skip, window and cover radius measure the waveform's fine structure, whose spacing is
  // set by the fastest pairs (periods of a few tokens) and does not shrink with L: scaling them
  // down to 1-8 tokens made the chains follow those wiggles and the search pick the lowest
  // consecutive candidates (measured at d = 32, L = 2048). They keep the paper's values; only
  // the window is capped to a quarter of the searched span.
  p.window = std::max(2, std::min(paper.window, (p.m_hi - p.m_lo) / 4));

  const double c0_ratio = static_cast<double>(original_context) / PaperSettings::original_context;
  s.self_extend_window = scale_position(PaperSettings::self_extend_window, c0_ratio, 1);
  s.self_extend_group =
      std::clamp(static_cast<int>(std::lround(s.factor)), 1, s.self_extend_window);
  return s;
}

}  // namespace harpe::rope

// RoPE tables for every scheme. Frequencies are computed in double and stored as float; the
// formulas follow the published methods (and HF transformers' modeling_rope_utils for the exact
// conventions of dynamic NTK, YaRN and Llama 3). See docs/rope.md.
#include "rope/rope_table.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numbers>
#include <sstream>

#include "core/error.h"

namespace harpe::rope {

namespace {

constexpr Scheme kSchemes[] = {Scheme::rope, Scheme::pi,     Scheme::ntk,  Scheme::dynamic,
                               Scheme::yarn, Scheme::llama3, Scheme::harpe};

bool finite(double v) { return std::isfinite(v); }

// The plain RoPE row: inv[i] = base^(-2i/r), i < r/2.
std::vector<double> rope_row(double base, int r) {
  std::vector<double> inv(static_cast<size_t>(r / 2));
  for (int i = 0; i < r / 2; ++i) inv[static_cast<size_t>(i)] = std::pow(base, -2.0 * i / r);
  return inv;
}

void check_base(double base, const char* what) {
  check(finite(base) && base > 1.0, "rope: ", what, " must be a finite number > 1, got ", base);
}

void check_factor(const RopeSpec& spec) {
  check(finite(spec.factor) && spec.factor >= 1.0, "rope: scheme '", scheme_name(spec.scheme),
        "' needs factor >= 1, got ", spec.factor);
}

void check_original_context(const RopeSpec& spec) {
  check(spec.original_context > 0, "rope: scheme '", scheme_name(spec.scheme),
        "' needs original_context > 0 (the pretraining context), got ", spec.original_context);
}

// NTK-style base changes raise the base to r/(r-2), which needs at least two pairs.
void check_ntk_dims(const RopeSpec& spec, int r) {
  check(r > 2, "rope: scheme '", scheme_name(spec.scheme), "' needs rot_dims > 2, got ", r);
}

// YaRN: the (fractional) pair dimension whose wavelength makes n_rot full turns over the
// original context: r * ln(orig / (n_rot * 2 pi)) / (2 ln b).
double yarn_correction_dim(double n_rot, int r, double base, int orig) {
  return r * std::log(orig / (n_rot * 2.0 * std::numbers::pi)) / (2.0 * std::log(base));
}

std::vector<double> yarn_row(const RopeSpec& spec, int r) {
  const double s = spec.factor;
  double low = std::floor(yarn_correction_dim(spec.beta_fast, r, spec.base, spec.original_context));
  double high = std::ceil(yarn_correction_dim(spec.beta_slow, r, spec.base, spec.original_context));
  low = std::max(low, 0.0);
  high = std::min(high, static_cast<double>(r - 1));
  if (low == high) high += 0.001;  // no zero-width ramp
  std::vector<double> inv = rope_row(spec.base, r);
  for (int i = 0; i < r / 2; ++i) {
    const double ramp = std::clamp((i - low) / (high - low), 0.0, 1.0);
    const double w_extrap = 1.0 - ramp;  // 1: keep the RoPE frequency, 0: interpolate (PI)
    double& f = inv[static_cast<size_t>(i)];
    f = f * w_extrap + (f / s) * (1.0 - w_extrap);
  }
  return inv;
}

std::vector<double> llama3_row(const RopeSpec& spec, int r) {
  const double s = spec.factor;
  const double orig = spec.original_context;
  const double lo_ff = spec.low_freq_factor, hi_ff = spec.high_freq_factor;
  const double low_wavelen = orig / lo_ff;   // longer than this: interpolate fully
  const double high_wavelen = orig / hi_ff;  // shorter than this: keep
  std::vector<double> inv = rope_row(spec.base, r);
  for (double& f : inv) {
    const double wavelen = 2.0 * std::numbers::pi / f;
    if (wavelen < high_wavelen) continue;
    if (wavelen > low_wavelen) {
      f /= s;
    } else {
      const double smooth = (orig / wavelen - lo_ff) / (hi_ff - lo_ff);
      f = (1.0 - smooth) * f / s + smooth * f;
    }
  }
  return inv;
}

// HARPE: the base of each KV group. A list of n_kv_heads bases is taken as is; a list of n_heads
// bases must be constant within each group, because one K head serves all Q heads of its group
// and q.k must see a single frequency per pair.
std::vector<double> harpe_group_bases(const RopeSpec& spec, int n_heads, int n_kv_heads) {
  const auto n = static_cast<int>(spec.bases.size());
  check(n == n_kv_heads || n == n_heads, "rope: harpe needs ", n_kv_heads,
        " bases (one per KV head)",
        n_heads != n_kv_heads ? " or " + std::to_string(n_heads) +
                                    " (one per query head, constant within each KV group)"
                              : std::string(),
        ", got ", n);
  for (int j = 0; j < n; ++j) {
    const double b = spec.bases[static_cast<size_t>(j)];
    check(finite(b) && b > 1.0, "rope: harpe base ", j, " must be a finite number > 1, got ", b);
  }
  if (n == n_kv_heads) return spec.bases;
  const int group = n_heads / n_kv_heads;
  std::vector<double> out(static_cast<size_t>(n_kv_heads));
  for (int g = 0; g < n_kv_heads; ++g) {
    const double b0 = spec.bases[static_cast<size_t>(g * group)];
    for (int k = 1; k < group; ++k) {
      const double b = spec.bases[static_cast<size_t>(g * group + k)];
      check(b == b0, "rope: harpe bases must be equal within each KV group (GQA): query heads ",
            g * group, " and ", g * group + k, " share K head ", g, " but have bases ", b0, " and ",
            b);
    }
    out[static_cast<size_t>(g)] = b0;
  }
  return out;
}

void check_shape(const TableShape& shape) {
  check(shape.n_heads > 0, "rope: n_heads must be > 0, got ", shape.n_heads);
  check(shape.n_kv_heads > 0, "rope: n_kv_heads must be > 0, got ", shape.n_kv_heads);
  check(shape.n_heads % shape.n_kv_heads == 0, "rope: n_heads (", shape.n_heads,
        ") must be a multiple of n_kv_heads (", shape.n_kv_heads, ")");
  check(shape.n_heads <= (1 << 16), "rope: n_heads too large: ", shape.n_heads);
  check(shape.head_dim > 0 && shape.head_dim % 2 == 0 && shape.head_dim <= (1 << 16),
        "rope: head_dim must be even and in [2, 65536], got ", shape.head_dim);
  check(shape.rot_dims >= 0 && shape.rot_dims <= shape.head_dim,
        "rope: rot_dims must be in [0, head_dim=", shape.head_dim, "] (0 means head_dim), got ",
        shape.rot_dims);
  check(shape.rot_dims % 2 == 0, "rope: rot_dims must be even, got ", shape.rot_dims);
  check(shape.layout == Layout::half_split || shape.layout == Layout::interleaved,
        "rope: unknown layout value ", static_cast<int>(shape.layout));
}

}  // namespace

RopeTable build_table(const RopeSpec& spec, const TableShape& shape, int seq_len) {
  check_shape(shape);
  check(seq_len >= 0, "rope: seq_len must be >= 0, got ", seq_len);
  const int r = shape.rot_dims == 0 ? shape.head_dim : shape.rot_dims;
  check(spec.scheme == Scheme::harpe || spec.bases.empty(), "rope: a list of per-head bases is ",
        "only used by scheme 'harpe', not '", scheme_name(spec.scheme), "'");

  RopeTable t;
  t.n_heads = shape.n_heads;
  t.n_kv_heads = shape.n_kv_heads;
  t.head_dim = shape.head_dim;
  t.rot_dims = r;
  t.layout = shape.layout;

  // One row per KV group (all rows are equal except for harpe).
  std::vector<std::vector<double>> group_rows;
  double attn = 1.0;
  switch (spec.scheme) {
    case Scheme::rope:
      check_base(spec.base, "base");
      group_rows.push_back(rope_row(spec.base, r));
      break;
    case Scheme::pi: {
      check_base(spec.base, "base");
      check_factor(spec);
      std::vector<double> inv = rope_row(spec.base, r);
      for (double& f : inv) f /= spec.factor;
      group_rows.push_back(std::move(inv));
      break;
    }
    case Scheme::ntk: {
      check_base(spec.base, "base");
      check_factor(spec);
      check_ntk_dims(spec, r);
      const double b = spec.base * std::pow(spec.factor, r / (r - 2.0));
      group_rows.push_back(rope_row(b, r));
      break;
    }
    case Scheme::dynamic: {
      check_base(spec.base, "base");
      check_factor(spec);
      check_original_context(spec);
      check_ntk_dims(spec, r);
      const double orig = spec.original_context;
      const double len = std::max<double>(seq_len, orig);
      const double b =
          spec.base * std::pow(spec.factor * len / orig - (spec.factor - 1.0), r / (r - 2.0));
      group_rows.push_back(rope_row(b, r));
      break;
    }
    case Scheme::yarn: {
      check_base(spec.base, "base");
      check_factor(spec);
      check_original_context(spec);
      check(finite(spec.beta_fast) && finite(spec.beta_slow) && spec.beta_slow > 0 &&
                spec.beta_fast > spec.beta_slow,
            "rope: yarn needs beta_fast > beta_slow > 0, got beta_fast=", spec.beta_fast,
            " beta_slow=", spec.beta_slow);
      check(finite(spec.attention_factor) && spec.attention_factor >= 0,
            "rope: yarn attention_factor must be >= 0 (0 = default 0.1 ln s + 1), got ",
            spec.attention_factor);
      group_rows.push_back(yarn_row(spec, r));
      if (spec.attention_factor > 0)
        attn = spec.attention_factor;
      else
        attn = spec.factor > 1.0 ? 0.1 * std::log(spec.factor) + 1.0 : 1.0;
      break;
    }
    case Scheme::llama3:
      check_base(spec.base, "base");
      check_factor(spec);
      check_original_context(spec);
      check(finite(spec.low_freq_factor) && finite(spec.high_freq_factor) &&
                spec.low_freq_factor > 0 && spec.high_freq_factor > spec.low_freq_factor,
            "rope: llama3 needs high_freq_factor > low_freq_factor > 0, got low=",
            spec.low_freq_factor, " high=", spec.high_freq_factor);
      group_rows.push_back(llama3_row(spec, r));
      break;
    case Scheme::harpe:
      for (double b : harpe_group_bases(spec, shape.n_heads, shape.n_kv_heads))
        group_rows.push_back(rope_row(b, r));
      break;
    default:
      fail("rope: unknown scheme value ", static_cast<int>(spec.scheme));
  }

  const int P = r / 2;
  const int group = shape.n_heads / shape.n_kv_heads;
  t.inv_freq.resize(static_cast<size_t>(shape.n_heads) * static_cast<size_t>(P));
  for (int h = 0; h < shape.n_heads; ++h) {
    const std::vector<double>& row =
        group_rows.size() == 1 ? group_rows[0] : group_rows[static_cast<size_t>(h / group)];
    for (int i = 0; i < P; ++i) {
      const double f = row[static_cast<size_t>(i)];
      check(finite(f) && f > 0, "rope: scheme '", scheme_name(spec.scheme),
            "' produced a non-positive or non-finite frequency (", f, ") for head ", h, " pair ", i,
            "; check base/factor");
      t.inv_freq[static_cast<size_t>(h) * P + i] = static_cast<float>(f);
    }
  }
  t.attn_factor = static_cast<float>(attn);
  return t;
}

std::string_view scheme_name(Scheme s) {
  switch (s) {
    case Scheme::rope:
      return "rope";
    case Scheme::pi:
      return "pi";
    case Scheme::ntk:
      return "ntk";
    case Scheme::dynamic:
      return "dynamic";
    case Scheme::yarn:
      return "yarn";
    case Scheme::llama3:
      return "llama3";
    case Scheme::harpe:
      return "harpe";
  }
  return "unknown";
}

Scheme parse_scheme(std::string_view name) {
  for (Scheme s : kSchemes)
    if (scheme_name(s) == name) return s;
  fail("rope: unknown scheme '", name, "' (expected one of ", scheme_list(), ")");
}

std::string scheme_list() {
  std::string out;
  for (Scheme s : kSchemes) {
    if (!out.empty()) out += '|';
    out += scheme_name(s);
  }
  return out;
}

std::string_view rope_type_name(Scheme s) {
  switch (s) {
    case Scheme::rope:
      return "default";
    case Scheme::pi:
      return "linear";
    default:  // the others are named as in HF
      return scheme_name(s);
  }
}

Scheme scheme_of_rope_type(std::string_view type, std::string_view where) {
  std::string known;
  for (Scheme s : kSchemes) {
    if (rope_type_name(s) == type) return s;
    known += (known.empty() ? "" : ", ") + std::string(rope_type_name(s));
  }
  fail(where, ": unknown rope_type \"", type, "\" (known: ", known, ")");
}

std::string_view layout_name(Layout l) {
  switch (l) {
    case Layout::half_split:
      return "half";
    case Layout::interleaved:
      return "interleaved";
  }
  return "unknown";
}

Layout parse_layout(std::string_view name) {
  if (name == "half" || name == "half_split") return Layout::half_split;
  if (name == "interleaved") return Layout::interleaved;
  fail("rope: unknown layout '", name, "' (expected half or interleaved)");
}

void validate_table(const RopeTable& t) {
  check(t.n_heads > 0 && t.n_kv_heads > 0 && t.n_heads % t.n_kv_heads == 0,
        "rope table: bad head counts n_heads=", t.n_heads, " n_kv_heads=", t.n_kv_heads);
  check(t.head_dim > 0 && t.head_dim % 2 == 0, "rope table: head_dim must be even and > 0, got ",
        t.head_dim);
  check(t.rot_dims >= 2 && t.rot_dims % 2 == 0 && t.rot_dims <= t.head_dim,
        "rope table: rot_dims must be even and in [2, head_dim=", t.head_dim, "], got ",
        t.rot_dims);
  check(t.layout == Layout::half_split || t.layout == Layout::interleaved,
        "rope table: unknown layout value ", static_cast<int>(t.layout));
  const size_t P = static_cast<size_t>(t.pairs());
  check(t.inv_freq.size() == static_cast<size_t>(t.n_heads) * P, "rope table: inv_freq has ",
        t.inv_freq.size(), " values, expected n_heads*rot_dims/2 = ", t.n_heads * t.pairs());
  check(std::isfinite(t.attn_factor) && t.attn_factor > 0,
        "rope table: attn_factor must be finite and > 0, got ", t.attn_factor);
  for (float f : t.inv_freq)
    check(std::isfinite(f) && f > 0, "rope table: inverse frequencies must be finite and > 0");
  const int group = t.group_size();
  for (int h = 0; h < t.n_heads; ++h)
    check(std::memcmp(t.head(h), t.head(h - h % group), P * sizeof(float)) == 0,
          "rope table: query head ", h, " differs from the first head of its KV group ", h / group,
          " (rows must be equal within a group)");
}

double equivalent_base(const RopeTable& t, int h) {
  check(h >= 0 && h < t.n_heads, "rope table: head ", h, " out of range [0, ", t.n_heads, ")");
  const int P = t.pairs();
  if (P < 2) return 0.0;
  const float* row = t.head(h);
  const double ratio = static_cast<double>(row[0]) / row[P - 1];
  return std::pow(ratio, t.rot_dims / (2.0 * (P - 1)));
}

double longest_wavelength(const RopeTable& t, int h) {
  check(h >= 0 && h < t.n_heads, "rope table: head ", h, " out of range [0, ", t.n_heads, ")");
  const float* row = t.head(h);
  const float mn = *std::min_element(row, row + t.pairs());
  return 2.0 * std::numbers::pi / mn;
}

PositionMap parse_position_map(std::string_view text, std::string_view flag) {
  PositionMap map;
  if (text.empty() || text == "none") return map;
  const std::string t(text);
  int w = 0, g = 0;
  char comma = 0;
  std::istringstream in(t);
  check(static_cast<bool>(in >> w >> comma >> g) && comma == ',' && in.peek() == EOF, flag,
        " expects W,G (neighbour window, group size), got '", t, "'");
  check(w > 0 && g >= 1 && w >= g, flag, " needs W >= G >= 1, got ", w, ",", g);
  map.window = w;
  map.group = g;
  return map;
}

}  // namespace harpe::rope

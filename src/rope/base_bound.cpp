#include "rope/base_bound.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"

namespace harpe::rope {

namespace {

void check_args(double base, int head_dim) {
  check(head_dim >= 2 && head_dim % 2 == 0,
        "RoPE base bound: the head dimension must be even and "
        ">= 2, got ",
        head_dim);
  check(std::isfinite(base) && base > 1, "RoPE base bound: the base must be finite and > 1, got ",
        base);
}

}  // namespace

double decay_sum(double base, int head_dim, int64_t m) {
  check_args(base, head_dim);
  double s = 0;
  for (int i = 0; i < head_dim / 2; ++i)
    s += std::cos(static_cast<double>(m) * std::pow(base, -2.0 * i / head_dim));
  return s;
}

namespace {

// cos / sin tables of one base: theta_i, one step's rotation, and the running (c, s).
struct Rotations {
  int n = 0;
  std::vector<double> buf;
  double *theta, *wc, *ws, *c, *s;
  Rotations(double base, int head_dim) : Rotations(base_thetas(base, head_dim)) {}
  explicit Rotations(const std::vector<double>& thetas)
      : n(static_cast<int>(thetas.size())), buf(5 * thetas.size()) {
    theta = buf.data();
    wc = theta + n;
    ws = wc + n;
    c = ws + n;
    s = c + n;
    for (int i = 0; i < n; ++i) {
      theta[i] = thetas[static_cast<size_t>(i)];
      wc[i] = std::cos(theta[i]);
      ws[i] = std::sin(theta[i]);
    }
  }
  static std::vector<double> base_thetas(double base, int head_dim) {
    std::vector<double> t(static_cast<size_t>(head_dim / 2));
    for (int i = 0; i < head_dim / 2; ++i)
      t[static_cast<size_t>(i)] = std::pow(base, -2.0 * i / head_dim);
    return t;
  }
  void anchor(int64_t m) {  // exact cos / sin at m: bounds the recurrence's error
    for (int i = 0; i < n; ++i) {
      const double a = static_cast<double>(m) * theta[i];
      c[i] = std::cos(a);
      s[i] = std::sin(a);
    }
  }
  // The first m in [m0, m_end) with B(m) < 0 (c, s anchored at m0), or -1.
  int64_t scan(int64_t m0, int64_t m_end) {
    for (int64_t m = m0; m < m_end; ++m) {
      double sum = 0;
#pragma omp simd reduction(+ : sum)
      for (int i = 0; i < n; ++i) sum += c[i];
      if (sum < 0) return m;
        // (c, s) <- (c, s) rotated by theta_i: cos / sin of (m + 1) theta_i.
#pragma omp simd
      for (int i = 0; i < n; ++i) {
        const double cn = c[i] * wc[i] - s[i] * ws[i];
        s[i] = s[i] * wc[i] + c[i] * ws[i];
        c[i] = cn;
      }
    }
    return -1;
  }
};

constexpr int64_t kBlock = 256;  // positions between re-anchors (recurrence error < 1e-12)

// Whether B(m) < 0 for some m < L. Blocks are scanned from the last one down: a base just below
// the bound first fails near L, one far below fails everywhere, so either is rejected after a few
// hundred positions; a base that passes costs the whole range.
bool any_negative(double base, int head_dim, int64_t context) {
  Rotations r(base, head_dim);
  for (int64_t m0 = (context - 1) / kBlock * kBlock; m0 >= 0; m0 -= kBlock) {
    r.anchor(m0);
    if (r.scan(m0, std::min(context, m0 + kBlock)) >= 0) return true;
  }
  return false;
}

}  // namespace

int64_t first_negative_decay(double base, int head_dim, int64_t context) {
  check_args(base, head_dim);
  return first_negative_decay(Rotations::base_thetas(base, head_dim), context);
}

int64_t first_negative_decay(const std::vector<double>& theta, int64_t context) {
  check(context >= 1, "RoPE base bound: the context must be positive, got ", context);
  check(!theta.empty(), "RoPE base bound: no frequencies");
  Rotations r(theta);
  for (int64_t m0 = 0; m0 < context; m0 += kBlock) {
    r.anchor(m0);
    const int64_t m = r.scan(m0, std::min(context, m0 + kBlock));
    if (m >= 0) return m;
  }
  return -1;
}

double base_lower_bound(int head_dim, int64_t context, double rel_precision) {
  check(head_dim >= 4 && head_dim % 2 == 0,
        "RoPE base bound: the head dimension must be even and "
        ">= 4, got ",
        head_dim);
  check(context >= 1 && context <= (int64_t{1} << 31), "RoPE base bound: context ", context,
        " outside [1, 2^31]");
  check(rel_precision > 0 && rel_precision <= 0.1,
        "RoPE base bound: precision must lie in "
        "(0, 0.1], got ",
        rel_precision);
  // Whether a base supports L is not monotone in the base (narrow windows of valid bases lie
  // below larger invalid ones), so bisection would miss the smallest: scan every base of the grid
  // b_k = 2 (1 + p)^k upward and return the first that passes.
  const double ratio = 1 + rel_precision;
  for (double b = 2; b < 1e300; b *= ratio)
    if (!any_negative(b, head_dim, context)) return b;
  fail("RoPE base bound: no base supports ", context, " tokens at head dim ", head_dim);
}

std::vector<BaseBoundRow> base_lower_bounds(int head_dim, const std::vector<int64_t>& contexts,
                                            double rel_precision) {
  std::vector<BaseBoundRow> out;
  for (int64_t L : contexts) out.push_back({L, base_lower_bound(head_dim, L, rel_precision)});
  return out;
}

double effective_base(double slowest_inv_freq, int head_dim) {
  check(head_dim > 2 && slowest_inv_freq > 0 && slowest_inv_freq < 1,
        "effective_base: needs head_dim > 2 and an inverse frequency in (0, 1), got ",
        slowest_inv_freq);
  return std::pow(slowest_inv_freq, -static_cast<double>(head_dim) / (head_dim - 2));
}

}  // namespace harpe::rope

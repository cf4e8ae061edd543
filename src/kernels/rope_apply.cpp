// Rotary embedding applied in place, forward and backward (the transposed rotation).
//
// Angles: the angle of pair i at position p is a = p * inv[i] with inv[i] the stored float. For
// |p| <= 2^29 this product is exact in double. It is reduced modulo pi/2 in double with a
// three-part Cody-Waite split of pi/2 (the first two parts have 33 significant bits, so k * part is
// exact for |k| < 2^20, i.e. |a| < 1.6e6 rad), leaving |r| <= pi/4 with an absolute error near
// 1e-16; sin/cos of r come from Taylor polynomials (truncation error < 1e-11). So a position of
// 131072 gets the same angle accuracy as position 1, unlike a float product p * inv whose error
// would reach ~8e-3 rad there. Branch-free; vectorises (AVX-512: 8 doubles per instruction).
//
// Work: cos/sin are computed once per (token, distinct row): rows are equal within a KV group and,
// for every scheme but harpe, across all heads. Within a run of consecutive positions (p, p+1, ...,
// the training case) the next cos/sin come from the previous ones by one complex multiplication by
// (cos inv, sin inv), kept in double; the state is re-anchored to the exact formula at the start of
// every chunk of kChunk tokens, so the drift stays below ~1e-14 and the result does not depend on
// the thread count. No position cache is kept (O(threads * rows * pairs) extra memory).
#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "kernels/ops.h"
#include "kernels/rope_rotate.h"

namespace harpe::kernels {

namespace {

// pi/2 = kPio2_1 + kPio2_2 + kPio2_3 (fdlibm's split; the first two have 33 significant bits).
constexpr double kPio2_1 = 1.57079632673412561417e+00;
constexpr double kPio2_2 = 6.07710050630396597660e-11;
constexpr double kPio2_3 = 2.02226624879595063154e-21;
constexpr double kTwoOverPi = 6.36619772367581382433e-01;
// Adding 1.5 * 2^52 rounds a double with |v| < 2^51 to the nearest integer, which then sits in the
// low mantissa bits (two's complement), so the quadrant is the sum's bits & 3.
constexpr double kRoundMagic = 6755399441055744.0;

constexpr int kChunk = 64;  // tokens per recurrence run (re-anchored at each chunk start)

// c[i] = cos(p * inv[i]), s[i] = sin(p * inv[i]) for i < P.
void cos_sin_row(double* c, double* s, double p, const float* inv, int P) {
#pragma omp simd
  for (int i = 0; i < P; ++i) {
    const double a = p * static_cast<double>(inv[i]);
    const double shifted = a * kTwoOverPi + kRoundMagic;
    const auto quadrant = std::bit_cast<std::uint64_t>(shifted) & 3u;
    const double k = shifted - kRoundMagic;
    const double r = ((a - k * kPio2_1) - k * kPio2_2) - k * kPio2_3;
    const double r2 = r * r;
    const double sin_r =
        r +
        r * r2 *
            (-1.0 / 6 + r2 * (1.0 / 120 +
                              r2 * (-1.0 / 5040 + r2 * (1.0 / 362880 + r2 * (-1.0 / 39916800.0)))));
    const double cos_r =
        1.0 +
        r2 * (-0.5 + r2 * (1.0 / 24 + r2 * (-1.0 / 720 +
                                            r2 * (1.0 / 40320 + r2 * (-1.0 / 3628800.0 +
                                                                      r2 * (1.0 / 479001600.0))))));
    // a = k * pi/2 + r: rotate (cos r, sin r) by the quadrant.
    double sin_a = (quadrant & 1u) ? cos_r : sin_r;
    double cos_a = (quadrant & 1u) ? sin_r : cos_r;
    sin_a = (quadrant & 2u) ? -sin_a : sin_a;
    cos_a = ((quadrant + 1u) & 2u) ? -cos_a : cos_a;
    c[i] = cos_a;
    s[i] = sin_a;
  }
}

// (c, s) <- (c, s) rotated by (step_c, step_s): the angle advances by one position.
void advance_row(double* c, double* s, const double* step_c, const double* step_s, int P) {
#pragma omp simd
  for (int i = 0; i < P; ++i) {
    const double c0 = c[i], s0 = s[i];
    c[i] = c0 * step_c[i] - s0 * step_s[i];
    s[i] = s0 * step_c[i] + c0 * step_s[i];
  }
}

void scale_row(float* out_c, float* out_s, const double* c, const double* s, int P,
               double cos_scale, double sin_scale) {
#pragma omp simd
  for (int i = 0; i < P; ++i) {
    out_c[i] = static_cast<float>(c[i] * cos_scale);
    out_s[i] = static_cast<float>(s[i] * sin_scale);
  }
}

}  // namespace

void rope_apply(float* x, const int32_t* positions, const rope::RopeTable& table, int N, bool keys,
                bool inverse) {
  check(N >= 0, "rope_apply: N must be >= 0, got ", N);
  if (N == 0) return;
  check(x != nullptr && positions != nullptr, "rope_apply: null tensor or positions");
  rope::validate_table(table);
  const float max_inv = *std::max_element(table.inv_freq.begin(), table.inv_freq.end());
  // Keeps |p * inv * 2/pi| far below 2^51 for every int32 p (the rounding trick's range).
  check(max_inv <= 65536.0f, "rope_apply: inverse frequency ", max_inv, " too large (> 65536)");

  const int H = keys ? table.n_kv_heads : table.n_heads;
  const int D = table.head_dim;
  const int P = table.pairs();

  // Distinct rows among this tensor's heads, and each head's index into them.
  std::vector<const float*> rows;
  std::vector<int> row_of_head(static_cast<size_t>(H));
  for (int h = 0; h < H; ++h) {
    const float* row = keys ? table.kv_head(h) : table.head(h);
    int found = -1;
    for (size_t j = 0; j < rows.size() && found < 0; ++j)
      if (std::memcmp(rows[j], row, static_cast<size_t>(P) * sizeof(float)) == 0)
        found = static_cast<int>(j);
    if (found < 0) {
      found = static_cast<int>(rows.size());
      rows.push_back(row);
    }
    row_of_head[static_cast<size_t>(h)] = found;
  }
  const int R = static_cast<int>(rows.size());

  // Backward of y = attn * Rot(a) x is dx = attn * Rot(a)^T dy = attn * Rot(-a) dy.
  const double cos_scale = table.attn_factor;
  const double sin_scale = inverse ? -static_cast<double>(table.attn_factor) : cos_scale;
  const bool half = table.layout == rope::Layout::half_split;
  const long work = static_cast<long>(N) * H * P;

  // One-position steps (cos inv, sin inv) of every distinct row, for the recurrence.
  const size_t RP = static_cast<size_t>(R) * P;
  std::vector<double> step(2 * RP);
  for (int j = 0; j < R; ++j)
    cos_sin_row(step.data() + j * static_cast<size_t>(P),
                step.data() + RP + j * static_cast<size_t>(P), 1.0, rows[static_cast<size_t>(j)],
                P);
  const int n_chunks = (N + kChunk - 1) / kChunk;

#pragma omp parallel if (work > 16384)
  {
    std::vector<double> state(2 * RP);  // cos, sin of the current position, per row
    std::vector<float> cs(2 * RP);      // the same, scaled and rounded for the rotation
    double* st_c = state.data();
    double* st_s = state.data() + RP;
    float* cos_buf = cs.data();
    float* sin_buf = cs.data() + RP;
#pragma omp for schedule(static)
    for (int chunk = 0; chunk < n_chunks; ++chunk) {
      const int n_begin = chunk * kChunk, n_end = std::min(N, n_begin + kChunk);
      for (int n = n_begin; n < n_end; ++n) {
        const int64_t p = positions[n];
        const int64_t delta = n == n_begin ? -1 : p - positions[n - 1];
        if (delta != 0) {  // equal positions (Self-Extend groups) reuse cos/sin as they are
          for (int j = 0; j < R; ++j) {
            const size_t o = static_cast<size_t>(j) * P;
            if (delta == 1)
              advance_row(st_c + o, st_s + o, step.data() + o, step.data() + RP + o, P);
            else
              cos_sin_row(st_c + o, st_s + o, static_cast<double>(p), rows[static_cast<size_t>(j)],
                          P);
            scale_row(cos_buf + o, sin_buf + o, st_c + o, st_s + o, P, cos_scale, sin_scale);
          }
        }
        float* token = x + static_cast<size_t>(n) * H * D;
        for (int h = 0; h < H; ++h) {
          const size_t off = static_cast<size_t>(row_of_head[static_cast<size_t>(h)]) * P;
          float* v = token + static_cast<size_t>(h) * D;
          if (half)
            detail::rotate_half_split(v, cos_buf + off, sin_buf + off, P);
          else
            detail::rotate_interleaved(v, cos_buf + off, sin_buf + off, P);
        }
      }
    }
  }
}

}  // namespace harpe::kernels

// rope_apply: a hand-worked case, a double-precision reference at positions up to 131072, the
// relative-position invariant for every scheme and both layouts, inverse and backward (finite
// differences), GQA key rows, and argument errors.
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "core/error.h"
#include "kernels/ops.h"
#include "rope/rope_table.h"

namespace {

using namespace harpe;
using rope::Layout;
using rope::RopeSpec;
using rope::RopeTable;
using rope::Scheme;

RopeTable make_table(Scheme scheme, int heads, int kv, int head_dim, int rot, Layout layout) {
  RopeSpec s;
  s.scheme = scheme;
  s.base = 10000;
  s.factor = 4;
  s.original_context = 2048;
  if (scheme == Scheme::rope || scheme == Scheme::harpe) s.factor = 1;
  if (scheme == Scheme::harpe)
    for (int g = 0; g < kv; ++g) s.bases.push_back(500.0 * std::pow(4.0, g));
  rope::TableShape shape;
  shape.n_heads = heads;
  shape.n_kv_heads = kv;
  shape.head_dim = head_dim;
  shape.rot_dims = rot;
  shape.layout = layout;
  return rope::build_table(s, shape, /*seq_len=*/8192);
}

const Scheme kAllSchemes[] = {Scheme::rope, Scheme::pi,     Scheme::ntk,  Scheme::dynamic,
                              Scheme::yarn, Scheme::llama3, Scheme::harpe};
const Layout kLayouts[] = {Layout::half_split, Layout::interleaved};

std::vector<float> random_vec(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& f : v) f = u(rng);
  return v;
}

// Reference rotation of one head vector, in double with libm's cos/sin.
void reference_rotate(double* out, const float* v, const float* inv, int D, int R, Layout layout,
                      double attn, int64_t pos, bool inverse) {
  for (int d = 0; d < D; ++d) out[d] = v[d];
  for (int i = 0; i < R / 2; ++i) {
    const int a = layout == Layout::half_split ? i : 2 * i;
    const int b = layout == Layout::half_split ? i + R / 2 : 2 * i + 1;
    const double ang = static_cast<double>(pos) * static_cast<double>(inv[i]);
    const double c = std::cos(ang) * attn, s = (inverse ? -1 : 1) * std::sin(ang) * attn;
    out[a] = v[a] * c - v[b] * s;
    out[b] = v[a] * s + v[b] * c;
  }
}

TEST(RopeApply, HandWorkedHalfAndInterleaved) {
  // inv = 1, 0.01 (base 1e4, r = 4), head_dim 6 (last two dims pass through), position 1.
  RopeSpec s;
  rope::TableShape shape;
  shape.n_heads = shape.n_kv_heads = 1;
  shape.head_dim = 6;
  shape.rot_dims = 4;
  const double c1 = 0.5403023058681398, s1 = 0.8414709848078965;    // cos 1, sin 1
  const double c2 = 0.9999500004166653, s2 = 0.009999833334166664;  // cos .01, sin .01
  const int32_t pos = 1;
  {
    const RopeTable t = rope::build_table(s, shape);
    std::vector<float> x = {1, 2, 3, 4, 5, 6};  // pairs (x0, x2), (x1, x3)
    kernels::rope_apply(x.data(), &pos, t, 1, false);
    EXPECT_NEAR(x[0], 1 * c1 - 3 * s1, 1e-6);
    EXPECT_NEAR(x[2], 1 * s1 + 3 * c1, 1e-6);
    EXPECT_NEAR(x[1], 2 * c2 - 4 * s2, 1e-6);
    EXPECT_NEAR(x[3], 2 * s2 + 4 * c2, 1e-6);
    EXPECT_EQ(x[4], 5.0f);
    EXPECT_EQ(x[5], 6.0f);
  }
  {
    shape.layout = Layout::interleaved;
    const RopeTable t = rope::build_table(s, shape);
    std::vector<float> x = {1, 2, 3, 4, 5, 6};  // pairs (x0, x1), (x2, x3)
    kernels::rope_apply(x.data(), &pos, t, 1, false);
    EXPECT_NEAR(x[0], 1 * c1 - 2 * s1, 1e-6);
    EXPECT_NEAR(x[1], 1 * s1 + 2 * c1, 1e-6);
    EXPECT_NEAR(x[2], 3 * c2 - 4 * s2, 1e-6);
    EXPECT_NEAR(x[3], 3 * s2 + 4 * c2, 1e-6);
    EXPECT_EQ(x[4], 5.0f);
    EXPECT_EQ(x[5], 6.0f);
  }
}

// Every scheme, both layouts, queries and keys, positions up to 131072 + a few: float output vs a
// double reference. A float angle p * inv would be off by up to ~8e-3 rad here.
TEST(RopeApply, MatchesDoubleReferenceAtLongPositions) {
  const int H = 4, KV = 2, D = 32, N = 64;
  std::vector<int32_t> pos(N);
  for (int n = 0; n < N; ++n) pos[n] = n < N / 2 ? n : 131072 - 3 * (n - N / 2) + (n % 7);
  for (Scheme sc : kAllSchemes)
    for (Layout lay : kLayouts)
      for (bool keys : {false, true}) {
        const RopeTable t = make_table(sc, H, KV, D, 24, lay);
        const int Hx = keys ? KV : H;
        const std::vector<float> x0 = random_vec(static_cast<size_t>(N) * Hx * D, 7);
        std::vector<float> x = x0;
        kernels::rope_apply(x.data(), pos.data(), t, N, keys);
        double worst = 0;
        std::vector<double> ref(D);
        for (int n = 0; n < N; ++n)
          for (int h = 0; h < Hx; ++h) {
            const size_t off = (static_cast<size_t>(n) * Hx + h) * D;
            reference_rotate(ref.data(), x0.data() + off, keys ? t.kv_head(h) : t.head(h), D,
                             t.rot_dims, lay, t.attn_factor, pos[n], false);
            for (int d = 0; d < D; ++d) worst = std::max(worst, std::abs(ref[d] - x[off + d]));
          }
        EXPECT_LT(worst, 1e-6) << rope::scheme_name(sc) << " " << rope::layout_name(lay)
                               << (keys ? " keys" : " queries");
      }
}

// dot(rot(q, m), rot(k, n)) depends only on m - n; at m = n it is attn^2 q.k on the rotated dims
// plus q.k on the pass-through dims.
TEST(RopeApply, RelativePositionInvariantEveryScheme) {
  const int H = 4, KV = 2, D = 16, R = 12;
  const int32_t shifts[] = {0, 1, 977, 40000, 131000};
  for (Scheme sc : kAllSchemes)
    for (Layout lay : kLayouts) {
      const RopeTable t = make_table(sc, H, KV, D, R, lay);
      const std::vector<float> q0 = random_vec(H * D, 11), k0 = random_vec(KV * D, 12);
      for (int32_t delta : {0, 5, 300}) {
        std::vector<double> first(H);
        for (int32_t shift : shifts) {
          std::vector<float> q = q0, k = k0;
          const int32_t m = shift + delta, n = shift;
          kernels::rope_apply(q.data(), &m, t, 1, false);
          kernels::rope_apply(k.data(), &n, t, 1, true);
          for (int h = 0; h < H; ++h) {
            const int g = h / t.group_size();
            double dot = 0;
            for (int d = 0; d < D; ++d) dot += double(q[h * D + d]) * k[g * D + d];
            if (shift == 0) {
              first[h] = dot;
              if (delta == 0) {
                // Which dims are rotated depends on the layout, but both rotate dims [0, R).
                double rot = 0, pass = 0;
                for (int d = 0; d < D; ++d)
                  (d < R ? rot : pass) += double(q0[h * D + d]) * k0[g * D + d];
                const double a = t.attn_factor;
                EXPECT_NEAR(dot, a * a * rot + pass, 1e-5) << rope::scheme_name(sc) << " h" << h;
              }
            } else {
              EXPECT_NEAR(dot, first[h], 2e-5)
                  << rope::scheme_name(sc) << " " << rope::layout_name(lay) << " h" << h
                  << " delta " << delta << " shift " << shift;
            }
          }
        }
      }
    }
}

TEST(RopeApply, InverseUndoesApply) {
  const int N = 33, H = 4, D = 32;
  std::vector<int32_t> pos(N);
  for (int n = 0; n < N; ++n) pos[n] = n * 4099;
  for (Scheme sc : {Scheme::rope, Scheme::yarn, Scheme::harpe})
    for (Layout lay : kLayouts) {
      const RopeTable t = make_table(sc, H, 2, D, 28, lay);
      const std::vector<float> x0 = random_vec(static_cast<size_t>(N) * H * D, 3);
      std::vector<float> x = x0;
      kernels::rope_apply(x.data(), pos.data(), t, N, false);
      kernels::rope_apply(x.data(), pos.data(), t, N, false, /*inverse=*/true);
      // The backward is attn * Rot^T, so the round trip scales rotated dims by attn^2.
      const double a2 = double(t.attn_factor) * t.attn_factor;
      for (size_t j = 0; j < x.size(); ++j) {
        const bool rotated = static_cast<int>(j % D) < 28;
        EXPECT_NEAR(x[j], (rotated ? a2 : 1.0) * x0[j], 2e-6) << rope::scheme_name(sc) << " " << j;
      }
    }
}

// Backward against central differences of L(x) = sum w * rope(x): dL/dx = rope_apply(w, inverse).
TEST(RopeApply, BackwardMatchesFiniteDifferences) {
  const int N = 3, H = 2, D = 8;
  const std::vector<int32_t> pos = {0, 7, 90001};
  for (Scheme sc : {Scheme::rope, Scheme::yarn})
    for (Layout lay : kLayouts) {
      const RopeTable t = make_table(sc, H, 1, D, 6, lay);
      const size_t n = static_cast<size_t>(N) * H * D;
      const std::vector<float> x0 = random_vec(n, 5), w = random_vec(n, 6);
      auto loss = [&](const std::vector<float>& x) {
        std::vector<float> y = x;
        kernels::rope_apply(y.data(), pos.data(), t, N, false);
        double l = 0;
        for (size_t j = 0; j < n; ++j) l += double(w[j]) * y[j];
        return l;
      };
      std::vector<float> grad = w;
      kernels::rope_apply(grad.data(), pos.data(), t, N, false, /*inverse=*/true);
      const float eps = 1e-2f;
      for (size_t j = 0; j < n; ++j) {
        std::vector<float> xp = x0, xm = x0;
        xp[j] += eps;
        xm[j] -= eps;
        const double fd = (loss(xp) - loss(xm)) / (2.0 * eps);
        EXPECT_NEAR(grad[j], fd, 2e-4) << rope::scheme_name(sc) << " " << j;
      }
    }
}

// Keys use the row of their KV group: with HARPE, K head g rotates with base b_g while the query
// heads of that group use the same row.
TEST(RopeApply, GqaKeysUseTheirGroupRow) {
  const int H = 6, KV = 3, D = 8, N = 5;
  RopeSpec s;
  s.scheme = Scheme::harpe;
  s.bases = {100, 1000, 1e5};
  rope::TableShape shape;
  shape.n_heads = H;
  shape.n_kv_heads = KV;
  shape.head_dim = D;
  const RopeTable t = rope::build_table(s, shape);
  const std::vector<int32_t> pos = {0, 1, 2, 1000, 65536};
  const std::vector<float> k0 = random_vec(static_cast<size_t>(N) * KV * D, 9);
  std::vector<float> k = k0;
  kernels::rope_apply(k.data(), pos.data(), t, N, /*keys=*/true);
  std::vector<double> ref(D);
  for (int n = 0; n < N; ++n)
    for (int g = 0; g < KV; ++g) {
      std::vector<float> row(D / 2);  // base b_g, computed here from the formula
      for (int i = 0; i < D / 2; ++i)
        row[i] = static_cast<float>(std::pow(s.bases[g], -2.0 * i / D));
      const size_t off = (static_cast<size_t>(n) * KV + g) * D;
      reference_rotate(ref.data(), k0.data() + off, row.data(), D, D, Layout::half_split, 1.0,
                       pos[n], false);
      for (int d = 0; d < D; ++d) EXPECT_NEAR(k[off + d], ref[d], 1e-6) << n << " " << g;
    }
}

// Long runs of consecutive positions take the recurrence path (one complex multiply per token,
// re-anchored every 64 tokens); restarts (new sequence), repeats (Self-Extend groups) and jumps
// take the exact path. All must match the double reference, whatever the thread count.
TEST(RopeApply, PositionPatternsAndThreadCounts) {
  const int N = 4096, H = 8, D = 64;
  const RopeTable t = make_table(Scheme::harpe, H, 4, D, 0, Layout::half_split);
  std::vector<int32_t> pos(N);
  for (int n = 0; n < N; ++n) {
    if (n < 1500)
      pos[n] = 129000 + n;  // one long sequence near the end of a 128k context
    else if (n < 2500)
      pos[n] = (n - 1500) % 300;  // packed short documents restarting at 0
    else if (n < 3500)
      pos[n] = (n - 2500) / 4;  // repeated positions, as in Self-Extend's grouped keys
    else
      pos[n] = (n * 7919) % 131072;  // jumps
  }
  const std::vector<float> x0 = random_vec(static_cast<size_t>(N) * H * D, 21);
  std::vector<float> x = x0;
  kernels::rope_apply(x.data(), pos.data(), t, N, false);
  double worst = 0;
  std::vector<double> ref(D);
  for (int n = 0; n < N; ++n)
    for (int h = 0; h < H; ++h) {
      const size_t off = (static_cast<size_t>(n) * H + h) * D;
      reference_rotate(ref.data(), x0.data() + off, t.head(h), D, D, Layout::half_split, 1.0,
                       pos[n], false);
      for (int d = 0; d < D; ++d) worst = std::max(worst, std::abs(ref[d] - x[off + d]));
    }
  EXPECT_LT(worst, 1e-6);
  // Chunks start at fixed token indices, so one thread gives bit-identical results.
  std::vector<float> serial = x0;
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  kernels::rope_apply(serial.data(), pos.data(), t, N, false);
  omp_set_num_threads(threads);
  EXPECT_EQ(serial, x);
}

TEST(RopeApply, RejectsBadArguments) {
  RopeTable t = make_table(Scheme::rope, 2, 2, 8, 0, Layout::half_split);
  std::vector<float> x(16);
  const int32_t pos = 0;
  EXPECT_THROW(kernels::rope_apply(x.data(), &pos, t, -1, false), Error);
  EXPECT_THROW(kernels::rope_apply(nullptr, &pos, t, 1, false), Error);
  EXPECT_THROW(kernels::rope_apply(x.data(), nullptr, t, 1, false), Error);
  EXPECT_NO_THROW(kernels::rope_apply(nullptr, nullptr, t, 0, false));  // nothing to do
  RopeTable bad = t;
  bad.inv_freq.resize(3);
  EXPECT_THROW(kernels::rope_apply(x.data(), &pos, bad, 1, false), Error);
  bad = t;
  bad.inv_freq[0] = 1e9f;  // outside the angle reduction's range
  bad.inv_freq[4] = 1e9f;
  EXPECT_THROW(kernels::rope_apply(x.data(), &pos, bad, 1, false), Error);
}

}  // namespace

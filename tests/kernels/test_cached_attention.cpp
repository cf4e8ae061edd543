// cached_attention (decode + Self-Extend) against a straightforward implementation of the
// Self-Extend position map: every (query, key) pair rotated explicitly at the positions the map
// gives, in double precision, independent of rope_apply.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/error.h"
#include "kernels/attention.h"
#include "kernels/cached_attention.h"
#include "kernels/ops.h"
#include "rope/rope_table.h"

namespace {

using harpe::kernels::CachedAttentionShape;
using harpe::rope::PositionMap;
using harpe::rope::RopeTable;

std::vector<float> random_vec(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<float> x(n);
  for (float& e : x) e = nd(rng);
  return x;
}

// Half-split rotation of one head vector at position p, straight from the table's frequencies.
std::vector<double> rotate(const float* x, const float* inv, int D, int p) {
  std::vector<double> y(x, x + D);
  for (int i = 0; i < D / 2; ++i) {
    const double a = static_cast<double>(p) * inv[i];
    y[i] = x[i] * std::cos(a) - x[i + D / 2] * std::sin(a);
    y[i + D / 2] = x[i + D / 2] * std::cos(a) + x[i] * std::sin(a);
  }
  return y;
}

// Reference: out[t] for queries at positions p0+t, raw (unrotated) q [T,H,D], k/v [T,KV,D].
std::vector<double> reference(const std::vector<float>& q, const std::vector<float>& k,
                              const std::vector<float>& v, const RopeTable& table,
                              const PositionMap& map, int T, int p0, int H, int KV, int D) {
  const int group = H / KV;
  std::vector<double> out(static_cast<size_t>(T - p0) * H * D, 0.0);
  for (int i = p0; i < T; ++i) {
    for (int h = 0; h < H; ++h) {
      const int g = h / group;
      std::vector<double> scores(i + 1);
      double mx = -1e300;
      for (int j = 0; j <= i; ++j) {
        const bool near = map.neighbour(i, j);
        const int qp = near ? i : map.grouped_query(i);
        const int kp = near ? j : map.grouped_key(j);
        auto qr = rotate(&q[(static_cast<size_t>(i) * H + h) * D], table.head(h), D, qp);
        auto kr = rotate(&k[(static_cast<size_t>(j) * KV + g) * D], table.kv_head(g), D, kp);
        double sc = 0;
        for (int d = 0; d < D; ++d) sc += qr[d] * kr[d];
        scores[j] = sc / std::sqrt(static_cast<double>(D));
        mx = std::max(mx, scores[j]);
      }
      double l = 0;
      for (double& e : scores) l += (e = std::exp(e - mx));
      for (int j = 0; j <= i; ++j)
        for (int d = 0; d < D; ++d)
          out[(static_cast<size_t>(i - p0) * H + h) * D + d] +=
              scores[j] / l * v[(static_cast<size_t>(j) * KV + g) * D + d];
    }
  }
  return out;
}

struct Case {
  int T, p0, H, KV, D, window, group;
};

void run_case(const Case& c) {
  harpe::rope::RopeSpec spec;
  spec.scheme = harpe::rope::Scheme::harpe;
  for (int g = 0; g < c.KV; ++g) spec.bases.push_back(50.0 + 37.0 * g);  // distinct per KV head
  RopeTable table =
      harpe::rope::build_table(spec, {c.H, c.KV, c.D, 0, harpe::rope::Layout::half_split});
  const PositionMap map{c.window, c.group};

  auto q = random_vec(static_cast<size_t>(c.T) * c.H * c.D, 1);
  auto k = random_vec(static_cast<size_t>(c.T) * c.KV * c.D, 2);
  auto v = random_vec(static_cast<size_t>(c.T) * c.KV * c.D, 3);
  auto expected = reference(q, k, v, table, map, c.T, c.p0, c.H, c.KV, c.D);

  // Rotate with the kernel: ordinary positions, and (for Self-Extend) grouped positions.
  std::vector<int32_t> pos(c.T), qpos(c.T), kpos(c.T);
  for (int i = 0; i < c.T; ++i) {
    pos[i] = i;
    qpos[i] = map.self_extend() ? map.grouped_query(i) : i;
    kpos[i] = map.self_extend() ? map.grouped_key(i) : i;
  }
  auto qr = q, kr = k, qg = q, kg = k;
  harpe::kernels::rope_apply(qr.data(), pos.data(), table, c.T, false);
  harpe::kernels::rope_apply(kr.data(), pos.data(), table, c.T, true);
  harpe::kernels::rope_apply(qg.data(), qpos.data(), table, c.T, false);
  harpe::kernels::rope_apply(kg.data(), kpos.data(), table, c.T, true);

  const size_t row = static_cast<size_t>(c.H) * c.D;
  // Prefill of all new queries at once, then decoding one query at a time: both must match.
  for (int step : {c.T - c.p0, 1}) {
    for (int t0 = c.p0; t0 < c.T; t0 += step) {
      const int n = std::min(step, c.T - t0);
      std::vector<float> out(n * row);
      CachedAttentionShape s{n, t0, c.H, c.KV, c.D, 0.f, c.window};
      harpe::kernels::cached_attention(out.data(), qr.data() + t0 * row, kr.data(), v.data(),
                                       qg.data() + t0 * row, kg.data(), s);
      for (size_t e = 0; e < out.size(); ++e)
        ASSERT_NEAR(out[e], expected[(t0 - c.p0) * row + e], 2e-4)
            << "step " << step << " t0 " << t0 << " element " << e;
    }
  }
}

TEST(CachedAttention, MatchesPlainCausalAttentionWithoutSelfExtend) {
  run_case({37, 0, 4, 2, 16, 0, 1});
  run_case({300, 290, 2, 1, 32, 0, 1});  // crosses a key block boundary
}

TEST(CachedAttention, SelfExtendMatchesPositionMapReference) {
  run_case({41, 0, 4, 2, 16, 8, 4});
  run_case({64, 30, 4, 4, 8, 6, 3});      // window not a multiple of the group
  run_case({300, 270, 2, 1, 16, 32, 8});  // grouped keys across key blocks
}

TEST(CachedAttention, DecodeAgreesWithTiledAttentionForward) {
  const int T = 50, H = 4, KV = 2, D = 32;
  auto q = random_vec(static_cast<size_t>(T) * H * D, 4);
  auto k = random_vec(static_cast<size_t>(T) * KV * D, 5);
  auto v = random_vec(static_cast<size_t>(T) * KV * D, 6);
  std::vector<float> full(q.size()), lse(static_cast<size_t>(H) * T);
  harpe::kernels::attention_forward(full.data(), lse.data(), q.data(), k.data(), v.data(),
                                    {1, T, H, KV, D, 0.f});
  const size_t row = static_cast<size_t>(H) * D;
  for (int t = 0; t < T; ++t) {
    std::vector<float> out(row);
    harpe::kernels::cached_attention(out.data(), q.data() + t * row, k.data(), v.data(), nullptr,
                                     nullptr, {1, t, H, KV, D, 0.f, 0});
    for (size_t e = 0; e < row; ++e) ASSERT_NEAR(out[e], full[t * row + e], 1e-5);
  }
}

TEST(CachedAttention, RejectsSelfExtendWithoutGroupedInputs) {
  std::vector<float> x(16);
  EXPECT_THROW(harpe::kernels::cached_attention(x.data(), x.data(), x.data(), x.data(), nullptr,
                                                nullptr, {1, 0, 1, 1, 16, 0.f, 4}),
               harpe::Error);
}

}  // namespace

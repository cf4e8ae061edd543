// The single-row decode kernels (kernels/decode.h, cached_attention_row) against straightforward
// double-precision references and against the batched kernels they stand in for; odd sizes (masked
// tails, the scalar remainder rows) and GQA included. And the Session's lean path against its GEMM
// path.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/buffer.h"
#include "core/half.h"
#include "infer/huge_pages.h"
#include "infer/session.h"
#include "kernels/cached_attention.h"
#include "kernels/decode.h"
#include "kernels/ops.h"
#include "model/config.h"
#include "model/model.h"
#include "rope/rope_table.h"

namespace {

namespace k = harpe::kernels;
namespace rope = harpe::rope;

std::vector<float> random_vec(std::size_t n, unsigned seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(gen);
  return v;
}

TEST(DecodeKernels, GemvMatchesDoubleReference) {
  for (int out : {1, 3, 4, 5, 9, 17}) {
    for (int in : {1, 7, 15, 16, 17, 33, 256, 688}) {
      const auto W = random_vec(static_cast<std::size_t>(out) * in, 1 + out * 1000 + in);
      const auto x = random_vec(in, 2 + in);
      const auto y0 = random_vec(out, 3 + out);
      for (bool acc : {false, true}) {
        std::vector<float> y = y0;
        k::gemv(y.data(), x.data(), W.data(), out, in, acc);
        for (int o = 0; o < out; ++o) {
          double ref = acc ? y0[o] : 0.0, mag = acc ? std::fabs(y0[o]) : 0.0;
          for (int i = 0; i < in; ++i) {
            ref += static_cast<double>(W[static_cast<std::size_t>(o) * in + i]) * x[i];
            mag += std::fabs(static_cast<double>(W[static_cast<std::size_t>(o) * in + i]) * x[i]);
          }
          // float summation of `in` terms: error bounded by ~in * eps * sum |terms|
          ASSERT_NEAR(y[o], ref, 1e-6 * mag + 1e-7)
              << "out=" << out << " in=" << in << " o=" << o << " accumulate=" << acc;
        }
      }
    }
  }
}

TEST(DecodeKernels, RmsnormAndSwigluRowsFollowTheirFormulas) {
  const int C = 37;
  const auto x = random_vec(C, 5), w = random_vec(C, 6, 0.5f, 1.5f);
  std::vector<float> out(C);
  k::rmsnorm_row(out.data(), x.data(), w.data(), C, 1e-5f);
  double ss = 0;
  for (float v : x) ss += static_cast<double>(v) * v;
  const double r = 1.0 / std::sqrt(ss / C + 1e-5);
  for (int c = 0; c < C; ++c) EXPECT_NEAR(out[c], x[c] * r * w[c], 1e-6) << c;

  const int n = 29;
  auto gate = random_vec(n, 7, -6.f, 6.f);
  const auto up = random_vec(n, 8);
  const auto g0 = gate;
  k::swiglu_row(gate.data(), up.data(), n);
  for (int i = 0; i < n; ++i) {
    const double g = g0[i];
    EXPECT_NEAR(gate[i], g / (1.0 + std::exp(-g)) * up[i], 1e-6) << i;
  }
}

// rope_cos_sin + rope_row give what rope_apply gives, for queries and (GQA) keys.
void expect_rope_row_matches(const rope::RopeSpec& spec, const rope::TableShape& shape, int pos) {
  const rope::RopeTable t = rope::build_table(spec, shape, 8192);
  std::vector<float> cs(2 * static_cast<std::size_t>(t.n_kv_heads) * t.pairs());
  k::rope_cos_sin(cs.data(), t, pos);
  for (bool keys : {false, true}) {
    const int heads = keys ? t.n_kv_heads : t.n_heads;
    auto a = random_vec(static_cast<std::size_t>(heads) * t.head_dim, 9 + pos);
    auto b = a;
    const int32_t p = pos;
    k::rope_apply(a.data(), &p, t, 1, keys);
    k::rope_row(b.data(), cs.data(), t, keys);
    for (std::size_t e = 0; e < a.size(); ++e)
      ASSERT_NEAR(b[e], a[e], 2e-6) << "pos " << pos << " keys " << keys << " element " << e;
  }
}

TEST(DecodeKernels, RopeRowMatchesRopeApply) {
  rope::RopeSpec harpe;
  harpe.scheme = rope::Scheme::harpe;
  harpe.bases = {500.0, 20000.0};  // one per KV head: the rows differ between groups
  rope::RopeSpec yarn;
  yarn.scheme = rope::Scheme::yarn;  // attn_factor != 1
  yarn.factor = 4;
  yarn.original_context = 512;
  for (int pos : {0, 1, 77, 5003}) {
    expect_rope_row_matches(harpe, {6, 2, 16, 0, rope::Layout::half_split}, pos);
    expect_rope_row_matches(harpe, {6, 2, 16, 10, rope::Layout::interleaved},
                            pos);  // partial rotation
    expect_rope_row_matches(yarn, {4, 4, 32, 0, rope::Layout::half_split}, pos);
  }
}

// Softmax attention of one query at position i, in double, straight from the definition (with
// Self-Extend's choice of vectors for far pairs).
std::vector<double> reference_attention(const std::vector<float>& q, const std::vector<float>& kc,
                                        const std::vector<float>& v, const std::vector<float>& qg,
                                        const std::vector<float>& kg, int i, int H, int KV, int D,
                                        int W) {
  std::vector<double> out(static_cast<std::size_t>(H) * D, 0.0);
  const int group = H / KV;
  for (int h = 0; h < H; ++h) {
    const int g = h / group;
    std::vector<double> s(static_cast<std::size_t>(i) + 1);
    double mx = -1e300;
    for (int j = 0; j <= i; ++j) {
      const bool far = W > 0 && i - j >= W;
      const float* qq = (far ? qg.data() : q.data()) + h * D;
      const float* kk = (far ? kg.data() : kc.data()) + (static_cast<std::size_t>(j) * KV + g) * D;
      double d = 0;
      for (int e = 0; e < D; ++e) d += static_cast<double>(qq[e]) * kk[e];
      s[j] = d / std::sqrt(static_cast<double>(D));
      mx = std::max(mx, s[j]);
    }
    double l = 0;
    for (double& x : s) l += (x = std::exp(x - mx));
    for (int j = 0; j <= i; ++j)
      for (int e = 0; e < D; ++e)
        out[static_cast<std::size_t>(h) * D + e] +=
            s[j] / l * v[(static_cast<std::size_t>(j) * KV + g) * D + e];
  }
  return out;
}

TEST(DecodeKernels, CachedAttentionRowMatchesReferenceAndBatchedKernel) {
  struct Case {
    int H, KV, D, i, W;
  };
  for (const Case c :
       {Case{4, 4, 16, 0, 0}, Case{6, 2, 32, 36, 0}, Case{6, 3, 20, 41, 0}, Case{8, 4, 32, 130, 0},
        Case{6, 2, 32, 36, 8}, Case{4, 2, 20, 50, 5}, Case{4, 1, 16, 3, 2}}) {
    const int T = c.i + 1;
    const std::size_t nq = static_cast<std::size_t>(c.H) * c.D,
                      nk = static_cast<std::size_t>(T) * c.KV * c.D;
    const auto q = random_vec(nq, 11 + c.i), qg = random_vec(nq, 12 + c.i);
    const auto kc = random_vec(nk, 13 + c.D, -2.f, 2.f), kg = random_vec(nk, 14 + c.D, -2.f, 2.f);
    const auto v = random_vec(nk, 15 + c.H);
    const auto ref = reference_attention(q, kc, v, qg, kg, c.i, c.H, c.KV, c.D, c.W);
    std::vector<float> out(nq), batched(nq), scratch(static_cast<std::size_t>(c.H) * (T + 1));
    const k::CachedAttentionShape shape{1, c.i, c.H, c.KV, c.D, 0.f, c.W};
    const float* qgp = c.W ? qg.data() : nullptr;
    const float* kgp = c.W ? kg.data() : nullptr;
    k::cached_attention_row(out.data(), q.data(), kc.data(), v.data(), qgp, kgp, shape,
                            scratch.data());
    k::cached_attention(batched.data(), q.data(), kc.data(), v.data(), qgp, kgp, shape);
    for (std::size_t e = 0; e < nq; ++e) {
      ASSERT_NEAR(out[e], ref[e], 2e-6) << "H=" << c.H << " KV=" << c.KV << " D=" << c.D
                                        << " i=" << c.i << " W=" << c.W << " element " << e;
      ASSERT_NEAR(out[e], batched[e], 2e-6) << "vs cached_attention, element " << e;
    }
  }
}

// A bf16 cache (k, kg, v rounded to bf16) gives what the fp32 kernels give on the same values
// widened: the widening is exact, only the summation order may differ (it does not here).
TEST(DecodeKernels, Bf16CacheMatchesFp32KernelOnWidenedValues) {
  struct Case {
    int H, KV, D, i, W;
  };
  for (const Case c : {Case{4, 4, 16, 0, 0}, Case{6, 2, 32, 36, 0}, Case{6, 3, 20, 41, 0},
                       Case{8, 4, 32, 130, 0}, Case{4, 2, 20, 50, 5}, Case{4, 1, 64, 70, 9}}) {
    const int T = c.i + 1;
    const std::size_t nq = static_cast<std::size_t>(c.H) * c.D,
                      nk = static_cast<std::size_t>(T) * c.KV * c.D;
    const auto q = random_vec(nq, 21 + c.i), qg = random_vec(nq, 22 + c.i);
    std::vector<float> kc = random_vec(nk, 23 + c.D, -2.f, 2.f),
                       kg = random_vec(nk, 24 + c.D, -2.f, 2.f), v = random_vec(nk, 25 + c.H);
    std::vector<uint16_t> kc16(nk), kg16(nk), v16(nk);
    for (std::size_t e = 0; e < nk; ++e) {
      kc16[e] = harpe::f32_to_bf16(kc[e]);
      kg16[e] = harpe::f32_to_bf16(kg[e]);
      v16[e] = harpe::f32_to_bf16(v[e]);
      kc[e] = harpe::bf16_to_f32(kc16[e]);
      kg[e] = harpe::bf16_to_f32(kg16[e]);
      v[e] = harpe::bf16_to_f32(v16[e]);
    }
    const auto ref = reference_attention(q, kc, v, qg, kg, c.i, c.H, c.KV, c.D, c.W);
    std::vector<float> wide(nq), row(nq), batched(nq),
        scratch(static_cast<std::size_t>(c.H) * (T + 1));
    const k::CachedAttentionShape shape{1, c.i, c.H, c.KV, c.D, 0.f, c.W};
    const float* qgp = c.W ? qg.data() : nullptr;
    k::cached_attention_row(wide.data(), q.data(), kc.data(), v.data(), qgp,
                            c.W ? kg.data() : nullptr, shape, scratch.data());
    k::cached_attention_row(row.data(), q.data(), kc16.data(), v16.data(), qgp,
                            c.W ? kg16.data() : nullptr, shape, scratch.data());
    k::cached_attention(batched.data(), q.data(), kc16.data(), v16.data(), qgp,
                        c.W ? kg16.data() : nullptr, shape);
    for (std::size_t e = 0; e < nq; ++e) {
      ASSERT_NEAR(row[e], wide[e], 1e-6) << "H=" << c.H << " KV=" << c.KV << " D=" << c.D
                                         << " i=" << c.i << " W=" << c.W << " element " << e;
      ASSERT_NEAR(batched[e], wide[e], 1e-6) << "batched, element " << e;
      ASSERT_NEAR(row[e], ref[e], 2e-6) << "vs the double reference, element " << e;
    }
  }
}

TEST(DecodeKernels, HugePageAdviceKeepsContents) {
  EXPECT_FALSE(harpe::infer::advise_huge_pages(nullptr, 1 << 22));
  harpe::Buffer<float> small(100);
  EXPECT_FALSE(harpe::infer::advise_huge_pages(small.data(), small.size() * sizeof(float)));
  const std::size_t n = std::size_t{3} << 20;  // 12 MiB: holds whole aligned 2 MiB pages
  harpe::Buffer<float> big(n);
  for (std::size_t i = 0; i < n; ++i) big[i] = static_cast<float>(i % 1009);
  harpe::infer::advise_huge_pages(big.data(), n * sizeof(float));  // may fail without THP: a hint
  for (std::size_t i = 0; i < n; i += 997) ASSERT_EQ(big[i], static_cast<float>(i % 1009)) << i;
}

// The lean path against the GEMM path on a model whose heads need the tails and GQA handled:
// single tokens, a small append (n <= kLeanTokens, all logits), and Self-Extend.
void expect_lean_matches_gemm(harpe::rope::PositionMap map) {
  harpe::model::ModelConfig cfg = harpe::model::preset("micro");
  cfg.rope.scheme = rope::Scheme::harpe;
  cfg.rope.bases = {300.0, 7000.0};
  harpe::model::Model m(cfg);
  harpe::model::init_params(m, 3);
  const int V = cfg.vocab_size, T = 30;
  std::vector<int32_t> tok(T);
  for (int i = 0; i < T; ++i) tok[i] = (i * 53 + 5) % V;
  harpe::infer::Session lean(m, {T, map, true}), gemm(m, {T, map, false});
  std::vector<float> a(static_cast<std::size_t>(T) * V), b(a.size());
  // prefill 20 (both GEMM), then 3 at once (lean: token by token), then single tokens
  lean.append(tok.data(), 20, nullptr, a.data());
  gemm.append(tok.data(), 20, nullptr, b.data());
  lean.append(tok.data() + 20, 3, nullptr, a.data() + 20 * V);
  gemm.append(tok.data() + 20, 3, nullptr, b.data() + 20 * V);
  std::vector<float> last_a(V), last_b(V);
  for (int p = 23; p < T; ++p) {
    lean.append(tok.data() + p, 1, last_a.data(), a.data() + static_cast<std::size_t>(p) * V);
    gemm.append(tok.data() + p, 1, last_b.data(), b.data() + static_cast<std::size_t>(p) * V);
  }
  for (std::size_t e = 0; e < a.size(); ++e) ASSERT_NEAR(a[e], b[e], 1e-4) << "element " << e;
  for (int e = 0; e < V; ++e) EXPECT_EQ(last_a[e], a[static_cast<std::size_t>(T - 1) * V + e]);
}

TEST(DecodeKernels, SessionLeanPathMatchesGemmPath) { expect_lean_matches_gemm({}); }

TEST(DecodeKernels, SessionLeanPathMatchesGemmPathWithSelfExtend) {
  expect_lean_matches_gemm({6, 3});
}

}  // namespace

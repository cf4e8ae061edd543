// Tiled causal attention vs a naive double-precision reference that materialises the full T x T
// score matrix, plus finite differences of the backward, the exp approximation, the O(T) scratch,
// and `harpe bench attention`.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/attention.h"
#include "kernels/attention_internal.h"
#include "kernels/gemm.h"

namespace {

using harpe::kernels::AttentionShape;
namespace detail = harpe::kernels::attention_detail;

std::vector<float> random_vec(std::size_t n, float lo, float hi, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> x(n);
  for (float& e : x) e = dist(gen);
  return x;
}

double scale_of(const AttentionShape& s) { return s.scale != 0 ? s.scale : 1.0 / std::sqrt(s.D); }

struct Reference {
  std::vector<double> out, lse, dq, dk, dv;
};

// Straight from the definitions: P = softmax(Q K^T scale + causal mask) per (b, h), O = P V;
// dP = dO V^T, dS = P * (dP - rowsum(dP * P)), dQ = dS K scale, dK = dS^T Q scale, dV = P^T dO.
Reference reference(const std::vector<float>& q, const std::vector<float>& k,
                    const std::vector<float>& v, const std::vector<float>& dout,
                    const AttentionShape& s) {
  const int B = s.B, T = s.T, H = s.H, KV = s.KV, D = s.D, G = H / KV;
  const double scale = scale_of(s);
  Reference ref;
  ref.out.assign(static_cast<std::size_t>(B) * T * H * D, 0.0);
  ref.lse.assign(static_cast<std::size_t>(B) * H * T, 0.0);
  ref.dq.assign(ref.out.size(), 0.0);
  ref.dk.assign(static_cast<std::size_t>(B) * T * KV * D, 0.0);
  ref.dv.assign(ref.dk.size(), 0.0);
  auto qi = [&](int b, int t, int h, int d) {
    return ((static_cast<std::size_t>(b) * T + t) * H + h) * D + d;
  };
  auto ki = [&](int b, int t, int g, int d) {
    return ((static_cast<std::size_t>(b) * T + t) * KV + g) * D + d;
  };
  std::vector<double> P(static_cast<std::size_t>(T) * T), dP(P.size());
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h) {
      const int g = h / G;
      for (int t = 0; t < T; ++t) {
        double m = -std::numeric_limits<double>::infinity();
        for (int c = 0; c <= t; ++c) {
          double dot = 0;
          for (int d = 0; d < D; ++d) dot += double(q[qi(b, t, h, d)]) * k[ki(b, c, g, d)];
          P[t * T + c] = dot * scale;
          m = std::max(m, P[t * T + c]);
        }
        double l = 0;
        for (int c = 0; c <= t; ++c) l += std::exp(P[t * T + c] - m);
        ref.lse[(static_cast<std::size_t>(b) * H + h) * T + t] = m + std::log(l);
        for (int c = 0; c < T; ++c) P[t * T + c] = c <= t ? std::exp(P[t * T + c] - m) / l : 0.0;
        for (int d = 0; d < D; ++d) {
          double acc = 0;
          for (int c = 0; c <= t; ++c) acc += P[t * T + c] * v[ki(b, c, g, d)];
          ref.out[qi(b, t, h, d)] = acc;
        }
      }
      for (int t = 0; t < T; ++t) {
        double rowsum = 0;
        for (int c = 0; c <= t; ++c) {
          double dot = 0;
          for (int d = 0; d < D; ++d) dot += double(dout[qi(b, t, h, d)]) * v[ki(b, c, g, d)];
          dP[t * T + c] = dot;
          rowsum += dot * P[t * T + c];
        }
        for (int c = 0; c <= t; ++c) {
          const double ds = P[t * T + c] * (dP[t * T + c] - rowsum);
          for (int d = 0; d < D; ++d) {
            ref.dq[qi(b, t, h, d)] += ds * k[ki(b, c, g, d)] * scale;
            ref.dk[ki(b, c, g, d)] += ds * q[qi(b, t, h, d)] * scale;
            ref.dv[ki(b, c, g, d)] += P[t * T + c] * dout[qi(b, t, h, d)];
          }
        }
      }
    }
  return ref;
}

// max |got - want| / max(max |want|, 0.1): error relative to the tensor's scale.
double scaled_error(const std::vector<float>& got, const std::vector<double>& want) {
  double err = 0, mag = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (!std::isfinite(got[i])) return std::numeric_limits<double>::infinity();
    err = std::max(err, std::abs(got[i] - want[i]));
    mag = std::max(mag, std::abs(want[i]));
  }
  return err / std::max(mag, 0.1);  // floor: some gradients are exactly 0 (T = 1)
}

struct Case {
  int B, T, H, KV, D;
  float scale = 0;
  float range = 1;  // inputs uniform in [-range, range]
};

struct Run {
  std::vector<float> out, lse, dq, dk, dv;
};

Run run(const Case& c, bool generic, const std::vector<float>& q, const std::vector<float>& k,
        const std::vector<float>& v, const std::vector<float>& dout) {
  const AttentionShape s{c.B, c.T, c.H, c.KV, c.D, c.scale};
  Run r;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  r.out.assign(q.size(), nan);
  r.lse.assign(static_cast<std::size_t>(c.B) * c.H * c.T, nan);
  r.dq.assign(q.size(), nan);  // NaN garbage: the backward must overwrite, not accumulate
  r.dk.assign(k.size(), nan);
  r.dv.assign(k.size(), nan);
  if (generic) {
    detail::forward_generic(r.out.data(), r.lse.data(), q.data(), k.data(), v.data(), s);
    detail::backward_generic(r.dq.data(), r.dk.data(), r.dv.data(), dout.data(), q.data(), k.data(),
                             v.data(), r.out.data(), r.lse.data(), s);
  } else {
    harpe::kernels::attention_forward(r.out.data(), r.lse.data(), q.data(), k.data(), v.data(), s);
    harpe::kernels::attention_backward(r.dq.data(), r.dk.data(), r.dv.data(), dout.data(), q.data(),
                                       k.data(), v.data(), r.out.data(), r.lse.data(), s);
  }
  return r;
}

// Float32 with accumulation over D (<= 128) and T (<= 257) terms, plus the exp approximation
// (< 1e-6 relative): forward errors are ~1e-6 of the output scale. The backward sums T products
// of such values and subtracts rowsum(dP * P), which cancels: ~1e-5. Tolerances leave 5-10x room.
constexpr double kForwardTol = 2e-5;
constexpr double kBackwardTol = 1e-4;

void check_case(const Case& c, bool generic) {
  SCOPED_TRACE("B=" + std::to_string(c.B) + " T=" + std::to_string(c.T) +
               " H=" + std::to_string(c.H) + " KV=" + std::to_string(c.KV) +
               " D=" + std::to_string(c.D) + (generic ? " generic" : " tiled"));
  const std::size_t nq = static_cast<std::size_t>(c.B) * c.T * c.H * c.D;
  const std::size_t nk = static_cast<std::size_t>(c.B) * c.T * c.KV * c.D;
  const unsigned seed = static_cast<unsigned>(c.T * 131 + c.D * 7 + c.KV);
  const auto q = random_vec(nq, -c.range, c.range, seed);
  const auto k = random_vec(nk, -c.range, c.range, seed + 1);
  const auto v = random_vec(nk, -1, 1, seed + 2);
  const auto dout = random_vec(nq, -1, 1, seed + 3);
  const AttentionShape s{c.B, c.T, c.H, c.KV, c.D, c.scale};
  const Reference ref = reference(q, k, v, dout, s);
  // 1, 2 and 3 threads: the backward splits work by whole K/V heads or by key tiles with
  // per-thread dQ partials depending on the thread count, and both schedules must agree.
  const int saved_threads = omp_get_max_threads();
  for (int threads : {1, 2, 3}) {
    SCOPED_TRACE("threads=" + std::to_string(threads));
    omp_set_num_threads(threads);
    const Run r = run(c, generic, q, k, v, dout);
    EXPECT_LT(scaled_error(r.out, ref.out), kForwardTol);
    EXPECT_LT(scaled_error(r.lse, ref.lse), kForwardTol);
    EXPECT_LT(scaled_error(r.dq, ref.dq), kBackwardTol);
    EXPECT_LT(scaled_error(r.dk, ref.dk), kBackwardTol);
    EXPECT_LT(scaled_error(r.dv, ref.dv), kBackwardTol);
  }
  omp_set_num_threads(saved_threads);
}

const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      {1, 1, 1, 1, 64},   {2, 7, 4, 4, 16},   {2, 33, 4, 2, 64},   {1, 100, 4, 1, 64},
      {2, 257, 4, 2, 64}, {1, 257, 2, 1, 16}, {1, 100, 4, 2, 128}, {2, 65, 2, 2, 128},
      {1, 130, 4, 1, 24}, {2, 33, 3, 3, 7},   {1, 200, 2, 1, 80},  {2, 300, 8, 4, 32},
  };
  return all;
}

TEST(Attention, TiledMatchesNaiveReference) {
  for (const Case& c : cases()) check_case(c, false);
}

TEST(Attention, GenericFallbackMatchesNaiveReference) {
  for (const Case& c : cases())
    if (c.T <= 130) check_case(c, true);
}

// sqrt(sum (got - want)^2 / sum want^2)
double rel_l2(const std::vector<float>& got, const std::vector<double>& want) {
  double err = 0, mag = 0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (!std::isfinite(got[i])) return std::numeric_limits<double>::infinity();
    err += (got[i] - want[i]) * (got[i] - want[i]);
    mag += want[i] * want[i];
  }
  return std::sqrt(err / mag);
}
std::vector<double> widen(const std::vector<float>& x) { return {x.begin(), x.end()}; }

// bf16 precision: the tile products round their operands to bf16 (8 significant bits, relative
// rounding error <= 2^-9 = 2e-3 each) and accumulate in fp32. With independent rounding errors
// the outputs and gradients land ~3e-3 (relative L2) from the exact values; 1e-2 leaves 3x room
// while a wrong packing or a lost pair gives O(1). They must also differ from the fp32 tiles
// (~1e-6), which proves the bf16 path ran. T not a multiple of the tile and odd (a half pair at
// the end), GQA, D = 64 and 32, both backward schedules (1 and 2 threads, B * KV = 1 with 2).
TEST(Attention, Bf16TilesCloseToReference) {
  const AttentionShape probe{1, 64, 1, 1, 64, 0};
  harpe::kernels::GemmPrecisionScope bf16(harpe::Precision::bf16);
  if (!detail::bf16_active(probe)) GTEST_SKIP() << "no AVX512_BF16 on this CPU";
  const int saved_threads = omp_get_max_threads();
  for (const Case& c :
       std::vector<Case>{{1, 101, 4, 2, 64}, {2, 77, 4, 2, 32}, {1, 200, 2, 1, 32}}) {
    SCOPED_TRACE("B=" + std::to_string(c.B) + " T=" + std::to_string(c.T) + " H=" +
                 std::to_string(c.H) + " KV=" + std::to_string(c.KV) + " D=" + std::to_string(c.D));
    const std::size_t nq = static_cast<std::size_t>(c.B) * c.T * c.H * c.D;
    const std::size_t nk = static_cast<std::size_t>(c.B) * c.T * c.KV * c.D;
    const auto q = random_vec(nq, -1, 1, 11), k = random_vec(nk, -1, 1, 12);
    const auto v = random_vec(nk, -1, 1, 13), dout = random_vec(nq, -1, 1, 14);
    const Reference ref = reference(q, k, v, dout, {c.B, c.T, c.H, c.KV, c.D, 0});
    ::Run fp32;
    {
      harpe::kernels::GemmPrecisionScope f(harpe::Precision::fp32);
      fp32 = run(c, false, q, k, v, dout);
    }
    for (int threads : {1, 2}) {
      SCOPED_TRACE("threads=" + std::to_string(threads));
      omp_set_num_threads(threads);
      const ::Run r = run(c, false, q, k, v, dout);
      EXPECT_LT(rel_l2(r.out, ref.out), 1e-2);
      EXPECT_LT(rel_l2(r.dq, ref.dq), 1e-2);
      EXPECT_LT(rel_l2(r.dk, ref.dk), 1e-2);
      EXPECT_LT(rel_l2(r.dv, ref.dv), 1e-2);
      EXPECT_LT(scaled_error(r.lse, ref.lse), 1e-2);
      EXPECT_GT(rel_l2(r.out, widen(fp32.out)), 1e-4);
      EXPECT_GT(rel_l2(r.dq, widen(fp32.dq)), 1e-4);
      EXPECT_GT(rel_l2(r.dk, widen(fp32.dk)), 1e-4);
      EXPECT_GT(rel_l2(r.dv, widen(fp32.dv)), 1e-4);
      std::printf("bf16 T=%d D=%d threads=%d rel L2: out %.2e dq %.2e dk %.2e dv %.2e\n", c.T, c.D,
                  threads, rel_l2(r.out, ref.out), rel_l2(r.dq, ref.dq), rel_l2(r.dk, ref.dk),
                  rel_l2(r.dv, ref.dv));
    }
  }
  omp_set_num_threads(saved_threads);
}

// The library default (fp32) and D not a multiple of 16 never take the bf16 tiles.
TEST(Attention, Bf16TilesOnlyInBf16Precision) {
  EXPECT_FALSE(detail::bf16_active({1, 64, 1, 1, 64, 0}));
  harpe::kernels::GemmPrecisionScope bf16(harpe::Precision::bf16);
  EXPECT_FALSE(detail::bf16_active({1, 64, 1, 1, 24, 0}));
}

// Large, spread logits: the running max changes across key tiles, so the online rescaling
// (alpha = exp(m_old - m_new)) is exercised; a wrong rescale breaks the output at once.
TEST(Attention, SharpSoftmaxAcrossTiles) {
  check_case({1, 200, 2, 1, 32, 1.0f, 3.0f}, false);
  Case c{1, 150, 2, 2, 64, 0.5f, 2.0f};
  check_case(c, false);
}

// d(sum(out * W)) / dx by central differences of the kernel's own forward, for every input.
TEST(Attention, BackwardMatchesFiniteDifferences) {
  const AttentionShape s{1, 5, 2, 1, 4, 0.7f};
  const std::size_t nq = 5 * 2 * 4, nk = 5 * 1 * 4;
  auto q = random_vec(nq, -1, 1, 11), k = random_vec(nk, -1, 1, 12), v = random_vec(nk, -1, 1, 13);
  const auto w = random_vec(nq, -1, 1, 14);
  std::vector<float> out(nq), lse(10), dq(nq), dk(nk), dv(nk);
  harpe::kernels::attention_forward(out.data(), lse.data(), q.data(), k.data(), v.data(), s);
  harpe::kernels::attention_backward(dq.data(), dk.data(), dv.data(), w.data(), q.data(), k.data(),
                                     v.data(), out.data(), lse.data(), s);
  auto loss = [&] {
    std::vector<float> o(nq), l(10);
    harpe::kernels::attention_forward(o.data(), l.data(), q.data(), k.data(), v.data(), s);
    double acc = 0;
    for (std::size_t i = 0; i < nq; ++i) acc += double(o[i]) * w[i];
    return acc;
  };
  // step 1e-2: truncation ~h^2 = 1e-4 of the curvature, float rounding ~1e-7 / h = 1e-5.
  const float h = 1e-2f;
  auto check_grad = [&](std::vector<float>& x, const std::vector<float>& grad, const char* name) {
    for (std::size_t i = 0; i < x.size(); ++i) {
      const float saved = x[i];
      x[i] = saved + h;
      const double up = loss();
      x[i] = saved - h;
      const double down = loss();
      x[i] = saved;
      const double fd = (up - down) / (2 * h);
      EXPECT_NEAR(grad[i], fd, 2e-3) << name << "[" << i << "]";
    }
  };
  check_grad(q, dq, "dq");
  check_grad(k, dk, "dk");
  check_grad(v, dv, "dv");
}

TEST(Attention, ExpApproximationAccuracy) {
  std::vector<float> x;
  for (double t = -87.0; t <= 10.0; t += 0.0137) x.push_back(static_cast<float>(t));
  for (float t : {0.0f, -0.3465736f, 0.3465736f, -1e-8f, 1e-8f, -86.9f, 5.5f}) x.push_back(t);
  std::vector<float> y(x.size());
  detail::exp_approx(x.data(), y.data(), static_cast<int>(x.size()));
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double want = std::exp(double(x[i]));
    worst = std::max(worst, std::abs(y[i] - want) / want);
  }
  EXPECT_LT(worst, 1e-6);
  // masked scores: -inf and far below the float range give exactly 0, never NaN
  const float inf = std::numeric_limits<float>::infinity();
  std::array<float, 3> lo{-inf, -1e30f, -200.0f}, out{};
  detail::exp_approx(lo.data(), out.data(), 3);
  for (float e : out) EXPECT_EQ(e, 0.0f);
}

// The only extra memory is per-thread tiles plus O(T) vectors: the scratch of a call is affine in
// T (constant second difference) and far below one T x T float matrix.
TEST(Attention, ScratchMemoryIsLinearInT) {
  auto bytes = [](int T, bool backward) {
    const AttentionShape s{1, T, 2, 1, 32, 0};
    const std::size_t nq = static_cast<std::size_t>(T) * 2 * 32,
                      nk = static_cast<std::size_t>(T) * 32;
    std::vector<float> q(nq, 0.1f), k(nk, 0.2f), v(nk, 0.3f), out(nq), lse(2 * T), dq(nq), dk(nk),
        dv(nk);
    harpe::kernels::attention_forward(out.data(), lse.data(), q.data(), k.data(), v.data(), s);
    if (!backward) return static_cast<double>(detail::last_scratch_bytes());
    harpe::kernels::attention_backward(dq.data(), dk.data(), dv.data(), out.data(), q.data(),
                                       k.data(), v.data(), out.data(), lse.data(), s);
    return static_cast<double>(detail::last_scratch_bytes());
  };
  for (bool backward : {false, true}) {
    const double b1 = bytes(512, backward), b2 = bytes(1024, backward), b4 = bytes(2048, backward);
    EXPECT_GT(b1, 0);
    EXPECT_NEAR(b4 - b2, 2 * (b2 - b1), 1.0) << (backward ? "backward" : "forward");
    EXPECT_LT(b4, 2048.0 * 2048.0 * sizeof(float) / 4) << (backward ? "backward" : "forward");
  }
}

TEST(Attention, RejectsBadShapes) {
  std::vector<float> buf(64, 0.0f);
  const AttentionShape bad_group{1, 2, 4, 3, 4, 0};
  EXPECT_THROW(harpe::kernels::attention_forward(buf.data(), buf.data(), buf.data(), buf.data(),
                                                 buf.data(), bad_group),
               harpe::Error);
  const AttentionShape bad_dim{1, 2, 2, 2, 0, 0};
  EXPECT_THROW(
      harpe::kernels::attention_backward(buf.data(), buf.data(), buf.data(), buf.data(), buf.data(),
                                         buf.data(), buf.data(), buf.data(), buf.data(), bad_dim),
      harpe::Error);
}

std::string run_command(const std::string& cmd, int* status) {
  std::string text;
  FILE* pipe = popen((cmd + " 2>&1").c_str(), "r");
  if (!pipe) return text;
  char chunk[512];
  while (std::fgets(chunk, sizeof chunk, pipe)) text += chunk;
  *status = pclose(pipe);
  return text;
}

TEST(Attention, BenchCommandPrintsRatioLast) {
  int status = -1;
  const std::string text =
      run_command(std::string(HARPE_BINARY) +
                      " bench attention --context 200 --heads 4 --kv-heads 2 --head-dim 32 "
                      "--iters 1 --sgemm-size 256",
                  &status);
  ASSERT_EQ(status, 0) << text;
  std::string body = text;
  while (!body.empty() && body.back() == '\n') body.pop_back();
  const std::string last = body.substr(body.rfind('\n') + 1);
  ASSERT_EQ(last.rfind("vs_sgemm=", 0), 0u) << text;
  EXPECT_GT(std::stod(last.substr(9)), 0.0) << text;
  EXPECT_NE(text.find("T=200"), std::string::npos) << text;

  const std::string err =
      run_command(std::string(HARPE_BINARY) + " bench attention --heads 3 --kv-heads 2", &status);
  EXPECT_NE(status, 0);
  EXPECT_NE(err.find("harpe: error:"), std::string::npos) << err;
}

}  // namespace

// Row-wise and elementwise kernels: forwards against straight double-precision implementations of
// the formulas, backwards against central finite differences of those double implementations
// (so the difference quotient itself is accurate to ~1e-9 and the tolerance only has to absorb
// the float32 arithmetic of the kernel under test).
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <vector>

#include "core/error.h"
#include "kernels/ops.h"
#include "kernels/vec_math.h"

namespace {

namespace k = harpe::kernels;
using Vec = std::vector<float>;
using DVec = std::vector<double>;

Vec random_vec(std::size_t n, unsigned seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> U(lo, hi);
  Vec v(n);
  for (auto& x : v) x = U(rng);
  return v;
}

DVec to_double(const Vec& v) { return DVec(v.begin(), v.end()); }

// Central difference of a double-valued function of a double vector, at coordinate i.
// h = 1e-5: truncation error ~h^2 |f'''| ~ 1e-10, rounding ~1e-16 |f| / h ~ 1e-11.
double central_diff(const std::function<double(const DVec&)>& f, DVec p, std::size_t i) {
  const double h = 1e-5;
  const double p0 = p[i];
  p[i] = p0 + h;
  const double fp = f(p);
  p[i] = p0 - h;
  const double fm = f(p);
  return (fp - fm) / (2 * h);
}

// ---------------------------------------------------------------- embedding

TEST(Embedding, ForwardCopiesRows) {
  const int N = 7, C = 5, V = 4;
  Vec wte = random_vec(V * C, 1);
  std::vector<int32_t> tok = {3, 0, 3, 1, 2, 2, 0};
  Vec out(N * C, -9.0f);
  k::embedding_forward(out.data(), tok.data(), wte.data(), N, C);
  for (int n = 0; n < N; ++n)
    for (int c = 0; c < C; ++c) EXPECT_EQ(out[n * C + c], wte[tok[n] * C + c]);
}

TEST(Embedding, BackwardAccumulatesRepeatedTokensDeterministically) {
  // Large enough (N*C > 32768) to take the parallel path; few distinct tokens so many rows
  // collide on the same table row.
  const int N = 300, C = 129, V = 5;
  std::vector<int32_t> tok(N);
  for (int n = 0; n < N; ++n) tok[n] = (n * 7 + n / 3) % V;
  Vec dout = random_vec(static_cast<std::size_t>(N) * C, 2);
  Vec init = random_vec(static_cast<std::size_t>(V) * C, 3);

  DVec ref = to_double(init);
  for (int n = 0; n < N; ++n)
    for (int c = 0; c < C; ++c) ref[tok[n] * C + c] += dout[n * C + c];

  const int saved = omp_get_max_threads();
  Vec results[2];
  for (int t : {1, 2}) {
    omp_set_num_threads(t);
    Vec d = init;  // accumulate onto existing values
    k::embedding_backward(d.data(), dout.data(), tok.data(), N, C);
    results[t - 1] = d;
  }
  omp_set_num_threads(saved);
  // Sums of ~60 terms of size <= 1 in float: error well below 1e-4.
  for (std::size_t i = 0; i < ref.size(); ++i) EXPECT_NEAR(results[1][i], ref[i], 1e-4) << i;
  EXPECT_EQ(std::memcmp(results[0].data(), results[1].data(), results[0].size() * 4), 0)
      << "embedding_backward depends on the thread count";
}

TEST(Embedding, RejectsNegativeToken) {
  Vec wte(8), out(4);
  std::vector<int32_t> tok = {1, -1};
  EXPECT_THROW(k::embedding_forward(out.data(), tok.data(), wte.data(), 2, 2), harpe::Error);
}

// ---------------------------------------------------------------- rmsnorm

void rmsnorm_ref(const DVec& x, const DVec& w, int N, int C, double eps, DVec& out, DVec& rstd) {
  out.assign(static_cast<std::size_t>(N) * C, 0);
  rstd.assign(N, 0);
  for (int n = 0; n < N; ++n) {
    double ss = 0;
    for (int c = 0; c < C; ++c) ss += x[n * C + c] * x[n * C + c];
    rstd[n] = 1.0 / std::sqrt(ss / C + eps);
    for (int c = 0; c < C; ++c) out[n * C + c] = x[n * C + c] * rstd[n] * w[c];
  }
}

TEST(RmsNorm, ForwardMatchesFormula) {
  const int N = 6, C = 37;
  const float eps = 1e-5f;
  Vec x = random_vec(N * C, 4, -2.0f, 2.0f), w = random_vec(C, 5, 0.5f, 1.5f);
  Vec out(N * C), rstd(N);
  k::rmsnorm_forward(out.data(), rstd.data(), x.data(), w.data(), N, C, eps);
  DVec ro, rr;
  rmsnorm_ref(to_double(x), to_double(w), N, C, eps, ro, rr);
  for (int n = 0; n < N; ++n) EXPECT_NEAR(rstd[n], rr[n], 1e-5 * rr[n]);
  for (int i = 0; i < N * C; ++i) EXPECT_NEAR(out[i], ro[i], 1e-5 * (1 + std::abs(ro[i])));
}

TEST(RmsNorm, BackwardMatchesFiniteDifferences) {
  const int N = 4, C = 37;
  const float eps = 1e-5f;
  Vec x = random_vec(N * C, 6, -2.0f, 2.0f), w = random_vec(C, 7, 0.5f, 1.5f);
  Vec g = random_vec(N * C, 8);  // dL/dout: L = sum(g * out)
  Vec out(N * C), rstd(N);
  k::rmsnorm_forward(out.data(), rstd.data(), x.data(), w.data(), N, C, eps);
  // Pre-filled gradients: the kernel must ADD to them.
  Vec dx0 = random_vec(N * C, 9), dw0 = random_vec(C, 10);
  Vec dx = dx0, dw = dw0;
  k::rmsnorm_backward(dx.data(), dw.data(), g.data(), x.data(), w.data(), rstd.data(), N, C);

  const DVec xd = to_double(x), wd = to_double(w), gd = to_double(g);
  auto loss_x = [&](const DVec& xp) {
    DVec o, r;
    rmsnorm_ref(xp, wd, N, C, eps, o, r);
    double L = 0;
    for (std::size_t i = 0; i < o.size(); ++i) L += gd[i] * o[i];
    return L;
  };
  auto loss_w = [&](const DVec& wp) {
    DVec o, r;
    rmsnorm_ref(xd, wp, N, C, eps, o, r);
    double L = 0;
    for (std::size_t i = 0; i < o.size(); ++i) L += gd[i] * o[i];
    return L;
  };
  // Gradients are O(1); float32 evaluation of ~C-term dot products gives ~1e-6 error.
  for (int i = 0; i < N * C; ++i)
    EXPECT_NEAR(dx[i] - dx0[i], central_diff(loss_x, xd, i), 2e-5) << "dx " << i;
  for (int c = 0; c < C; ++c)
    EXPECT_NEAR(dw[c] - dw0[c], central_diff(loss_w, wd, c), 2e-5) << "dw " << c;
}

TEST(RmsNorm, WeightGradientIndependentOfThreadCount) {
  const int N = 300, C = 130;  // N*C > 32768: parallel path
  Vec x = random_vec(N * C, 11), w = random_vec(C, 12), g = random_vec(N * C, 13);
  Vec out(N * C), rstd(N);
  k::rmsnorm_forward(out.data(), rstd.data(), x.data(), w.data(), N, C, 1e-5f);
  const int saved = omp_get_max_threads();
  Vec dw[2];
  for (int t : {1, 2}) {
    omp_set_num_threads(t);
    Vec dx(N * C, 0.0f);
    dw[t - 1].assign(C, 0.0f);
    k::rmsnorm_backward(dx.data(), dw[t - 1].data(), g.data(), x.data(), w.data(), rstd.data(), N,
                        C);
  }
  omp_set_num_threads(saved);
  EXPECT_EQ(std::memcmp(dw[0].data(), dw[1].data(), C * 4), 0);
}

// ---------------------------------------------------------------- fast exp (swiglu, softmax)

TEST(FastExp, RelativeErrorAFewUlpAndNaNPropagates) {
  double worst = 0;
  for (float x = -87.0f; x <= 88.0f; x += 0.01371f) {
    double ref = std::exp(static_cast<double>(x));
    worst = std::max(worst, std::abs(harpe::kernels::detail::fast_exp(x) - ref) / ref);
  }
  EXPECT_LT(worst, 4e-7);  // float epsilon is 1.2e-7: a few ulp
  EXPECT_EQ(harpe::kernels::detail::fast_exp(0.0f), 1.0f);
  EXPECT_LT(harpe::kernels::detail::fast_exp(-1000.0f), 1e-37f);
  EXPECT_TRUE(std::isnan(harpe::kernels::detail::fast_exp(std::nanf(""))));
}

// ---------------------------------------------------------------- swiglu

double silu_ref(double g) { return g / (1 + std::exp(-g)); }

TEST(SwiGlu, ForwardMatchesFormulaIncludingLargeInputs) {
  Vec gate = random_vec(1001, 14, -6.0f, 6.0f), up = random_vec(1001, 15, -2.0f, 2.0f);
  // saturated regions, where a naive exp(-g) overflows for g << 0
  gate[0] = -100.0f;
  gate[1] = 100.0f;
  gate[2] = -30.0f;
  gate[3] = 0.0f;
  Vec out(gate.size());
  k::swiglu_forward(out.data(), gate.data(), up.data(), gate.size());
  for (std::size_t i = 0; i < gate.size(); ++i) {
    double r = silu_ref(gate[i]) * up[i];
    // fast_exp is ~1e-7 relative; a few float roundings on top
    EXPECT_NEAR(out[i], r, 1e-6 * (1 + std::abs(r))) << "g=" << gate[i];
  }
}

TEST(SwiGlu, BackwardMatchesFiniteDifferencesAndOverwrites) {
  const std::size_t n = 333;
  Vec gate = random_vec(n, 16, -8.0f, 8.0f), up = random_vec(n, 17, -2.0f, 2.0f);
  Vec dout = random_vec(n, 18);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Vec dgate(n, nan), dup(n, nan);  // overwrite contract: old contents must not leak in
  k::swiglu_backward(dgate.data(), dup.data(), dout.data(), gate.data(), up.data(), n);
  // Elementwise op: dL/dgate_i only depends on element i, so a scalar FD per element suffices.
  for (std::size_t i = 0; i < n; ++i) {
    auto fg = [&](const DVec& p) { return dout[i] * silu_ref(p[0]) * up[i]; };
    auto fu = [&](const DVec& p) { return dout[i] * silu_ref(gate[i]) * p[0]; };
    EXPECT_NEAR(dgate[i], central_diff(fg, DVec{gate[i]}, 0), 1e-5) << i;
    EXPECT_NEAR(dup[i], central_diff(fu, DVec{up[i]}, 0), 1e-5) << i;
  }
}

TEST(SwiGlu, LargeArrayParallelPathMatchesSmall) {
  const std::size_t n = 100003;  // above the OpenMP threshold, odd length (vector tail)
  Vec gate = random_vec(n, 19, -5.0f, 5.0f), up = random_vec(n, 20), out(n);
  k::swiglu_forward(out.data(), gate.data(), up.data(), n);
  for (std::size_t i = 0; i < n; i += 997) {
    double r = silu_ref(gate[i]) * up[i];
    EXPECT_NEAR(out[i], r, 1e-6 * (1 + std::abs(r)));
  }
  EXPECT_NEAR(out[n - 1], silu_ref(gate[n - 1]) * up[n - 1], 1e-6);
}

// ---------------------------------------------------------------- lm head + cross-entropy

struct XentRef {
  double loss = 0;
  DVec losses, dx, dW;
};

// Naive double: logits = x W^T, loss_n = logsumexp - logit[target], gradients of scale * sum.
XentRef xent_ref(const Vec& x, const Vec& W, const std::vector<int32_t>& tg, int N, int C, int V,
                 double scale) {
  XentRef r;
  r.losses.assign(N, 0);
  r.dx.assign(static_cast<std::size_t>(N) * C, 0);
  r.dW.assign(static_cast<std::size_t>(V) * C, 0);
  DVec l(V);
  for (int n = 0; n < N; ++n) {
    if (tg[n] < 0) continue;
    double mx = -1e300;
    for (int v = 0; v < V; ++v) {
      double s = 0;
      for (int c = 0; c < C; ++c) s += static_cast<double>(x[n * C + c]) * W[v * C + c];
      l[v] = s;
      mx = std::max(mx, s);
    }
    double z = 0;
    for (int v = 0; v < V; ++v) z += std::exp(l[v] - mx);
    r.losses[n] = mx + std::log(z) - l[tg[n]];
    r.loss += r.losses[n];
    for (int v = 0; v < V; ++v) {
      double d = scale * (std::exp(l[v] - mx) / z - (v == tg[n] ? 1.0 : 0.0));
      for (int c = 0; c < C; ++c) {
        r.dx[n * C + c] += d * W[v * C + c];
        r.dW[v * C + c] += d * x[n * C + c];
      }
    }
  }
  return r;
}

TEST(LmHeadXent, MatchesNaiveDoubleAcrossChunksWithUnscoredTargets) {
  // V = 301 gives 256-row chunks; 600 tokens with ~1/5 unscored -> 2 chunks, the last partial.
  const int N = 600, C = 19, V = 301;
  Vec x = random_vec(N * C, 21, -1.5f, 1.5f), W = random_vec(V * C, 22, -1.5f, 1.5f);
  std::vector<int32_t> tg(N);
  std::mt19937 rng(23);
  int n_scored = 0;
  for (int n = 0; n < N; ++n) tg[n] = (rng() % 5 == 0) ? -1 : static_cast<int32_t>(rng() % V);
  tg[N - 1] = V - 1;  // edge of the vocabulary
  for (int n = 0; n < N; ++n) n_scored += tg[n] >= 0;
  const float scale = 1.0f / static_cast<float>(n_scored);

  Vec dx(N * C, 123.0f);                      // overwritten, including rows of unscored tokens
  Vec dW0 = random_vec(V * C, 24), dW = dW0;  // accumulated
  Vec losses(N, -5.0f);
  double loss = k::lmhead_xent(x.data(), W.data(), tg.data(), N, C, V, dx.data(), dW.data(), scale,
                               losses.data());
  XentRef ref = xent_ref(x, W, tg, N, C, V, scale);

  // Per-token losses are O(6); float logits over C=19 terms carry ~1e-6 error.
  EXPECT_NEAR(loss, ref.loss, 1e-6 * ref.loss + 1e-3);
  for (int n = 0; n < N; ++n) EXPECT_NEAR(losses[n], ref.losses[n], 2e-5) << n;
  // Gradient entries are O(scale); compare with absolute tolerance relative to scale.
  for (int i = 0; i < N * C; ++i) EXPECT_NEAR(dx[i], ref.dx[i], 1e-4 * scale) << "dx " << i;
  for (int i = 0; i < V * C; ++i)
    EXPECT_NEAR(dW[i] - dW0[i], ref.dW[i], 1e-3 * scale) << "dW " << i;
  for (int n = 0; n < N; ++n)
    if (tg[n] < 0) {
      EXPECT_EQ(losses[n], 0.0f);
      for (int c = 0; c < C; ++c) EXPECT_EQ(dx[n * C + c], 0.0f);
    }

  // Loss only: same value, no gradient buffers touched.
  double loss2 = k::lmhead_xent(x.data(), W.data(), tg.data(), N, C, V, nullptr, nullptr, 1.0f);
  EXPECT_DOUBLE_EQ(loss2, loss);
}

TEST(LmHeadXent, GradientMatchesFiniteDifferences) {
  // Independent of the softmax-minus-onehot formula: FD of the double loss itself.
  const int N = 5, C = 6, V = 11;
  Vec x = random_vec(N * C, 25), W = random_vec(V * C, 26);
  std::vector<int32_t> tg = {3, -1, 10, 0, 7};
  Vec dx(N * C), dW(V * C, 0.0f);
  k::lmhead_xent(x.data(), W.data(), tg.data(), N, C, V, dx.data(), dW.data(), 0.5f);
  auto loss = [&](const DVec& xp, const DVec& Wp) {
    double L = 0;
    for (int n = 0; n < N; ++n) {
      if (tg[n] < 0) continue;
      DVec l(V);
      double mx = -1e300, z = 0;
      for (int v = 0; v < V; ++v) {
        l[v] = 0;
        for (int c = 0; c < C; ++c) l[v] += xp[n * C + c] * Wp[v * C + c];
        mx = std::max(mx, l[v]);
      }
      for (int v = 0; v < V; ++v) z += std::exp(l[v] - mx);
      L += 0.5 * (mx + std::log(z) - l[tg[n]]);
    }
    return L;
  };
  DVec xd = to_double(x), Wd = to_double(W);
  for (int i = 0; i < N * C; ++i)
    EXPECT_NEAR(dx[i], central_diff([&](const DVec& p) { return loss(p, Wd); }, xd, i), 1e-5);
  for (int i = 0; i < V * C; ++i)
    EXPECT_NEAR(dW[i], central_diff([&](const DVec& p) { return loss(xd, p); }, Wd, i), 1e-5);
}

TEST(LmHeadXent, StableForLargeLogits) {
  // Logits of +-~400: exp without max subtraction overflows float.
  const int N = 3, C = 4, V = 50;
  Vec x = random_vec(N * C, 27, -10.0f, 10.0f), W = random_vec(V * C, 28, -10.0f, 10.0f);
  std::vector<int32_t> tg = {0, 25, 49};
  Vec dx(N * C), dW(V * C, 0.0f), losses(N);
  double loss = k::lmhead_xent(x.data(), W.data(), tg.data(), N, C, V, dx.data(), dW.data(), 1.0f,
                               losses.data());
  XentRef ref = xent_ref(x, W, tg, N, C, V, 1.0);
  ASSERT_TRUE(std::isfinite(loss));
  // Logits are large (~400), so float rounding of the logits themselves is ~4e-5 absolute.
  EXPECT_NEAR(loss, ref.loss, 1e-3 * (1 + ref.loss));
  EXPECT_TRUE(k::all_finite(dx.data(), dx.size()));
  EXPECT_TRUE(k::all_finite(dW.data(), dW.size()));
}

TEST(LmHeadXent, AllUnscoredAndBadTarget) {
  const int N = 4, C = 3, V = 7;
  Vec x = random_vec(N * C, 29), W = random_vec(V * C, 30);
  std::vector<int32_t> tg(N, -1);
  Vec dx(N * C, 7.0f), dW(V * C, 1.0f);
  EXPECT_EQ(k::lmhead_xent(x.data(), W.data(), tg.data(), N, C, V, dx.data(), dW.data(), 1.0f),
            0.0);
  for (float v : dx) EXPECT_EQ(v, 0.0f);
  for (float v : dW) EXPECT_EQ(v, 1.0f);
  tg[2] = V;  // out of range
  EXPECT_THROW(k::lmhead_xent(x.data(), W.data(), tg.data(), N, C, V, nullptr, nullptr, 1.0f),
               harpe::Error);
}

// Loss on answers only: an unscored token's row of dx is exactly zero, and the scored rows and dW
// are those of a call on the scored tokens alone.
TEST(LmHeadXent, UnscoredTokensGetNoGradient) {
  const int N = 6, C = 5, V = 11;
  Vec x = random_vec(N * C, 31), W = random_vec(V * C, 32);
  std::vector<int32_t> tg = {-1, 3, -1, -1, 9, -1};
  Vec dx(N * C, 7.0f), dW(V * C, 0.0f);
  const double loss =
      k::lmhead_xent(x.data(), W.data(), tg.data(), N, C, V, dx.data(), dW.data(), 0.5f);
  Vec xs, dxs(2 * C), dWs(V * C, 0.0f);
  for (int n : {1, 4}) xs.insert(xs.end(), x.begin() + n * C, x.begin() + (n + 1) * C);
  std::vector<int32_t> ts = {3, 9};
  const double loss_s =
      k::lmhead_xent(xs.data(), W.data(), ts.data(), 2, C, V, dxs.data(), dWs.data(), 0.5f);
  EXPECT_DOUBLE_EQ(loss, loss_s);
  for (int n = 0; n < N; ++n)
    for (int c = 0; c < C; ++c) {
      const float want = n == 1 ? dxs[c] : n == 4 ? dxs[C + c] : 0.0f;
      EXPECT_EQ(dx[n * C + c], want) << n << " " << c;
    }
  for (int i = 0; i < V * C; ++i) EXPECT_FLOAT_EQ(dW[i], dWs[i]);
}

// ---------------------------------------------------------------- adamw

TEST(AdamW, MatchesFormulaOverSteps) {
  const std::size_t n = 37;
  const double lr = 1e-2, b1 = 0.9, b2 = 0.95, eps = 1e-8, wd = 0.1;
  Vec p = random_vec(n, 31), m(n, 0.0f), v(n, 0.0f);
  DVec pd = to_double(p), md(n, 0), vd(n, 0);
  for (long t = 1; t <= 4; ++t) {
    Vec g = random_vec(n, 40 + static_cast<unsigned>(t));
    k::adamw_step(p.data(), g.data(), m.data(), v.data(), n, lr, b1, b2, eps, wd, t);
    for (std::size_t i = 0; i < n; ++i) {  // Loshchilov & Hutter, decoupled decay
      md[i] = b1 * md[i] + (1 - b1) * g[i];
      vd[i] = b2 * vd[i] + (1 - b2) * g[i] * g[i];
      double mh = md[i] / (1 - std::pow(b1, t)), vh = vd[i] / (1 - std::pow(b2, t));
      pd[i] -= lr * (mh / (std::sqrt(vh) + eps) + wd * pd[i]);
    }
    for (std::size_t i = 0; i < n; ++i) {
      EXPECT_NEAR(m[i], md[i], 1e-6);
      EXPECT_NEAR(v[i], vd[i], 1e-6);
      EXPECT_NEAR(p[i], pd[i], 1e-6) << "step " << t << " i " << i;
    }
  }
}

TEST(AdamW, FirstStepIsSignedLearningRate) {
  // At step 1 bias correction gives mhat = g, vhat = g^2, so without decay each parameter moves
  // by lr * g / (|g| + eps) = lr * sign(g) (to ~eps / |g|).
  Vec p = {1.0f, -2.0f, 0.5f}, g = {0.3f, -4.0f, 1e-3f}, m(3, 0.0f), v(3, 0.0f);
  k::adamw_step(p.data(), g.data(), m.data(), v.data(), 3, 0.01f, 0.9f, 0.95f, 1e-8f, 0.0f, 1);
  EXPECT_NEAR(p[0], 0.99f, 1e-6);
  EXPECT_NEAR(p[1], -1.99f, 1e-6);
  EXPECT_NEAR(p[2], 0.49f, 1e-6);
  EXPECT_THROW(
      k::adamw_step(p.data(), g.data(), m.data(), v.data(), 3, 0.01f, 0.9f, 0.95f, 1e-8f, 0.0f, 0),
      harpe::Error);
}

// ---------------------------------------------------------------- reductions / elementwise

TEST(Elementwise, SumSquaresScaleAddFinite) {
  const std::size_t n = 100003;  // parallel path, odd tail
  Vec x = random_vec(n, 50, -3.0f, 3.0f);
  double ref = 0;
  for (float v : x) ref += static_cast<double>(v) * v;
  EXPECT_NEAR(k::sum_squares(x.data(), n), ref, 1e-12 * ref);  // double accumulation
  EXPECT_EQ(k::sum_squares(x.data(), 0), 0.0);

  Vec y = random_vec(n, 51), y0 = y;
  k::add_inplace(y.data(), x.data(), n);
  for (std::size_t i = 0; i < n; i += 101) EXPECT_EQ(y[i], y0[i] + x[i]);
  EXPECT_EQ(y[n - 1], y0[n - 1] + x[n - 1]);

  Vec s = x;
  k::scale_inplace(s.data(), 0.25f, n);
  for (std::size_t i = 0; i < n; i += 101) EXPECT_EQ(s[i], x[i] * 0.25f);
  EXPECT_EQ(s[n - 1], x[n - 1] * 0.25f);

  EXPECT_TRUE(k::all_finite(x.data(), n));
  Vec z = x;
  z[n - 1] = std::numeric_limits<float>::infinity();
  EXPECT_FALSE(k::all_finite(z.data(), n));
  z[n - 1] = -std::numeric_limits<float>::infinity();
  EXPECT_FALSE(k::all_finite(z.data(), n));
  z = x;
  z[12345] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_FALSE(k::all_finite(z.data(), n));
  Vec edge = {std::numeric_limits<float>::max(), -std::numeric_limits<float>::max(),
              std::numeric_limits<float>::denorm_min(), 0.0f, -0.0f};
  EXPECT_TRUE(k::all_finite(edge.data(), edge.size()));
}

}  // namespace

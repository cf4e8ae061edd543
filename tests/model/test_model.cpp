// The model's forward against a naive double-precision reference written straight from the
// formulas (RMSNorm, rotate_half RoPE with per-head bases, causal GQA softmax attention, SwiGLU,
// cross-entropy), the backward against finite differences, recompute on/off, and the arenas.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <vector>

#include "core/error.h"
#include "kernels/gemm.h"
#include "model/model.h"

namespace harpe::model {
namespace {

// vocab 64, hidden 32, 2 layers, 4 heads x 8, 2 KV heads, per-head (per KV group) HARPE bases.
ModelConfig grad_config(bool tied) {
  ModelConfig c;
  c.vocab_size = 64;
  c.hidden_size = 32;
  c.intermediate_size = 48;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 8;
  c.rot_dims = 8;
  c.rms_norm_eps = 1e-5;
  c.max_position_embeddings = 64;
  c.tie_word_embeddings = tied;
  c.rope.scheme = rope::Scheme::harpe;
  c.rope.bases = {10.0, 500.0};  // small bases: every pair rotates visibly over 8 positions
  return c;
}

// Parameters with O(1) signal (init_params' 0.02 would make the nonlinear paths nearly linear).
void fill_test_params(Model& m, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const TensorInfo& t : m.layout.tensors) {
    float* x = m.params.data() + t.offset;
    const bool norm = t.shape.size() == 1;
    const float std = norm ? 0.2f : 1.0f / std::sqrt(static_cast<float>(t.shape[1]));
    for (std::size_t i = 0; i < t.numel; ++i) x[i] = (norm ? 1.0f : 0.0f) + std * normal(gen);
  }
}

std::vector<int32_t> random_tokens(std::size_t n, int V, unsigned seed) {
  std::mt19937 gen(seed);
  std::vector<int32_t> t(n);
  for (auto& x : t) x = static_cast<int32_t>(gen() % static_cast<unsigned>(V));
  return t;
}

// ---- naive reference, double precision, straight from the formulas -----------------------------
using Mat = std::vector<double>;  // row-major

Mat get(const Model& m, const std::string& name) {
  const TensorInfo* t = m.layout.find(name);
  EXPECT_NE(t, nullptr) << name;
  const float* p = m.params.data() + t->offset;
  return Mat(p, p + t->numel);
}

Mat rmsnorm(const Mat& x, const Mat& w, int N, int C, double eps) {
  Mat y(x.size());
  for (int n = 0; n < N; ++n) {
    double ss = 0;
    for (int c = 0; c < C; ++c) ss += x[n * C + c] * x[n * C + c];
    const double r = 1.0 / std::sqrt(ss / C + eps);
    for (int c = 0; c < C; ++c) y[n * C + c] = x[n * C + c] * r * w[c];
  }
  return y;
}

Mat matmul_t(const Mat& x, const Mat& W, int N, int out, int in) {  // x W^T
  Mat y(static_cast<std::size_t>(N) * out, 0.0);
  for (int n = 0; n < N; ++n)
    for (int o = 0; o < out; ++o) {
      double s = 0;
      for (int i = 0; i < in; ++i) s += x[n * in + i] * W[o * in + i];
      y[n * out + o] = s;
    }
  return y;
}

// HF rotate_half: pair i = (x[i], x[i + D/2]), angle p * base^(-2i/D).
void rope_ref(Mat& x, int N, int T, int heads, int D, const std::vector<double>& head_base) {
  for (int n = 0; n < N; ++n) {
    const int p = n % T;
    for (int h = 0; h < heads; ++h)
      for (int i = 0; i < D / 2; ++i) {
        const double ang = p * std::pow(head_base[h], -2.0 * i / D);
        double& a = x[(n * heads + h) * D + i];
        double& b = x[(n * heads + h) * D + i + D / 2];
        const double a0 = a, b0 = b;
        a = a0 * std::cos(ang) - b0 * std::sin(ang);
        b = b0 * std::cos(ang) + a0 * std::sin(ang);
      }
  }
}

// Per-token losses of the whole model; also the logits when asked.
std::vector<double> reference_losses(const Model& m, const std::vector<int32_t>& tokens,
                                     const std::vector<int32_t>& targets, int B, int T,
                                     Mat* logits_out = nullptr) {
  const ModelConfig& c = m.config;
  const int N = B * T, C = c.hidden_size, H = c.num_attention_heads, KV = c.kv_heads();
  const int D = c.head_size(), F = c.intermediate_size, V = c.vocab_size;
  const double eps = c.rms_norm_eps;
  std::vector<double> qbase(H), kbase(KV);
  for (int h = 0; h < H; ++h) qbase[h] = c.rope.bases[h / (H / KV)];
  for (int g = 0; g < KV; ++g) kbase[g] = c.rope.bases[g];

  Mat emb = get(m, "model.embed_tokens.weight");
  Mat x(static_cast<std::size_t>(N) * C);
  for (int n = 0; n < N; ++n)
    for (int i = 0; i < C; ++i) x[n * C + i] = emb[tokens[n] * C + i];
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    Mat a = rmsnorm(x, get(m, p + "input_layernorm.weight"), N, C, eps);
    Mat q = matmul_t(a, get(m, p + "self_attn.q_proj.weight"), N, H * D, C);
    Mat k = matmul_t(a, get(m, p + "self_attn.k_proj.weight"), N, KV * D, C);
    Mat v = matmul_t(a, get(m, p + "self_attn.v_proj.weight"), N, KV * D, C);
    rope_ref(q, N, T, H, D, qbase);
    rope_ref(k, N, T, KV, D, kbase);
    Mat att(static_cast<std::size_t>(N) * H * D, 0.0);
    for (int b = 0; b < B; ++b)
      for (int h = 0; h < H; ++h) {
        const int g = h / (H / KV);
        for (int i = 0; i < T; ++i) {
          std::vector<double> s(i + 1);
          double mx = -1e300;
          for (int j = 0; j <= i; ++j) {
            double dot = 0;
            for (int d = 0; d < D; ++d)
              dot += q[((b * T + i) * H + h) * D + d] * k[((b * T + j) * KV + g) * D + d];
            s[j] = dot / std::sqrt(static_cast<double>(D));
            mx = std::max(mx, s[j]);
          }
          double z = 0;
          for (double& e : s) z += (e = std::exp(e - mx));
          for (int j = 0; j <= i; ++j)
            for (int d = 0; d < D; ++d)
              att[((b * T + i) * H + h) * D + d] += s[j] / z * v[((b * T + j) * KV + g) * D + d];
        }
      }
    Mat o = matmul_t(att, get(m, p + "self_attn.o_proj.weight"), N, C, H * D);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] += o[i];
    Mat a2 = rmsnorm(x, get(m, p + "post_attention_layernorm.weight"), N, C, eps);
    Mat gt = matmul_t(a2, get(m, p + "mlp.gate_proj.weight"), N, F, C);
    Mat up = matmul_t(a2, get(m, p + "mlp.up_proj.weight"), N, F, C);
    for (std::size_t i = 0; i < gt.size(); ++i) gt[i] = gt[i] / (1.0 + std::exp(-gt[i])) * up[i];
    Mat dn = matmul_t(gt, get(m, p + "mlp.down_proj.weight"), N, C, F);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] += dn[i];
  }
  Mat xf = rmsnorm(x, get(m, "model.norm.weight"), N, C, eps);
  Mat head = get(m, c.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight");
  Mat logits = matmul_t(xf, head, N, V, C);
  std::vector<double> loss(N, 0.0);
  for (int n = 0; n < N; ++n) {
    if (targets[n] < 0) continue;
    double mx = -1e300, z = 0;
    for (int v2 = 0; v2 < V; ++v2) mx = std::max(mx, logits[n * V + v2]);
    for (int v2 = 0; v2 < V; ++v2) z += std::exp(logits[n * V + v2] - mx);
    loss[n] = mx + std::log(z) - logits[n * V + targets[n]];
  }
  if (logits_out) *logits_out = logits;
  return loss;
}

// ---------------------------------------------------------------------------------------------

TEST(ModelLayout, CountsMatchConfigAndHfNames) {
  for (const char* name : {"micro", "tiny", "small"}) {
    const ModelConfig c = preset(name);
    const ParamLayout p = param_layout(c);
    EXPECT_EQ(static_cast<long>(p.count), c.parameter_count()) << name;
    EXPECT_EQ(static_cast<long>(p.matmul_count), c.matmul_parameter_count()) << name;
    for (const TensorInfo& t : p.tensors) EXPECT_EQ(t.offset % 16, 0u) << t.name;
  }
  const ParamLayout p = param_layout(grad_config(false));
  ASSERT_NE(p.find("model.layers.1.self_attn.k_proj.weight"), nullptr);
  EXPECT_EQ(p.find("model.layers.1.self_attn.k_proj.weight")->shape,
            (std::vector<int64_t>{16, 32}));
  EXPECT_EQ(p.find("model.layers.0.mlp.down_proj.weight")->shape, (std::vector<int64_t>{32, 48}));
  ASSERT_NE(p.find("lm_head.weight"), nullptr);
  EXPECT_EQ(param_layout(grad_config(true)).find("lm_head.weight"), nullptr);
}

TEST(ModelInit, DeterministicWithTheRightStatistics) {
  const ModelConfig c = preset("tiny");
  Model a(c), b(c), d(c);
  init_params(a, 7);
  init_params(b, 7);
  init_params(d, 8);
  EXPECT_EQ(std::memcmp(a.params.data(), b.params.data(), a.params.size() * 4), 0);
  EXPECT_NE(std::memcmp(a.params.data(), d.params.data(), a.params.size() * 4), 0);
  auto stats = [&](const std::string& name) {
    const TensorInfo* t = a.layout.find(name);
    double s = 0, s2 = 0;
    for (std::size_t i = 0; i < t->numel; ++i) {
      const double x = a.params[t->offset + i];
      s += x;
      s2 += x * x;
    }
    return std::pair{s / t->numel, std::sqrt(s2 / t->numel)};
  };
  auto [m0, sd0] = stats("model.embed_tokens.weight");  // 2M samples: sd within 0.2%
  EXPECT_NEAR(m0, 0.0, 1e-4);
  EXPECT_NEAR(sd0, 0.02, 0.02 * 0.005);
  auto [m1, sd1] = stats("model.layers.2.mlp.down_proj.weight");  // scaled by 1/sqrt(2*4)
  EXPECT_NEAR(sd1, 0.02 / std::sqrt(8.0), 0.02 / std::sqrt(8.0) * 0.01);
  (void)m1;
  EXPECT_EQ(stats("model.layers.0.input_layernorm.weight").first, 1.0);
}

TEST(ModelForward, MatchesNaiveReference) {
  for (bool tied : {false, true}) {
    Model m(grad_config(tied));
    fill_test_params(m, 3);
    const int B = 2, T = 9;
    auto tokens = random_tokens(B * T, 64, 11);
    auto targets = random_tokens(B * T, 64, 12);
    targets[4] = -1;  // unscored
    std::vector<double> ref = reference_losses(m, tokens, targets, B, T);
    for (Mode mode : {Mode::infer, Mode::train, Mode::train_recompute}) {
      Workspace ws(m.config, B, T, mode);
      std::vector<float> per(B * T, -1.0f);
      LossSum loss = forward_loss(m, ws, tokens.data(), targets.data(), per.data());
      EXPECT_EQ(loss.count, B * T - 1);
      double sum = 0;
      for (int n = 0; n < B * T; ++n) {
        EXPECT_NEAR(per[n], ref[n], 2e-5 * std::max(1.0, ref[n])) << "token " << n;
        sum += ref[n];
      }
      EXPECT_NEAR(loss.sum, sum, 1e-4 * sum);
    }
  }
}

// The shapes the presets train with: head dim 32, standard RoPE base 10000, a window longer than
// the attention tiles, so that far-apart positions and tile boundaries are exercised.
TEST(ModelForward, LongWindowHeadDim32MatchesNaiveReference) {
  ModelConfig c = grad_config(true);
  c.hidden_size = 64;
  c.intermediate_size = 96;
  c.head_dim = 32;
  c.rot_dims = 32;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.max_position_embeddings = 512;
  c.rope.bases = {10000.0,
                  10000.0};  // per-head table = plain RoPE, base 10000 (the reference reads bases)
  Model m(c);
  fill_test_params(m, 4);
  const int B = 1, T = 300;
  auto tokens = random_tokens(B * T, 64, 13);
  auto targets = random_tokens(B * T, 64, 14);
  std::vector<double> ref = reference_losses(m, tokens, targets, B, T);
  for (Mode mode : {Mode::infer, Mode::train}) {
    Workspace ws(m.config, B, T, mode);
    std::vector<float> per(B * T, -1.0f);
    forward_loss(m, ws, tokens.data(), targets.data(), per.data());
    for (int n = 0; n < B * T; ++n)
      ASSERT_NEAR(per[n], ref[n], 1e-4 * std::max(1.0, ref[n])) << "token " << n;
  }
}

TEST(ModelForward, LastHiddenAndLogitsMatchReference) {
  Model m(grad_config(false));
  fill_test_params(m, 5);
  const int B = 2, T = 7, V = 64;
  auto tokens = random_tokens(B * T, V, 21);
  std::vector<int32_t> targets(B * T, 0);
  Mat ref_logits;
  reference_losses(m, tokens, targets, B, T, &ref_logits);
  Workspace ws(m.config, B, T, Mode::infer);
  std::vector<float> logits(B * V);
  logits_last(m, ws, tokens.data(), logits.data());
  for (int b = 0; b < B; ++b)
    for (int v = 0; v < V; ++v)
      EXPECT_NEAR(logits[b * V + v], ref_logits[((b * T) + T - 1) * V + v], 2e-4);
}

// Sum of token losses at the current parameters (forward in float, loss summed in double).
double loss_at(const Model& m, Workspace& ws, const std::vector<int32_t>& tok,
               const std::vector<int32_t>& tgt) {
  return forward_loss(m, ws, tok.data(), tgt.data()).sum;
}

// Central differences of loss() against the gradient in m.grads: on the largest-gradient coordinate
// of every tensor (step h; agreement to coord_tol * max(|g|, floor)), and along the gradient itself
// (step e; dL/de = |g|, to dir_tol relative).
void expect_gradients_match(Model& m, const std::function<double()>& loss, float h,
                            double coord_tol, double floor, double e, double dir_tol,
                            const std::string& what) {
  for (const TensorInfo& t : m.layout.tensors) {
    std::size_t best = 0;
    for (std::size_t i = 1; i < t.numel; ++i)
      if (std::fabs(m.grads[t.offset + i]) > std::fabs(m.grads[t.offset + best])) best = i;
    float& p = m.params[t.offset + best];
    const float p0 = p;
    p = p0 + h;
    const double up = loss();
    p = p0 - h;
    const double dn = loss();
    p = p0;
    const double fd = (up - dn) / (double(p0 + h) - double(p0 - h));  // the step float took
    const double g = m.grads[t.offset + best];
    EXPECT_NEAR(g, fd, coord_tol * std::max(std::fabs(g), floor)) << t.name << " " << what;
  }
  double gnorm2 = 0;
  for (std::size_t i = 0; i < m.grads.size(); ++i) gnorm2 += double(m.grads[i]) * m.grads[i];
  const double gnorm = std::sqrt(gnorm2);
  std::vector<float> p0(m.params.begin(), m.params.end());
  auto shifted = [&](double step) {
    for (std::size_t i = 0; i < p0.size(); ++i)
      m.params[i] = static_cast<float>(p0[i] + step * m.grads[i] / gnorm);
    return loss();
  };
  const double fd = (shifted(e) - shifted(-e)) / (2 * e);
  std::copy(p0.begin(), p0.end(), m.params.begin());
  EXPECT_NEAR(fd, gnorm, dir_tol * gnorm) << what;
}

// Backward vs central differences. Loss = SUM over 16 tokens (~4 each). With h = 1e-2 on O(0.3)
// parameters, the truncation error h^2 f'''/6 is ~1e-5 relative; float rounding of a ~70 loss is
// ~1e-5 absolute, i.e. ~5e-4 on the difference quotient. So per coordinate we demand agreement to
// 1e-2 of max(|g|, 0.05) on the largest-gradient coordinate of every tensor, and the directional
// derivative along the gradient itself (large, |g|^2 / |g|) to 1e-3 relative.
TEST(ModelBackward, MatchesFiniteDifferences) {
  for (bool tied : {false, true}) {
    Model m(grad_config(tied));
    fill_test_params(m, 9);
    const int B = 2, T = 8;
    auto tok = random_tokens(B * T, 64, 31);
    auto tgt = random_tokens(B * T, 64, 32);
    Workspace train(m.config, B, T, Mode::train);
    Workspace infer(m.config, B, T, Mode::infer);
    m.enable_grads();
    m.zero_grads();
    const double loss = forward_backward(m, train, tok.data(), tgt.data(), 1.0f).sum;
    EXPECT_NEAR(loss, loss_at(m, infer, tok, tgt), 1e-9 * loss + 1e-6);

    expect_gradients_match(
        m, [&] { return loss_at(m, infer, tok, tgt); }, 1e-2f, 1e-2, 0.05, 3e-3, 1e-3,
        tied ? "tied" : "untied");
  }
}

// The backward at the presets' shapes (head dim 32, a window longer than the attention tiles,
// B > 1): the engine's gradient against central differences of the double-precision reference,
// on the largest-gradient coordinate of every tensor and along the gradient itself. Long-range
// credit assignment (what retrieval needs) goes through the tiles the short test never splits.
TEST(ModelBackward, LongWindowMatchesReferenceDifferences) {
  ModelConfig c = grad_config(false);
  c.hidden_size = 64;
  c.intermediate_size = 96;
  c.head_dim = 32;
  c.rot_dims = 32;
  c.max_position_embeddings = 512;
  c.rope.bases = {10000.0, 500.0};
  Model m(c);
  fill_test_params(m, 6);
  const int B = 2, T = 300;
  auto tok = random_tokens(B * T, 64, 61);
  // Targets that need far context: position t predicts the token at t - 200 (copy task), so the
  // loss gradient flows through attention to keys in other tiles.
  std::vector<int32_t> tgt(B * T, -1);
  for (int b = 0; b < B; ++b)
    for (int t = 200; t < T; ++t) tgt[b * T + t] = tok[b * T + t - 200];
  Workspace train(m.config, B, T, Mode::train);
  m.enable_grads();
  m.zero_grads();
  forward_backward(m, train, tok.data(), tgt.data(), 1.0f);
  auto ref_sum = [&] {
    double s = 0;
    for (double l : reference_losses(m, tok, tgt, B, T)) s += l;
    return s;
  };
  expect_gradients_match(m, ref_sum, 1e-2f, 2e-3, 1.0, 1e-3, 1e-3, "T = 300");
}

TEST(ModelBackward, RecomputeGivesIdenticalGradients) {
  Model m(grad_config(false));
  fill_test_params(m, 13);
  const int B = 3, T = 10;
  auto tok = random_tokens(B * T, 64, 41);
  auto tgt = random_tokens(B * T, 64, 42);
  Workspace plain(m.config, B, T, Mode::train);
  Workspace recompute(m.config, B, T, Mode::train_recompute);
  EXPECT_LT(recompute.plan.total_floats, plain.plan.total_floats);
  m.enable_grads();
  m.zero_grads();
  const double l1 = forward_backward(m, plain, tok.data(), tgt.data(), 0.5f).sum;
  std::vector<float> g1(m.grads.begin(), m.grads.end());
  m.zero_grads();
  const double l2 = forward_backward(m, recompute, tok.data(), tgt.data(), 0.5f).sum;
  EXPECT_EQ(l1, l2);
  EXPECT_EQ(std::memcmp(g1.data(), m.grads.data(), g1.size() * sizeof(float)), 0);
}

TEST(ModelBackward, GradientsAccumulateAcrossCalls) {
  Model m(grad_config(true));
  fill_test_params(m, 17);
  const int B = 1, T = 6;
  auto tok = random_tokens(B * T, 64, 51);
  auto tgt = random_tokens(B * T, 64, 52);
  Workspace ws(m.config, B, T, Mode::train);
  m.enable_grads();
  m.zero_grads();
  forward_backward(m, ws, tok.data(), tgt.data(), 1.0f);
  std::vector<float> once(m.grads.begin(), m.grads.end());
  forward_backward(m, ws, tok.data(), tgt.data(), 1.0f);
  // Equal up to float rounding: the GEMMs add into the existing gradient (beta = 1).
  for (std::size_t i = 0; i < once.size(); ++i)
    ASSERT_NEAR(m.grads[i], 2.0f * once[i], 1e-5f * std::fabs(once[i]) + 1e-9f) << i;
}

// bf16 GEMM inputs (fp32 accumulation) against fp32, on the micro preset with its own init.
// Bound: bf16 keeps 8 significant bits, so each rounded input is off by <= 2^-9 ~ 2e-3
// relative and a product of two by <= ~4e-3; over sums of many terms those errors partly cancel
// and the gradient's relative error is expected at a few 1e-3 (measured here: see the failure
// message). So: relative L2 error < 1e-2 and cosine > 0.999 (1 - cos ~ err^2 / 2), loss within
// 1e-2 relative. A wrong index or transpose gives O(1) errors; identical gradients mean bf16
// did not run (also a failure).
TEST(ModelBackward, Bf16GradientsCloseToFp32) {
  Model m(preset("micro"));
  init_params(m, 3);
  const int B = 2, T = 64;
  const auto tok = random_tokens(B * T, m.config.vocab_size, 61);
  const auto tgt = random_tokens(B * T, m.config.vocab_size, 62);
  Workspace ws(m.config, B, T, Mode::train);
  m.enable_grads();
  auto grads = [&](Precision p) {
    kernels::GemmPrecisionScope scope(p);
    m.zero_grads();
    const double loss = forward_backward(m, ws, tok.data(), tgt.data(), 1.0f / (B * T)).sum;
    return std::make_pair(loss, std::vector<float>(m.grads.begin(), m.grads.end()));
  };
  const auto [l32, g32] = grads(Precision::fp32);
  const auto [l16, g16] = grads(Precision::bf16);
  double dot = 0, n32 = 0, n16 = 0, diff = 0;
  for (std::size_t i = 0; i < g32.size(); ++i) {
    dot += double(g32[i]) * g16[i];
    n32 += double(g32[i]) * g32[i];
    n16 += double(g16[i]) * g16[i];
    diff += (double(g32[i]) - g16[i]) * (double(g32[i]) - g16[i]);
  }
  const double rel = std::sqrt(diff / n32), cosine = dot / std::sqrt(n32 * n16);
  EXPECT_GT(rel, 0.0) << "bf16 gradients identical to fp32: bf16 did not run";
  EXPECT_LT(rel, 1e-2) << "relative L2 error " << rel << ", cosine " << cosine;
  EXPECT_GT(cosine, 0.999) << "relative L2 error " << rel;
  EXPECT_NEAR(l16, l32, 1e-2 * std::fabs(l32));
  EXPECT_EQ(kernels::gemm_precision(), Precision::fp32);  // the scope restored the default
}

TEST(ModelMemory, ActivationsLinearInContextAndRecomputeSmaller) {
  const ModelConfig c = preset("tiny");
  for (Mode mode : {Mode::train, Mode::train_recompute, Mode::infer}) {
    const auto a = plan_activations(c, 1, 8192, mode).total_floats;
    const auto b = plan_activations(c, 1, 16384, mode).total_floats;
    const auto d = plan_activations(c, 1, 32768, mode).total_floats;
    EXPECT_EQ(d - b, 2 * (b - a));  // exactly linear (sizes are multiples of the alignment)
  }
  // Recompute keeps (L+1) residual rows + one layer instead of L layers.
  EXPECT_LT(plan_activations(c, 1, 32768, Mode::train_recompute).bytes(),
            plan_activations(c, 1, 32768, Mode::train).bytes() / 2);
  const MemoryEstimate e = estimate_training_memory(c, 1, 32768, true);
  EXPECT_LT(e.total(), std::size_t{3} << 30);  // the 4 GiB budget with room for the runtime
  EXPECT_EQ(e.optimizer, 2 * e.params);
}

TEST(ModelErrors, BadTokensAreReported) {
  Model m(grad_config(false));
  Workspace ws(m.config, 1, 4, Mode::infer);
  std::vector<int32_t> tok = {1, 2, 64, 3}, tgt = {0, 0, 0, 0};
  EXPECT_THROW(forward_loss(m, ws, tok.data(), tgt.data()), Error);
}

}  // namespace
}  // namespace harpe::model

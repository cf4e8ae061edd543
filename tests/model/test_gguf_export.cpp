#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/gguf.h"
#include "model/config.h"
#include "model/gguf_export.h"
#include "model/model.h"
#include "rope/rope_table.h"

using harpe::Error;
using namespace harpe;
using namespace harpe::model;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/harpe_ggufx_XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
};

ModelConfig gqa_config() {
  ModelConfig c = preset("micro");  // 4 heads x 16, 2 KV heads
  c.tie_word_embeddings = false;
  return c;
}

TEST(GgufExport, PermutationMatchesTheIndexFormula) {
  const int heads = 3, D = 8, cols = 2;
  std::vector<float> w(static_cast<size_t>(heads * D * cols));
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i);
  const std::vector<float> p = interleave_rope_rows(w.data(), heads, D, cols);
  // llama.cpp's converter: reshape(heads, 2, D/2, cols).swapaxes(1, 2): new row (h, i, j) is old
  // row (h, j, i), i.e. new row r of head h is old row (r % 2) * D/2 + r / 2.
  for (int h = 0; h < heads; ++h)
    for (int r = 0; r < D; ++r)
      for (int c = 0; c < cols; ++c) {
        const int old_row = h * D + (r % 2) * (D / 2) + r / 2;
        ASSERT_EQ(p[static_cast<size_t>((h * D + r) * cols + c)],
                  w[static_cast<size_t>(old_row * cols + c)]);
      }
}

// What the permutation is for: rotating half_split pairs (x[i], x[i + D/2]) of q = W a equals
// rotating adjacent pairs (x[2i], x[2i + 1]) of q' = W' a, up to the same row permutation, so
// every q.k dot product (and hence attention) is unchanged.
TEST(GgufExport, PermutedWeightsGiveTheSameAttentionScores) {
  const int D = 8, C = 5, P = D / 2;
  std::mt19937 rng(3);
  std::normal_distribution<float> nd;
  std::vector<float> wq(D * C), wk(D * C), a(C), b(C);
  for (float* v : {wq.data(), wk.data()})
    for (int i = 0; i < D * C; ++i) v[i] = nd(rng);
  for (int i = 0; i < C; ++i) a[i] = nd(rng), b[i] = nd(rng);
  auto matvec = [&](const std::vector<float>& w, const std::vector<float>& x) {
    std::vector<double> y(D, 0.0);
    for (int r = 0; r < D; ++r)
      for (int c = 0; c < C; ++c) y[r] += static_cast<double>(w[r * C + c]) * x[c];
    return y;
  };
  auto rotate = [&](std::vector<double> v, int pos, bool interleaved) {
    for (int i = 0; i < P; ++i) {
      const double th = pos * std::pow(10000.0, -2.0 * i / D);
      const int i0 = interleaved ? 2 * i : i, i1 = interleaved ? 2 * i + 1 : i + P;
      const double x0 = v[i0], x1 = v[i1];
      v[i0] = x0 * std::cos(th) - x1 * std::sin(th);
      v[i1] = x0 * std::sin(th) + x1 * std::cos(th);
    }
    return v;
  };
  auto dot = [](const std::vector<double>& x, const std::vector<double>& y) {
    double s = 0;
    for (size_t i = 0; i < x.size(); ++i) s += x[i] * y[i];
    return s;
  };
  const std::vector<float> pq = interleave_rope_rows(wq.data(), 1, D, C);
  const std::vector<float> pk = interleave_rope_rows(wk.data(), 1, D, C);
  for (int pq_pos : {0, 3, 17})
    for (int pk_pos : {0, 5}) {
      const double hf =
          dot(rotate(matvec(wq, a), pq_pos, false), rotate(matvec(wk, b), pk_pos, false));
      const double gg =
          dot(rotate(matvec(pq, a), pq_pos, true), rotate(matvec(pk, b), pk_pos, true));
      EXPECT_NEAR(hf, gg, 1e-9 * (1 + std::fabs(hf)));
    }
  // Without the permutation the scores differ (the test can fail).
  const double hf = dot(rotate(matvec(wq, a), 3, false), rotate(matvec(wk, b), 0, false));
  const double raw = dot(rotate(matvec(wq, a), 3, true), rotate(matvec(wk, b), 0, true));
  EXPECT_GT(std::fabs(hf - raw), 1e-3);
}

TEST(GgufExport, RopeMetadataPerScheme) {
  ModelConfig c = gqa_config();
  EXPECT_EQ(gguf_rope(c).scaling_type, "none");
  c.rope.scheme = rope::Scheme::pi;
  c.rope.factor = 4;
  GgufRope g = gguf_rope(c);
  EXPECT_EQ(g.scaling_type, "linear");
  EXPECT_EQ(g.factor, 4);
  c.rope.scheme = rope::Scheme::ntk;
  g = gguf_rope(c);
  EXPECT_EQ(g.scaling_type, "none");
  EXPECT_NEAR(g.freq_base, 10000 * std::pow(4.0, 16.0 / 14.0), 1e-6);
  c.rope.scheme = rope::Scheme::yarn;
  c.rope.original_context = 64;
  g = gguf_rope(c);
  EXPECT_EQ(g.scaling_type, "yarn");
  EXPECT_EQ(g.original_context, 64);
  EXPECT_EQ(g.attn_factor, 1.0);
  c.rope.attention_factor = 1.5;
  EXPECT_NEAR(gguf_rope(c).attn_factor, 1.5 / (0.1 * std::log(4.0) + 1), 1e-12);
  c.rope.attention_factor = 0;
  // Llama 3: base frequency / factor reproduces harpe's table.
  c.rope.scheme = rope::Scheme::llama3;
  g = gguf_rope(c);
  const rope::RopeTable t = rope::build_table(c.rope, c.table_shape());
  ASSERT_EQ(g.freq_factors.size(), 8u);
  for (int i = 0; i < 8; ++i)
    EXPECT_NEAR(std::pow(10000.0, -2.0 * i / 16) / g.freq_factors[i], t.head(0)[i],
                1e-6 * t.head(0)[i]);
  EXPECT_EQ(g.freq_factors[0], 1.f);   // high frequencies are kept
  EXPECT_GT(g.freq_factors[7], 3.9f);  // low ones divided by ~the factor
}

TEST(GgufExport, RefusesWhatLlamaCppCannotRun) {
  ModelConfig c = gqa_config();
  c.rope.scheme = rope::Scheme::harpe;
  c.rope.bases = {1e4, 5e4};
  try {
    gguf_rope(c);
    FAIL() << "harpe exported";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("per-head RoPE"), std::string::npos) << e.what();
  }
  c = gqa_config();
  c.rope.scheme = rope::Scheme::dynamic;
  c.rope.factor = 2;
  c.rope.original_context = 64;
  EXPECT_THROW(gguf_rope(c), Error);
  c = gqa_config();
  c.rot_dims = 8;
  EXPECT_THROW(gguf_rope(c), Error);
  c = gqa_config();
  c.rope.scheme = rope::Scheme::yarn;
  c.rope.factor = 2;
  c.rope.original_context = 64;
  c.rope.beta_fast = 16;
  EXPECT_THROW(gguf_rope(c), Error);
}

TEST(GgufExport, WritesLlamaTensorsAndKeys) {
  TempDir dir;
  const std::string path = dir.path + "/m.gguf";
  ModelConfig c = gqa_config();
  Model m(c);
  init_params(m, 5);
  export_gguf(m, placeholder_vocab(c), {}, path);
  const io::gguf::File f = io::gguf::read_header(path);
  EXPECT_EQ(f.find("general.architecture")->strings.at(0), "llama");
  EXPECT_EQ(f.find("llama.attention.head_count")->numbers.at(0), 4);
  EXPECT_EQ(f.find("llama.attention.head_count_kv")->numbers.at(0), 2);
  EXPECT_EQ(f.find("llama.rope.dimension_count")->numbers.at(0), 16);
  EXPECT_EQ(f.find("tokenizer.ggml.tokens")->strings.size(), 256u);
  EXPECT_EQ(f.find("tokenizer.ggml.tokens")->strings.at(1), "<s>");
  EXPECT_EQ(f.find("tokenizer.ggml.bos_token_id")->numbers.at(0), 1);
  // 3 global tensors (untied) + 9 per layer.
  EXPECT_EQ(f.tensors.size(), 3u + 9u * 2u);
  const io::gguf::TensorInfo* q = f.tensor("blk.1.attn_q.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->ne, (std::vector<std::uint64_t>{64, 64}));
  const io::gguf::TensorInfo* k = f.tensor("blk.1.attn_k.weight");
  EXPECT_EQ(k->ne, (std::vector<std::uint64_t>{64, 32}));  // 2 KV heads x 16
  EXPECT_EQ(f.tensor("token_embd.weight")->ne, (std::vector<std::uint64_t>{64, 256}));
  EXPECT_EQ(f.tensor("blk.0.ffn_down.weight")->ne, (std::vector<std::uint64_t>{160, 64}));
  // k is written permuted per KV head, v as is.
  const std::vector<float> kd = io::gguf::read_tensor(path, f, *k);
  EXPECT_EQ(kd, interleave_rope_rows(m.w.layers[1].wk, 2, 16, 64));
  const std::vector<float> vd = io::gguf::read_tensor(path, f, *f.tensor("blk.1.attn_v.weight"));
  EXPECT_EQ(vd, std::vector<float>(m.w.layers[1].wv, m.w.layers[1].wv + 32 * 64));

  // F16 matrices, F32 norms; an interleaved checkpoint is not permuted; a tied one has no output.
  c.rope_layout = rope::Layout::interleaved;
  c.tie_word_embeddings = true;
  Model m2(c);
  init_params(m2, 6);
  GgufExportOptions o;
  o.type = io::gguf::TensorType::f16;
  export_gguf(m2, placeholder_vocab(c), o, path);
  const io::gguf::File f2 = io::gguf::read_header(path);
  EXPECT_EQ(f2.tensor("output.weight"), nullptr);
  EXPECT_EQ(f2.tensor("blk.0.attn_q.weight")->type, io::gguf::TensorType::f16);
  EXPECT_EQ(f2.tensor("blk.0.attn_norm.weight")->type, io::gguf::TensorType::f32);
  const std::vector<float> q2 = io::gguf::read_tensor(path, f2, *f2.tensor("blk.0.attn_q.weight"));
  for (int i = 0; i < 64 * 64; ++i)
    ASSERT_NEAR(q2[static_cast<size_t>(i)], m2.w.layers[0].wq[i],
                1e-3 * std::fabs(m2.w.layers[0].wq[i]) + 1e-7);

  // A vocabulary of the wrong size is refused.
  GgufVocab small = placeholder_vocab(c);
  small.tokens.pop_back();
  EXPECT_THROW(export_gguf(m2, small, o, path), Error);
}

}  // namespace

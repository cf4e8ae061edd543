// Model directories on disk: sharded F32 save -> load gives bitwise the same forward output, BF16
// gives exactly the output of the model rounded to bf16, the default save is the old single file
// byte for byte, and an untied lm_head.weight trains (a gradient reaches it), saves and loads.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/safetensors.h"
#include "io/safetensors_index.h"
#include "model/model.h"
#include "model/weights_io.h"

namespace harpe::model {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/harpe_wio_XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
};

// vocab 64, hidden 32, 2 layers, 4 heads x 8, 2 KV heads; ~30 KB of F32 weights.
ModelConfig small_config(bool tied) {
  ModelConfig c;
  c.vocab_size = 64;
  c.hidden_size = 32;
  c.intermediate_size = 48;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 8;
  c.rot_dims = 8;
  c.max_position_embeddings = 64;
  c.tie_word_embeddings = tied;
  return c;
}

Model random_model(bool tied, unsigned seed) {
  Model m(small_config(tied));
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal(0.0f, 0.3f);
  for (float& x : m.params) x = normal(gen);
  return m;
}

// Per-token losses and last-position logits of a fixed batch: the forward output compared.
std::vector<float> forward_output(const Model& m) {
  const int B = 2, T = 7;
  std::vector<int32_t> tok(B * T), tgt(B * T);
  for (int i = 0; i < B * T; ++i) {
    tok[i] = (i * 13 + 5) % 64;
    tgt[i] = (i * 7 + 3) % 64;
  }
  Workspace ws(m.config, B, T, Mode::infer);
  std::vector<float> out(B * T + B * 64);
  forward_loss(m, ws, tok.data(), tgt.data(), out.data());
  logits_last(m, ws, tok.data(), out.data() + B * T);
  return out;
}

bool bitwise_equal(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
}

TEST(WeightsIo, ShardedF32RoundTripIsBitwise) {
  for (bool tied : {true, false}) {
    const Model m = random_model(tied, 1);
    TempDir d;
    save_model_dir(m, d.path, {io::StoreDtype::f32, 4096});
    ASSERT_TRUE(fs::exists(d.path + "/model.safetensors.index.json"));
    ASSERT_FALSE(fs::exists(d.path + "/model.safetensors"));
    int shards = 0;
    for (const auto& e : fs::directory_iterator(d.path))
      shards += e.path().filename().string().rfind("model-", 0) == 0;
    EXPECT_GT(shards, 3);  // ~30 KB in shards of <= 4 KB (the 8 KB embedding alone)
    const Model back = load_model_dir(d.path);
    EXPECT_EQ(std::memcmp(back.params.data(), m.params.data(), m.params.size() * 4), 0);
    EXPECT_TRUE(bitwise_equal(forward_output(back), forward_output(m)));
  }
}

TEST(WeightsIo, Bf16RoundTripEqualsTheBf16RoundedModel) {
  Model m = random_model(false, 2);
  TempDir d;
  save_model_dir(m, d.path, {io::StoreDtype::bf16, 8192});
  const Model back = load_model_dir(d.path);
  for (float& x : m.params) x = io::bf16_to_f32(io::f32_to_bf16(x));
  EXPECT_TRUE(bitwise_equal(forward_output(back), forward_output(m)));
  // Unsharded bf16 as well: one file, half the bytes of the weights.
  TempDir one;
  save_model_dir(m, one.path, {io::StoreDtype::bf16, 0});
  EXPECT_FALSE(fs::exists(one.path + "/model.safetensors.index.json"));
  EXPECT_LT(fs::file_size(one.path + "/model.safetensors"), m.params.size() * 2 + 4096);
  EXPECT_TRUE(bitwise_equal(forward_output(load_model_dir(one.path)), forward_output(m)));
}

TEST(WeightsIo, DefaultSaveIsTheF32SingleFileOfSaveWeights) {
  const Model m = random_model(true, 3);
  TempDir d;
  save_model_dir(m, d.path);
  save_weights(m, d.path + "/plain.safetensors");
  EXPECT_EQ(io::read_file(d.path + "/model.safetensors"),
            io::read_file(d.path + "/plain.safetensors"));
  EXPECT_FALSE(fs::exists(d.path + "/model.safetensors.index.json"));
}

TEST(WeightsIo, UntiedLmHeadTrainsSavesAndLoads) {
  Model m = random_model(false, 4);
  const TensorInfo* head = m.layout.find("lm_head.weight");
  const TensorInfo* embed = m.layout.find("model.embed_tokens.weight");
  ASSERT_NE(head, nullptr);
  ASSERT_NE(embed, nullptr);
  // A gradient reaches lm_head.weight.
  m.enable_grads();
  m.zero_grads();
  const int B = 1, T = 6;
  std::vector<int32_t> tok{1, 5, 9, 2, 33, 7}, tgt{5, 9, 2, 33, 7, 11};
  Workspace ws(m.config, B, T, Mode::train);
  forward_backward(m, ws, tok.data(), tgt.data(), 1.0f);
  double g = 0;
  for (std::size_t i = 0; i < head->numel; ++i) g += std::abs(m.grads[head->offset + i]);
  EXPECT_GT(g, 0.0);
  // Saved (sharded) under its HF name and loaded back distinct from the embedding.
  TempDir d;
  save_model_dir(m, d.path, {io::StoreDtype::f32, 4096});
  const io::SafetensorsSet set = io::SafetensorsSet::open_dir(d.path);
  ASSERT_TRUE(set.contains("lm_head.weight"));
  const Model back = load_model_dir(d.path);
  EXPECT_FALSE(back.config.tie_word_embeddings);
  EXPECT_EQ(std::memcmp(back.params.data() + head->offset, m.params.data() + head->offset,
                        head->numel * 4),
            0);
  EXPECT_NE(std::memcmp(back.params.data() + head->offset, back.params.data() + embed->offset,
                        head->numel * 4),
            0);
  // Without it in the files an untied model does not load.
  fs::remove(d.path + "/model.safetensors.index.json");
  for (const auto& e : fs::directory_iterator(d.path))
    if (e.path().extension() == ".safetensors") fs::remove(e.path());
  std::vector<io::TensorView> views;
  for (const TensorInfo& t : m.layout.tensors)
    if (t.name != "lm_head.weight") views.push_back({t.name, t.shape, m.params.data() + t.offset});
  io::write_safetensors(d.path + "/model.safetensors", views);
  try {
    load_model_dir(d.path);
    ADD_FAILURE() << "loaded without lm_head.weight";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("lm_head.weight is missing"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace harpe::model

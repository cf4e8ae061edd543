// A crafted config.json or checkpoint cannot reach memory-unsafe code: sizes whose products
// overflow `int`, NaN / infinite / out-of-range floats, arenas larger than the machine, NaN
// weights, and a config "file" that is a device or a FIFO: each is a one-line error naming the
// key, tensor or file.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "model/config.h"
#include "model/model.h"
#include "model/weights_io.h"

namespace harpe::model {
namespace {

namespace fs = std::filesystem;

// A small valid config.json with `extra` keys appended (they override the ones before).
std::string config_json(const std::string& extra) {
  std::string j = R"({"vocab_size": 256, "hidden_size": 64, "intermediate_size": 128,
    "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2)";
  if (!extra.empty()) j.append(", ").append(extra);
  return j.append("}");
}

void expect_refused(const std::string& extra, const std::string& fragment) {
  try {
    parse_hf_config(config_json(extra), "crafted/config.json");
    ADD_FAILURE() << "accepted: " << extra;
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("crafted/config.json"), std::string::npos) << m;
    EXPECT_NE(m.find(fragment), std::string::npos) << "[" << fragment << "] in " << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
}

fs::path temp_dir(const std::string& name) {
  const fs::path p =
      fs::temp_directory_path() / ("harpe-test-limits-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

TEST(ConfigLimits, SizeProductsThatOverflowIntAreRefused) {
  // heads x head_dim = 2^32: q_dim() would wrap around in int.
  expect_refused(R"("num_attention_heads": 65536, "num_key_value_heads": 65536, "head_dim": 65536)",
                 "num_attention_heads");
  // vocab x hidden = 2^31 * 4096: no embedding of that size.
  expect_refused(R"("vocab_size": 2000000000)", "vocab_size");
  // intermediate x hidden > 2^31 - 1 with each factor within its own limit.
  expect_refused(R"("hidden_size": 32768, "num_attention_heads": 256, "num_key_value_heads": 256,
    "intermediate_size": 65536)",
                 "intermediate_size x hidden_size");
  expect_refused(R"("vocab_size": 16777216, "hidden_size": 4096, "num_attention_heads": 32,
    "num_key_value_heads": 32)",
                 "vocab_size x hidden_size");
  expect_refused(R"("num_hidden_layers": 1000000)", "num_hidden_layers");
  expect_refused(R"("hidden_size": 2147483647)", "hidden_size");
  expect_refused(R"("max_position_embeddings": 2147483647)", "max_position_embeddings");
  // Every matrix fits, but layers x per-layer size is over the 2^40 parameter limit.
  expect_refused(R"("hidden_size": 16384, "intermediate_size": 65536, "num_hidden_layers": 4096,
    "num_attention_heads": 128, "num_key_value_heads": 128)",
                 "parameters");
}

TEST(ConfigLimits, FloatsMustBeFiniteAndInRange) {
  // JSON has no NaN or infinity: a number that overflows a double is invalid JSON.
  expect_refused(R"("rms_norm_eps": 1e999)", "invalid JSON");
  expect_refused(R"("rms_norm_eps": 2)", "rms_norm_eps must be in (0, 1)");
  expect_refused(R"("rms_norm_eps": 0)", "rms_norm_eps");
  expect_refused(R"("rms_norm_eps": -1e-5)", "rms_norm_eps");
  expect_refused(R"("rope_theta": 1)", "rope_theta");
  expect_refused(R"("rope_scaling": {"rope_type": "linear", "factor": 1e300})",
                 "rope_scaling.factor must be in [1, 1e+06]");
  expect_refused(R"("rope_scaling": {"rope_type": "ntk", "factor": -3})", "rope_scaling.factor");
  expect_refused(R"("rope_scaling": {"rope_type": "yarn", "factor": 4,
    "original_max_position_embeddings": 64, "attention_factor": 1e300})",
                 "attention_factor");
  expect_refused(R"("rope_scaling": {"rope_type": "yarn", "factor": 4,
    "original_max_position_embeddings": 2147483647})",
                 "original_max_position_embeddings");
  expect_refused(R"("rope_scaling": {"rope_type": "llama3", "factor": 8, "low_freq_factor": 0,
    "high_freq_factor": 4, "original_max_position_embeddings": 64})",
                 "low_freq_factor");
  expect_refused(R"("rope_scaling": {"rope_type": "harpe", "bases": [1e4, 0.5]})", "bases[1]");

  // The same checks hold for a config built in code: every float of the RoPE spec, used or not.
  ModelConfig c = preset("micro");
  EXPECT_NO_THROW(c.validate());
  for (double bad : {std::nan(""), std::numeric_limits<double>::infinity()}) {
    ModelConfig b = c;
    b.rms_norm_eps = bad;
    EXPECT_THROW(b.validate(), Error);
    b = c;
    b.rope.factor = bad;  // plain RoPE does not read it, but it must still be a number
    EXPECT_THROW(b.validate(), Error);
    b = c;
    b.rope.low_freq_factor = bad;
    EXPECT_THROW(b.validate(), Error);
    b = c;
    b.rope.base = bad;
    EXPECT_THROW(b.validate(), Error);
    b = c;
    b.rope.scheme = rope::Scheme::yarn;
    b.rope.factor = 4;
    b.rope.original_context = 64;
    EXPECT_NO_THROW(b.validate());
    b.rope.attention_factor = bad;
    EXPECT_THROW(b.validate(), Error);
  }
}

TEST(ConfigLimits, ParameterCountIn64Bits) {
  // Llama 3.1 405B's shape: 4e11 parameters, far beyond int, within the limits.
  const std::string j = R"({"vocab_size": 128256, "hidden_size": 16384, "intermediate_size": 53248,
    "num_hidden_layers": 126, "num_attention_heads": 128, "num_key_value_heads": 8,
    "tie_word_embeddings": false})";
  const ModelConfig c = parse_hf_config(j, "405b/config.json");
  const int64_t C = 16384, F = 53248, V = 128256, HD = 128 * 128, KVD = 8 * 128;
  const int64_t per_layer = 2 * HD * C + 2 * KVD * C + 3 * F * C + 2 * C;
  EXPECT_EQ(c.parameter_count(), 126 * per_layer + 2 * V * C + C);
  EXPECT_EQ(c.parameter_count(), 405853388800);  // 405.85e9
  EXPECT_EQ(c.matmul_parameter_count(), 126 * (per_layer - 2 * C) + V * C);
}

TEST(ConfigLimits, ArenasAreCheckedAgainstAvailableMemory) {
  // A valid shape whose parameters (2^39 floats = 2 TiB) fit no test machine: an Error before
  // the allocation, not an allocation that is killed or swaps.
  ModelConfig big = preset("micro");
  big.hidden_size = 8192;
  big.intermediate_size = 32768;
  big.num_hidden_layers = 512;
  big.num_attention_heads = 64;
  big.num_key_value_heads = 64;
  big.head_dim = 128;
  big.rot_dims = 128;
  EXPECT_NO_THROW(big.validate());
  try {
    Model m(big);
    ADD_FAILURE() << "allocated " << m.layout.total << " floats";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the parameters"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("available"), std::string::npos) << e.what();
  }
  // Activations: 2^30 tokens x hidden 64 is 256 GiB for the residual stream alone.
  const ModelConfig micro = preset("micro");
  try {
    Workspace ws(micro, 1, 1 << 30, Mode::infer);
    ADD_FAILURE() << "allocated " << ws.plan.total_floats << " floats";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the activations (batch 1 x context 1073741824)"),
              std::string::npos)
        << e.what();
  }
}

TEST(ConfigLimits, NaNWeightIsAnErrorNamingTheTensor) {
  const fs::path dir = temp_dir("nan");
  Model m(preset("micro"));
  init_params(m, 3);
  save_model_dir(m, dir.string());
  EXPECT_NO_THROW(load_model_dir(dir.string()));
  const TensorInfo* t = m.layout.find("model.layers.1.mlp.up_proj.weight");
  ASSERT_NE(t, nullptr);
  for (float bad :
       {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity()}) {
    m.params[t->offset + 5] = bad;
    save_weights(m, (dir / "model.safetensors").string());
    try {
      load_model_dir(dir.string());
      ADD_FAILURE() << "a non-finite weight loaded silently";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find("model.layers.1.mlp.up_proj.weight"), std::string::npos) << msg;
      EXPECT_NE(msg.find("element 5"), std::string::npos) << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
  }
  fs::remove_all(dir);
}

TEST(ConfigLimits, ConfigMustBeARegularFile) {
  // A device is refused without being read (/dev/urandom would be read until memory runs out).
  for (const char* dev : {"/dev/null", "/dev/zero"}) {
    try {
      read_hf_config(dev);
      ADD_FAILURE() << dev << " was read as a config";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("not a regular file"), std::string::npos) << e.what();
    }
  }
  // A FIFO is refused without blocking. (Were it opened, the writer below would hand it "{", and
  // the error would be about JSON instead.)
  const fs::path dir = temp_dir("fifo");
  const std::string fifo = (dir / "config.json").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::thread writer([&] {
    const int fd = ::open(fifo.c_str(), O_WRONLY);  // blocks until some reader opens it
    if (fd >= 0) {
      [[maybe_unused]] const auto n = ::write(fd, "{", 1);
      ::close(fd);
    }
  });
  std::string message;
  try {
    read_hf_config(fifo);
  } catch (const Error& e) {
    message = e.what();
  }
  const int unblock = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK);  // releases the writer
  writer.join();
  if (unblock >= 0) ::close(unblock);
  EXPECT_NE(message.find("a FIFO, not a regular file"), std::string::npos) << message;
  EXPECT_NE(message.find(fifo), std::string::npos) << message;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace harpe::model

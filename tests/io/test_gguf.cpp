#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/half.h"
#include "io/gguf.h"

using harpe::Error;
using namespace harpe::io::gguf;
using harpe::f16_to_f32;
using harpe::f32_to_f16;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/harpe_gguf_XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

template <typename T>
T at(const std::string& s, std::size_t off) {
  T v;
  std::memcpy(&v, s.data() + off, sizeof(T));
  return v;
}

TEST(GgufHalf, KnownValuesAndRounding) {
  EXPECT_EQ(f32_to_f16(0.f), 0x0000);
  EXPECT_EQ(f32_to_f16(-0.f), 0x8000);
  EXPECT_EQ(f32_to_f16(1.f), 0x3c00);
  EXPECT_EQ(f32_to_f16(-2.f), 0xc000);
  EXPECT_EQ(f32_to_f16(65504.f), 0x7bff);
  EXPECT_EQ(f32_to_f16(65520.f), 0x7c00);               // rounds to infinity
  EXPECT_EQ(f32_to_f16(std::ldexp(1.f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(f32_to_f16(std::ldexp(1.f, -14)), 0x0400);  // smallest normal
  EXPECT_EQ(f32_to_f16(std::numeric_limits<float>::infinity()), 0x7c00);
  EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(std::nanf("")))));
  // Ties go to even: 1 + 2^-11 is halfway between 1 and 1 + 2^-10.
  EXPECT_EQ(f32_to_f16(1.f + std::ldexp(1.f, -11)), 0x3c00);
  EXPECT_EQ(f32_to_f16(1.f + 3 * std::ldexp(1.f, -11)), 0x3c02);
  // Every half converts to float and back unchanged (NaNs aside).
  for (std::uint32_t h = 0; h < 0x10000; ++h) {
    const float f = f16_to_f32(static_cast<std::uint16_t>(h));
    if (std::isnan(f)) continue;
    ASSERT_EQ(f32_to_f16(f), h) << h;
  }
  // Rounding error of normal values is at most half an ulp (2^-11 relative).
  for (float x = 1e-4f; x < 6e4f; x *= 1.0137f) {
    const float r = f16_to_f32(f32_to_f16(x));
    ASSERT_LE(std::fabs(r - x), std::ldexp(std::fabs(x), -11) * 1.0001f) << x;
  }
}

TEST(GgufWriter, LayoutByTheSpec) {
  TempDir dir;
  const std::string path = dir.path + "/t.gguf";
  Writer w;
  w.add_string("general.architecture", "llama");
  w.add_u32("llama.block_count", 2);
  w.add_f32("llama.rope.freq_base", 5e5f);
  w.add_bool("flag", true);
  w.add_strings("tokenizer.ggml.tokens", {"<s>", "a", ""});
  w.add_i32s("tokenizer.ggml.token_type", {3, 1, -1});
  const std::vector<float> a = {1, 2, 3, 4, 5, 6};  // 2 rows x 3 cols
  const std::vector<float> b = {0.5f, -1.5f, 3.0f};
  w.add_tensor("a.weight", {3, 2}, TensorType::f32, a.data());
  w.add_tensor("b.weight", {3}, TensorType::f16, b.data());
  w.write(path);

  // Raw bytes, decoded by hand from the specification.
  const std::string s = slurp(path);
  ASSERT_EQ(s.substr(0, 4), "GGUF");
  EXPECT_EQ(at<std::uint32_t>(s, 4), 3u);
  EXPECT_EQ(at<std::uint64_t>(s, 8), 2u);   // tensors
  EXPECT_EQ(at<std::uint64_t>(s, 16), 6u);  // key-values
  EXPECT_EQ(at<std::uint64_t>(s, 24), std::string("general.architecture").size());
  EXPECT_EQ(s.substr(32, 20), "general.architecture");
  EXPECT_EQ(at<std::uint32_t>(s, 52), 8u);  // string
  EXPECT_EQ(at<std::uint64_t>(s, 56), 5u);
  EXPECT_EQ(s.substr(64, 5), "llama");

  const File f = read_header(path);
  EXPECT_EQ(f.version, 3u);
  EXPECT_EQ(f.alignment, 32u);
  ASSERT_EQ(f.kv.size(), 6u);
  EXPECT_EQ(f.kv[0].first, "general.architecture");
  EXPECT_EQ(f.find("general.architecture")->strings.at(0), "llama");
  EXPECT_EQ(f.find("llama.block_count")->type, ValueType::u32);
  EXPECT_EQ(f.find("llama.block_count")->numbers.at(0), 2);
  EXPECT_EQ(f.find("llama.rope.freq_base")->numbers.at(0), 5e5);
  EXPECT_EQ(f.find("flag")->numbers.at(0), 1);
  const Value* toks = f.find("tokenizer.ggml.tokens");
  EXPECT_EQ(toks->type, ValueType::array);
  EXPECT_EQ(toks->elem, ValueType::string);
  EXPECT_EQ(toks->strings, (std::vector<std::string>{"<s>", "a", ""}));
  EXPECT_EQ(f.find("tokenizer.ggml.token_type")->numbers, (std::vector<double>{3, 1, -1}));
  EXPECT_EQ(f.find("missing"), nullptr);

  ASSERT_EQ(f.tensors.size(), 2u);
  EXPECT_EQ(f.tensors[0].name, "a.weight");
  EXPECT_EQ(f.tensors[0].ne, (std::vector<std::uint64_t>{3, 2}));
  EXPECT_EQ(f.tensors[0].offset, 0u);
  EXPECT_EQ(f.tensors[1].type, TensorType::f16);
  EXPECT_EQ(f.tensors[1].offset, 32u);  // 24 bytes of a, padded to the alignment
  EXPECT_EQ(f.data_offset % 32, 0u);
  EXPECT_EQ(f.file_size, f.data_offset + 64);
  EXPECT_EQ(at<float>(s, f.data_offset + 4 * 5), 6.f);
  EXPECT_EQ(at<std::uint16_t>(s, f.data_offset + 32 + 2), 0xbe00);  // -1.5 in binary16
  EXPECT_EQ(read_tensor(path, f, f.tensors[0]), a);
  EXPECT_EQ(read_tensor(path, f, f.tensors[1]), b);
}

TEST(GgufWriter, CustomAlignmentIsWrittenAndHonoured) {
  TempDir dir;
  const std::string path = dir.path + "/t.gguf";
  Writer w;
  w.alignment = 64;
  const std::vector<float> a(5, 1.f);
  w.add_tensor("x", {5}, TensorType::f32, a.data());
  w.add_tensor("y", {5}, TensorType::f32, a.data());
  w.write(path);
  const File f = read_header(path);
  EXPECT_EQ(f.alignment, 64u);
  EXPECT_EQ(f.find("general.alignment")->numbers.at(0), 64);
  EXPECT_EQ(f.tensors[1].offset, 64u);
  EXPECT_EQ(f.data_offset % 64, 0u);
}

TEST(GgufWriter, RejectsBadInput) {
  Writer w;
  w.add_u32("k", 1);
  EXPECT_THROW(w.add_u32("k", 2), Error);
  const float x = 0;
  w.add_tensor("t", {1}, TensorType::f32, &x);
  EXPECT_THROW(w.add_tensor("t", {1}, TensorType::f32, &x), Error);
  EXPECT_THROW(w.add_tensor(std::string(65, 'n'), {1}, TensorType::f32, &x), Error);
  EXPECT_THROW(w.add_tensor("z", {1, 0}, TensorType::f32, &x), Error);
  // A finite value past F16's range is refused, not silently made infinite.
  TempDir dir;
  Writer big;
  const float values[2] = {1.f, 1e5f};
  big.add_tensor("big", {2}, TensorType::f16, values);
  EXPECT_THROW(big.write(dir.path + "/big.gguf"), Error);
  Writer ok;
  ok.add_tensor("big", {2}, TensorType::f32, values);
  EXPECT_NO_THROW(ok.write(dir.path + "/big.gguf"));
}

TEST(GgufReader, RejectsDamagedFiles) {
  TempDir dir;
  const std::string path = dir.path + "/t.gguf";
  Writer w;
  w.add_string("general.architecture", "llama");
  const std::vector<float> a(16, 1.f);
  w.add_tensor("x", {16}, TensorType::f32, a.data());
  w.write(path);
  const std::string good = slurp(path);
  auto write = [&](const std::string& s) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << s;
  };
  write("GGUX" + good.substr(4));
  EXPECT_THROW(read_header(path), Error);
  std::string v2 = good;
  v2[4] = 2;
  write(v2);
  EXPECT_THROW(read_header(path), Error);
  write(good.substr(0, good.size() - 4));  // tensor data cut short
  EXPECT_THROW(read_header(path), Error);
  write(good.substr(0, 40));  // header cut short
  EXPECT_THROW(read_header(path), Error);
  write(good);
  EXPECT_NO_THROW(read_header(path));
}

}  // namespace

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/safetensors.h"

using harpe::Error;
using namespace harpe::io;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/harpe_st_XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
};

std::string le64(std::uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(n >> (8 * i));
  return s;
}

std::string f32_bytes(std::vector<float> v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4);
}

std::string u16_bytes(std::vector<std::uint16_t> v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * 2);
}

// Plain write (no fsync): the tests write hundreds of small files.
void put(const std::string& path, const std::string& bytes) {
  ::unlink(path.c_str());  // not truncate: ext4 flushes truncated-and-rewritten files on close
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Header + data as the format lays them out.
std::string file_bytes(const std::string& header, const std::string& data) {
  return le64(header.size()) + header + data;
}

// Opens (and reads every tensor of) the file; returns the error message, "" on success.
std::string open_error(const std::string& path) {
  try {
    SafetensorsFile f(path);
    for (const auto& n : f.names()) {
      const TensorInfo& t = f.info(n);
      if (t.dtype == "F32" || t.dtype == "BF16" || t.dtype == "F16") f.read_f32(n);
    }
    return "";
  } catch (const Error& e) {
    return e.what();
  }
}

// The error must be one line and name the file and (when given) the tensor.
void expect_error(const std::string& path, const std::string& bytes, const std::string& tensor,
                  const std::string& fragment) {
  put(path, bytes);
  std::string m = open_error(path);
  ASSERT_FALSE(m.empty()) << "expected an error containing: " << fragment;
  EXPECT_NE(m.find(path), std::string::npos) << m;
  if (!tensor.empty()) {
    EXPECT_NE(m.find("\"" + tensor + "\""), std::string::npos) << m;
  }
  EXPECT_NE(m.find(fragment), std::string::npos) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos) << m;
}

}  // namespace

// ---- conversions ---------------------------------------------------------------------------

TEST(Safetensors, F16ToF32HandComputed) {
  EXPECT_EQ(f16_to_f32(0x3C00), 1.0f);
  EXPECT_EQ(f16_to_f32(0xC000), -2.0f);
  EXPECT_EQ(f16_to_f32(0x3555), 0.333251953125f);                    // (1 + 341/1024) / 4
  EXPECT_EQ(f16_to_f32(0x7BFF), 65504.0f);                           // largest finite half
  EXPECT_EQ(f16_to_f32(0x0400), 6.103515625e-05f);                   // smallest normal 2^-14
  EXPECT_EQ(f16_to_f32(0x0001), 5.9604644775390625e-08f);            // smallest subnormal 2^-24
  EXPECT_EQ(f16_to_f32(0x03FF), 1023.0f * 5.9604644775390625e-08f);  // largest subnormal
  EXPECT_EQ(f16_to_f32(0x8001), -5.9604644775390625e-08f);
  EXPECT_EQ(f16_to_f32(0x0000), 0.0f);
  EXPECT_FALSE(std::signbit(f16_to_f32(0x0000)));
  EXPECT_EQ(f16_to_f32(0x8000), 0.0f);
  EXPECT_TRUE(std::signbit(f16_to_f32(0x8000)));  // negative zero keeps its sign
  EXPECT_EQ(f16_to_f32(0x7C00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(f16_to_f32(0xFC00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(f16_to_f32(0x7E00)));
  EXPECT_TRUE(std::isnan(f16_to_f32(0xFC01)));
  // Every finite half against the formula (-1)^s * 2^(e-15) * (1 + m/1024), subnormals m * 2^-24.
  for (std::uint32_t h = 0; h < 0x10000; ++h) {
    int s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
    if (e == 31) continue;
    double v = e == 0 ? std::ldexp(m, -24) : std::ldexp(1.0 + m / 1024.0, e - 15);
    if (s) v = -v;
    ASSERT_EQ(f16_to_f32(static_cast<std::uint16_t>(h)), static_cast<float>(v)) << std::hex << h;
  }
}

TEST(Safetensors, Bf16HandComputed) {
  EXPECT_EQ(bf16_to_f32(0x3F80), 1.0f);
  EXPECT_EQ(bf16_to_f32(0xC0A0), -5.0f);
  EXPECT_EQ(bf16_to_f32(0x4049), 3.140625f);               // (1 + 73/128) * 2
  EXPECT_EQ(bf16_to_f32(0x3EAB), 0.333984375f);            // (1 + 43/128) / 4
  EXPECT_EQ(bf16_to_f32(0x0001), std::ldexp(1.0f, -133));  // smallest subnormal
  EXPECT_TRUE(std::signbit(bf16_to_f32(0x8000)));
  EXPECT_EQ(bf16_to_f32(0x7F80), std::numeric_limits<float>::infinity());
  EXPECT_EQ(bf16_to_f32(0xFF80), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(bf16_to_f32(0x7FC0)));
  // Round to nearest even: 1 + 2^-8 is a tie between 0x3F80 (even) and 0x3F81.
  EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3F80);
  EXPECT_EQ(f32_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3F82);     // tie, 0x3F81 odd -> up
  EXPECT_EQ(f32_to_bf16(1.0f + 1.5f * std::ldexp(1.0f, -8)), 0x3F81);  // above the tie
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::nanf("")))));
}

// ---- round trip and reading ----------------------------------------------------------------

TEST(Safetensors, F32RoundTripWithMetadataAndAlignment) {
  TempDir dir;
  std::string p = dir.path + "/m.safetensors";
  std::vector<float> a(6), b = {-1.5f, 0.0f, 3.25f}, scalar = {42.0f};
  for (int i = 0; i < 6; ++i) a[i] = 0.1f * i - 0.2f;
  write_safetensors(p,
                    {{"model.embed_tokens.weight", {2, 3}, a.data()},
                     {"model.norm.weight", {3}, b.data()},
                     {"empty", {0, 4}, nullptr},
                     {"scalar", {}, scalar.data()}},
                    {{"format", "pt"}, {"step", "12"}});
  std::string raw = read_file(p);
  std::uint64_t n = 0;
  std::memcpy(&n, raw.data(), 8);
  EXPECT_EQ((8 + n) % 8, 0u);  // data section aligned
  EXPECT_EQ(raw.size(), 8 + n + (6 + 3 + 0 + 1) * 4);

  SafetensorsFile f(p);
  EXPECT_EQ(f.names(), (std::vector<std::string>{"model.embed_tokens.weight", "model.norm.weight",
                                                 "empty", "scalar"}));
  EXPECT_EQ(f.metadata().at("format"), "pt");
  EXPECT_EQ(f.metadata().at("step"), "12");
  EXPECT_EQ(f.info("model.embed_tokens.weight").shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(f.info("model.norm.weight").dtype, "F32");
  std::vector<float> got(6);
  const std::int64_t shape[] = {2, 3};
  f.read_f32("model.embed_tokens.weight", got.data(), shape);
  EXPECT_EQ(got, a);  // bit-exact
  EXPECT_EQ(f.read_f32("model.norm.weight"), b);
  EXPECT_EQ(f.read_f32("scalar"), scalar);
  EXPECT_TRUE(f.read_f32("empty").empty());
  EXPECT_TRUE(f.contains("scalar"));
  EXPECT_FALSE(f.contains("lm_head.weight"));

  // Wrong expected shape and a missing tensor name the tensor.
  const std::int64_t wrong[] = {3, 2};
  try {
    f.read_f32("model.embed_tokens.weight", got.data(), wrong);
    FAIL();
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("\"model.embed_tokens.weight\" has shape [2, 3], expected [3, 2]"),
              std::string::npos)
        << m;
  }
  try {
    f.info("lm_head.weight");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("\"lm_head.weight\""), std::string::npos);
  }
}

TEST(Safetensors, ReadsBf16AndF16AsF32) {
  TempDir dir;
  std::string p = dir.path + "/h.safetensors";
  // Hand-built file: a BF16 [2,2] and an F16 [5] tensor, header padded with spaces.
  std::string header =
      R"({"__metadata__":{"format":"pt"},"b":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,8]},)"
      R"("h":{"dtype":"F16","shape":[5],"data_offsets":[8,18]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  std::string data = u16_bytes({0x3F80, 0xC0A0, 0x4049, 0x8000}) +
                     u16_bytes({0x3C00, 0x0001, 0x7C00, 0x8000, 0x3555});
  put(p, file_bytes(header, data));
  SafetensorsFile f(p);
  auto b = f.read_f32("b");
  EXPECT_EQ(b, (std::vector<float>{1.0f, -5.0f, 3.140625f, -0.0f}));
  EXPECT_TRUE(std::signbit(b[3]));
  auto h = f.read_f32("h");
  ASSERT_EQ(h.size(), 5u);
  EXPECT_EQ(h[0], 1.0f);
  EXPECT_EQ(h[1], 5.9604644775390625e-08f);
  EXPECT_EQ(h[2], std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::signbit(h[3]) && h[3] == 0.0f);
  EXPECT_EQ(h[4], 0.333251953125f);
}

TEST(Safetensors, LargeF16TensorConvertsAcrossChunks) {
  TempDir dir;
  std::string p = dir.path + "/big.safetensors";
  const int n = 200000;  // > one 64K conversion chunk
  std::vector<std::uint16_t> h(n);
  for (int i = 0; i < n; ++i) h[i] = static_cast<std::uint16_t>((i * 7919) & 0x7BFF);
  std::string header = R"({"x":{"dtype":"F16","shape":[400,500],"data_offsets":[0,400000]}})";
  put(p, file_bytes(header, u16_bytes(h)));
  SafetensorsFile f(p);
  auto v = f.read_f32("x");
  ASSERT_EQ(v.size(), static_cast<std::size_t>(n));
  for (int i = 0; i < n; i += 997) ASSERT_EQ(v[i], f16_to_f32(h[i])) << i;
  EXPECT_EQ(v[n - 1], f16_to_f32(h[n - 1]));
}

TEST(Safetensors, UnsupportedDtypeIsRefusedOnReadNamingTheTensor) {
  TempDir dir;
  std::string p = dir.path + "/i.safetensors";
  std::string header = R"({"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}})";
  put(p, file_bytes(header, std::string(16, '\1')));
  SafetensorsFile f(p);  // opening is fine: the dtype is valid, just not loadable as float
  EXPECT_EQ(f.info("ids").dtype, "I64");
  try {
    f.read_f32("ids");
    FAIL();
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("\"ids\" has dtype I64"), std::string::npos) << m;
    EXPECT_NE(m.find(p), std::string::npos) << m;
  }
}

// ---- hostile files -------------------------------------------------------------------------

TEST(SafetensorsHostile, EachCorruptionIsAOneLineError) {
  TempDir dir;
  std::string p = dir.path + "/bad.safetensors";
  const std::string d16(16, '\0');
  auto one = [](const std::string& entry) { return "{\"w\":" + entry + "}"; };

  expect_error(p, "abc", "", "too short");
  expect_error(p, le64(1000) + "{}", "", "exceeds the file size");
  expect_error(p, le64(200'000'000) + "{}", "", "100 MB");
  expect_error(p, le64(~0ull) + "{}", "", "100 MB");
  expect_error(p, file_bytes("{\"w\":{\"dtype\":", d16), "", "invalid JSON");
  expect_error(p, file_bytes("[1,2,3]", d16), "", "must be a JSON object");
  expect_error(p, file_bytes(one("5"), d16), "w", "must be an object");
  expect_error(p, file_bytes(one(R"({"shape":[4],"data_offsets":[0,16]})"), d16), "w", "dtype");
  expect_error(p, file_bytes(one(R"({"dtype":"Q4","shape":[4],"data_offsets":[0,16]})"), d16), "w",
               "unknown dtype");
  expect_error(p, file_bytes(one(R"({"dtype":"F32","shape":"4","data_offsets":[0,16]})"), d16), "w",
               "shape");
  expect_error(p, file_bytes(one(R"({"dtype":"F32","shape":[-4],"data_offsets":[0,16]})"), d16),
               "w", "negative dimension");
  expect_error(p, file_bytes(one(R"({"dtype":"F32","shape":[2.5],"data_offsets":[0,16]})"), d16),
               "w", "must be an integer");
  expect_error(
      p,
      file_bytes(one(R"({"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,16]})"),
                 d16),
      "w", "overflows");
  expect_error(
      p,
      file_bytes(one(R"({"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,16]})"),
                 d16),
      "w", "overflows");
  expect_error(p, file_bytes(one(R"({"dtype":"F32","shape":[4],"data_offsets":[16,0]})"), d16), "w",
               "end 0 < begin 16");
  expect_error(p, file_bytes(one(R"({"dtype":"F32","shape":[4],"data_offsets":[0]})"), d16), "w",
               "data_offsets");
  expect_error(p, file_bytes(one(R"({"dtype":"F32","shape":[4],"data_offsets":[-8,8]})"), d16), "w",
               "negative data_offsets");
  expect_error(p, file_bytes(one(R"({"dtype":"F32","shape":[8],"data_offsets":[0,32]})"), d16), "w",
               "past the data section");
  expect_error(p, file_bytes(one(R"({"dtype":"F32","shape":[2,2],"data_offsets":[0,12]})"), d16),
               "w", "needs 16");
  expect_error(p, file_bytes(one(R"({"dtype":"F32","shape":[2],"data_offsets":[0,16]})"), d16), "w",
               "needs 8");
  // Overlap: b starts inside a.
  expect_error(p,
               file_bytes(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                          R"("b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
                          std::string(24, '\0')),
               "b", "overlaps tensor \"a\"");
  // Hole between tensors and bytes trailing the last one.
  expect_error(p,
               file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                          R"("b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}})",
                          std::string(20, '\0')),
               "b", "gap");
  expect_error(p, file_bytes(one(R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})"), d16), "",
               "not covered");
  // Truncated data: the header promises 16 bytes, the file holds 10.
  expect_error(p,
               file_bytes(one(R"({"dtype":"F32","shape":[4],"data_offsets":[0,16]})"),
                          std::string(10, '\0')),
               "w", "truncated");
  expect_error(p, file_bytes(R"({"__metadata__":{"step":12}})", ""), "", "__metadata__");
  expect_error(p, file_bytes(R"({"__metadata__":[1]})", ""), "", "__metadata__");
  // Control characters in a hostile name do not break the one-line message.
  expect_error(p, file_bytes("{\"x\\ny\":5}", ""), "x?y", "must be an object");
  // Invalid UTF-8 in the header.
  expect_error(p, file_bytes("{\"\xff\xfe\":5}", ""), "", "invalid JSON");
}

TEST(SafetensorsHostile, DeeplyNestedHeaderDoesNotOverflowTheStack) {
  TempDir dir;
  std::string p = dir.path + "/deep.safetensors";
  const int depth = 200000;
  std::string h = "{\"w\":" + std::string(depth, '[') + std::string(depth, ']') + "}";
  expect_error(p, file_bytes(h, ""), "w", "must be an object");
  std::string open_only = "{\"w\":" + std::string(depth, '[');
  expect_error(p, file_bytes(open_only, ""), "", "invalid JSON");
}

TEST(SafetensorsHostile, NotARegularFileOrMissing) {
  TempDir dir;
  EXPECT_THROW(SafetensorsFile(dir.path), Error);
  EXPECT_THROW(SafetensorsFile(dir.path + "/missing.safetensors"), Error);
}

// Random byte flips, digit edits, truncations and length-field changes of a valid file: every
// variant must either load or throw harpe::Error. Run under ASan in CI to catch any stray read.
TEST(SafetensorsHostile, RandomisedCorruptionNeverCrashes) {
  TempDir dir;
  std::string good_path = dir.path + "/good.safetensors";
  std::vector<float> a(12), c = {1, 2, 3};
  for (int i = 0; i < 12; ++i) a[i] = static_cast<float>(i) * 0.5f;
  write_safetensors(good_path, {{"a", {3, 4}, a.data()}, {"c", {3}, c.data()}}, {{"k", "v"}});
  std::string good = read_file(good_path);
  // Append BF16/F16 tensors by hand so the loop also exercises the conversion paths.
  std::string header = R"({"a":{"dtype":"F32","shape":[3,4],"data_offsets":[0,48]},)"
                       R"("b":{"dtype":"BF16","shape":[3],"data_offsets":[48,54]},)"
                       R"("h":{"dtype":"F16","shape":[5],"data_offsets":[54,64]}})";
  std::string mixed = file_bytes(header, f32_bytes(a) + u16_bytes({0x3F80, 1, 0x7F80}) +
                                             u16_bytes({0x3C00, 1, 0x7C00, 0x8000, 0x0400}));
  ASSERT_EQ(open_error(good_path), "");
  std::string p = dir.path + "/fuzz.safetensors";
  put(p, mixed);
  ASSERT_EQ(open_error(p), "");

  std::mt19937 rng(1234);
  int ok = 0, errors = 0;
  // HARPE_FUZZ_ITERATIONS raises the count for a longer local run (e.g. 100000 under ASan).
  const char* env = std::getenv("HARPE_FUZZ_ITERATIONS");
  const int iterations = env ? std::max(400, std::atoi(env)) : 400;
  for (int iter = 0; iter < iterations; ++iter) {
    std::string bytes = iter % 2 ? good : mixed;
    std::uint64_t hlen = 0;
    std::memcpy(&hlen, bytes.data(), 8);
    int kind = static_cast<int>(rng() % 5);
    int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits && !bytes.empty(); ++e) {
      if (kind == 0) {  // flip a random byte anywhere
        bytes[rng() % bytes.size()] ^= static_cast<char>(1 + rng() % 255);
      } else if (kind == 1) {  // change a digit in the header (shapes, offsets)
        std::size_t at = 8 + rng() % hlen;
        if (bytes[at] >= '0' && bytes[at] <= '9')
          bytes[at] = static_cast<char>('0' + rng() % 10);
        else if (rng() % 4 == 0)
          bytes[at] = static_cast<char>('0' + rng() % 10);
      } else if (kind == 2) {  // truncate
        bytes.resize(rng() % bytes.size());
      } else if (kind == 3) {  // damage the length field
        std::uint64_t n = hlen + static_cast<std::uint64_t>(static_cast<int>(rng() % 41) - 20);
        if (rng() % 8 == 0) n = (static_cast<std::uint64_t>(rng()) << 32) | rng();
        std::string len = le64(n);
        bytes.replace(0, std::min<std::size_t>(8, bytes.size()), len);
      } else {  // flip bytes in the data section only: must still load
        std::size_t data_at = 8 + hlen;
        if (data_at < bytes.size()) bytes[data_at + rng() % (bytes.size() - data_at)] ^= 0x5a;
      }
    }
    put(p, bytes);
    std::string m;
    try {
      m = open_error(p);
    } catch (...) {
      FAIL() << "non-harpe exception at iteration " << iter;
    }
    if (m.empty()) {
      ++ok;
    } else {
      ++errors;
      EXPECT_EQ(m.find('\n'), std::string::npos) << m;
      EXPECT_NE(m.find(p), std::string::npos) << m;
    }
  }
  EXPECT_GT(ok, 20);  // data-only flips always load
  EXPECT_GT(errors, 100);
}

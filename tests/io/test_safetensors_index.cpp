// Sharded safetensors (HF's model.safetensors.index.json layout): the shard-size parser, the split,
// write -> read round trips in F32 and BF16, the bytes of the unsharded default, and hostile
// indexes, each a one-line error naming the tensor or shard at fault.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/json_util.h"
#include "io/safetensors.h"
#include "io/safetensors_index.h"

using harpe::Error;
using namespace harpe::io;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/harpe_idx_XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
};

// The error message of f(), "" when it does not throw.
template <typename F>
std::string error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Expects a one-line harpe::Error containing every piece.
template <typename F>
void expect_error(F f, const std::vector<std::string>& pieces) {
  const std::string msg = error_of(f);
  ASSERT_FALSE(msg.empty()) << "no error; expected " << pieces[0];
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  for (const auto& p : pieces) EXPECT_NE(msg.find(p), std::string::npos) << msg << " lacks " << p;
}

// Three tensors: a [2,3] (24 F32 bytes), b [5] (20), c [2,2] (16).
struct Tensors {
  std::vector<float> a{1.5f, -2.25f, 3.0f, 1e-3f, 7.0f, -0.1f}, b{0.1f, 0.2f, 0.3f, 1e30f, -1e-30f},
      c{3.14159f, 2.71828f, -1.0f, 0.0f};
  std::vector<TensorView> views() const {
    return {{"a", {2, 3}, a.data()}, {"b", {5}, b.data()}, {"c", {2, 2}, c.data()}};
  }
};

void put(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

std::vector<float> read_all(const SafetensorsSet& s, const std::string& name) {
  return s.file_of(name).read_f32(name);
}

}  // namespace

TEST(ShardSize, ParsesHfUnits) {
  EXPECT_EQ(parse_shard_size("5GB", "--max-shard-size"), 5'000'000'000);
  EXPECT_EQ(parse_shard_size("2GiB", "--max-shard-size"), 2LL << 30);
  EXPECT_EQ(parse_shard_size("100KB", "--max-shard-size"), 100'000);
  EXPECT_EQ(parse_shard_size("500MB", "--max-shard-size"), 500'000'000);
  EXPECT_EQ(parse_shard_size("10MiB", "--max-shard-size"), 10LL << 20);
  EXPECT_EQ(parse_shard_size("3kib", "--max-shard-size"), 3072);
  EXPECT_EQ(parse_shard_size("1234", "--max-shard-size"), 1234);
  EXPECT_EQ(parse_shard_size("5gB", "--max-shard-size"), 5'000'000'000);  // case-insensitive unit
  EXPECT_EQ(parse_shard_size("8Mb", "--max-shard-size"), 1'000'000);      // lower-case b: bits (HF)
  for (const char* bad : {"", "GB", "1.5GB", "-5", "5 GB", "5TB", "0", "0MB", "abc", "12x",
                          "99999999999999999999GB", "9000000000GiB"})
    expect_error([&] { parse_shard_size(bad, "--max-shard-size"); }, {"--max-shard-size"});
}

TEST(ShardPlan, FollowsHuggingFaceHubSplit) {
  using Plan = std::vector<std::vector<std::size_t>>;
  const std::vector<std::uint64_t> s{4, 4, 4};
  EXPECT_EQ(plan_shards(s, 0), (Plan{{0, 1, 2}}));
  EXPECT_EQ(plan_shards(s, 8), (Plan{{0, 1}, {2}}));  // fills up to the limit exactly
  EXPECT_EQ(plan_shards(s, 7), (Plan{{0}, {1}, {2}}));
  EXPECT_EQ(plan_shards(s, 100), (Plan{{0, 1, 2}}));
  // A tensor over the limit gets a shard of its own, before the one being filled.
  const std::vector<std::uint64_t> big{4, 20, 4};
  EXPECT_EQ(plan_shards(big, 8), (Plan{{1}, {0, 2}}));
  EXPECT_EQ(shard_file_name(1, 3), "model-00002-of-00003.safetensors");
}

TEST(ShardWrite, DefaultIsTheSingleFileByteForByte) {
  TempDir d;
  const float one = 1.0f;
  const std::vector<TensorView> v{{"a", {1}, &one}};
  EXPECT_EQ(write_safetensors_dir(d.path, v, {{"format", "pt"}}, StoreDtype::f32, 0),
            std::vector<std::string>{"model.safetensors"});
  // The F32 layout, pinned: 8-byte length, the header padded with spaces to 8 bytes, the data.
  const std::string header = R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[1],)"
                             R"("data_offsets":[0,4]}})";
  std::string padded = header + std::string((8 - header.size() % 8) % 8, ' ');
  std::string expect(8, '\0');
  for (int i = 0; i < 8; ++i) expect[i] = static_cast<char>(padded.size() >> (8 * i));
  expect += padded + std::string("\x00\x00\x80\x3f", 4);
  EXPECT_EQ(read_file(d.path + "/model.safetensors"), expect);
  EXPECT_FALSE(fs::exists(d.path + "/" + kWeightsIndexFile));
}

TEST(ShardWrite, RoundTripF32IsBitwiseAndTheIndexIsHfs) {
  TempDir d;
  Tensors t;
  const auto files = write_safetensors_dir(d.path, t.views(), {{"format", "pt"}}, StoreDtype::f32,
                                           44);  // a+b = 44 bytes fit, c does not
  ASSERT_EQ(files, (std::vector<std::string>{"model-00001-of-00002.safetensors",
                                             "model-00002-of-00002.safetensors",
                                             "model.safetensors.index.json"}));
  EXPECT_FALSE(fs::exists(d.path + "/model.safetensors"));
  const Json idx = parse_json(read_file(d.path + "/" + kWeightsIndexFile), "index");
  EXPECT_EQ(idx["metadata"]["total_size"], 60);
  EXPECT_EQ(idx["weight_map"]["a"], "model-00001-of-00002.safetensors");
  EXPECT_EQ(idx["weight_map"]["b"], "model-00001-of-00002.safetensors");
  EXPECT_EQ(idx["weight_map"]["c"], "model-00002-of-00002.safetensors");

  const SafetensorsSet s = SafetensorsSet::open_dir(d.path);
  EXPECT_EQ(s.names(), (std::vector<std::string>{"a", "b", "c"}));
  for (const auto& v : t.views()) {
    const std::vector<float> got = read_all(s, v.name);
    ASSERT_EQ(got.size(),
              static_cast<std::size_t>(v.shape.size() == 1 ? v.shape[0] : v.shape[0] * v.shape[1]));
    EXPECT_EQ(std::memcmp(got.data(), v.data, got.size() * 4), 0) << v.name;
  }
  // Rewriting unsharded removes the index and the shards (the single file would win anyway).
  write_safetensors_dir(d.path, t.views(), {}, StoreDtype::f32, 0);
  EXPECT_FALSE(fs::exists(d.path + "/" + kWeightsIndexFile));
  EXPECT_FALSE(fs::exists(d.path + "/model-00001-of-00002.safetensors"));
  EXPECT_TRUE(fs::exists(d.path + "/model.safetensors"));
}

TEST(ShardWrite, Bf16IsRoundedToNearestEven) {
  TempDir d;
  Tensors t;
  write_safetensors_dir(d.path, t.views(), {}, StoreDtype::bf16, 20);  // bf16: a 12 B, b 10, c 8
  const SafetensorsSet s = SafetensorsSet::open_dir(d.path);
  for (const auto& v : t.views()) {
    EXPECT_EQ(s.file_of(v.name).info(v.name).dtype, "BF16");
    const std::vector<float> got = read_all(s, v.name);
    for (std::size_t i = 0; i < got.size(); ++i)
      EXPECT_EQ(got[i], bf16_to_f32(f32_to_bf16(v.data[i]))) << v.name << "[" << i << "]";
  }
  EXPECT_TRUE(fs::exists(d.path + "/model-00002-of-00002.safetensors"));  // {a}, {b, c}
}

TEST(ShardRead, SingleFileWinsOverAnIndex) {
  TempDir d;
  Tensors t;
  write_safetensors_dir(d.path, t.views(), {}, StoreDtype::f32, 44);
  const float seven = 7.0f;
  write_safetensors(d.path + "/model.safetensors", {{"a", {1}, &seven}});
  const SafetensorsSet s = SafetensorsSet::open_dir(d.path);
  EXPECT_EQ(s.source(), d.path + "/model.safetensors");
  EXPECT_EQ(read_all(s, "a"), std::vector<float>{7.0f});
  TempDir empty;
  expect_error([&] { SafetensorsSet::open_dir(empty.path); },
               {empty.path, "model.safetensors.index.json"});
}

TEST(ShardRead, HostileIndexesAreOneLineErrors) {
  Tensors t;
  const std::string s1 = "model-00001-of-00002.safetensors",
                    s2 = "model-00002-of-00002.safetensors";
  // A fresh valid two-shard directory ({a, b}, {c}), then `spoil` it.
  auto with = [&](auto spoil, const std::vector<std::string>& pieces) {
    TempDir d;
    write_safetensors_dir(d.path, t.views(), {}, StoreDtype::f32, 44);
    const std::string index = d.path + "/" + kWeightsIndexFile;
    spoil(d.path, index);
    expect_error([&] { SafetensorsSet::open_dir(d.path); }, pieces);
  };
  auto index_with_map = [](const std::string& map) {
    return R"({"metadata": {"total_size": 60}, "weight_map": )" + map + "}";
  };
  with([&](const std::string& dir, const std::string&) { fs::remove(dir + "/" + s2); },
       {s2, "does not exist", "\"c\""});
  with(
      [&](const std::string& dir, const std::string&) {
        write_safetensors(dir + "/" + s2, {{"a", {2, 3}, t.a.data()}, {"c", {2, 2}, t.c.data()}});
      },
      {"\"a\"", "two shards", s1, s2});
  with(
      [&](const std::string&, const std::string& index) {
        put(index, index_with_map(R"({"a": "../x.safetensors"})"));
      },
      {"\"a\"", "../x.safetensors", "not a plain file name"});
  with([&](const std::string&,
           const std::string& index) { put(index, index_with_map(R"({"a": "/etc/passwd"})")); },
       {"\"a\"", "/etc/passwd", "not a plain file name"});
  with([&](const std::string&,
           const std::string& index) { put(index, index_with_map(R"({"a": "..", "b": "x"})")); },
       {"\"a\"", "not a plain file name"});
  with(
      [&](const std::string&, const std::string& index) {
        put(index, index_with_map(R"({"a": ")" + s1 + R"(", "b": ")" + s1 + R"(", "c": ")" + s2 +
                                  R"(", "d": ")" + s2 + R"("})"));
      },
      {"\"d\"", "missing from its shard", s2});
  with(
      [&](const std::string&, const std::string& index) {
        put(index, index_with_map(R"({"a": ")" + s1 + R"(", "c": ")" + s2 + R"("})"));
      },
      {"\"b\"", "not in the weight_map", s1});
  with(
      [&](const std::string&, const std::string& index) {
        put(index, index_with_map(R"({"a": ")" + s2 + R"(", "b": ")" + s1 + R"(", "c": ")" + s2 +
                                  R"("})"));
      },
      {"\"a\"", "weight_map puts it in", s2});
  with(
      [&](const std::string&, const std::string& index) { put(index, R"({"weight_map": {"a": )"); },
      {kWeightsIndexFile, "invalid JSON"});
  with([&](const std::string&, const std::string& index) { put(index, R"({"weight_map": [1]})"); },
       {kWeightsIndexFile, "weight_map"});
  with([&](const std::string&,
           const std::string& index) { put(index, R"({"weight_map": {"a": 3}})"); },
       {"\"a\"", "file name string"});
  with([&](const std::string&, const std::string& index) { put(index, R"({"weight_map": {}})"); },
       {"lists no tensors"});
  with(
      [&](const std::string&, const std::string& index) {
        fs::remove(index);
        fs::create_directory(index);
      },
      {kWeightsIndexFile, "directory"});
  with(
      [&](const std::string& dir, const std::string&) {
        fs::remove(dir + "/" + s2);
        fs::create_directory(dir + "/" + s2);
      },
      {s2, "not a regular file"});
}

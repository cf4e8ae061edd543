// Token shard: round trip, atomic write, and validation of damaged files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/shard.h"

namespace fs = std::filesystem;
using harpe::data::Shard;
using harpe::data::ShardWriter;

namespace {

std::string temp_path(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("harpe_test_shard_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return (dir / name).string();
}

std::vector<char> read_all(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

void write_all(const std::string& p, const std::vector<char>& bytes) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// Three documents from two sources, the middle one empty.
std::string write_small(const std::string& name, std::uint32_t vocab, std::uint32_t width) {
  std::string p = temp_path(name);
  ShardWriter w(p, vocab, width);
  auto a = w.source_id("bible");
  auto b = w.source_id("pari");
  std::vector<std::int32_t> d0 = {1, 5, 7, 2}, d1 = {},
                            d2 = {1, static_cast<std::int32_t>(vocab - 1), 2};
  w.add_document(d0, a);
  w.add_document(d1, b);
  w.add_document(d2, b);
  w.finish();
  return p;
}

}  // namespace

TEST(Shard, RoundTripTwoAndFourByteTokens) {
  for (std::uint32_t width : {2u, 4u}) {
    std::uint32_t vocab = width == 2 ? 65536 : 100000;
    std::string p = write_small("rt" + std::to_string(width), vocab, width);
    Shard s = Shard::open(p);
    EXPECT_EQ(s.token_bytes(), width);
    EXPECT_EQ(s.vocab_size(), vocab);
    ASSERT_EQ(s.n_tokens(), 7u);
    ASSERT_EQ(s.n_documents(), 3u);
    ASSERT_EQ(s.sources().size(), 2u);
    EXPECT_EQ(s.sources()[0], "bible");
    EXPECT_EQ(s.sources()[1], "pari");
    std::vector<std::int32_t> expect = {1, 5, 7, 2, 1, static_cast<std::int32_t>(vocab - 1), 2};
    for (std::size_t i = 0; i < expect.size(); ++i) EXPECT_EQ(s.token(i), expect[i]) << i;
    std::vector<std::int32_t> got(3);
    s.copy_tokens(4, 3, got.data());
    EXPECT_EQ(got, std::vector<std::int32_t>(expect.begin() + 4, expect.end()));
    auto d0 = s.document(0), d1 = s.document(1), d2 = s.document(2);
    EXPECT_EQ(d0.offset, 0u);
    EXPECT_EQ(d0.length, 4u);
    EXPECT_EQ(d0.source, 0u);
    EXPECT_EQ(d1.offset, 4u);
    EXPECT_EQ(d1.length, 0u);
    EXPECT_EQ(d1.source, 1u);
    EXPECT_EQ(d2.offset, 4u);
    EXPECT_EQ(d2.length, 3u);
    EXPECT_EQ(d2.source, 1u);
    EXPECT_THROW(s.document(3), harpe::Error);
    EXPECT_THROW(s.copy_tokens(5, 3, got.data()), harpe::Error);
    // Expected file size from the documented layout: header, tokens padded to 8, offsets, ids,
    // names.
    std::size_t tokens = (7 * width + 7) / 8 * 8;
    std::size_t names = ((4 + 5) + (4 + 4) + 7) / 8 * 8;
    EXPECT_EQ(fs::file_size(p), 64 + tokens + 4 * 8 + (3 * 4 + 4) + names);
  }
}

TEST(Shard, LargeRandomRoundTrip) {
  std::mt19937 rng(7);
  std::string p = temp_path("big");
  std::vector<std::vector<std::int32_t>> docs(50);
  {
    ShardWriter w(p, 8192);
    for (auto& d : docs) {
      d.resize(rng() % 3000);
      for (auto& t : d) t = static_cast<std::int32_t>(rng() % 8192);
      w.add_document(d, 0);
    }
    w.finish();
  }
  Shard s = Shard::open(p);
  EXPECT_EQ(s.token_bytes(), 2u);  // picked automatically for vocab <= 65536
  for (std::size_t d = 0; d < docs.size(); ++d) {
    auto span = s.document(d);
    ASSERT_EQ(span.length, docs[d].size());
    for (std::size_t i = 0; i < docs[d].size(); ++i)
      ASSERT_EQ(s.token(span.offset + i), docs[d][i]);
  }
}

TEST(Shard, WriterRejectsBadInput) {
  std::string p = temp_path("bad_input");
  ShardWriter w(p, 100);
  std::vector<std::int32_t> over = {3, 100};
  std::vector<std::int32_t> neg = {-1};
  EXPECT_THROW(w.add_document(over, 0), harpe::Error);
  EXPECT_THROW(w.add_document(neg, 0), harpe::Error);
  EXPECT_THROW(w.add_document(std::vector<std::int32_t>{1}, 9), harpe::Error);
  EXPECT_THROW(ShardWriter(temp_path("w3"), 100, 3), harpe::Error);
  EXPECT_THROW(ShardWriter(temp_path("w2"), 70000, 2), harpe::Error);
}

TEST(Shard, UnfinishedWriterLeavesNoFile) {
  std::string p = temp_path("unfinished");
  {
    ShardWriter w(p, 100);
    w.add_document(std::vector<std::int32_t>{1, 2, 3}, 0);
    // destroyed without finish(), e.g. by an exception during tokenization
  }
  EXPECT_FALSE(fs::exists(p));
  for (auto& e : fs::directory_iterator(fs::path(p).parent_path()))
    EXPECT_EQ(e.path().filename().string().find("unfinished.tmp"), std::string::npos) << e.path();
}

TEST(Shard, CorruptedFilesThrow) {
  std::string good = write_small("good", 1000, 2);
  auto bytes = read_all(good);
  auto expect_error = [&](const std::vector<char>& b, const char* what) {
    std::string p = temp_path(std::string("corrupt_") + what);
    write_all(p, b);
    try {
      Shard::open(p);
      ADD_FAILURE() << what << ": opened without error";
    } catch (const harpe::Error& e) {
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos)
          << "message names the file: " << e.what();
    }
  };
  // Truncated: header only, half the file, one byte short.
  expect_error(std::vector<char>(bytes.begin(), bytes.begin() + 10), "short");
  expect_error(std::vector<char>(bytes.begin(), bytes.begin() + bytes.size() / 2), "half");
  expect_error(std::vector<char>(bytes.begin(), bytes.end() - 1), "minus1");
  {
    auto b = bytes;
    b.push_back(0);
    expect_error(b, "appended");
  }
  {
    auto b = bytes;
    b[0] = 'X';
    expect_error(b, "magic");
  }
  {
    auto b = bytes;
    b[8] = 2;  // version
    expect_error(b, "version");
  }
  {
    auto b = bytes;
    b[12] = 3;  // token width
    expect_error(b, "width");
  }
  {
    auto b = bytes;
    std::uint64_t n = 1000000;
    std::memcpy(&b[16], &n, 8);  // token count far beyond the file
    expect_error(b, "ntokens");
  }
  {
    auto b = bytes;
    std::uint64_t n = 2;
    std::memcpy(&b[24], &n, 8);  // document count inconsistent with the tables
    expect_error(b, "ndocs");
  }
  {
    auto b = bytes;
    std::uint32_t v = 5;  // tokens up to 999 in the file
    std::memcpy(&b[32], &v, 4);
    expect_error(b, "vocab");
  }
  {
    auto b = bytes;
    std::uint64_t off = 3;  // offsets table begins at 64 + pad8(7*2) = 80; make doc 1 start before
                            // doc 0 ends... then decrease
    std::memcpy(&b[80 + 8 * 2], &off, 8);  // offsets = {0,4,3,7}: decreasing
    expect_error(b, "offsets");
  }
  {
    auto b = bytes;
    std::uint32_t id = 7;  // source ids begin after 4 offsets: 80 + 32 = 112
    std::memcpy(&b[112], &id, 4);
    expect_error(b, "source");
  }
  EXPECT_THROW(Shard::open(temp_path("does_not_exist")), harpe::Error);
  EXPECT_NO_THROW(Shard::open(good));
}

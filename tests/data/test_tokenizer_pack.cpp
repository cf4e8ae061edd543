// Tokenizer training determinism and round trips, and shard building.
#include <gtest/gtest.h>
#include <omp.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/shard_build.h"
#include "data/tokenizer.h"

namespace fs = std::filesystem;
using namespace harpe::data;

namespace {

std::string temp_path(const std::string& name) {
  fs::path d = fs::temp_directory_path() / ("harpe_test_tokpack_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return (d / name).string();
}

std::vector<std::string> small_texts() {
  std::vector<std::string> t;
  const char* words[] = {"alpha", "beta",  "gamma",   "delta", "river",
                         "stone", "light", "harbour", "seven", "lemon"};
  for (int d = 0; d < 40; ++d) {
    std::string s;
    for (int i = 0; i < 200; ++i) {
      s += words[(d * 7 + i * 3 + i / 5) % 10];
      s += (i % 13 == 12) ? ".\n" : " ";
    }
    s += "x^2 + " + std::to_string(d * 37) + " = y\n";
    t.push_back(s);
  }
  return t;
}

const std::string& tiny_model() {
  static const std::string proto = [] {
    TokenizerTrainOptions o;
    o.vocab_size = 360;
    return train_tokenizer(small_texts(), o);
  }();
  return proto;
}

}  // namespace

TEST(Tokenizer, TrainingIsDeterministic) {
  TokenizerTrainOptions o;
  o.vocab_size = 360;
  std::string again = train_tokenizer(small_texts(), o);
  EXPECT_EQ(again, tiny_model());  // byte-identical model
  auto tok = Tokenizer::from_serialized(tiny_model());
  EXPECT_EQ(tok.vocab_size(), 360);
  EXPECT_EQ(tok.bos_id(), 1);
  EXPECT_EQ(tok.eos_id(), 2);
  EXPECT_THROW(train_tokenizer({}, o), harpe::Error);
  o.vocab_size = 100;
  EXPECT_THROW(train_tokenizer(small_texts(), o), harpe::Error);
}

TEST(Tokenizer, SplitDigitsOption) {
  // Texts with many recurring digit runs, so that BPE has digit merges to learn when allowed.
  std::vector<std::string> texts = small_texts();
  for (int d = 0; d < 40; ++d) {
    std::string s;
    for (int i = 0; i < 50; ++i)
      s += "number " + std::to_string(1000000 + (d * 131 + i * 977) % 9000000) + " and 2024.\n";
    texts.push_back(s);
  }
  TokenizerTrainOptions o;
  o.vocab_size = 400;
  auto split = Tokenizer::from_serialized(train_tokenizer(texts, o));
  o.split_digits = false;
  auto merged = Tokenizer::from_serialized(train_tokenizer(texts, o));
  const std::string number = "number 2024 and 1234567.";
  // Split: every digit is its own piece (11 digits, so at least 11 pieces); merged: fewer.
  EXPECT_GE(split.encode(number).size(), 11u);
  EXPECT_LT(merged.encode(number).size(), split.encode(number).size());
  EXPECT_EQ(merged.decode(merged.encode(number)), number);
}

TEST(Tokenizer, RoundTripAnyBytesViaByteFallback) {
  auto tok = Tokenizer::from_serialized(tiny_model());
  for (std::string s :
       {std::string("alpha beta gamma"), std::string("  two spaces\nnew line\ttab"),
        std::string("unseen: \xCE\xA9 \xE6\xBC\xA2\xE5\xAD\x97 \xF0\x9F\x98\x80 {}[]#@~")}) {
    auto ids = tok.encode(s);
    for (int id : ids) {
      EXPECT_GE(id, 0);
      EXPECT_LT(id, tok.vocab_size());
      EXPECT_NE(id, 0) << "no <unk> with byte fallback";
    }
    EXPECT_EQ(tok.decode(ids), s);
  }
  // BPE learned merges: the training text costs fewer tokens than it has bytes.
  std::string text = small_texts()[3];
  EXPECT_LT(tok.encode(text).size(), text.size() / 2);
  auto doc = tok.encode_document("alpha");
  ASSERT_GE(doc.size(), 3u);
  EXPECT_EQ(doc.front(), 1);
  EXPECT_EQ(doc.back(), 2);
  EXPECT_EQ(std::vector<std::int32_t>(doc.begin() + 1, doc.end() - 1), tok.encode("alpha"));
  EXPECT_THROW(Tokenizer::from_serialized("garbage"), harpe::Error);
  EXPECT_THROW(Tokenizer::load(temp_path("no_such.model")), harpe::Error);
}

TEST(ShardBuild, ByteIdenticalForAnyThreadCountAndCorrectStats) {
  auto tok = Tokenizer::from_serialized(tiny_model());
  std::vector<Record> recs;
  auto texts = small_texts();
  for (std::size_t i = 0; i < texts.size(); ++i)
    recs.push_back({"t/" + std::to_string(i), i % 3 == 0 ? "odd" : "even", "x", texts[i]});
  std::string a = temp_path("a.bin"), b = temp_path("b.bin");
  int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  auto ra = build_shard(recs, tok, a);
  omp_set_num_threads(2);
  auto rb = build_shard(recs, tok, b);
  omp_set_num_threads(saved);
  std::ifstream fa(a, std::ios::binary), fb(b, std::ios::binary);
  std::string ba((std::istreambuf_iterator<char>(fa)), {}),
      bb((std::istreambuf_iterator<char>(fb)), {});
  EXPECT_EQ(ba, bb);
  Shard s = Shard::open(a);
  ASSERT_EQ(s.n_documents(), recs.size());
  std::map<std::string, std::int64_t> tokens;
  for (std::size_t d = 0; d < recs.size(); ++d) {
    auto expect = tok.encode_document(recs[d].text);
    auto span = s.document(d);
    ASSERT_EQ(span.length, expect.size());
    for (std::size_t i = 0; i < expect.size(); ++i) ASSERT_EQ(s.token(span.offset + i), expect[i]);
    EXPECT_EQ(s.sources()[span.source], recs[d].source);
    tokens[recs[d].source] += static_cast<std::int64_t>(expect.size());
  }
  auto st = shard_stats(s);
  ASSERT_EQ(st.size(), 2u);
  for (auto& x : st) {
    EXPECT_EQ(x.tokens, tokens[x.source]);
    EXPECT_EQ(x.documents, x.source == "odd" ? 14 : 26);
    EXPECT_EQ(x.longer_than[0], 0);  // documents are a few hundred tokens
  }
  EXPECT_EQ(ra.sources.size(), 2u);
}

// Tokenizer training determinism and round trips, shard building, and packing (determinism, resume,
// per-source length upsampling).
#include <gtest/gtest.h>
#include <omp.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "core/error.h"
#include "data/packing.h"
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
  const char* words[] = {"alpha", "beta", "gamma", "delta", "river", "stone", "light", "harbour", "seven", "lemon"};
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
    for (int i = 0; i < 50; ++i) s += "number " + std::to_string(1000000 + (d * 131 + i * 977) % 9000000) + " and 2024.\n";
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
  for (std::string s : {std::string("alpha beta gamma"), std::string("  two spaces\nnew line\ttab"),
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
  std::string ba((std::istreambuf_iterator<char>(fa)), {}), bb((std::istreambuf_iterator<char>(fb)), {});
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

namespace {

// Documents whose tokens encode (document, position) so the stream can be checked exactly:
// token = 3 + (d * 7 + i) % 997.
std::string packing_shard(const std::string& name, const std::vector<std::pair<int, int>>& lengths_sources,
                          int n_sources) {
  std::string p = temp_path(name);
  ShardWriter w(p, 1000);
  for (int s = 0; s < n_sources; ++s) w.source_id(std::string("s").append(std::to_string(s)));
  int d = 0;
  for (auto [len, src] : lengths_sources) {
    std::vector<std::int32_t> t(static_cast<std::size_t>(len));
    for (int i = 0; i < len; ++i) t[static_cast<std::size_t>(i)] = 3 + (d * 7 + i) % 997;
    w.add_document(t, static_cast<std::uint32_t>(src));
    ++d;
  }
  w.finish();
  return p;
}

}  // namespace

TEST(Packing, StreamIsTheConcatenatedPlanWithOneTokenOverlap) {
  std::vector<std::pair<int, int>> docs;
  for (int d = 0; d < 30; ++d) docs.push_back({5 + (d * 13) % 40, 0});
  Shard s = Shard::open(packing_shard("stream.bin", docs, 1));
  PackOptions o;
  o.seq_len = 16;
  o.seed = 5;
  // Reference stream: epoch plans concatenated.
  std::vector<std::int32_t> ref;
  for (std::uint64_t e = 0; e < 3; ++e) {
    auto plan = epoch_plan(s, o, e);
    ASSERT_EQ(plan.size(), 30u);
    std::vector<bool> seen(30, false);
    for (auto d : plan) seen[d] = true;
    for (bool b : seen) EXPECT_TRUE(b) << "without upsampling each document appears once per epoch";
    for (auto d : plan) {
      auto span = s.document(d);
      for (std::uint64_t i = 0; i < span.length; ++i) ref.push_back(s.token(span.offset + i));
    }
  }
  Packer p(s, o);
  std::vector<std::int32_t> seq(17);
  const std::uint64_t n = 2 * s.n_tokens() / 16;  // crosses an epoch boundary
  for (std::uint64_t k = 0; k < n; ++k) {
    p.next(seq.data());
    for (int i = 0; i < 17; ++i) ASSERT_EQ(seq[i], ref[k * 16 + i]) << "sequence " << k << " token " << i;
  }
  EXPECT_EQ(p.state().sequences, n);
  EXPECT_NE(epoch_plan(s, o, 0), epoch_plan(s, o, 1));
  PackOptions o2 = o;
  o2.seed = 6;
  EXPECT_NE(epoch_plan(s, o, 0), epoch_plan(s, o2, 0));
}

TEST(Packing, ResumeContinuesTheSameStream) {
  std::vector<std::pair<int, int>> docs;
  for (int d = 0; d < 50; ++d) docs.push_back({1 + (d * 29) % 70, d % 2});
  docs.push_back({0, 0});  // an empty document is harmless
  Shard s = Shard::open(packing_shard("resume.bin", docs, 2));
  PackOptions o;
  o.seq_len = 24;
  o.seed = 11;
  o.upsample_long = true;
  o.long_threshold = 40;
  o.long_factor = 3;
  Packer full(s, o);
  std::vector<std::vector<std::int32_t>> all(200, std::vector<std::int32_t>(25));
  PackState saved;
  for (int k = 0; k < 200; ++k) {
    if (k == 137) saved = full.state();
    full.next(all[static_cast<std::size_t>(k)].data());
  }
  Packer resumed(s, o);  // a fresh process: new packer, restored state
  resumed.restore(saved);
  std::vector<std::int32_t> seq(25);
  for (int k = 137; k < 200; ++k) {
    resumed.next(seq.data());
    ASSERT_EQ(seq, all[static_cast<std::size_t>(k)]) << "sequence " << k;
  }
  PackOptions other = o;
  other.seed = 12;
  Packer wrong(s, other);
  EXPECT_THROW(wrong.restore(saved), harpe::Error);
  PackState bad = saved;
  bad.plan_pos = 1u << 30;
  EXPECT_THROW(resumed.restore(bad), harpe::Error);
}

TEST(Packing, LengthUpsamplingKeepsSourceSharesAndFavoursLongDocuments) {
  // Source 0: 100 short (50) + 10 long (500) documents; source 1: 200 documents of 30 tokens.
  std::vector<std::pair<int, int>> docs;
  for (int i = 0; i < 100; ++i) docs.push_back({50, 0});
  for (int i = 0; i < 10; ++i) docs.push_back({500, 0});
  for (int i = 0; i < 200; ++i) docs.push_back({30, 1});
  Shard s = Shard::open(packing_shard("ups.bin", docs, 2));
  const double natural0 = 10000.0 / 16000.0;  // source 0 holds 5000 + 5000 of 16000 tokens
  PackOptions o;
  o.seq_len = 64;
  o.upsample_long = true;
  o.long_threshold = 100;
  o.long_factor = 4;
  double tokens[2] = {0, 0}, draws_long = 0, draws_short = 0;
  for (std::uint64_t e = 0; e < 40; ++e) {
    for (auto d : epoch_plan(s, o, e)) {
      auto span = s.document(d);
      tokens[span.source] += static_cast<double>(span.length);
      if (span.source == 0) (span.length > 100 ? draws_long : draws_short) += 1;
    }
  }
  EXPECT_NEAR(tokens[0] / (tokens[0] + tokens[1]), natural0, 0.02);
  // Per document, a long one is drawn long_factor times as often as a short one.
  double ratio = (draws_long / 10) / (draws_short / 100);
  EXPECT_NEAR(ratio, 4.0, 0.6);
  // Without upsampling the ratio is exactly 1 (every document once per epoch).
  o.upsample_long = false;
  double l = 0, sh = 0;
  for (auto d : epoch_plan(s, o, 0)) (s.document(d).length > 100 ? l : sh) += s.document(d).source == 0;
  EXPECT_EQ(l / 10, 1.0);
  EXPECT_EQ(sh / 100, 1.0);
}

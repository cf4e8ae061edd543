// TokenWindows over a shard: documents in a seeded random order that changes every epoch, every
// token of an epoch's stream read once, the same stream after seek(), file order on request.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "data/shard.h"
#include "train/data.h"

namespace harpe::train {
namespace {

namespace fs = std::filesystem;

constexpr int kDocs = 9;
// Document d holds tokens 100*d + i, i < length(d): a token names its document and place.
int doc_length(int d) { return 5 + 3 * d; }

std::string write_shard(const fs::path& dir) {
  const std::string path = (dir / "docs.bin").string();
  data::ShardWriter w(path, 1024);
  for (int d = 0; d < kDocs; ++d) {
    std::vector<int32_t> t(static_cast<std::size_t>(doc_length(d)));
    for (int i = 0; i < doc_length(d); ++i) t[static_cast<std::size_t>(i)] = 100 * d + i;
    w.add_document(t);
  }
  w.finish();
  return path;
}

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("harpe_test_order_" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

// The streams of the first `epochs` epochs, rebuilt from consecutive windows (the first token,
// then T new tokens per window). After next_batch, epoch() is the window's epoch.
std::vector<std::vector<int32_t>> read_epochs(TokenWindows& w, int T, int epochs) {
  std::vector<int32_t> tok(static_cast<std::size_t>(T)), tgt(tok.size());
  std::vector<std::vector<int32_t>> streams;
  uint64_t current = ~0ull;
  while (true) {
    w.next_batch(1, T, tok.data(), tgt.data());
    if (w.epoch() != current) {
      if (static_cast<int>(streams.size()) == epochs) break;
      current = w.epoch();
      streams.push_back({tok[0]});
    }
    streams.back().insert(streams.back().end(), tgt.begin(), tgt.end());
  }
  return streams;
}

// The documents in the order a stream shows them; every document must appear as one run
// 100*d + 0, 1, 2, ... (a window may cross into the next document, never skip inside one).
std::vector<int> document_order(const std::vector<int32_t>& stream) {
  std::vector<int> order;
  for (std::size_t i = 0; i < stream.size(); ++i) {
    const int d = stream[i] / 100, at = stream[i] % 100;
    if (at == 0) {
      order.push_back(d);
    } else {
      EXPECT_GT(i, 0u);
      if (i > 0) {
        EXPECT_EQ(stream[i - 1], stream[i] - 1) << "token " << i;
      }
    }
  }
  return order;
}

TEST(DataOrder, EveryDocumentOncePerEpochInAShuffledOrderThatChangesPerEpoch) {
  TempDir tmp;
  const std::string shard = write_shard(tmp.path);
  const int total = [] {
    int n = 0;
    for (int d = 0; d < kDocs; ++d) n += doc_length(d);
    return n;
  }();
  TokenWindows w = TokenWindows::from_shard(shard);
  const int T = 4;
  std::vector<std::vector<int>> orders;
  for (const std::vector<int32_t>& s : read_epochs(w, T, 3)) {
    // Only the tail that does not fill a window is dropped.
    EXPECT_GT(static_cast<int>(s.size()), total - T - 1);
    EXPECT_LE(static_cast<int>(s.size()), total);
    std::vector<int> order = document_order(s);
    std::vector<int> sorted = order;
    std::sort(sorted.begin(), sorted.end());
    // Each document starts once (the last one may be cut short by the dropped tail).
    EXPECT_TRUE(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());
    EXPECT_GE(order.size(), static_cast<std::size_t>(kDocs - 1));
    orders.push_back(order);
  }
  std::vector<int> file_order(kDocs);
  for (int d = 0; d < kDocs; ++d) file_order[static_cast<std::size_t>(d)] = d;
  // 9! orders: a shuffle equal to the file order, or to the previous epoch's, means no shuffle.
  EXPECT_NE(orders[0], file_order);
  EXPECT_NE(orders[0], orders[1]);
  EXPECT_NE(orders[1], orders[2]);

  // Without shuffling: the file order, every epoch.
  TokenWindows plain = TokenWindows::from_shard(shard, /*shuffle=*/false);
  for (const std::vector<int32_t>& s : read_epochs(plain, T, 2))
    EXPECT_EQ(document_order(s), file_order);
}

TEST(DataOrder, SeekContinuesTheSameStreamAndSeedsDiffer) {
  TempDir tmp;
  const std::string shard = write_shard(tmp.path);
  const int B = 3, T = 5;
  TokenWindows a = TokenWindows::from_shard(shard);
  std::vector<int32_t> tok(B * T), tgt(B * T), tok2(B * T), tgt2(B * T);
  for (int i = 0; i < 12; ++i) a.next_batch(B, T, tok.data(), tgt.data());  // into epoch 1
  ASSERT_GE(a.epoch(), 1u);
  TokenWindows b = TokenWindows::from_shard(shard);
  b.seek(a.position(), a.epoch());
  for (int i = 0; i < 6; ++i) {
    a.next_batch(B, T, tok.data(), tgt.data());
    b.next_batch(B, T, tok2.data(), tgt2.data());
    ASSERT_EQ(tok, tok2) << "batch " << i;
    ASSERT_EQ(tgt, tgt2) << "batch " << i;
  }
  TokenWindows c = TokenWindows::from_shard(shard, true, /*seed=*/7);
  TokenWindows d = TokenWindows::from_shard(shard, true, /*seed=*/0);
  EXPECT_NE(document_order(read_epochs(c, T, 1)[0]), document_order(read_epochs(d, T, 1)[0]));
}

TEST(DataOrder, AlignedWindowsHoldEveryShortDocumentWhole) {
  TempDir tmp;
  const std::string shard = write_shard(tmp.path);  // documents of 5, 8, ..., 29 tokens
  const int T = 12;                                 // windows of 13 tokens
  TokenWindows w = TokenWindows::from_shard(shard, true, 0, /*align=*/true);
  std::vector<int32_t> tok(T), tgt(T);
  std::vector<int> whole(kDocs, 0), starts(kDocs, 0);
  uint64_t last_pos = 0, last_epoch = 0;
  int cut = -1;  // a document the previous window started but did not finish
  for (int i = 0; i < 400; ++i) {
    w.next_batch(1, T, tok.data(), tgt.data());
    const uint64_t pos = w.position();  // where the next window starts
    std::vector<int32_t> win(tok);
    win.push_back(tgt.back());
    if (i > 0 && w.epoch() == last_epoch) {
      EXPECT_GT(pos, last_pos);  // always moves forward
      // ... and restarts at the document the previous window cut (the point of aligning).
      if (cut >= 0) {
        EXPECT_EQ(win[0], 100 * cut) << "window " << i;
      }
    }
    last_pos = pos;
    last_epoch = w.epoch();
    cut = -1;
    // Windows are pieces of documents in order; a piece that starts a document and reaches its
    // last token is a whole document.
    for (std::size_t j = 0; j < win.size();) {
      const int d = win[j] / 100;
      std::size_t e = j;
      while (e + 1 < win.size() && win[e + 1] == win[e] + 1 && win[e + 1] / 100 == d) ++e;
      if (win[j] % 100 == 0) ++starts[static_cast<std::size_t>(d)];
      if (win[j] % 100 == 0 && win[e] % 100 == doc_length(d) - 1)
        ++whole[static_cast<std::size_t>(d)];
      if (j > 0 && e + 1 == win.size() && win[e] % 100 != doc_length(d) - 1) cut = d;
      // Only a document longer than the window may be entered past its start, and only by the
      // window's first token (the continuation of a long document).
      if (win[j] % 100 != 0) {
        EXPECT_EQ(j, 0u) << "window " << i << " enters document " << d << " in the middle";
      }
      j = e + 1;
    }
  }
  for (int d = 0; d < kDocs; ++d) {
    if (doc_length(d) <= T + 1) {
      EXPECT_GT(whole[static_cast<std::size_t>(d)], 0) << "document " << d;
    }
    EXPECT_GT(starts[static_cast<std::size_t>(d)], 0) << "document " << d;
  }
  // Seek continues the aligned stream exactly.
  TokenWindows a = TokenWindows::from_shard(shard, true, 0, true),
               b = TokenWindows::from_shard(shard, true, 0, true);
  for (int i = 0; i < 7; ++i) a.next_batch(1, T, tok.data(), tgt.data());
  b.seek(a.position(), a.epoch());
  std::vector<int32_t> tok2(T), tgt2(T);
  for (int i = 0; i < 20; ++i) {
    a.next_batch(1, T, tok.data(), tgt.data());
    b.next_batch(1, T, tok2.data(), tgt2.data());
    ASSERT_EQ(tok, tok2) << i;
  }
}

}  // namespace
}  // namespace harpe::train

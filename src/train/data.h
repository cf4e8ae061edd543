// Training batches: [B, T + 1] windows taken consecutively from a token stream (a shard, or
// tokens in memory for tests). Window r of a batch starts at `position`; position advances by T
// (the last token of one window is the first of the next) and wraps to 0, starting the next
// epoch, when the next window would run past the end. (position, epoch) is all the state there
// is: a checkpoint records it.
//
// A shard's stream is its documents in a seeded random order, a new order every epoch (a pure
// function of the epoch), so training never sees one source after another as the corpus was
// written (bible books, then manuals, ...) and resuming at (position, epoch) continues the same
// stream on any rank count.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/shard.h"

namespace harpe::train {

class TokenWindows {
 public:
  // shuffle = false: the shard's documents in file order (every epoch the same).
  // align (shuffled shards): a document that starts inside a window and runs past its end is not
  // split; the next window starts at that document's first token instead of at position + T (its
  // head is seen twice). So every document of up to T + 1 tokens is whole in some window: a
  // retrieval document's answer is never cut off from the needle it needs. Documents longer than
  // a window are read in consecutive windows as before.
  // answers_only: targets the shard's loss mask does not mark are set to -1 (not scored); the
  // shard must have a mask (data/shard.h, version 2).
  static TokenWindows from_shard(const std::string& path, bool shuffle = true, uint64_t seed = 0,
                                 bool align = false, bool answers_only = false);
  static TokenWindows from_tokens(std::vector<int32_t> tokens, std::string name = "tokens");

  uint64_t n_tokens() const { return n_; }
  const std::string& name() const { return name_; }
  uint32_t vocab_size() const;  // the shard's; 0 for in-memory tokens
  uint64_t position() const { return pos_; }
  uint64_t epoch() const { return epoch_; }
  void seek(uint64_t position, uint64_t epoch);

  // Fills tokens [B, T] (inputs) and targets [B, T] (inputs shifted by one; -1 where not scored).
  void next_batch(int B, int T, int32_t* tokens, int32_t* targets);
  // The same step through the data as next_batch(B, ...), but only windows [first, first + count)
  // of the B are copied (tokens/targets are [count, T]). Data-parallel ranks each take their
  // slice, the position advances identically on every rank, and the union is the global batch.
  void next_batch_part(int B, int T, int first, int count, int32_t* tokens, int32_t* targets);

 private:
  // Tokens [begin, begin + n) of the stream; `scored` (optional) gets their loss-mask flags.
  void copy(uint64_t begin, uint64_t n, int32_t* out, uint8_t* scored = nullptr) const;
  void plan_epoch();  // order_ and starts_ for epoch_ (shuffled shards only)
  uint64_t next_start(uint64_t position, int T) const;  // where the window after this one starts
  std::shared_ptr<data::Shard> shard_;
  bool shuffle_ = false;
  bool align_ = false;
  bool answers_only_ = false;
  uint64_t seed_ = 0;
  std::vector<uint64_t> order_;   // document indices in stream order
  std::vector<uint64_t> starts_;  // stream offset of each, plus the total at the end
  std::vector<int32_t> memory_;
  std::string name_;
  uint64_t n_ = 0, pos_ = 0, epoch_ = 0;
  std::vector<int32_t> window_;
  std::vector<uint8_t> window_scored_;
};

}  // namespace harpe::train

// Packing a token shard into training sequences.
//
// The stream: documents (each already BOS ... EOS in the shard) concatenated in an order fixed by
// (seed, epoch); sequence k is stream tokens [k*T, k*T + T + 1): inputs are the first T, targets the
// last T (so consecutive sequences share one token). Epochs follow each other without a gap.
//
// Epoch plans. Without upsampling, an epoch is a seeded shuffle of all documents, each once.
// With per-source length upsampling (Fu et al. 2024, "Data Engineering for Scaling Language Models to
// 128K Context"): each source keeps its token share, but within a source documents are drawn with
// replacement with weight `long_factor` when longer than `long_threshold` tokens and 1 otherwise,
// until the source's natural token count is reached (overshoot: at most one document); then all drawn
// documents are shuffled together. So a long document is drawn long_factor times as often as a short
// one of the same source, while the source mixture stays as it was.
//
// Resume: PackState is a plain struct the trainer stores in its checkpoint; restore() continues the
// same stream exactly. Its fingerprint rejects a state saved with another shard/seed/T/options.
#pragma once

#include <cstdint>
#include <vector>

#include "data/shard.h"

namespace harpe::data {

struct PackOptions {
  int seq_len = 1024;                 // T; each sequence holds T + 1 tokens
  std::uint64_t seed = 0;
  bool upsample_long = false;
  std::uint64_t long_threshold = 4096;  // tokens
  double long_factor = 4.0;             // sampling weight of a long document (short ones: 1)
};

struct PackState {
  std::uint64_t fingerprint = 0;  // of (shard sizes, options); checked by restore()
  std::uint64_t epoch = 0;
  std::uint64_t plan_pos = 0;      // index into the epoch's document plan
  std::uint64_t doc_offset = 0;    // tokens of that document already consumed
  std::uint64_t sequences = 0;     // sequences produced so far
};

// Document order of one epoch: shard document indices (with repeats when upsampling).
std::vector<std::uint64_t> epoch_plan(const Shard& shard, const PackOptions& opt, std::uint64_t epoch);

class Packer {
 public:
  Packer(const Shard& shard, PackOptions opt);  // the shard must outlive the packer
  int seq_len() const { return opt_.seq_len; }
  // Writes the next sequence, seq_len() + 1 tokens, to out and advances by seq_len() tokens.
  void next(std::int32_t* out);
  PackState state() const { return state_; }
  void restore(const PackState& s);
  // Sequences in one pass over the shard's tokens (floor((n_tokens - 1) / T)).
  std::uint64_t sequences_per_epoch() const;

 private:
  const std::vector<std::uint64_t>& plan(std::uint64_t epoch);
  const Shard& shard_;
  PackOptions opt_;
  PackState state_;
  std::uint64_t cached_epoch_ = ~0ull;
  std::vector<std::uint64_t> cached_plan_;
};

}  // namespace harpe::data

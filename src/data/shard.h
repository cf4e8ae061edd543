// Token shards: the on-disk form of a tokenized corpus split, read by the trainer and evaluators.
//
// Layout (little-endian; every section starts on an 8-byte boundary):
//   [0, 64)      header: magic "HRPSHRD1", version 1, token width (2 or 4 bytes), token count,
//                document count, vocabulary size, source count, total file size
//   tokens       n_tokens unsigned ints of the given width (documents back to back), zero-padded to
//   8 offsets      (n_documents + 1) uint64: document d spans tokens [offsets[d], offsets[d+1])
//   source ids   n_documents uint32 (index into the source names), zero-padded to 8
//   source names n_sources entries of {uint32 byte length, bytes}, zero-padded to 8
//   loss mask    version 2 only: ceil(n_tokens / 64) uint64 words, bit i % 64 of word i / 64 set
//                when token i is a scored target (training with `--loss answers` scores only
//                those; docs/data.md). A shard without any masked document is written as version 1.
//
// ShardWriter streams tokens to "<path>.tmp.<pid>", writes the tables and header on finish(),
// fsyncs and renames onto <path>: a reader never sees a half-written shard under the final name.
// Shard::open memory-maps read-only and validates every size against the file length, the offset
// table's monotonicity, the source ids, and (by default) that every token is < vocab_size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace harpe::data {

inline constexpr char kShardMagic[8] = {'H', 'R', 'P', 'S', 'H', 'R', 'D', '1'};
inline constexpr std::uint32_t kShardVersion = 1;        // no loss mask
inline constexpr std::uint32_t kShardVersionMasked = 2;  // with the loss mask section
inline constexpr std::size_t kShardHeaderBytes = 64;

struct ShardHeader {
  char magic[8];
  std::uint32_t version;
  std::uint32_t token_bytes;  // 2 or 4
  std::uint64_t n_tokens;
  std::uint64_t n_documents;
  std::uint32_t vocab_size;
  std::uint32_t n_sources;
  std::uint64_t file_bytes;  // total size; a truncated or extended file fails validation
  std::uint64_t reserved[2];
};
static_assert(sizeof(ShardHeader) == kShardHeaderBytes);

struct DocumentSpan {
  std::uint64_t offset = 0;  // first token index
  std::uint64_t length = 0;  // tokens
  std::uint32_t source = 0;  // index into Shard::sources()
};

class ShardWriter {
 public:
  // token_bytes 0 picks 2 when vocab_size <= 65536, else 4.
  ShardWriter(std::string path, std::uint32_t vocab_size, std::uint32_t token_bytes = 0);
  ShardWriter(const ShardWriter&) = delete;
  ShardWriter& operator=(const ShardWriter&) = delete;
  ~ShardWriter();  // without finish(): removes the temp file, leaves <path> untouched

  // The id of a source name, added on first use (ids count from 0 in order of first use).
  std::uint32_t source_id(std::string_view name);
  // Appends one document. Every token must be in [0, vocab_size); source must be a known id.
  // scored (empty, or one flag per token): which tokens are loss targets; empty means all. The
  // shard gets a loss mask section (version 2) once any document passes flags.
  void add_document(std::span<const std::int32_t> tokens, std::uint32_t source = 0,
                    std::span<const std::uint8_t> scored = {});
  // Writes tables and header, fsyncs, renames onto the final path. Nothing may be added after.
  void finish();

  std::uint64_t n_tokens() const { return offsets_.back(); }
  std::uint64_t n_documents() const { return sources_.size(); }

 private:
  void write_bytes(const void* p, std::size_t n);
  std::string path_, tmp_path_;
  std::FILE* file_ = nullptr;
  std::uint32_t vocab_size_, token_bytes_;
  std::vector<std::uint64_t> offsets_{0};
  std::vector<std::uint32_t> sources_;
  std::vector<std::string> source_names_;
  std::vector<unsigned char> scratch_;
  std::vector<std::uint64_t> mask_;  // one bit per token, kept for every document
  bool masked_ = false;              // some document passed flags
  bool finished_ = false;
};

class Shard {
 public:
  Shard() = default;
  // Maps and validates; throws harpe::Error naming the file and the inconsistency.
  static Shard open(const std::string& path, bool check_tokens = true);
  Shard(Shard&& o) noexcept;
  Shard& operator=(Shard&& o) noexcept;
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;
  ~Shard();

  const std::string& path() const { return path_; }
  std::uint64_t n_tokens() const { return header_.n_tokens; }
  std::uint64_t n_documents() const { return header_.n_documents; }
  std::uint32_t vocab_size() const { return header_.vocab_size; }
  std::uint32_t token_bytes() const { return header_.token_bytes; }
  const std::vector<std::string>& sources() const { return source_names_; }

  std::int32_t token(std::uint64_t i) const {
    return header_.token_bytes == 2 ? static_cast<std::int32_t>(tokens16()[i])
                                    : static_cast<std::int32_t>(tokens32()[i]);
  }
  // Raw views; exactly one of them is non-null, by token_bytes().
  const std::uint16_t* tokens16() const {
    return header_.token_bytes == 2 ? reinterpret_cast<const std::uint16_t*>(tokens_) : nullptr;
  }
  const std::uint32_t* tokens32() const {
    return header_.token_bytes == 4 ? reinterpret_cast<const std::uint32_t*>(tokens_) : nullptr;
  }
  // Copies tokens [begin, begin + n) as int32; throws if the range is out of bounds.
  void copy_tokens(std::uint64_t begin, std::uint64_t n, std::int32_t* out) const;
  DocumentSpan document(std::uint64_t d) const;
  // The loss mask (version 2 shards): whether token i is a scored target. Without a mask every
  // token is.
  bool has_loss_mask() const { return mask_ != nullptr; }
  bool scored(std::uint64_t i) const {
    return mask_ == nullptr || ((mask_[i / 64] >> (i % 64)) & 1u) != 0;
  }

 private:
  std::string path_;
  void* map_ = nullptr;
  std::size_t map_bytes_ = 0;
  ShardHeader header_{};
  const unsigned char* tokens_ = nullptr;
  const std::uint64_t* offsets_ = nullptr;
  const std::uint32_t* source_ids_ = nullptr;
  const std::uint64_t* mask_ = nullptr;
  std::vector<std::string> source_names_;
};

}  // namespace harpe::data

// Corpus split -> token shard (parallel tokenization, deterministic output), and shard statistics.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/corpus.h"
#include "data/shard.h"
#include "data/tokenizer.h"

namespace harpe::data {

inline constexpr std::int64_t kLengthThresholds[4] = {4096, 8192, 32768, 131072};

struct SourceStats {
  std::string source;
  std::int64_t documents = 0;
  std::int64_t tokens = 0;
  std::int64_t longer_than[4] = {0, 0, 0, 0};  // documents with > kLengthThresholds[i] tokens
  std::int64_t max_tokens = 0;
};

struct ShardBuildResult {
  std::vector<SourceStats> sources;  // in order of first appearance
  std::int64_t text_bytes = 0;       // UTF-8 bytes tokenized
  double seconds = 0;                // tokenization + writing, wall clock
  double cpu_seconds = 0;            // process CPU time over the same span (all threads)
  double mb_per_s() const {
    return seconds > 0 ? static_cast<double>(text_bytes) / 1e6 / seconds : 0;
  }
  // Throughput per CPU-second: what one core does, robust to other load on the machine.
  double mb_per_cpu_s() const {
    return cpu_seconds > 0 ? static_cast<double>(text_bytes) / 1e6 / cpu_seconds : 0;
  }
};

// Tokenizes every record of the corpus split (each as BOS text EOS) with all OpenMP threads and
// writes the shard in record order, so the output is identical for any thread count.
ShardBuildResult build_shard(const std::string& corpus_dir, Split split, const Tokenizer& tok,
                             const std::string& out_path,
                             const std::function<void(const std::string&)>& log = {});
// Same, from records already in memory.
ShardBuildResult build_shard(const std::vector<Record>& records, const Tokenizer& tok,
                             const std::string& out_path,
                             const std::function<void(const std::string&)>& log = {});

std::vector<SourceStats> shard_stats(const Shard& shard);
// A fixed-width table: source, documents, tokens, >4k, >8k, >32k, >128k, longest; plus a total row.
std::string format_stats(const std::vector<SourceStats>& stats);

}  // namespace harpe::data

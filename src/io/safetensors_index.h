// Sharded safetensors, HF's layout: a directory with model.safetensors.index.json,
//   {"metadata": {"total_size": BYTES},
//    "weight_map": {"tensor name": "model-00001-of-00003.safetensors", ...}}
// and the shards it names. Reading opens every listed shard and checks the index against them:
// shard names must be plain file names in the directory (no '/', no "..", not absolute), every
// listed shard must exist, every listed tensor must be in its shard, and no tensor may be in two
// shards or in a shard without being listed. Each violation is a one-line harpe::Error naming the
// index and the tensor or shard. Writing follows huggingface_hub's split: tensors in order, a new
// shard when the next tensor would push the current one past the limit, a tensor larger than the
// limit alone in its own shard; a model that fits one shard is written as plain model.safetensors
// with no index, as HF does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "io/safetensors.h"

namespace harpe::io {

inline constexpr const char* kWeightsFile = "model.safetensors";
inline constexpr const char* kWeightsIndexFile = "model.safetensors.index.json";

// The parsed index (not yet checked against the shards).
struct ShardIndex {
  std::map<std::string, std::string> weight_map;  // tensor -> shard file name
  std::vector<std::string> shards;                // the distinct shard names, sorted
};
// Parses and validates the index JSON; `path` names it in errors.
ShardIndex parse_shard_index(std::string_view text, const std::string& path);

// A shard size as HF's max_shard_size spells it: an integer number of bytes, or an integer with a
// unit: KB/MB/GB = 10^3/10^6/10^9 bytes, KiB/MiB/GiB = 2^10/2^20/2^30 (case-insensitive); as in
// transformers, "Kb"/"Mb"/"Gb" with a lower-case b mean bits (a value / 8). Must be positive;
// anything else is a one-line error naming `flag`.
std::int64_t parse_shard_size(const std::string& text, const std::string& flag);

// huggingface_hub's split of tensors of the given byte sizes (in order) into shards of at most
// max_bytes (0: no limit, one shard): indices of the tensors of each shard.
std::vector<std::vector<std::size_t>> plan_shards(std::span<const std::uint64_t> sizes,
                                                  std::uint64_t max_bytes);

// "model-00002-of-00005.safetensors".
std::string shard_file_name(std::size_t i, std::size_t n);

// Writes the tensors into directory `dir` (which must exist) as model.safetensors, or, when they
// need more than one shard of max_bytes (0: no limit), as shards plus model.safetensors.index.json.
// Every file is written atomically; the form not written (a stale model.safetensors, or a stale
// index and its shards) is removed afterwards, so the directory never holds both. Returns the file
// names written.
std::vector<std::string> write_safetensors_dir(const std::string& dir,
                                               const std::vector<TensorView>& tensors,
                                               const std::map<std::string, std::string>& metadata,
                                               StoreDtype dtype, std::uint64_t max_bytes);

// The tensors of a model directory, whether one file or shards.
class SafetensorsSet {
 public:
  // One file.
  explicit SafetensorsSet(const std::string& file);
  // dir/model.safetensors when it exists (HF's order: the single file wins over an index), else
  // dir/model.safetensors.index.json and its shards; neither is an error naming the directory.
  static SafetensorsSet open_dir(const std::string& dir);
  // The index at `index_path` and the shards beside it, checked against each other.
  static SafetensorsSet open_index(const std::string& index_path);

  // What was opened: the file, or the index.
  const std::string& source() const { return source_; }
  bool contains(const std::string& name) const { return where_.count(name) != 0; }
  // The file holding `name` (throws naming the missing tensor).
  const SafetensorsFile& file_of(const std::string& name) const;
  std::vector<std::string> names() const;  // sorted
  void read_f32(const std::string& name, float* dst,
                std::span<const std::int64_t> expected_shape) const {
    file_of(name).read_f32(name, dst, expected_shape);
  }

  // True when `dir` holds model.safetensors or model.safetensors.index.json.
  static bool dir_has_weights(const std::string& dir);

 private:
  SafetensorsSet() = default;
  std::string source_;
  std::vector<SafetensorsFile> files_;
  std::map<std::string, std::size_t> where_;  // tensor -> files_ index
};

}  // namespace harpe::io

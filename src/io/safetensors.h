// safetensors (https://huggingface.co/docs/safetensors): an 8-byte little-endian header length N,
// N bytes of JSON {name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}},
// then the data (offsets relative to its start). The header is fully validated on open, so a
// hostile or truncated file gives a one-line harpe::Error naming the file and tensor, never a crash
// or an out-of-bounds read. F32, BF16 and F16 tensors are read as float32; other dtypes are
// refused.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "core/half.h"

namespace harpe::io {

struct TensorInfo {
  std::string name;
  std::string dtype;  // "F32", "BF16", "F16", ... as written in the file
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0, end = 0;  // byte range relative to the data section
  std::int64_t numel() const;        // product of shape (1 for a scalar)
};

class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);  // opens and validates the header
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  SafetensorsFile(SafetensorsFile&& o) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&& o) noexcept;
  ~SafetensorsFile();

  const std::string& path() const { return path_; }
  std::vector<std::string> names() const;  // in data order
  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  const TensorInfo& info(const std::string& name) const;  // throws naming the missing tensor
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

  // Reads tensor `name` as float32 into dst (numel floats). Throws if the shape differs from
  // expected_shape or the dtype is not F32/BF16/F16.
  void read_f32(const std::string& name, float* dst,
                std::span<const std::int64_t> expected_shape) const;
  std::vector<float> read_f32(const std::string& name) const;  // any shape

 private:
  void read_bytes(std::uint64_t offset, void* dst, std::size_t n, const std::string& tensor) const;
  std::string path_;
  int fd_ = -1;
  std::uint64_t data_start_ = 0;  // 8 + header length
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::size_t> index_;
  std::map<std::string, std::string> metadata_;
};

struct TensorView {
  std::string name;
  std::vector<std::int64_t> shape;
  const float* data = nullptr;  // numel(shape) floats
};

// The dtype a writer stores float32 tensors as: F32 (exact) or BF16 (rounded to nearest even).
enum class StoreDtype { f32, bf16 };
const char* store_dtype_name(StoreDtype d);  // "F32" / "BF16", as in the header
std::size_t store_dtype_size(StoreDtype d);  // 4 / 2

// Writes float32 tensors (in the given order) atomically: temp file + fsync + rename. With
// StoreDtype::f32 the bytes are those of every earlier version of this writer.
void write_safetensors(const std::string& path, const std::vector<TensorView>& tensors,
                       const std::map<std::string, std::string>& metadata = {},
                       StoreDtype dtype = StoreDtype::f32);

// The conversions read_f32 and the bf16 writer use (core/half.h), under their io:: names too.
using harpe::bf16_to_f32;
using harpe::f16_to_f32;
using harpe::f32_to_bf16;

// Bytes per element of a safetensors dtype string; 0 for an unknown dtype.
std::size_t dtype_size(const std::string& dtype);

}  // namespace harpe::io

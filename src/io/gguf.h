// GGUF (version 3), the single-file model format of ggml / llama.cpp, written from its
// specification (ggml's docs/gguf.md): little-endian
//
//   "GGUF" u32 version=3, u64 tensor_count, u64 kv_count,
//   kv_count x   { string key, u32 value_type, value }        (string = u64 length + bytes)
//   tensor_count x { string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset }
//   padding to general.alignment (32 when absent), then the tensor data; each tensor's offset is
//   relative to the data section and a multiple of the alignment.
//
// ne[] lists dimensions innermost first: a row-major [rows, cols] matrix has ne = {cols, rows}.
// The writer here is generic (no model knowledge); model/gguf_export.h maps a harpe model to
// llama.cpp's "llama" architecture. The reader parses everything but the tensor data, for tests
// and for checks of a written file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace harpe::io::gguf {

enum class ValueType : std::uint32_t {
  u8 = 0,
  i8 = 1,
  u16 = 2,
  i16 = 3,
  u32 = 4,
  i32 = 5,
  f32 = 6,
  boolean = 7,
  string = 8,
  array = 9,
  u64 = 10,
  i64 = 11,
  f64 = 12,
};

// ggml tensor types the writer produces.
enum class TensorType : std::uint32_t { f32 = 0, f16 = 1 };

inline constexpr std::uint32_t kVersion = 3;
inline constexpr std::uint32_t kDefaultAlignment = 32;

// A metadata value as read back: scalars in `numbers` (one element; bools as 0/1), strings in
// `strings`; arrays hold their elements the same way with `elem` their type.
struct Value {
  ValueType type = ValueType::u32;
  ValueType elem = ValueType::u32;  // arrays only
  std::vector<double> numbers;
  std::vector<std::string> strings;
};

struct TensorInfo {
  std::string name;
  std::vector<std::uint64_t> ne;  // innermost first
  TensorType type = TensorType::f32;
  std::uint64_t offset = 0;  // from the start of the data section
  std::uint64_t bytes() const;
};

class Writer {
 public:
  void add_string(const std::string& key, const std::string& v);
  void add_u32(const std::string& key, std::uint32_t v);
  void add_i32(const std::string& key, std::int32_t v);
  void add_f32(const std::string& key, float v);
  void add_bool(const std::string& key, bool v);
  void add_strings(const std::string& key, const std::vector<std::string>& v);
  void add_f32s(const std::string& key, const std::vector<float>& v);
  void add_i32s(const std::string& key, const std::vector<std::int32_t>& v);

  // A tensor of row-major F32 values with the shape given innermost first (ne[0] = columns),
  // stored as `type` (F16 rounds to nearest even; write() refuses a finite value past its range).
  // `data` is NOT copied: it must stay valid until write(). Names must be unique and at most 64
  // bytes (ggml's limit).
  void add_tensor(const std::string& name, std::vector<std::uint64_t> ne, TensorType type,
                  const float* data);

  // Writes the file atomically (io/atomic_file.h). general.alignment is written when set to
  // anything but the default.
  void write(const std::string& path) const;

  std::uint32_t alignment = kDefaultAlignment;

 private:
  void add_key(const std::string& key, ValueType type);
  std::string kv_;  // serialized key-value pairs
  std::uint64_t kv_count_ = 0;
  std::vector<std::string> keys_;
  struct Pending {
    TensorInfo info;
    const float* data;
  };
  std::vector<Pending> tensors_;
};

struct File {
  std::uint32_t version = 0;
  std::uint32_t alignment = kDefaultAlignment;
  std::vector<std::pair<std::string, Value>> kv;  // in file order
  std::vector<TensorInfo> tensors;                // in file order
  std::uint64_t data_offset = 0;                  // absolute file offset of the data section
  std::uint64_t file_size = 0;

  const Value* find(const std::string& key) const;  // null when absent
  const TensorInfo* tensor(const std::string& name) const;
};

// Parses the header, the key-values and the tensor infos of a GGUF file and checks every
// tensor's extent against the file size and the alignment. Throws harpe::Error naming the file
// and what is wrong.
File read_header(const std::string& path);

// One tensor's data as F32 (F16 converted).
std::vector<float> read_tensor(const std::string& path, const File& f, const TensorInfo& t);

}  // namespace harpe::io::gguf

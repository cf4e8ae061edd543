#include "io/gguf.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <set>

#include "core/error.h"
#include "core/half.h"
#include "io/atomic_file.h"

namespace harpe::io::gguf {

static_assert(std::endian::native == std::endian::little, "GGUF is little-endian");

std::uint64_t TensorInfo::bytes() const {
  std::uint64_t n = 1;
  for (std::uint64_t d : ne) n *= d;
  return n * (type == TensorType::f16 ? 2 : 4);
}

namespace {

template <typename T>
void put(std::string& out, T v) {
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}

void put_string(std::string& out, const std::string& s) {
  put<std::uint64_t>(out, s.size());
  out += s;
}

std::uint64_t align_up(std::uint64_t x, std::uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace

void Writer::add_key(const std::string& key, ValueType type) {
  check(!key.empty(), "gguf: empty metadata key");
  check(std::find(keys_.begin(), keys_.end(), key) == keys_.end(), "gguf: duplicate key ", key);
  keys_.push_back(key);
  put_string(kv_, key);
  put(kv_, static_cast<std::uint32_t>(type));
  ++kv_count_;
}

void Writer::add_string(const std::string& key, const std::string& v) {
  add_key(key, ValueType::string);
  put_string(kv_, v);
}
void Writer::add_u32(const std::string& key, std::uint32_t v) {
  add_key(key, ValueType::u32);
  put(kv_, v);
}
void Writer::add_i32(const std::string& key, std::int32_t v) {
  add_key(key, ValueType::i32);
  put(kv_, v);
}
void Writer::add_f32(const std::string& key, float v) {
  add_key(key, ValueType::f32);
  put(kv_, v);
}
void Writer::add_bool(const std::string& key, bool v) {
  add_key(key, ValueType::boolean);
  put<std::uint8_t>(kv_, v ? 1 : 0);
}
void Writer::add_strings(const std::string& key, const std::vector<std::string>& v) {
  add_key(key, ValueType::array);
  put(kv_, static_cast<std::uint32_t>(ValueType::string));
  put<std::uint64_t>(kv_, v.size());
  for (const std::string& s : v) put_string(kv_, s);
}
void Writer::add_f32s(const std::string& key, const std::vector<float>& v) {
  add_key(key, ValueType::array);
  put(kv_, static_cast<std::uint32_t>(ValueType::f32));
  put<std::uint64_t>(kv_, v.size());
  for (float x : v) put(kv_, x);
}
void Writer::add_i32s(const std::string& key, const std::vector<std::int32_t>& v) {
  add_key(key, ValueType::array);
  put(kv_, static_cast<std::uint32_t>(ValueType::i32));
  put<std::uint64_t>(kv_, v.size());
  for (std::int32_t x : v) put(kv_, x);
}

void Writer::add_tensor(const std::string& name, std::vector<std::uint64_t> ne, TensorType type,
                        const float* data) {
  check(!name.empty() && name.size() <= 64, "gguf: tensor name '", name,
        "' must have 1 to 64 bytes");
  check(!ne.empty() && ne.size() <= 4, "gguf: tensor ", name, " needs 1 to 4 dimensions");
  for (std::uint64_t d : ne) check(d > 0, "gguf: tensor ", name, " has a zero dimension");
  for (const Pending& p : tensors_) check(p.info.name != name, "gguf: duplicate tensor ", name);
  Pending p{TensorInfo{name, std::move(ne), type, 0}, data};
  tensors_.push_back(std::move(p));
}

void Writer::write(const std::string& path) const {
  check(alignment > 0 && (alignment & (alignment - 1)) == 0 && alignment % 8 == 0,
        "gguf: alignment must be a power of two >= 8, got ", alignment);
  std::string head;
  head.append("GGUF", 4);
  put(head, kVersion);
  put<std::uint64_t>(head, tensors_.size());
  const bool write_alignment = alignment != kDefaultAlignment;
  put<std::uint64_t>(head, kv_count_ + (write_alignment ? 1 : 0));
  head += kv_;
  if (write_alignment) {
    put_string(head, "general.alignment");
    put(head, static_cast<std::uint32_t>(ValueType::u32));
    put(head, alignment);
  }
  std::uint64_t offset = 0;
  for (const Pending& p : tensors_) {
    put_string(head, p.info.name);
    put(head, static_cast<std::uint32_t>(p.info.ne.size()));
    for (std::uint64_t d : p.info.ne) put(head, d);
    put(head, static_cast<std::uint32_t>(p.info.type));
    put(head, offset);
    offset = align_up(offset + p.info.bytes(), alignment);
  }
  head.append(align_up(head.size(), alignment) - head.size(), '\0');

  AtomicFile out(path);
  out.write(head);
  std::vector<char> buf;
  const std::string zeros(alignment, '\0');
  for (const Pending& p : tensors_) {
    const std::uint64_t n = p.info.bytes() / (p.info.type == TensorType::f16 ? 2 : 4);
    if (p.info.type == TensorType::f32) {
      out.write(p.data, n * sizeof(float));
    } else {
      buf.resize(n * 2);
      for (std::uint64_t i = 0; i < n; ++i) {
        const std::uint16_t h = f32_to_f16(p.data[i]);
        check((h & 0x7c00u) != 0x7c00u || !std::isfinite(p.data[i]), "gguf: tensor ", p.info.name,
              " element ", i, " (", p.data[i], ") does not fit F16");
        std::memcpy(buf.data() + 2 * i, &h, 2);
      }
      out.write(buf.data(), buf.size());
    }
    out.write(zeros.data(), align_up(p.info.bytes(), alignment) - p.info.bytes());
  }
  out.commit();
}

// ---------------------------------------------------------------------------------------------
// Reader.

namespace {

struct Cursor {
  std::ifstream& in;
  const std::string& path;
  std::uint64_t size;
  std::uint64_t pos = 0;

  void bytes(void* dst, std::uint64_t n) {
    check(n <= size - pos, path, ": truncated GGUF header at byte ", pos);
    in.read(static_cast<char*>(dst), static_cast<std::streamsize>(n));
    check(static_cast<bool>(in), path, ": read error at byte ", pos);
    pos += n;
  }
  template <typename T>
  T get() {
    T v;
    bytes(&v, sizeof(T));
    return v;
  }
  std::string string() {
    const auto n = get<std::uint64_t>();
    check(n <= size - pos && n <= (1u << 30), path, ": string of ", n, " bytes at byte ", pos,
          " runs past the end");
    std::string s(n, '\0');
    bytes(s.data(), n);
    return s;
  }
};

void read_scalar(Cursor& c, ValueType t, Value& v) {
  switch (t) {
    case ValueType::u8:
      v.numbers.push_back(c.get<std::uint8_t>());
      break;
    case ValueType::i8:
      v.numbers.push_back(c.get<std::int8_t>());
      break;
    case ValueType::u16:
      v.numbers.push_back(c.get<std::uint16_t>());
      break;
    case ValueType::i16:
      v.numbers.push_back(c.get<std::int16_t>());
      break;
    case ValueType::u32:
      v.numbers.push_back(c.get<std::uint32_t>());
      break;
    case ValueType::i32:
      v.numbers.push_back(c.get<std::int32_t>());
      break;
    case ValueType::f32:
      v.numbers.push_back(c.get<float>());
      break;
    case ValueType::boolean:
      v.numbers.push_back(c.get<std::uint8_t>() != 0);
      break;
    case ValueType::string:
      v.strings.push_back(c.string());
      break;
    case ValueType::u64:
      v.numbers.push_back(static_cast<double>(c.get<std::uint64_t>()));
      break;
    case ValueType::i64:
      v.numbers.push_back(static_cast<double>(c.get<std::int64_t>()));
      break;
    case ValueType::f64:
      v.numbers.push_back(c.get<double>());
      break;
    default:
      fail(c.path, ": unknown GGUF value type ", static_cast<std::uint32_t>(t));
  }
}

}  // namespace

const Value* File::find(const std::string& key) const {
  for (const auto& [k, v] : kv)
    if (k == key) return &v;
  return nullptr;
}

const TensorInfo* File::tensor(const std::string& name) const {
  for (const TensorInfo& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

File read_header(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  check(static_cast<bool>(in), path, ": cannot open");
  in.seekg(0, std::ios::end);
  File f;
  f.file_size = static_cast<std::uint64_t>(in.tellg());
  in.seekg(0);
  Cursor c{in, path, f.file_size};
  char magic[4];
  c.bytes(magic, 4);
  check(std::memcmp(magic, "GGUF", 4) == 0, path, ": not a GGUF file (bad magic)");
  f.version = c.get<std::uint32_t>();
  check(f.version == kVersion, path, ": GGUF version ", f.version, ", expected ", kVersion);
  const auto n_tensors = c.get<std::uint64_t>();
  const auto n_kv = c.get<std::uint64_t>();
  check(n_tensors < (1u << 24) && n_kv < (1u << 24), path, ": implausible counts (", n_tensors,
        " tensors, ", n_kv, " keys)");
  std::set<std::string> keys;
  for (std::uint64_t i = 0; i < n_kv; ++i) {
    std::string key = c.string();
    check(keys.insert(key).second, path, ": duplicate key ", key);
    Value v;
    v.type = static_cast<ValueType>(c.get<std::uint32_t>());
    if (v.type == ValueType::array) {
      v.elem = static_cast<ValueType>(c.get<std::uint32_t>());
      check(v.elem != ValueType::array, path, ": nested array in ", key);
      const auto n = c.get<std::uint64_t>();
      check(n <= f.file_size - c.pos, path, ": array ", key, " of ", n,
            " elements runs past the end");
      for (std::uint64_t j = 0; j < n; ++j) read_scalar(c, v.elem, v);
    } else {
      read_scalar(c, v.type, v);
    }
    if (key == "general.alignment") {
      check(v.type == ValueType::u32, path, ": general.alignment must be u32");
      f.alignment = static_cast<std::uint32_t>(v.numbers[0]);
      check(f.alignment > 0 && (f.alignment & (f.alignment - 1)) == 0, path, ": general.alignment ",
            f.alignment, " is not a power of two");
    }
    f.kv.emplace_back(std::move(key), std::move(v));
  }
  std::set<std::string> names;
  for (std::uint64_t i = 0; i < n_tensors; ++i) {
    TensorInfo t;
    t.name = c.string();
    check(names.insert(t.name).second, path, ": duplicate tensor ", t.name);
    const auto nd = c.get<std::uint32_t>();
    check(nd >= 1 && nd <= 4, path, ": tensor ", t.name, " has ", nd, " dimensions");
    for (std::uint32_t d = 0; d < nd; ++d) {
      t.ne.push_back(c.get<std::uint64_t>());
      check(t.ne.back() > 0 && t.ne.back() < (1ull << 40), path, ": tensor ", t.name,
            " has dimension ", t.ne.back());
    }
    const auto type = c.get<std::uint32_t>();
    check(type == 0 || type == 1, path, ": tensor ", t.name, " has ggml type ", type,
          " (this reader knows F32 and F16)");
    t.type = static_cast<TensorType>(type);
    t.offset = c.get<std::uint64_t>();
    f.tensors.push_back(std::move(t));
  }
  f.data_offset = align_up(c.pos, f.alignment);
  for (const TensorInfo& t : f.tensors) {
    check(t.offset % f.alignment == 0, path, ": tensor ", t.name, " offset ", t.offset,
          " is not a multiple of the alignment ", f.alignment);
    check(t.offset <= f.file_size && t.bytes() <= f.file_size - f.data_offset - t.offset, path,
          ": tensor ", t.name, " runs past the end of the file");
  }
  return f;
}

std::vector<float> read_tensor(const std::string& path, const File& f, const TensorInfo& t) {
  std::ifstream in(path, std::ios::binary);
  check(static_cast<bool>(in), path, ": cannot open");
  in.seekg(static_cast<std::streamoff>(f.data_offset + t.offset));
  std::string raw(t.bytes(), '\0');
  in.read(raw.data(), static_cast<std::streamsize>(raw.size()));
  check(static_cast<bool>(in), path, ": cannot read tensor ", t.name);
  const std::size_t n = raw.size() / (t.type == TensorType::f16 ? 2 : 4);
  std::vector<float> out(n);
  if (t.type == TensorType::f32) {
    std::memcpy(out.data(), raw.data(), raw.size());
  } else {
    for (std::size_t i = 0; i < n; ++i) {
      std::uint16_t h;
      std::memcpy(&h, raw.data() + 2 * i, 2);
      out[i] = f16_to_f32(h);
    }
  }
  return out;
}

}  // namespace harpe::io::gguf

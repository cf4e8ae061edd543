#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <set>
#include <utility>

#include "core/error.h"
#include "core/half.h"
#include "io/atomic_file.h"
#include "io/json_util.h"

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; a big-endian host needs byte swapping");

namespace harpe::io {
namespace {

constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;  // the reference implementation's limit

std::string shape_text(std::span<const std::int64_t> shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace

std::size_t dtype_size(const std::string& d) {
  if (d == "F64" || d == "I64" || d == "U64") return 8;
  if (d == "F32" || d == "I32" || d == "U32") return 4;
  if (d == "F16" || d == "BF16" || d == "I16" || d == "U16") return 2;
  if (d == "I8" || d == "U8" || d == "BOOL" || d == "F8_E4M3" || d == "F8_E5M2") return 1;
  return 0;
}

std::int64_t TensorInfo::numel() const {
  std::int64_t n = 1;
  for (auto s : shape) n *= s;  // validated on open: no overflow
  return n;
}

// ---- reading -------------------------------------------------------------------------------

namespace {

// One header entry (dtype, shape, data_offsets) checked against the data section's size.
TensorInfo parse_tensor_entry(const std::string& name, const Json& v, const std::string& where,
                              std::uint64_t data_size) {
  check(v.is_object(), where, ": entry must be an object, got ", v.type_name());
  TensorInfo t;
  t.name = name;
  t.dtype = json_string(v, "dtype", where);
  std::size_t esize = dtype_size(t.dtype);
  check(esize > 0, where, ": unknown dtype ", printable(t.dtype));

  check(v.contains("shape") && v["shape"].is_array(), where, ": \"shape\" must be an array");
  std::uint64_t numel = 1;
  for (const Json& d : v["shape"]) {
    std::int64_t dim = as_int(d, where + ": shape entry");
    check(dim >= 0, where, ": negative dimension ", dim, " in shape");
    t.shape.push_back(dim);
    check(!__builtin_mul_overflow(numel, static_cast<std::uint64_t>(dim), &numel), where,
          ": shape ", shape_text(t.shape), "... overflows");
  }
  std::uint64_t nbytes = 0;
  check(!__builtin_mul_overflow(numel, esize, &nbytes) && numel <= (1ull << 62), where, ": shape ",
        shape_text(t.shape), " overflows");

  check(v.contains("data_offsets") && v["data_offsets"].is_array() && v["data_offsets"].size() == 2,
        where, ": \"data_offsets\" must be an array [begin, end]");
  std::int64_t b = as_int(v["data_offsets"][0], where + ": data_offsets[0]");
  std::int64_t e = as_int(v["data_offsets"][1], where + ": data_offsets[1]");
  check(b >= 0 && e >= 0, where, ": negative data_offsets [", b, ", ", e, "]");
  t.begin = static_cast<std::uint64_t>(b);
  t.end = static_cast<std::uint64_t>(e);
  check(t.end >= t.begin, where, ": data_offsets end ", t.end, " < begin ", t.begin);
  check(t.end <= data_size, where, ": data_offsets [", t.begin, ", ", t.end,
        "] run past the data section (", data_size, " bytes; file truncated?)");
  check(t.end - t.begin == nbytes, where, ": data_offsets span ", t.end - t.begin,
        " bytes but shape ", shape_text(t.shape), " x ", t.dtype, " needs ", nbytes);
  return t;
}

// Sorts `tensors` by offset and checks they tile [0, data_size) exactly.
void check_tiling(const std::string& path, std::vector<TensorInfo>& tensors,
                  std::uint64_t data_size) {
  // The data section must be tiled exactly: no overlaps, no holes, nothing trailing.
  std::sort(tensors.begin(), tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::uint64_t pos = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const TensorInfo& t = tensors[i];
    if (t.begin < pos)
      fail(path, ": tensor ", printable(t.name), " [", t.begin, ", ", t.end, ") overlaps tensor ",
           printable(tensors[i - 1].name), " [", tensors[i - 1].begin, ", ", tensors[i - 1].end,
           ")");
    check(t.begin == pos, path, ": tensor ", printable(t.name), " starts at ", t.begin,
          " leaving a gap after byte ", pos, " of the data section");
    pos = t.end;
  }
  check(pos == data_size, path, ": ", data_size - pos,
        " bytes after the last tensor are not covered by the header");
}

}  // namespace

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) fail("cannot open ", path, ": ", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd_);
    fd_ = -1;
    fail(path, ": not a regular file");
  }
  try {
    const auto file_size = static_cast<std::uint64_t>(st.st_size);
    check(file_size >= 8, path, ": file too short (", file_size,
          " bytes) for a safetensors header");
    unsigned char len_bytes[8];
    read_bytes(0, len_bytes, 8, "");
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | len_bytes[i];
    check(n <= kMaxHeaderBytes, path, ": header length ", n, " exceeds the 100 MB limit");
    check(n <= file_size - 8, path, ": header length ", n, " exceeds the file size ", file_size);
    check(n >= 2, path, ": header length ", n, " is too small for a JSON object");
    data_start_ = 8 + n;
    const std::uint64_t data_size = file_size - data_start_;

    std::string text(n, '\0');
    read_bytes(8, text.data(), n, "");
    Json header = parse_json(text, path + ": header");
    check(header.is_object(), path, ": header must be a JSON object, got ", header.type_name());

    for (auto it = header.begin(); it != header.end(); ++it) {
      const std::string& name = it.key();
      const Json& v = it.value();
      const std::string where = path + ": tensor " + printable(name);
      if (name == "__metadata__") {
        check(v.is_object(), path, ": __metadata__ must be an object of strings, got ",
              v.type_name());
        for (auto m = v.begin(); m != v.end(); ++m) {
          check(m.value().is_string(), path, ": __metadata__ ", printable(m.key()),
                " must be a string, got ", m.value().type_name());
          metadata_[m.key()] = m.value().get<std::string>();
        }
        continue;
      }
      tensors_.push_back(parse_tensor_entry(name, v, where, data_size));
    }

    check_tiling(path, tensors_, data_size);
    for (std::size_t i = 0; i < tensors_.size(); ++i) index_[tensors_[i].name] = i;
  } catch (...) {
    ::close(fd_);
    fd_ = -1;
    throw;
  }
}

SafetensorsFile::SafetensorsFile(SafetensorsFile&& o) noexcept
    : path_(std::move(o.path_)),
      fd_(std::exchange(o.fd_, -1)),
      data_start_(o.data_start_),
      tensors_(std::move(o.tensors_)),
      index_(std::move(o.index_)),
      metadata_(std::move(o.metadata_)) {}

SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(o.path_);
    fd_ = std::exchange(o.fd_, -1);
    data_start_ = o.data_start_;
    tensors_ = std::move(o.tensors_);
    index_ = std::move(o.index_);
    metadata_ = std::move(o.metadata_);
  }
  return *this;
}

SafetensorsFile::~SafetensorsFile() {
  if (fd_ >= 0) ::close(fd_);
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  for (const auto& t : tensors_) out.push_back(t.name);
  return out;
}

const TensorInfo& SafetensorsFile::info(const std::string& name) const {
  auto it = index_.find(name);
  if (it == index_.end()) fail(path_, ": no tensor ", printable(name));
  return tensors_[it->second];
}

void SafetensorsFile::read_bytes(std::uint64_t offset, void* dst, std::size_t n,
                                 const std::string& tensor) const {
  auto* p = static_cast<char*>(dst);
  while (n > 0) {
    ssize_t got = ::pread(fd_, p, n, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      std::string what = tensor.empty() ? "" : " (tensor " + printable(tensor) + ")";
      if (got == 0) fail(path_, ": unexpected end of file at byte ", offset, what);
      fail(path_, ": read error at byte ", offset, what, ": ", std::strerror(errno));
    }
    p += got;
    offset += static_cast<std::uint64_t>(got);
    n -= static_cast<std::size_t>(got);
  }
}

void SafetensorsFile::read_f32(const std::string& name, float* dst,
                               std::span<const std::int64_t> expected_shape) const {
  const TensorInfo& t = info(name);
  if (!std::equal(t.shape.begin(), t.shape.end(), expected_shape.begin(), expected_shape.end()))
    fail(path_, ": tensor ", printable(name), " has shape ", shape_text(t.shape), ", expected ",
         shape_text(expected_shape));
  const std::uint64_t at = data_start_ + t.begin;
  const auto n = static_cast<std::size_t>(t.numel());
  if (t.dtype == "F32") {
    read_bytes(at, dst, n * 4, name);
    return;
  }
  if (t.dtype != "BF16" && t.dtype != "F16")
    fail(path_, ": tensor ", printable(name), " has dtype ", t.dtype,
         "; only F32, BF16 and F16 can be loaded");
  const bool bf16 = t.dtype == "BF16";
  constexpr std::size_t kChunk = 1 << 16;
  std::vector<std::uint16_t> buf(std::min(n, kChunk));
  for (std::size_t done = 0; done < n;) {
    std::size_t m = std::min(kChunk, n - done);
    read_bytes(at + done * 2, buf.data(), m * 2, name);
    if (bf16)
      for (std::size_t i = 0; i < m; ++i) dst[done + i] = bf16_to_f32(buf[i]);
    else
      for (std::size_t i = 0; i < m; ++i) dst[done + i] = f16_to_f32(buf[i]);
    done += m;
  }
}

std::vector<float> SafetensorsFile::read_f32(const std::string& name) const {
  const TensorInfo& t = info(name);
  std::vector<float> out(static_cast<std::size_t>(t.numel()));
  read_f32(name, out.data(), t.shape);
  return out;
}

// ---- writing -------------------------------------------------------------------------------

const char* store_dtype_name(StoreDtype d) { return d == StoreDtype::bf16 ? "BF16" : "F32"; }
std::size_t store_dtype_size(StoreDtype d) { return d == StoreDtype::bf16 ? 2 : 4; }

void write_safetensors(const std::string& path, const std::vector<TensorView>& tensors,
                       const std::map<std::string, std::string>& metadata, StoreDtype dtype) {
  const std::uint64_t esize = store_dtype_size(dtype);
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::set<std::string> seen;
  std::uint64_t offset = 0;
  for (const TensorView& t : tensors) {
    check(!t.name.empty() && t.name != "__metadata__", path, ": invalid tensor name ",
          printable(t.name));
    check(seen.insert(t.name).second, path, ": duplicate tensor ", printable(t.name));
    std::uint64_t numel = 1;
    for (auto d : t.shape) {
      check(d >= 0, path, ": tensor ", printable(t.name), " has a negative dimension");
      numel *= static_cast<std::uint64_t>(d);
    }
    check(numel == 0 || t.data != nullptr, path, ": tensor ", printable(t.name), " has no data");
    header[t.name] = {{"dtype", store_dtype_name(dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + numel * esize}}};
    offset += numel * esize;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // data section starts 8-byte aligned
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(text.size() >> (8 * i));

  AtomicFile f(path);
  f.write(len, 8);
  f.write(text);
  constexpr std::size_t kChunk = 1 << 16;
  std::vector<std::uint16_t> buf;
  for (const TensorView& t : tensors) {
    std::uint64_t numel = 1;
    for (auto d : t.shape) numel *= static_cast<std::uint64_t>(d);
    if (numel == 0) continue;
    if (dtype == StoreDtype::f32) {
      f.write(t.data, numel * 4);
      continue;
    }
    buf.resize(std::min<std::uint64_t>(numel, kChunk));
    for (std::uint64_t done = 0; done < numel;) {
      const auto m = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, numel - done));
      for (std::size_t i = 0; i < m; ++i) buf[i] = f32_to_bf16(t.data[done + i]);
      f.write(buf.data(), m * 2);
      done += m;
    }
  }
  f.commit();
}

}  // namespace harpe::io

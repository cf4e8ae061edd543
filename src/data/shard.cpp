#include "data/shard.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <utility>

#include "core/error.h"

namespace harpe::data {

static_assert(std::endian::native == std::endian::little, "shards are little-endian");

namespace {

std::uint64_t pad8(std::uint64_t n) { return (n + 7) / 8 * 8; }

std::string parent_dir(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Writer

ShardWriter::ShardWriter(std::string path, std::uint32_t vocab_size, std::uint32_t token_bytes)
    : path_(std::move(path)), vocab_size_(vocab_size), token_bytes_(token_bytes) {
  check(vocab_size_ > 0, "shard ", path_, ": vocab_size must be positive");
  if (token_bytes_ == 0) token_bytes_ = vocab_size_ <= 65536 ? 2 : 4;
  check(token_bytes_ == 2 || token_bytes_ == 4, "shard ", path_,
        ": token width must be 2 or 4 bytes, got ", token_bytes_);
  check(token_bytes_ == 4 || vocab_size_ <= 65536, "shard ", path_, ": vocab_size ", vocab_size_,
        " does not fit 2-byte tokens");
  tmp_path_ = path_ + ".tmp." + std::to_string(::getpid());
  file_ = std::fopen(tmp_path_.c_str(), "wb");
  if (!file_) fail("shard ", path_, ": cannot create ", tmp_path_, ": ", std::strerror(errno));
  unsigned char zeros[kShardHeaderBytes] = {};
  write_bytes(zeros, sizeof zeros);  // header placeholder, written last
}

ShardWriter::~ShardWriter() {
  if (file_) std::fclose(file_);
  if (!finished_) std::remove(tmp_path_.c_str());
}

void ShardWriter::write_bytes(const void* p, std::size_t n) {
  if (n && std::fwrite(p, 1, n, file_) != n)
    fail("shard ", path_, ": write failed: ", std::strerror(errno));
}

std::uint32_t ShardWriter::source_id(std::string_view name) {
  for (std::size_t i = 0; i < source_names_.size(); ++i)
    if (source_names_[i] == name) return static_cast<std::uint32_t>(i);
  source_names_.emplace_back(name);
  return static_cast<std::uint32_t>(source_names_.size() - 1);
}

void ShardWriter::add_document(std::span<const std::int32_t> tokens, std::uint32_t source,
                               std::span<const std::uint8_t> scored) {
  check(!finished_, "shard ", path_, ": add_document after finish()");
  check(scored.empty() || scored.size() == tokens.size(), "shard ", path_, ": document ",
        sources_.size(), " has ", tokens.size(), " tokens but ", scored.size(), " loss-mask flags");
  if (source_names_.empty() && source == 0) source_id("default");
  check(source < source_names_.size(), "shard ", path_, ": unknown source id ", source);
  scratch_.resize(tokens.size() * token_bytes_);
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    std::int32_t t = tokens[i];
    check(t >= 0 && static_cast<std::uint32_t>(t) < vocab_size_, "shard ", path_, ": token ", t,
          " of document ", sources_.size(), " is outside [0, ", vocab_size_, ")");
    if (token_bytes_ == 2) {
      auto v = static_cast<std::uint16_t>(t);
      std::memcpy(&scratch_[2 * i], &v, 2);
    } else {
      auto v = static_cast<std::uint32_t>(t);
      std::memcpy(&scratch_[4 * i], &v, 4);
    }
  }
  write_bytes(scratch_.data(), scratch_.size());
  const std::uint64_t first = offsets_.back();
  mask_.resize((first + tokens.size() + 63) / 64, 0);
  for (std::size_t i = 0; i < tokens.size(); ++i)
    if (scored.empty() || scored[i])
      mask_[(first + i) / 64] |= std::uint64_t{1} << ((first + i) % 64);
  masked_ = masked_ || !scored.empty();
  offsets_.push_back(first + tokens.size());
  sources_.push_back(source);
}

void ShardWriter::finish() {
  check(!finished_, "shard ", path_, ": finish() called twice");
  if (source_names_.empty()) source_id("default");
  const unsigned char zeros[8] = {};
  std::uint64_t pos = kShardHeaderBytes + n_tokens() * token_bytes_;
  write_bytes(zeros, pad8(pos) - pos);
  pos = pad8(pos);
  write_bytes(offsets_.data(), offsets_.size() * 8);
  pos += offsets_.size() * 8;
  write_bytes(sources_.data(), sources_.size() * 4);
  pos += sources_.size() * 4;
  write_bytes(zeros, pad8(pos) - pos);
  pos = pad8(pos);
  for (const auto& name : source_names_) {
    auto len = static_cast<std::uint32_t>(name.size());
    write_bytes(&len, 4);
    write_bytes(name.data(), name.size());
    pos += 4 + name.size();
  }
  write_bytes(zeros, pad8(pos) - pos);
  pos = pad8(pos);
  if (masked_) {
    write_bytes(mask_.data(), mask_.size() * 8);
    pos += mask_.size() * 8;
  }

  ShardHeader h{};
  std::memcpy(h.magic, kShardMagic, 8);
  h.version = masked_ ? kShardVersionMasked : kShardVersion;
  h.token_bytes = token_bytes_;
  h.n_tokens = n_tokens();
  h.n_documents = n_documents();
  h.vocab_size = vocab_size_;
  h.n_sources = static_cast<std::uint32_t>(source_names_.size());
  h.file_bytes = pos;
  if (std::fseek(file_, 0, SEEK_SET) != 0)
    fail("shard ", path_, ": seek failed: ", std::strerror(errno));
  write_bytes(&h, sizeof h);
  if (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0)
    fail("shard ", path_, ": flush/fsync failed: ", std::strerror(errno));
  int rc = std::fclose(file_);
  file_ = nullptr;
  if (rc != 0) fail("shard ", path_, ": close failed: ", std::strerror(errno));
  if (std::rename(tmp_path_.c_str(), path_.c_str()) != 0)
    fail("shard ", path_, ": rename from ", tmp_path_, " failed: ", std::strerror(errno));
  finished_ = true;
  // Make the rename itself durable.
  int dir = ::open(parent_dir(path_).c_str(), O_RDONLY | O_DIRECTORY);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

// ---------------------------------------------------------------------------------------------
// Reader

Shard::Shard(Shard&& o) noexcept { *this = std::move(o); }

Shard& Shard::operator=(Shard&& o) noexcept {
  if (this != &o) {
    if (map_) ::munmap(map_, map_bytes_);
    path_ = std::move(o.path_);
    map_ = std::exchange(o.map_, nullptr);
    map_bytes_ = std::exchange(o.map_bytes_, 0);
    header_ = o.header_;
    tokens_ = std::exchange(o.tokens_, nullptr);
    offsets_ = std::exchange(o.offsets_, nullptr);
    source_ids_ = std::exchange(o.source_ids_, nullptr);
    mask_ = std::exchange(o.mask_, nullptr);
    source_names_ = std::move(o.source_names_);
  }
  return *this;
}

Shard::~Shard() {
  if (map_) ::munmap(map_, map_bytes_);
}

Shard Shard::open(const std::string& path, bool check_tokens) {
  Shard s;
  s.path_ = path;
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) fail("shard ", path, ": cannot open: ", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    fail("shard ", path, ": cannot stat: ", std::strerror(errno));
  }
  auto size = static_cast<std::uint64_t>(st.st_size);
  if (size < kShardHeaderBytes) {
    ::close(fd);
    fail("shard ", path, ": file is ", size, " bytes, shorter than the ", kShardHeaderBytes,
         "-byte header");
  }
  void* m = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (m == MAP_FAILED) fail("shard ", path, ": mmap failed: ", std::strerror(errno));
  s.map_ = m;
  s.map_bytes_ = size;
  const auto* base = static_cast<const unsigned char*>(m);
  std::memcpy(&s.header_, base, sizeof(ShardHeader));
  const ShardHeader& h = s.header_;

  check(std::memcmp(h.magic, kShardMagic, 8) == 0, "shard ", path,
        ": bad magic (not a harpe token shard)");
  check(h.version == kShardVersion || h.version == kShardVersionMasked, "shard ", path,
        ": unsupported version ", h.version, " (expected ", kShardVersion, " or ",
        kShardVersionMasked, ")");
  check(h.token_bytes == 2 || h.token_bytes == 4, "shard ", path, ": token width ", h.token_bytes,
        " (expected 2 or 4)");
  check(h.vocab_size > 0 && (h.token_bytes == 4 || h.vocab_size <= 65536), "shard ", path,
        ": vocab_size ", h.vocab_size, " inconsistent with ", h.token_bytes, "-byte tokens");
  check(h.file_bytes == size, "shard ", path, ": header says ", h.file_bytes,
        " bytes but the file has ", size, " (truncated or appended)");
  // Sizes, with overflow-safe bounds: each count is first bounded by the file size.
  check(h.n_tokens <= size / h.token_bytes, "shard ", path, ": token count ", h.n_tokens,
        " exceeds file size");
  check(h.n_documents <= size / 12, "shard ", path, ": document count ", h.n_documents,
        " exceeds file size");
  check(h.n_sources <= size / 4, "shard ", path, ": source count ", h.n_sources,
        " exceeds file size");
  std::uint64_t tok_off = kShardHeaderBytes;
  std::uint64_t off_off = pad8(tok_off + h.n_tokens * h.token_bytes);
  std::uint64_t src_off = off_off + (h.n_documents + 1) * 8;
  std::uint64_t names_off = pad8(src_off + h.n_documents * 4);
  check(names_off <= size, "shard ", path, ": tables end at byte ", names_off, " past file end ",
        size, " (counts inconsistent with file size)");
  s.tokens_ = base + tok_off;
  s.offsets_ = reinterpret_cast<const std::uint64_t*>(base + off_off);
  s.source_ids_ = reinterpret_cast<const std::uint32_t*>(base + src_off);

  std::uint64_t pos = names_off;
  for (std::uint32_t i = 0; i < h.n_sources; ++i) {
    check(pos + 4 <= size, "shard ", path, ": source name table runs past file end");
    std::uint32_t len;
    std::memcpy(&len, base + pos, 4);
    pos += 4;
    check(len <= size - pos, "shard ", path, ": source name ", i, " runs past file end");
    s.source_names_.emplace_back(reinterpret_cast<const char*>(base + pos), len);
    pos += len;
  }
  pos = pad8(pos);
  if (h.version == kShardVersionMasked) {
    const std::uint64_t words = (h.n_tokens + 63) / 64;
    check(pos <= size && words <= (size - pos) / 8, "shard ", path,
          ": the loss mask runs past file end");
    s.mask_ = reinterpret_cast<const std::uint64_t*>(base + pos);
    pos += words * 8;
  }
  check(pos == size, "shard ", path, ": the tables end at byte ", pos, " but the file has ", size,
        " bytes");

  check(s.offsets_[0] == 0, "shard ", path, ": first document offset is ", s.offsets_[0],
        ", expected 0");
  for (std::uint64_t d = 0; d < h.n_documents; ++d) {
    check(s.offsets_[d + 1] >= s.offsets_[d], "shard ", path,
          ": document offsets decrease at document ", d);
    check(s.source_ids_[d] < h.n_sources, "shard ", path, ": document ", d, " has source id ",
          s.source_ids_[d], " but there are ", h.n_sources, " sources");
  }
  check(s.offsets_[h.n_documents] == h.n_tokens, "shard ", path, ": document table ends at token ",
        s.offsets_[h.n_documents], " but the shard has ", h.n_tokens, " tokens");
  if (check_tokens) {
    std::uint32_t max_tok = 0;
    if (h.token_bytes == 2) {
      const auto* t = s.tokens16();
      for (std::uint64_t i = 0; i < h.n_tokens; ++i)
        max_tok = std::max<std::uint32_t>(max_tok, t[i]);
    } else {
      const auto* t = s.tokens32();
      for (std::uint64_t i = 0; i < h.n_tokens; ++i) max_tok = std::max(max_tok, t[i]);
    }
    check(h.n_tokens == 0 || max_tok < h.vocab_size, "shard ", path, ": token id ", max_tok,
          " >= vocab_size ", h.vocab_size);
  }
  return s;
}

void Shard::copy_tokens(std::uint64_t begin, std::uint64_t n, std::int32_t* out) const {
  check(begin <= n_tokens() && n <= n_tokens() - begin, "shard ", path_, ": token range [", begin,
        ", ", begin + n, ") outside [0, ", n_tokens(), ")");
  if (header_.token_bytes == 2) {
    const auto* t = tokens16() + begin;
    for (std::uint64_t i = 0; i < n; ++i) out[i] = t[i];
  } else {
    const auto* t = tokens32() + begin;
    for (std::uint64_t i = 0; i < n; ++i) out[i] = static_cast<std::int32_t>(t[i]);
  }
}

DocumentSpan Shard::document(std::uint64_t d) const {
  check(d < n_documents(), "shard ", path_, ": document ", d, " outside [0, ", n_documents(), ")");
  return {offsets_[d], offsets_[d + 1] - offsets_[d], source_ids_[d]};
}

}  // namespace harpe::data

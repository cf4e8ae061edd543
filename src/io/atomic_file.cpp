#include "io/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <utility>

#include "core/error.h"

namespace harpe::io {
namespace {

constexpr std::size_t kBufferBytes = 1 << 20;

std::string parent_dir(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string errno_text(int err) {
  if (err == ENOSPC) return "disk full (ENOSPC)";
  if (err == EDQUOT) return "disk quota exceeded (EDQUOT)";
  return std::strerror(err);
}

std::string unique_suffix() {
  // pid + 64 random bits: not predictable, so nobody can plant a file (or a symlink) under the name
  // in advance; O_EXCL | O_NOFOLLOW refuse one anyway.
  uint64_t r = 0;
  if (::getentropy(&r, sizeof r) != 0)
    r = static_cast<uint64_t>(::time(nullptr)) * 0x9e3779b97f4a7c15ull;
  char buf[48];
  std::snprintf(buf, sizeof buf, ".tmp.%d.%016llx", static_cast<int>(::getpid()),
                static_cast<unsigned long long>(r));
  return buf;
}

}  // namespace

std::string unique_temp_path(const std::string& path) { return path + unique_suffix(); }

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  check(!path_.empty(), "cannot write a file with an empty path");
  for (int attempt = 0; attempt < 4 && fd_ < 0; ++attempt) {
    temp_ = unique_temp_path(path_);
    fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd_ < 0 && errno != EEXIST) break;
  }
  if (fd_ < 0) {
    int err = errno;
    std::string dir = parent_dir(path_);
    struct stat st {};
    if (err == ENOENT && ::stat(dir.c_str(), &st) != 0)
      fail("cannot write ", path_, ": directory ", dir, " does not exist");
    fail("cannot write ", path_, ": cannot create ", temp_, ": ", errno_text(err));
  }
  buf_.reserve(kBufferBytes);
}

AtomicFile::~AtomicFile() { discard(); }

void AtomicFile::discard() noexcept {
  if (fd_ < 0) return;
  ::close(fd_);
  fd_ = -1;
  ::unlink(temp_.c_str());
}

void AtomicFile::flush_buffer() {
  const char* p = buf_.data();
  std::size_t left = buf_.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      discard();
      fail("cannot write ", path_, ": ", errno_text(err));
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  buf_.clear();
}

void AtomicFile::write(const void* data, std::size_t n) {
  check(fd_ >= 0, "cannot write ", path_, ": file already committed or discarded");
  const char* p = static_cast<const char*>(data);
  written_ += n;
  if (buf_.size() + n <= kBufferBytes) {
    buf_.append(p, n);
    return;
  }
  flush_buffer();
  if (n >= kBufferBytes) {  // large blocks go straight to the kernel
    buf_.assign(p, n);
    flush_buffer();
    buf_.shrink_to_fit();
    buf_.reserve(kBufferBytes);
  } else {
    buf_.append(p, n);
  }
}

void AtomicFile::commit() {
  check(fd_ >= 0, "cannot write ", path_, ": file already committed or discarded");
  flush_buffer();
  if (::fsync(fd_) != 0) {
    int err = errno;
    discard();
    fail("cannot write ", path_, ": fsync: ", errno_text(err));
  }
  if (::close(fd_) != 0) {
    int err = errno;
    fd_ = -1;
    ::unlink(temp_.c_str());
    fail("cannot write ", path_, ": close: ", errno_text(err));
  }
  fd_ = -1;
  if (::rename(temp_.c_str(), path_.c_str()) != 0) {
    int err = errno;
    ::unlink(temp_.c_str());
    fail("cannot write ", path_, ": rename from ", temp_, ": ", errno_text(err));
  }
  // Make the rename itself durable; failure here does not undo the (already visible) write.
  fsync_directory(parent_dir(path_));
}

void fsync_directory(const std::string& dir) {
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

void write_bytes_atomic(const std::string& path, const void* data, std::size_t n) {
  AtomicFile f(path);
  f.write(data, n);
  f.commit();
}

void write_text_atomic(const std::string& path, std::string_view text) {
  write_bytes_atomic(path, text.data(), text.size());
}

std::string read_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot read ", path, ": ", std::strerror(errno));
  std::string out;
  char chunk[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      fail("cannot read ", path, ": ", std::strerror(err));
    }
    if (n == 0) break;
    out.append(chunk, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace harpe::io

#include "io/read_limits.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/error.h"
#include "core/system.h"

namespace harpe::io {
namespace {

const char* kind_of(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISFIFO(m)) return "a FIFO";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

void check_regular(const struct stat& st, const std::string& path, std::size_t max_bytes,
                   const std::string& what) {
  check(S_ISREG(st.st_mode), what, " ", path, ": ", kind_of(st.st_mode),
        ", not a regular file (only regular files are read)");
  check(static_cast<unsigned long long>(st.st_size) <= max_bytes, what, " ", path, ": ",
        format_bytes(static_cast<double>(st.st_size)), " is more than the limit of ",
        format_bytes(static_cast<double>(max_bytes)));
}

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

std::string read_regular_file(const std::string& path, std::size_t max_bytes,
                              const std::string& what) {
  // stat first, so that a device or FIFO is never even opened (opening one can block or act).
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    fail(what, " ", path, ": cannot read: ", std::strerror(errno));
  check_regular(st, path, max_bytes, what);
  // O_NONBLOCK: should the path be swapped for a FIFO after the stat, the open does not block;
  // fstat below then refuses it.
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)};
  if (f.fd < 0) fail(what, " ", path, ": cannot read: ", std::strerror(errno));
  if (::fstat(f.fd, &st) != 0) fail(what, " ", path, ": cannot read: ", std::strerror(errno));
  check_regular(st, path, max_bytes, what);
  std::string out;
  out.reserve(static_cast<std::size_t>(st.st_size));
  char chunk[1 << 16];
  for (;;) {
    const ssize_t n = ::read(f.fd, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(what, " ", path, ": cannot read: ", std::strerror(errno));
    }
    if (n == 0) break;
    out.append(chunk, static_cast<std::size_t>(n));
    check(out.size() <= max_bytes, what, " ", path, ": grew past the limit of ",
          format_bytes(static_cast<double>(max_bytes)), " while being read");
  }
  return out;
}

}  // namespace harpe::io

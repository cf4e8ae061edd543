// read_regular_file: a regular file is read whole; a directory, a device or a FIFO is refused
// without being read (or blocking), and so is a file over the size limit.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/error.h"
#include "io/read_limits.h"

namespace {

namespace fs = std::filesystem;
using harpe::Error;
using harpe::io::read_regular_file;

struct Dir {
  fs::path path = fs::temp_directory_path() / ("harpe-test-read-" + std::to_string(::getpid()));
  Dir() {
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~Dir() { fs::remove_all(path); }
};

// The error of reading `path`, or "" when it was read.
std::string error_of(const std::string& path, std::size_t limit = 1 << 20) {
  try {
    read_regular_file(path, limit, "--prompt-file");
    return "";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_EQ(m.rfind("--prompt-file " + path + ": ", 0), 0u) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    return m;
  }
}

TEST(ReadLimits, RegularFileReadWhole) {
  Dir d;
  const std::string p = (d.path / "prompt.txt").string();
  const std::string text = std::string("binary\0bytes\n", 13) + std::string(200000, 'x');
  { std::ofstream(p, std::ios::binary) << text; }
  EXPECT_EQ(read_regular_file(p, text.size(), "--prompt-file"), text);  // exactly at the limit
  EXPECT_NE(error_of(p, text.size() - 1).find("more than the limit"), std::string::npos);
  { std::ofstream(p, std::ios::binary | std::ios::trunc); }
  EXPECT_EQ(read_regular_file(p, 0, "--prompt-file"), "");
}

TEST(ReadLimits, NonRegularFilesRefused) {
  Dir d;
  EXPECT_NE(error_of((d.path / "missing").string()).find("No such file"), std::string::npos);
  EXPECT_NE(error_of(d.path.string()).find("a directory"), std::string::npos);
  EXPECT_NE(error_of("/dev/urandom").find("a character device, not a regular file"),
            std::string::npos);
  EXPECT_NE(error_of("/dev/zero").find("a character device"), std::string::npos);
  // A FIFO with no writer: refused at once instead of blocking forever.
  const std::string fifo = (d.path / "fifo").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_NE(error_of(fifo).find("a FIFO"), std::string::npos);
  // A symlink to a regular file is fine; to a device it is not.
  fs::create_symlink("/dev/urandom", d.path / "link");
  EXPECT_NE(error_of((d.path / "link").string()).find("character device"), std::string::npos);
}

}  // namespace

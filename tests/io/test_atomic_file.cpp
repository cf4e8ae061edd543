#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/error.h"
#include "io/atomic_file.h"

using harpe::Error;
using namespace harpe::io;

namespace {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/harpe_atomic_XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    DIR* d = opendir(path.c_str());
    while (dirent* e = readdir(d))
      if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") out.push_back(e->d_name);
    closedir(d);
    return out;
  }
};

}  // namespace

TEST(AtomicFile, WriteTextThenReadBack) {
  TempDir dir;
  std::string p = dir.path + "/a.txt";
  write_text_atomic(p, "hello\n");
  EXPECT_EQ(read_file(p), "hello\n");
  write_text_atomic(p, "replaced");  // overwrite in place
  EXPECT_EQ(read_file(p), "replaced");
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"a.txt"});  // no temp file left
}

TEST(AtomicFile, StreamedWritesSmallAndLarge) {
  TempDir dir;
  std::string p = dir.path + "/b.bin";
  std::string expect;
  {
    AtomicFile f(p);
    for (int i = 0; i < 1000; ++i) {  // many small writes go through the buffer
      std::string piece = std::to_string(i) + ",";
      f.write(piece);
      expect += piece;
    }
    std::string big(3 << 20, 'x');  // larger than the buffer: written directly
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
    f.write(big.data(), big.size());
    expect += big;
    f.write("end", 3);
    expect += "end";
    EXPECT_EQ(f.bytes_written(), expect.size());
    f.commit();
  }
  EXPECT_EQ(read_file(p), expect);
  EXPECT_EQ(dir.entries().size(), 1u);
}

TEST(AtomicFile, UncommittedWriteLeavesOldFileIntact) {
  TempDir dir;
  std::string p = dir.path + "/c.txt";
  write_text_atomic(p, "old contents");
  {
    AtomicFile f(p);
    f.write("new contents that never get committed");
    EXPECT_EQ(read_file(p), "old contents");  // target untouched while writing
  }  // destroyed without commit (e.g. an exception unwound through the writer)
  EXPECT_EQ(read_file(p), "old contents");
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"c.txt"});
}

TEST(AtomicFile, WriteFailureKeepsOldFileAndReportsError) {
  TempDir dir;
  std::string p = dir.path + "/d.bin";
  write_text_atomic(p, "precious");
  // Simulate running out of space: a 64 KiB file size limit makes write() fail with EFBIG.
  struct rlimit old {};
  getrlimit(RLIMIT_FSIZE, &old);
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit lim = old;
  lim.rlim_cur = 64 << 10;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &lim), 0);
  std::string msg;
  try {
    std::string big(2 << 20, 'z');
    write_bytes_atomic(p, big.data(), big.size());
  } catch (const Error& e) {
    msg = e.what();
  }
  setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_NE(msg.find("cannot write " + p), std::string::npos) << msg;
  EXPECT_EQ(read_file(p), "precious");
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"d.bin"});
}

TEST(AtomicFile, MissingDirectoryIsAClearError) {
  TempDir dir;
  std::string p = dir.path + "/no/such/dir/e.txt";
  try {
    write_text_atomic(p, "x");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find(dir.path + "/no/such/dir"), std::string::npos) << m;
    EXPECT_NE(m.find("does not exist"), std::string::npos) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos);
  }
}

TEST(AtomicFile, CommitTwiceAndReadMissingFail) {
  TempDir dir;
  AtomicFile f(dir.path + "/f.txt");
  f.write("x");
  f.commit();
  EXPECT_THROW(f.commit(), Error);
  EXPECT_THROW(f.write("y"), Error);
  EXPECT_THROW(read_file(dir.path + "/missing"), Error);
}

// The temp name cannot be predicted, and a file or symlink planted under the old predictable name
// (<path>.tmp.<pid>) is neither followed nor touched.
TEST(AtomicFile, TempNamesAreUnpredictableAndPlantedLinksAreNotFollowed) {
  TempDir dir;
  const std::string p = dir.path + "/out.json", victim = dir.path + "/victim";
  write_text_atomic(victim, "keep");
  ASSERT_EQ(::symlink(victim.c_str(), (p + ".tmp." + std::to_string(::getpid())).c_str()), 0);
  write_text_atomic(p, "new");
  EXPECT_EQ(read_file(p), "new");
  EXPECT_EQ(read_file(victim), "keep");
  EXPECT_NE(unique_temp_path(p), unique_temp_path(p));
}

#include "io/dir_lock.h"

TEST(DirLock, ASecondWriterIsRefusedWithTheHoldersPid) {
  TempDir dir;
  const std::string run = dir.path + "/run";
  {
    DirLock first(run);
    try {
      DirLock second(run);
      ADD_FAILURE() << "a second lock on the same directory was granted";
    } catch (const Error& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("in use by another harpe run (pid " + std::to_string(::getpid())),
                std::string::npos)
          << m;
    }
  }
  EXPECT_NO_THROW(DirLock again(run));  // released with its holder
}

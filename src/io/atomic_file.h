// Crash-safe file writing: data goes to "<path>.tmp.<pid>.<random>" (created with O_EXCL |
// O_NOFOLLOW in the target's directory: a planted file or symlink is refused, never followed),
// every write, the fsync and the close are checked, then it is renamed over the target and the
// directory is fsync'ed. A reader sees either the old file or the complete new one, never a torn
// write; a failed write (disk full ...) throws, leaves the old file untouched and removes the temp.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace harpe::io {

// Streamed binary writer (checkpoints, token shards). Writes are buffered; commit() publishes the
// file. Destroying an AtomicFile that was not committed discards the temp file.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);  // throws harpe::Error (missing directory, permissions)
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile();

  void write(const void* data, std::size_t n);
  void write(std::string_view s) { write(s.data(), s.size()); }
  // Flush, fsync, rename over the target, fsync the directory. Throws harpe::Error (disk full...).
  void commit();
  // Drop the temp file without publishing (also done by the destructor).
  void discard() noexcept;

  std::size_t bytes_written() const { return written_; }
  const std::string& path() const { return path_; }
  const std::string& temp_path() const { return temp_; }

 private:
  void flush_buffer();
  std::string path_, temp_;
  int fd_ = -1;
  std::string buf_;
  std::size_t written_ = 0;
};

void write_text_atomic(const std::string& path, std::string_view text);

// "<path>.tmp.<pid>.<64 random bits in hex>": a temp name nobody can predict.
std::string unique_temp_path(const std::string& path);
// fsync a directory (makes renames in it durable); errors are ignored.
void fsync_directory(const std::string& dir);
void write_bytes_atomic(const std::string& path, const void* data, std::size_t n);

// Whole file into a string; throws harpe::Error naming the file.
std::string read_file(const std::string& path);

}  // namespace harpe::io

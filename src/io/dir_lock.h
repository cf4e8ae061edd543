// One writer per run directory: an advisory lock (flock) on DIR/.lock held while a training run
// writes DIR. A second run on the same directory fails at once with a one-line error naming the
// holder's pid; the lock goes away with the process (also on kill -9), so nothing stale remains.
#pragma once

#include <string>

namespace harpe::io {

class DirLock {
 public:
  // Creates DIR if needed. Throws Error when another process holds the lock (naming its pid).
  explicit DirLock(const std::string& dir);
  ~DirLock();
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace harpe::io

#include "infer/huge_pages.h"

#include <cstdint>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace harpe::infer {

bool advise_huge_pages(const void* p, std::size_t bytes) {
#if defined(__linux__)
  constexpr std::uintptr_t kHuge = std::uintptr_t{2} << 20;
  const std::uintptr_t begin = (reinterpret_cast<std::uintptr_t>(p) + kHuge - 1) & ~(kHuge - 1);
  const std::uintptr_t end = (reinterpret_cast<std::uintptr_t>(p) + bytes) & ~(kHuge - 1);
  if (p == nullptr || end <= begin) return false;
  void* start = reinterpret_cast<void*>(begin);
  const std::size_t len = end - begin;
  bool ok = madvise(start, len, MADV_HUGEPAGE) == 0;
#ifndef MADV_COLLAPSE
  constexpr int MADV_COLLAPSE = 25;  // Linux 6.1 uapi value; older headers lack it
#endif
  ok = madvise(start, len, MADV_COLLAPSE) == 0 && ok;
  return ok;
#else
  (void)p;
  (void)bytes;
  return false;
#endif
}

}  // namespace harpe::infer

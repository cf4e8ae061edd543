#include "core/system.h"

#include <cstdio>
#include <fstream>

#include "core/error.h"

namespace harpe {

std::size_t available_memory_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  std::size_t kb = 0;
  std::string unit;
  while (in >> key >> kb >> unit)
    if (key == "MemAvailable:") return kb * 1024;
  return 0;
}

void check_fits_in_memory(long double bytes, const std::string& what) {
  constexpr long double kMax = 4611686018427387904.0L;  // 2^62
  check(bytes <= kMax, what, " would need ", format_bytes(static_cast<double>(bytes)),
        ", more than any machine can address");
  const std::size_t avail = available_memory_bytes();
  check(avail == 0 || bytes <= static_cast<long double>(avail), what, " needs ",
        format_bytes(static_cast<double>(bytes)), " but only ",
        format_bytes(static_cast<double>(avail)), " of memory is available");
}

std::string format_bytes(double b) {
  char buf[32];
  if (b >= 1024.0 * 1024 * 1024)
    std::snprintf(buf, sizeof buf, "%.2f GiB", b / (1024.0 * 1024 * 1024));
  else
    std::snprintf(buf, sizeof buf, "%.1f MiB", b / (1024.0 * 1024));
  return buf;
}

std::string format_duration(double s) {
  char buf[32];
  const long t = static_cast<long>(s + 0.5);
  if (t >= 3600)
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else
    std::snprintf(buf, sizeof buf, "%ldm%02lds", t / 60, t % 60);
  return buf;
}

}  // namespace harpe

// Facts about the machine and their human-readable form, shared by training, evaluation and the
// CLI (memory preflights, progress lines).
#pragma once

#include <cstddef>
#include <string>

namespace harpe {

// Bytes of RAM available now (MemAvailable); 0 if unknown.
std::size_t available_memory_bytes();
// Fails (harpe::Error, one line naming `what`, the size and the memory available) when an
// allocation of `bytes` does not fit in the memory available now, or is beyond any address space
// (2^62). `bytes` is a long double so that a size computed from untrusted dimensions is checked
// before it could wrap around in integer arithmetic. Without MemAvailable, only the 2^62 bound.
void check_fits_in_memory(long double bytes, const std::string& what);
// "12.3 MiB" / "1.50 GiB".
std::string format_bytes(double bytes);
// "1h02m" / "3m05s" for progress lines.
std::string format_duration(double seconds);

}  // namespace harpe

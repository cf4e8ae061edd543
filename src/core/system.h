// Facts about the machine and their human-readable form, shared by training, evaluation and the
// CLI (memory preflights, progress lines).
#pragma once

#include <cstddef>
#include <string>

namespace harpe {

// Bytes of RAM available now (MemAvailable); 0 if unknown.
std::size_t available_memory_bytes();
// "12.3 MiB" / "1.50 GiB".
std::string format_bytes(double bytes);
// "1h02m" / "3m05s" for progress lines.
std::string format_duration(double seconds);

}  // namespace harpe

// Fuzz target: the sharded-safetensors index parser (model.safetensors.index.json) on arbitrary
// bytes. A harpe::Error is the expected answer to bad input; anything else (a crash, a sanitizer
// report, another exception) is a bug. Every accepted shard name must be a plain file name.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/error.h"
#include "io/safetensors_index.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const harpe::io::ShardIndex idx = harpe::io::parse_shard_index(
        std::string_view(reinterpret_cast<const char*>(data), size), "index");
    for (const auto& s : idx.shards)
      if (s.empty() || s.find('/') != s.npos || s == ".." || s == ".") std::abort();
  } catch (const harpe::Error&) {
  }
  return 0;
}

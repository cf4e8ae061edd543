// Fuzz target: config.json (HF keys, rope_scaling of every kind, size limits) on arbitrary text.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "model/config.h"
#include "rope/rope_table.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const harpe::model::ModelConfig c = harpe::model::parse_hf_config(
        std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
    // A config that parses must build its RoPE table and write itself back.
    (void)harpe::rope::build_table(c.rope, c.table_shape(), c.max_position_embeddings);
    (void)harpe::model::to_hf_config(c);
  } catch (const harpe::Error&) {
  }
  return 0;
}

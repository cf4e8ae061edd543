// Fuzz target: the token shard reader (header, tables, loss mask) on arbitrary bytes.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/error.h"
#include "data/shard.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  harpe::fuzz::InputFile in(data, size);
  if (!in.ok()) return 0;
  try {
    const harpe::data::Shard s = harpe::data::Shard::open(in.path());
    uint64_t sum = 0;
    for (uint64_t d = 0; d < s.n_documents(); ++d) {
      const harpe::data::DocumentSpan doc = s.document(d);
      std::vector<int32_t> t(doc.length);
      s.copy_tokens(doc.offset, doc.length, t.data());
      for (uint64_t i = 0; i < doc.length; ++i)
        sum += static_cast<uint64_t>(t[i]) + s.scored(doc.offset + i);
    }
    (void)sum;
  } catch (const harpe::Error&) {
  }
  return 0;
}

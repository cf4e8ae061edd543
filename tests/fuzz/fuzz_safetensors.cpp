// Fuzz target: the safetensors reader (header JSON, dtypes, offsets) on arbitrary bytes. A
// harpe::Error is the expected answer to bad input; anything else (a crash, a sanitizer report,
// another exception) is a bug.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "fuzz_input.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  harpe::fuzz::InputFile in(data, size);
  if (!in.ok()) return 0;
  try {
    harpe::io::SafetensorsFile f(in.path());
    double sum = 0;
    for (const auto& name : f.names()) {
      (void)f.info(name);
      const std::vector<float> v = f.read_f32(name);
      for (float x : v) sum += x;
    }
    (void)sum;
  } catch (const harpe::Error&) {
  }
  return 0;
}

// Fuzz target: results.json (harpe.eval.v1) as `harpe report` reads it, and the report it makes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "eval/report.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const harpe::eval::RunResults r = harpe::eval::results_from_json(
        std::string(reinterpret_cast<const char*>(data), size), "fuzz");
    const std::vector<harpe::eval::RunResults> runs = {r};
    (void)harpe::eval::comparison_markdown(runs);
    (void)harpe::eval::comparison_html(runs);
  } catch (const harpe::Error&) {
  }
  return 0;
}

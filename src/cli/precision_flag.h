// --precision, spelled and resolved alike by every command that multiplies matrices.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "cli/parsed_flag.h"
#include "core/precision.h"

namespace harpe::cli {

// Adds --precision auto|bf16|fp32 to `cmd`; `p` starts at default_precision() (bf16 where the CPU
// has bf16 matmul support) and is set when the flag is parsed. `what` says what the choice changes.
inline CLI::Option* add_precision_flag(CLI::App* cmd, Precision& p, const std::string& what) {
  p = default_precision();
  return add_parsed_flag(
      cmd, "--precision", p,
      [](const std::string& text) { return parse_precision(text, "--precision"); },
      what + "; auto = bf16 where the CPU has bf16 matmul support (" + cpu_bf16_features() +
          " here), else fp32",
      std::string("auto (") + precision_name(default_precision()) + ")");
}

// --precision of the inference commands (`harpe generate`, the model-backed `harpe eval`s): the
// weights and the KV cache held in memory (infer/inference_model.h, infer/session.h).
inline CLI::Option* add_weights_precision_flag(CLI::App* cmd, Precision& p) {
  return add_precision_flag(cmd, p,
                            "Weights and KV cache held in memory: bf16 halves their bytes "
                            "(activations and sums stay fp32)");
}

}  // namespace harpe::cli

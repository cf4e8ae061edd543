// --dtype and --max-shard-size: the format of the model directories a training command exports
// (OUT/model, OUT/step-N, extend's OUT/stageK). Checkpoints stay F32 in one file, so --resume is
// bitwise exact whatever these say.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "cli/parsed_flag.h"
#include "core/error.h"
#include "io/safetensors_index.h"
#include "model/weights_io.h"

namespace harpe::cli {

// Adds both flags to `cmd`, parsed into `w` when given; `given` is set when either is, which asks
// the run to export its final model as OUT/model.
inline void add_weights_flags(CLI::App* cmd, model::WeightsFormat& w, bool& given) {
  add_parsed_flag(
      cmd, "--dtype", w.dtype,
      [&given](const std::string& text) {
        check(text == "f32" || text == "bf16", "--dtype: \"", text,
              "\" is not a dtype (f32 or bf16)");
        given = true;
        return text == "bf16" ? io::StoreDtype::bf16 : io::StoreDtype::f32;
      },
      "Store exported weights (OUT/model, OUT/step-N, OUT/stageK) as f32 or bf16 (rounded to "
      "nearest even); checkpoints stay f32. Giving it (or --max-shard-size) also writes the "
      "final model as OUT/model",
      "f32");
  add_parsed_flag(
      cmd, "--max-shard-size", w.max_shard_bytes,
      [&given](const std::string& text) {
        given = true;
        return static_cast<std::uint64_t>(io::parse_shard_size(text, "--max-shard-size"));
      },
      "Split exported weights into HF shards of at most this size (bytes, or 500MB, 5GB = "
      "5*10^9, 2GiB = 2*2^30) with model.safetensors.index.json; a model that fits one shard "
      "stays one model.safetensors",
      "no limit");
}

}  // namespace harpe::cli

// A model's original (pretraining) context C0, read one way everywhere (`harpe extend`, its
// --print-settings, and every evaluation's "Nx" lengths): the config's rope_scaling
// original_max_position_embeddings, else run_config.json's "original_context" (written by
// `harpe extend`, in DIR or its parent), else trainer_state.json's "context", else config.json's
// max_position_embeddings.
#pragma once

#include <cstdint>
#include <string>

#include "model/config.h"

namespace harpe::model {

struct OriginalContext {
  int64_t tokens = 0;
  std::string source;  // where it was read from
};
OriginalContext original_context(const std::string& model_dir, const ModelConfig& cfg);

}  // namespace harpe::model

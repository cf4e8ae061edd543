// Model weights on disk: a directory with HF's config.json and model.safetensors (F32, HF tensor
// names), which is also what transformers' LlamaForCausalLM loads.
#pragma once

#include <string>

#include "model/model.h"

namespace harpe::model {

// Writes model.safetensors (atomically) at `path`.
void save_weights(const Model& m, const std::string& path);
// Reads every tensor of the layout from `path`, checking names and shapes; tensors missing from
// the file are an error, except lm_head.weight of a tied model (ignored if present), and so is a
// NaN or infinite value (the error names the tensor and the element).
void load_weights(Model& m, const std::string& path);

// A model from a directory holding config.json and model.safetensors.
Model load_model_dir(const std::string& dir);
// Writes config.json and model.safetensors into an existing directory.
void save_model_dir(const Model& m, const std::string& dir);

}  // namespace harpe::model

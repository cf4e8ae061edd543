// Model weights on disk: a directory with HF's config.json and the weights under HF tensor names,
// as one model.safetensors or as shards with model.safetensors.index.json (io/safetensors_index.h)
// — what transformers' LlamaForCausalLM loads.
#pragma once

#include <cstdint>
#include <string>

#include "io/safetensors.h"
#include "model/model.h"

namespace harpe::model {

// How exported weights are stored. The default (F32, one file) is what checkpoints always use:
// resuming from them is bitwise exact.
struct WeightsFormat {
  io::StoreDtype dtype = io::StoreDtype::f32;
  std::uint64_t max_shard_bytes = 0;  // 0: one model.safetensors; else HF's max_shard_size
};

// Writes model.safetensors (F32, atomically) at `path`.
void save_weights(const Model& m, const std::string& path);
// Reads every tensor of the layout from `path`, checking names and shapes; tensors missing from
// the file are an error, except lm_head.weight of a tied model (ignored if present), and so is a
// NaN or infinite value (the error names the tensor and the element).
void load_weights(Model& m, const std::string& path);
// As load_weights, from a model directory: model.safetensors when present, else the index and its
// shards (checked against each other; io::SafetensorsSet::open_dir).
void load_weights_dir(Model& m, const std::string& dir);
// True when `dir` holds model.safetensors or model.safetensors.index.json.
bool has_weights(const std::string& dir);

// A model from a directory holding config.json and the weights (one file or shards).
Model load_model_dir(const std::string& dir);
// Writes config.json and the weights into an existing directory in the given format (a stale file
// of the other form is removed); the default writes model.safetensors byte for byte as before.
void save_model_dir(const Model& m, const std::string& dir, const WeightsFormat& format = {});

}  // namespace harpe::model

#include "model/weights_io.h"

#include <cmath>

#include "core/error.h"
#include "io/safetensors_index.h"
#include "kernels/ops.h"

namespace harpe::model {

namespace {

std::vector<io::TensorView> views_of(const Model& m) {
  std::vector<io::TensorView> views;
  views.reserve(m.layout.tensors.size());
  for (const TensorInfo& t : m.layout.tensors)
    views.push_back({t.name, t.shape, m.params.data() + t.offset});
  return views;
}

const std::map<std::string, std::string> kMetadata = {{"format", "pt"}};

void load_from(Model& m, const io::SafetensorsSet& set) {
  for (const TensorInfo& t : m.layout.tensors) {
    check(set.contains(t.name), set.source(), ": tensor ", t.name, " is missing");
    float* x = m.params.data() + t.offset;
    set.read_f32(t.name, x, t.shape);
    if (!kernels::all_finite(x, t.numel)) {  // a NaN weight would only show as NaN logits later
      std::size_t i = 0;
      while (i < t.numel && std::isfinite(x[i])) ++i;
      fail(set.file_of(t.name).path(), ": tensor ", t.name,
           " holds a NaN or infinite value (element ", i, ": ", x[i], ")");
    }
  }
}

}  // namespace

void save_weights(const Model& m, const std::string& path) {
  io::write_safetensors(path, views_of(m), kMetadata);
}

void load_weights(Model& m, const std::string& path) { load_from(m, io::SafetensorsSet(path)); }

void load_weights_dir(Model& m, const std::string& dir) {
  load_from(m, io::SafetensorsSet::open_dir(dir));
}

bool has_weights(const std::string& dir) { return io::SafetensorsSet::dir_has_weights(dir); }

Model load_model_dir(const std::string& dir) {
  Model m(read_hf_config(dir + "/config.json"));
  load_weights_dir(m, dir);
  return m;
}

void save_model_dir(const Model& m, const std::string& dir, const WeightsFormat& format) {
  write_hf_config(dir + "/config.json", m.config);
  io::write_safetensors_dir(dir, views_of(m), kMetadata, format.dtype, format.max_shard_bytes);
}

}  // namespace harpe::model

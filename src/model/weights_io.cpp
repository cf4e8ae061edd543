#include "model/weights_io.h"

#include <cmath>

#include "core/error.h"
#include "io/safetensors.h"
#include "kernels/ops.h"

namespace harpe::model {

void save_weights(const Model& m, const std::string& path) {
  std::vector<io::TensorView> views;
  views.reserve(m.layout.tensors.size());
  for (const TensorInfo& t : m.layout.tensors)
    views.push_back({t.name, t.shape, m.params.data() + t.offset});
  io::write_safetensors(path, views, {{"format", "pt"}});
}

void load_weights(Model& m, const std::string& path) {
  io::SafetensorsFile file(path);
  for (const TensorInfo& t : m.layout.tensors) {
    check(file.contains(t.name), path, ": tensor ", t.name, " is missing");
    float* x = m.params.data() + t.offset;
    file.read_f32(t.name, x, t.shape);
    if (!kernels::all_finite(x, t.numel)) {  // a NaN weight would only show as NaN logits later
      std::size_t i = 0;
      while (i < t.numel && std::isfinite(x[i])) ++i;
      fail(path, ": tensor ", t.name, " holds a NaN or infinite value (element ", i, ": ", x[i],
           ")");
    }
  }
}

Model load_model_dir(const std::string& dir) {
  Model m(read_hf_config(dir + "/config.json"));
  load_weights(m, dir + "/model.safetensors");
  return m;
}

void save_model_dir(const Model& m, const std::string& dir) {
  write_hf_config(dir + "/config.json", m.config);
  save_weights(m, dir + "/model.safetensors");
}

}  // namespace harpe::model

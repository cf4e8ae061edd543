#include "model/weights_io.h"

#include "core/error.h"
#include "io/safetensors.h"

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
    file.read_f32(t.name, m.params.data() + t.offset, t.shape);
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

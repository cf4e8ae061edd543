#include "model/original_context.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "io/read_limits.h"

namespace harpe::model {

namespace fs = std::filesystem;

OriginalContext original_context(const std::string& model_dir, const ModelConfig& cfg) {
  if (cfg.rope.original_context > 0)
    return {cfg.rope.original_context, "config.json rope_scaling original_max_position_embeddings"};
  for (const fs::path& p : {fs::path(model_dir) / "run_config.json",
                            fs::path(model_dir).parent_path() / "run_config.json"}) {
    if (!fs::exists(p)) continue;
    const auto j = nlohmann::json::parse(
        io::read_regular_file(p.string(), io::kConfigFileLimit, "run config"), nullptr, false);
    if (j.is_object() && j.contains("original_context") &&
        j["original_context"].is_number_integer() && j["original_context"].get<int64_t>() > 0)
      return {j["original_context"].get<int64_t>(), p.string() + " original_context"};
  }
  const fs::path ts = fs::path(model_dir) / "trainer_state.json";
  if (fs::exists(ts)) {
    const auto j = nlohmann::json::parse(
        io::read_regular_file(ts.string(), io::kConfigFileLimit, "trainer state"), nullptr, false);
    if (j.is_object() && j.contains("context") && j["context"].is_number_integer() &&
        j["context"].get<int64_t>() > 0)
      return {j["context"].get<int64_t>(), ts.string() + " context"};
  }
  return {cfg.max_position_embeddings, "config.json max_position_embeddings"};
}

}  // namespace harpe::model

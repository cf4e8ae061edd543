#include "train/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/json_util.h"
#include "io/safetensors.h"
#include "model/weights_io.h"

namespace harpe::train {

namespace fs = std::filesystem;

namespace {

void fsync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;  // best effort: some filesystems do not allow it
  ::fsync(fd);
  ::close(fd);
}

std::string state_json(const TrainerState& s) {
  io::Json j;
  j["step"] = s.step;
  j["data_position"] = s.data_position;
  j["data_epoch"] = s.data_epoch;
  j["seed"] = s.seed;
  j["tokens_seen"] = s.tokens_seen;
  j["last_loss"] = s.last_loss;
  j["data"] = s.data;
  j["batch"] = s.batch;
  j["context"] = s.context;
  j["grad_accum"] = s.grad_accum;
  j["clip"] = s.clip;
  j["lr_schedule"] = {{"kind", std::string(schedule_name(s.schedule.kind))},
                      {"peak", s.schedule.peak},
                      {"warmup", s.schedule.warmup},
                      {"total", s.schedule.total},
                      {"min_ratio", s.schedule.min_ratio}};
  j["adamw"] = {{"beta1", s.adamw.beta1},
                {"beta2", s.adamw.beta2},
                {"eps", s.adamw.eps},
                {"weight_decay", s.adamw.weight_decay}};
  return j.dump(2) + "\n";
}

}  // namespace

void save_checkpoint(const std::string& dir, const model::Model& m, const AdamWState& opt,
                     const TrainerState& state, const std::string& tokenizer) {
  // Everything goes into a temp directory of an unpredictable name first (tokenizer included), so
  // DIR is complete whenever it exists; a failed save removes the temp directory.
  const std::string tmp = io::unique_temp_path(dir), old = dir + ".old";
  std::error_code ec;
  fs::create_directories(fs::absolute(fs::path(dir)).parent_path(), ec);
  check(fs::create_directory(tmp, ec) && !ec, "checkpoint: cannot create ", tmp, ": ",
        ec.message());
  try {
    model::save_model_dir(m, tmp);
    std::vector<io::TensorView> moments;
    for (const model::TensorInfo& t : m.layout.tensors) {
      moments.push_back({t.name + ".exp_avg", t.shape, opt.m.data() + t.offset});
      moments.push_back({t.name + ".exp_avg_sq", t.shape, opt.v.data() + t.offset});
    }
    io::write_safetensors(tmp + "/optimizer.safetensors", moments,
                          {{"adamw_step", std::to_string(opt.step)}});
    io::write_text_atomic(tmp + "/trainer_state.json", state_json(state));
    if (!tokenizer.empty())
      io::write_text_atomic(tmp + "/tokenizer.model", io::read_file(tokenizer));
    fsync_dir(tmp);
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }

  // Swap: the previous checkpoint survives as DIR.old until the new one is in place. If DIR is
  // missing, DIR.old may be the only complete checkpoint (an interrupted save): it is removed only
  // after the new one is in place; resolve_checkpoint() reads DIR.old when DIR is absent.
  if (fs::exists(dir)) {
    fs::remove_all(old, ec);
    fs::rename(dir, old, ec);
    if (ec) fs::remove_all(tmp);
    check(!ec, "checkpoint: cannot rename ", dir, " to ", old, ": ", ec.message());
  }
  fs::rename(tmp, dir, ec);
  if (ec) fs::remove_all(tmp);
  check(!ec, "checkpoint: cannot rename ", tmp, " to ", dir, ": ", ec.message());
  const fs::path parent = fs::absolute(fs::path(dir)).parent_path();
  fsync_dir(parent.string());
  fs::remove_all(old, ec);
}

std::string resolve_checkpoint(const std::string& dir) {
  for (const std::string& d : {dir, dir + ".old"})
    if (fs::exists(d + "/trainer_state.json") && fs::exists(d + "/model.safetensors")) return d;
  fail("checkpoint ", dir,
       ": no trainer_state.json and model.safetensors there (nothing to resume)");
}

TrainerState read_trainer_state(const std::string& dir) {
  const std::string path = dir + "/trainer_state.json";
  const io::Json j = io::parse_json(io::read_file(path), path);
  TrainerState s;
  s.step = io::json_int(j, "step", path);
  s.data_position = static_cast<uint64_t>(io::json_int(j, "data_position", path));
  s.data_epoch = static_cast<uint64_t>(io::json_int_or(j, "data_epoch", 0, path));
  s.seed = static_cast<uint64_t>(io::json_int_or(j, "seed", 0, path));
  s.tokens_seen = static_cast<uint64_t>(io::json_int_or(j, "tokens_seen", 0, path));
  s.last_loss = io::json_double_or(j, "last_loss", 0.0, path);
  s.data = io::json_string_or(j, "data", "", path);
  s.batch = static_cast<int>(io::json_int(j, "batch", path));
  s.context = static_cast<int>(io::json_int(j, "context", path));
  s.grad_accum = static_cast<int>(io::json_int_or(j, "grad_accum", 1, path));
  s.clip = io::json_double_or(j, "clip", 1.0, path);
  check(j.contains("lr_schedule") && j["lr_schedule"].is_object(), path, ": missing lr_schedule");
  const io::Json& ls = j["lr_schedule"];
  const std::string lw = path + ": lr_schedule";
  s.schedule.kind = parse_schedule(io::json_string(ls, "kind", lw));
  s.schedule.peak = io::json_double(ls, "peak", lw);
  s.schedule.warmup = io::json_int(ls, "warmup", lw);
  s.schedule.total = io::json_int(ls, "total", lw);
  s.schedule.min_ratio = io::json_double(ls, "min_ratio", lw);
  check(j.contains("adamw") && j["adamw"].is_object(), path, ": missing adamw");
  const io::Json& a = j["adamw"];
  const std::string aw = path + ": adamw";
  s.adamw.beta1 = io::json_double(a, "beta1", aw);
  s.adamw.beta2 = io::json_double(a, "beta2", aw);
  s.adamw.eps = io::json_double(a, "eps", aw);
  s.adamw.weight_decay = io::json_double(a, "weight_decay", aw);
  check(s.step >= 0 && s.batch > 0 && s.context > 0 && s.grad_accum > 0, path,
        ": step, batch, context or grad_accum out of range");
  return s;
}

void load_checkpoint(const std::string& dir, model::Model& m, AdamWState& opt,
                     TrainerState& state) {
  state = read_trainer_state(dir);
  model::load_weights(m, dir + "/model.safetensors");
  const std::string path = dir + "/optimizer.safetensors";
  io::SafetensorsFile file(path);
  for (const model::TensorInfo& t : m.layout.tensors) {
    file.read_f32(t.name + ".exp_avg", opt.m.data() + t.offset, t.shape);
    file.read_f32(t.name + ".exp_avg_sq", opt.v.data() + t.offset, t.shape);
  }
  const auto& meta = file.metadata();
  auto it = meta.find("adamw_step");
  check(it != meta.end(), path, ": metadata adamw_step is missing");
  opt.step = std::stol(it->second);
}

}  // namespace harpe::train

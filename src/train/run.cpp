#include "train/run.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "core/error.h"
#include "core/system.h"
#include "core/timer.h"
#include "io/atomic_file.h"
#include "io/dir_lock.h"
#include "io/json_util.h"
#include "model/weights_io.h"
#include "train/dist.h"
#include "train/stop.h"

namespace harpe::train {

namespace fs = std::filesystem;

std::string checkpoint_dir(const RunTarget& t) { return t.out_dir + "/checkpoint"; }
std::string metrics_path(const RunTarget& t) { return t.out_dir + "/metrics.jsonl"; }

LoopHooks prepare_parallel(TrainOptions& t, const LoopHooks& hooks) {
  const int cp = t.context_parallel;
  check(cp >= 1, "--context-parallel must be >= 1, got ", cp);
  const dist::Comm& comm = dist::init(hooks.distributed || cp > 1);
  check(cp == 1 || comm.size > 1, "--context-parallel ", cp, " needs ", cp,
        " MPI ranks per sequence, but this run has 1 (start it with mpirun -np ", cp,
        " harpe ... --distributed)");
  check(comm.size % cp == 0, "--context-parallel ", cp, " must divide the ", comm.size,
        " ranks (mpirun -np)");
  check(t.context % (2 * cp) == 0 || cp == 1, "--context ", t.context,
        " must be a multiple of 2 x --context-parallel = ", 2 * cp,
        " (each rank holds two equal chunks of every sequence)");
  const int dp = comm.size / cp;
  check(t.batch % dp == 0, "--batch ", t.batch, " must be a multiple of the ", dp,
        " data-parallel ranks (mpirun -np", cp > 1 ? " / --context-parallel" : "", ")");
  t.data_parallel = true;
  LoopHooks h = hooks;
  h.quiet = hooks.quiet || !comm.is_root();
  if (!h.quiet) {
    if (cp > 1)
      std::printf(
          "context parallel: %d ranks per sequence (%d tokens each) x %d data-parallel "
          "groups of %d sequences per micro-batch (memory below is per rank)\n",
          cp, t.context / cp, dp, t.batch / dp);
    else if (comm.size > 1)
      std::printf(
          "data parallel: %d ranks, %d sequences each per micro-batch (memory below is "
          "per rank)\n",
          comm.size, t.batch / comm.size);
  }
  return h;
}

void print_precision(Precision p) {
  std::printf(
      "precision: %s (%s)%s\n", precision_name(p), cpu_bf16_features().c_str(),
      p == Precision::bf16 ? "; bf16 GEMM inputs, fp32 accumulation and master weights" : "");
}

void preflight(const TrainOptions& t, bool quiet) {
  const int ranks = t.data_parallel ? dist::world().size : 1;
  const int cp = t.context_parallel, dp = ranks / cp;
  model::MemoryEstimate mem =
      model::estimate_training_memory(t.config, t.batch / dp, t.context / cp, t.recompute);
  if (cp > 1) mem.activations += cp_ring_bytes(t.config, t.batch / dp, t.context / cp);
  const std::size_t avail = available_memory_bytes();
  if (!quiet)
    std::printf(
        "memory: %s needed at context %d (params %s, grads %s, AdamW %s, activations %s%s); "
        "%s available\n",
        format_bytes(double(mem.total())).c_str(), t.context,
        format_bytes(double(mem.params)).c_str(), format_bytes(double(mem.grads)).c_str(),
        format_bytes(double(mem.optimizer)).c_str(), format_bytes(double(mem.activations)).c_str(),
        t.recompute ? ", recompute" : "", avail ? format_bytes(double(avail)).c_str() : "unknown");
  check(avail == 0 || mem.total() <= avail, "not enough memory: training at context ", t.context,
        " with batch ", t.batch, " needs ", format_bytes(double(mem.total())), " but ",
        format_bytes(double(avail)),
        " is available; try --recompute, a smaller --batch or --context, or a smaller model");
}

void save_run_checkpoint(const Trainer& t, const std::string& dir, const std::string& tokenizer) {
  if (dist::world().is_root()) t.save(dir, tokenizer);
  dist::barrier();  // the others may read it next
}

namespace {

// metrics.jsonl, appended line by line: opened without following a symlink, every write checked.
class MetricsLog {
 public:
  explicit MetricsLog(const std::string& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd_ < 0) fail("cannot write ", path, ": ", std::strerror(errno));
  }
  ~MetricsLog() {
    if (fd_ >= 0) ::close(fd_);
  }
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;
  void append(const std::string& line) {
    const std::string text = line + "\n";
    const char* p = text.data();
    std::size_t left = text.size();
    while (left > 0) {
      const ssize_t n = ::write(fd_, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) fail("cannot write ", path_, ": ", std::strerror(errno));
      p += n;
      left -= static_cast<std::size_t>(n);
    }
  }

 private:
  std::string path_;
  int fd_ = -1;
};

// Every rank must leave the loop at the same step (the next step's all-reduce would hang
// otherwise), so a signal seen by any rank stops all of them.
bool stop_agreed() {
  if (dist::world().size == 1) return stop_requested();
  double flag = stop_requested() ? 1.0 : 0.0;
  dist::allreduce_sum(&flag, 1);
  return flag > 0;
}

[[noreturn]] void fail_not_finite(const StepResult& r, const std::string& ckpt, long last_saved) {
  std::ostringstream why;
  why << "step " << r.step + 1 << ": " << (std::isfinite(r.loss) ? "gradient norm" : "loss")
      << " is not finite (loss " << r.loss << ", grad norm " << r.grad_norm
      << "); stopped without updating. ";
  if (last_saved >= 0)
    why << "The last good checkpoint (step " << last_saved << ") in " << ckpt << " is intact";
  else
    why << "No checkpoint was saved yet";
  why << "; try a lower --lr or --clip";
  fail(why.str());
}

void keep_model(const Trainer& t, const RunTarget& target, long step, const LoopHooks& hooks) {
  const std::string dir = target.out_dir + "/step-" + std::to_string(step);
  fs::create_directories(dir);
  model::save_model_dir(t.model(), dir, hooks.weights);
  if (!hooks.tokenizer.empty())
    io::write_text_atomic(dir + "/tokenizer.model", io::read_file(hooks.tokenizer));
}

}  // namespace

void write_model_dir(const model::Model& m, const std::string& dir, const std::string& tokenizer,
                     const model::WeightsFormat& format) {
  const std::string tmp = io::unique_temp_path(dir);
  std::error_code ec;
  fs::create_directories(tmp);
  try {
    model::save_model_dir(m, tmp, format);
    if (!tokenizer.empty())
      io::write_text_atomic(tmp + "/tokenizer.model", io::read_file(tokenizer));
    fs::remove_all(dir, ec);
    fs::rename(tmp, dir);
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

std::string export_dir(const RunTarget& t) { return t.out_dir + "/model"; }

void export_model(const Trainer& t, const RunTarget& target, const LoopHooks& hooks, bool quiet) {
  if (!hooks.export_model || !dist::world().is_root()) return;
  const std::string dir = export_dir(target);
  write_model_dir(t.model(), dir, hooks.tokenizer, hooks.weights);
  if (!quiet) {
    const bool sharded = fs::exists(dir + "/model.safetensors.index.json");
    std::printf("exported %s (%s, %s)\n", dir.c_str(), io::store_dtype_name(hooks.weights.dtype),
                sharded ? "sharded, model.safetensors.index.json" : "model.safetensors");
  }
}

RunEnd drive(Trainer& t, const RunTarget& target, const LoopHooks& hooks, long last_saved) {
  const bool root = dist::world().is_root();
  const bool quiet = hooks.quiet || !root;
  const std::string ckpt = checkpoint_dir(target);
  std::unique_ptr<MetricsLog> metrics;
  if (root) metrics = std::make_unique<MetricsLog>(metrics_path(target));
  auto save = [&] {
    save_run_checkpoint(t, ckpt, hooks.tokenizer);
    last_saved = t.steps_done();
  };
  const long first = t.steps_done();
  const std::string stage =
      target.stage >= 0 ? "stage " + std::to_string(target.stage + 1) + " | " : std::string();
  Timer wall;
  while (t.steps_done() < target.end_step) {
    if (stop_agreed()) break;  // before the step: a stop during setup saves the start
    const StepResult r = t.step();
    if (!r.finite) fail_not_finite(r, ckpt, last_saved);
    const double elapsed = wall.seconds();
    const double done = static_cast<double>(r.step - first);
    const double tok_s = done * static_cast<double>(t.tokens_per_step()) / elapsed;
    const double eta = elapsed / done * static_cast<double>(target.total_steps - r.step);
    if (!quiet && (r.step % hooks.log_every == 0 || r.step == target.end_step)) {
      std::printf("%sstep %ld/%ld | loss %.4f | lr %.3e | norm %.3f | %.0f tok/s | %s | ETA %s\n",
                  stage.c_str(), r.step, target.total_steps, r.loss, r.lr, r.grad_norm, tok_s,
                  format_duration(elapsed).c_str(), format_duration(eta).c_str());
      std::fflush(stdout);
    }
    if (root) {
      io::Json line = {{"step", r.step},
                       {"loss", r.loss},
                       {"lr", r.lr},
                       {"grad_norm", r.grad_norm},
                       {"step_seconds", r.seconds},
                       {"tokens_per_s", tok_s},
                       {"tokens_seen", t.state().tokens_seen},
                       {"context", t.options().context},
                       {"elapsed_s", elapsed}};
      if (target.stage >= 0) line["stage"] = target.stage + 1;
      metrics->append(line.dump());
    }
    if (hooks.on_step) hooks.on_step(r.step);
    if (hooks.keep_every > 0 && r.step % hooks.keep_every == 0 && root)
      keep_model(t, target, r.step, hooks);
    if (hooks.save_every > 0 && r.step % hooks.save_every == 0 && r.step != target.end_step) save();
  }
  if (t.steps_done() < target.end_step) {  // stopped by a signal
    if (last_saved != t.steps_done()) save();
    if (root)
      std::printf(
          "interrupted: saved %s at step %ld; rerun the same command with --resume to "
          "continue\n",
          ckpt.c_str(), t.steps_done());
    std::fflush(stdout);
    return RunEnd::interrupted;
  }
  if (last_saved != t.steps_done()) save();
  return RunEnd::finished;
}

// ---------------------------------------------------------------------------------------------

std::string train_options_json(const TrainOptions& o) {
  const io::Json j = {{"context", o.context},
                      {"batch", o.batch},
                      {"grad_accum", o.grad_accum},
                      {"steps", o.steps},
                      {"lr", o.schedule.peak},
                      {"warmup", o.schedule.warmup},
                      {"schedule", std::string(schedule_name(o.schedule.kind))},
                      {"min_lr_ratio", o.schedule.min_ratio},
                      {"adamw",
                       {{"beta1", o.adamw.beta1},
                        {"beta2", o.adamw.beta2},
                        {"eps", o.adamw.eps},
                        {"weight_decay", o.adamw.weight_decay}}},
                      {"clip", o.clip},
                      {"recompute", o.recompute},
                      {"precision", precision_name(o.precision)},
                      {"seed", o.seed},
                      {"loss", o.answers_only ? "answers" : "all"},
                      {"data_seed", o.data_seed},
                      {"context_parallel", o.context_parallel}};
  return j.dump();
}

void check_same_run_config(const std::string& saved_json, const std::string& now_json,
                           const std::string& path, const std::string& override_keys) {
  io::Json saved = io::parse_json(saved_json, path);
  // Runs recorded before --precision existed multiplied in fp32.
  if (saved.contains("train") && saved["train"].is_object() &&
      !saved["train"].contains("precision"))
    saved["train"]["precision"] = "fp32";
  const io::Json now = io::parse_json(now_json, "the flags");
  std::vector<std::string> allowed;
  std::stringstream keys(override_keys);
  for (std::string k; std::getline(keys, k, ',');)
    if (!k.empty()) allowed.push_back(k);
  // The step budget may grow on --resume (continue a finished run for longer): not a
  // hyper-parameter of the steps already taken.
  allowed.push_back("train.steps");
  auto ok = [&](const std::string& key) {
    return std::find(allowed.begin(), allowed.end(), key) != allowed.end();
  };
  for (auto it = now.begin(); it != now.end(); ++it) {
    const std::string& k = it.key();
    if (ok(k)) continue;
    check(saved.contains(k), "--resume: ", path, " has no \"", k,
          "\"; rerun with the original flags");
    if (it.value().is_object() && saved[k].is_object()) {
      for (auto in = it.value().begin(); in != it.value().end(); ++in) {
        const std::string kk = k + "." + in.key();
        if (ok(kk)) continue;
        check(saved[k].contains(in.key()) && saved[k][in.key()] == in.value(), "--resume: ", kk,
              " is ", in.value().dump(), " now but ",
              saved[k].contains(in.key()) ? saved[k][in.key()].dump() : std::string("absent"),
              " in ", path, "; rerun with the original flags, or --override ", kk);
      }
    } else {
      check(saved[k] == it.value(), "--resume: ", k, " is ", it.value().dump(), " now but ",
            saved[k].dump(), " in ", path, "; rerun with the original flags, or --override ", k);
    }
  }
}

RunEnd run_pretrain(const PretrainOptions& po_in) {
  check(!po_in.out_dir.empty(), "--out is required");
  PretrainOptions po = po_in;
  TrainOptions& opts = po.train;
  po.hooks = prepare_parallel(opts, po.hooks);
  const bool root = dist::world().is_root();
  RunTarget target;
  target.out_dir = po.out_dir;
  const std::string ckpt = checkpoint_dir(target), rc_path = po.out_dir + "/run_config.json";
  std::unique_ptr<io::DirLock> lock;
  if (root) lock = std::make_unique<io::DirLock>(po.out_dir);
  if (po.resume) {
    opts.config = model::read_hf_config(resolve_checkpoint(ckpt) + "/config.json");
  } else {
    check(!fs::exists(ckpt) && !fs::exists(ckpt + ".old"), ckpt,
          " already exists: pass --resume to continue that run, or choose another --out");
    if (po.record_c0) opts.config.max_position_embeddings = opts.context;  // C0 for `extend`
  }
  if (!po.hooks.tokenizer.empty())
    check(fs::is_regular_file(po.hooks.tokenizer), "--tokenizer ", po.hooks.tokenizer,
          ": no such file");
  opts.config.validate();
  TokenWindows data = TokenWindows::from_shard(po.data_path, /*shuffle=*/true, opts.data_seed,
                                               /*align=*/true, opts.answers_only);
  check(data.vocab_size() <= static_cast<uint32_t>(opts.config.vocab_size), po.data_path,
        ": the shard's vocabulary (", data.vocab_size(), ") is larger than the model's (",
        opts.config.vocab_size, ")");
  if (!po.hooks.quiet) {
    std::printf("model: %s\n", model::describe(opts.config).c_str());
    print_precision(opts.precision);
  }
  preflight(opts, po.hooks.quiet);

  const io::Json rc = {{"command", po.command},
                       {"data", po.data_path},
                       {"tokenizer", po.hooks.tokenizer},
                       {"model", io::parse_json(model::to_hf_config(opts.config), "config")},
                       {"train", io::parse_json(train_options_json(opts), "train options")}};
  if (root) {
    if (po.resume && fs::exists(rc_path))
      check_same_run_config(io::read_file(rc_path), rc.dump(), rc_path, po.override_keys);
    if (!po.resume || !po.override_keys.empty()) io::write_text_atomic(rc_path, rc.dump(2) + "\n");
  }
  StopGuard guard;
  std::unique_ptr<Trainer> trainer = po.resume
                                         ? std::make_unique<Trainer>(opts, std::move(data), ckpt)
                                         : std::make_unique<Trainer>(opts, std::move(data));
  target.end_step = target.total_steps = opts.steps;
  long last_saved = -1;
  if (root) {
    if (po.resume) {
      last_saved = trainer->steps_done();
      truncate_metrics(metrics_path(target), trainer->steps_done());
    } else {
      io::write_text_atomic(metrics_path(target), "");  // a fresh run never appends to old lines
    }
  }
  if (!po.hooks.quiet) {
    if (po.resume)
      std::printf("resumed %s at step %ld (data position %llu)\n", ckpt.c_str(),
                  trainer->steps_done(),
                  static_cast<unsigned long long>(trainer->state().data_position));
    std::printf(
        "%s: %ld steps at context %d, %llu tokens/step (batch %d x context %d x accum %d), "
        "%.3g GFLOP/token\n",
        po.command.c_str(), opts.steps, opts.context,
        static_cast<unsigned long long>(trainer->tokens_per_step()), opts.batch, opts.context,
        opts.grad_accum, model::flops_per_token(opts.config, opts.context) / 1e9);
    std::fflush(stdout);
  }
  const RunEnd end = drive(*trainer, target, po.hooks, last_saved);
  if (end == RunEnd::finished && !po.hooks.quiet)
    std::printf("saved %s (step %ld)\n", ckpt.c_str(), trainer->steps_done());
  if (end == RunEnd::finished) export_model(*trainer, target, po.hooks, po.hooks.quiet);
  return end;
}

void truncate_metrics(const std::string& path, long step) {
  std::ifstream in(path);
  if (!in) return;
  std::string line, kept;
  while (std::getline(in, line)) {
    const auto j = io::Json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.contains("step") && j["step"].is_number_integer() &&
        j["step"].get<long>() <= step)
      kept += line + "\n";
  }
  in.close();
  io::write_text_atomic(path, kept);
}

}  // namespace harpe::train

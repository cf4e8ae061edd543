#include "train/trainer.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/system.h"
#include "core/timer.h"
#include "io/atomic_file.h"
#include "io/json_util.h"

namespace harpe::train {

namespace fs = std::filesystem;

namespace {

model::Mode train_mode(bool recompute) {
  return recompute ? model::Mode::train_recompute : model::Mode::train;
}

void check_options(const TrainOptions& o) {
  check(o.context > 0, "--context must be positive, got ", o.context);
  check(o.batch > 0, "--batch must be positive, got ", o.batch);
  check(o.grad_accum > 0, "--grad-accum must be positive, got ", o.grad_accum);
  check(o.steps > 0, "--steps must be positive, got ", o.steps);
  check(o.schedule.peak > 0 && std::isfinite(o.schedule.peak), "--lr must be positive, got ",
        o.schedule.peak);
  check(o.schedule.warmup >= 0, "--warmup must be >= 0, got ", o.schedule.warmup);
  check(o.adamw.weight_decay >= 0, "--weight-decay must be >= 0, got ", o.adamw.weight_decay);
}

}  // namespace

Trainer::Trainer(const TrainOptions& opts, TokenWindows data) : opts_(opts), data_(std::move(data)) {
  check_options(opts_);
  opts_.schedule.total = opts_.steps;
  model_ = std::make_unique<model::Model>(opts_.config);
  model::init_params(*model_, opts_.seed);
  setup();
  state_.seed = opts_.seed;
}

Trainer::Trainer(const TrainOptions& opts, TokenWindows data, const std::string& dir)
    : opts_(opts), data_(std::move(data)) {
  check_options(opts_);
  opts_.schedule.total = opts_.steps;
  const std::string src = resolve_checkpoint(dir);
  opts_.config = model::read_hf_config(src + "/config.json");
  model_ = std::make_unique<model::Model>(opts_.config);
  setup();
  load_checkpoint(src, *model_, *opt_, state_);
  check(state_.batch == opts_.batch && state_.context == opts_.context &&
            state_.grad_accum == opts_.grad_accum,
        "resume ", src, ": the checkpoint was trained with --batch ", state_.batch, " --context ",
        state_.context, " --grad-accum ", state_.grad_accum, "; pass the same values to continue it");
  check(opt_->step == state_.step, "resume ", src, ": optimizer step ", opt_->step,
        " differs from trainer step ", state_.step);
  data_.seek(state_.data_position, state_.data_epoch);
}

void Trainer::setup() {
  comm_ = opts_.data_parallel ? dist::world() : dist::Comm{};
  const int cp = opts_.context_parallel;
  check(cp >= 1, "--context-parallel must be >= 1, got ", cp);
  check(cp == 1 || comm_.size > 1, "--context-parallel ", cp,
        " needs that many MPI ranks (start with mpirun -np ", cp, " ... --distributed)");
  check(comm_.size % cp == 0, "--context-parallel ", cp, " must divide the ", comm_.size,
        " ranks (mpirun -np)");
  check(opts_.context % (2 * cp) == 0, "--context ", opts_.context,
        " must be a multiple of 2 x --context-parallel = ", 2 * cp,
        " (each rank holds two equal chunks)");
  dp_size_ = comm_.size / cp;
  dp_rank_ = comm_.rank / cp;
  check(opts_.batch % dp_size_ == 0, "--batch ", opts_.batch, " must be a multiple of the ",
        dp_size_, " data-parallel ranks");
  local_batch_ = opts_.batch / dp_size_;
  local_context_ = opts_.context / cp;
  model_->enable_grads();
  ws_ = std::make_unique<model::Workspace>(opts_.config, local_batch_, local_context_,
                                           train_mode(opts_.recompute), opts_.context);
  if (cp > 1) {
    cp_comm_ = dist::split_consecutive(cp);
    ring_ = std::make_unique<RingAttention>(cp_comm_);
    ws_->attention = ring_.get();
    const std::size_t full = static_cast<std::size_t>(local_batch_) * opts_.context;
    full_tokens_.resize(full);
    full_targets_.resize(full);
    positions_.resize(static_cast<std::size_t>(local_batch_) * local_context_);
    cp_positions(positions_.data(), local_batch_, opts_.context, cp, cp_comm_.rank);
  }
  opt_ = std::make_unique<AdamWState>(model_->layout.total);
  tokens_.resize(static_cast<std::size_t>(local_batch_) * local_context_);
  targets_.resize(tokens_.size());
  state_.batch = opts_.batch;
  state_.context = opts_.context;
  state_.grad_accum = opts_.grad_accum;
  state_.schedule = opts_.schedule;
  state_.adamw = opts_.adamw;
  state_.clip = opts_.clip;
  state_.data = data_.name();
}

model::LossSum Trainer::local_forward_backward(float scale) {
  data_.next_batch_part(opts_.batch, opts_.context, dp_rank_ * local_batch_, local_batch_,
                        tokens_.data(), targets_.data());
  return model::forward_backward(*model_, *ws_, tokens_.data(), targets_.data(), scale);
}

// Every rank of a CP group reads the same sequences and keeps its two chunks of each.
model::LossSum Trainer::cp_forward_backward(float scale) {
  const int cp = opts_.context_parallel;
  data_.next_batch_part(opts_.batch, opts_.context, dp_rank_ * local_batch_, local_batch_,
                        full_tokens_.data(), full_targets_.data());
  cp_slice(tokens_.data(), full_tokens_.data(), local_batch_, opts_.context, cp, cp_comm_.rank);
  cp_slice(targets_.data(), full_targets_.data(), local_batch_, opts_.context, cp, cp_comm_.rank);
  return model::forward_backward(*model_, *ws_, tokens_.data(), targets_.data(), scale,
                                 positions_.data());
}

StepResult Trainer::step() {
  Timer timer;
  StepResult r;
  model_->zero_grads();
  const float scale = 1.0f / static_cast<float>(tokens_per_step());
  double sum = 0;
  long count = 0;
  for (int a = 0; a < opts_.grad_accum; ++a) {
    const model::LossSum l = opts_.context_parallel > 1 ? cp_forward_backward(scale)
                                                         : local_forward_backward(scale);
    sum += l.sum;
    count += l.count;
  }
  if (comm_.size > 1) {
    // Every rank scaled by 1 / global tokens, so the sum over ranks is the 1-rank gradient.
    dist::allreduce_sum(model_->grads.data(), model_->grads.size());
    double loss[2] = {sum, static_cast<double>(count)};
    dist::allreduce_sum(loss, 2);
    sum = loss[0];
    count = static_cast<long>(loss[1]);
  }
  // Gradients were scaled by 1 / (all tokens of the step); the loss is the mean over the scored
  // ones. When some targets are not scored (loss on answers only), rescale so the gradient is
  // that of the mean (a factor of exactly 1 otherwise: text runs are unchanged bit for bit).
  if (count > 0 && static_cast<uint64_t>(count) != tokens_per_step()) {
    const float k = static_cast<float>(static_cast<double>(tokens_per_step()) / static_cast<double>(count));
    float* g = model_->grads.data();
    const std::size_t n = model_->grads.size();
#pragma omp parallel for simd schedule(static)
    for (std::size_t i = 0; i < n; ++i) g[i] *= k;
  }
  r.loss = count ? sum / static_cast<double>(count) : 0.0;
  r.lr = opts_.schedule.at(state_.step);
  r.grad_norm = clip_grad_norm(*model_, opts_.clip);
  r.finite = std::isfinite(r.loss) && std::isfinite(r.grad_norm);
  if (r.finite) {
    adamw_update(*model_, *opt_, opts_.adamw, r.lr);
    ++state_.step;
    state_.tokens_seen += tokens_per_step();
    state_.data_position = data_.position();
    state_.data_epoch = data_.epoch();
    state_.last_loss = r.loss;
  }
  r.step = state_.step;
  r.seconds = timer.seconds();
  return r;
}

void Trainer::save(const std::string& dir) const { save_checkpoint(dir, *model_, *opt_, state_); }

void run_training(const RunOptions& run) {
  TrainOptions opts = run.train;
  check(!run.out_dir.empty(), "--out is required");
  const dist::Comm comm = dist::init(run.require_mpi);
  const bool root = comm.is_root();
  opts.data_parallel = true;
  const int cp = opts.context_parallel;
  check(cp >= 1, "--context-parallel must be >= 1, got ", cp);
  check(cp == 1 || comm.size > 1, "--context-parallel ", cp, " needs ", cp,
        " MPI ranks per sequence, but this run has 1 (start it with mpirun -np ", cp,
        " harpe train ... --distributed)");
  check(comm.size % cp == 0, "--context-parallel ", cp, " must divide the ", comm.size,
        " ranks (mpirun -np)");
  check(opts.context % (2 * cp) == 0, "--context ", opts.context,
        " must be a multiple of 2 x --context-parallel = ", 2 * cp,
        " (each rank holds two equal chunks of every sequence)");
  const int dp = comm.size / cp;
  check(opts.batch % dp == 0, "--batch ", opts.batch, " must be a multiple of the ", dp,
        " data-parallel ranks (mpirun -np", cp > 1 ? " / --context-parallel" : "", ")");
  const std::string ckpt = run.out_dir + "/checkpoint";
  const std::string metrics_path = run.out_dir + "/metrics.jsonl";
  if (run.resume) {
    opts.config = model::read_hf_config(resolve_checkpoint(ckpt) + "/config.json");
  } else {
    check(!fs::exists(ckpt) && !fs::exists(ckpt + ".old"), ckpt,
          " already exists: pass --resume to continue that run, or choose another --out");
  }
  check_options(opts);

  TokenWindows data = TokenWindows::from_shard(run.data_path, /*shuffle=*/true, opts.data_seed,
                                               /*align=*/true, opts.answers_only);
  check(data.vocab_size() <= static_cast<uint32_t>(opts.config.vocab_size), run.data_path,
        ": the shard's vocabulary (", data.vocab_size(), ") is larger than the model's (",
        opts.config.vocab_size, ")");

  // Preflight: the estimate comes from the same sizing function that allocates.
  model::MemoryEstimate mem = model::estimate_training_memory(
      opts.config, opts.batch / dp, opts.context / cp, opts.recompute);
  if (cp > 1) mem.activations += cp_ring_bytes(opts.config, opts.batch / dp, opts.context / cp);
  const std::size_t avail = available_memory_bytes();
  if (root) {
    if (cp > 1)
      std::printf("context parallel: %d ranks per sequence (%d tokens each) x %d data-parallel "
                  "groups of %d sequences per micro-batch (memory below is per rank)\n",
                  cp, opts.context / cp, dp, opts.batch / dp);
    else if (comm.size > 1)
      std::printf("data parallel: %d ranks, %d sequences each per micro-batch (memory below is per "
                  "rank)\n", comm.size, opts.batch / comm.size);
    std::printf("model: %s\n", model::describe(opts.config).c_str());
    std::printf("memory: %s needed (params %s, grads %s, AdamW %s, activations %s%s); %s available\n",
                format_bytes(double(mem.total())).c_str(), format_bytes(double(mem.params)).c_str(),
                format_bytes(double(mem.grads)).c_str(), format_bytes(double(mem.optimizer)).c_str(),
                format_bytes(double(mem.activations)).c_str(), opts.recompute ? ", recompute" : "",
                avail ? format_bytes(double(avail)).c_str() : "unknown");
  }
  check(avail == 0 || mem.total() <= avail, "not enough memory: this run needs ",
        format_bytes(double(mem.total())), " but ", format_bytes(double(avail)),
        " is available; try --recompute, a smaller --batch or --context, or a smaller model");

  if (root) fs::create_directories(run.out_dir);
  std::unique_ptr<Trainer> trainer =
      run.resume ? std::make_unique<Trainer>(opts, std::move(data), ckpt)
                 : std::make_unique<Trainer>(opts, std::move(data));
  long last_saved = run.resume ? trainer->steps_done() : -1;
  if (run.resume && root) {
    truncate_metrics(metrics_path, trainer->steps_done());
    std::printf("resumed %s at step %ld (data position %llu)\n", ckpt.c_str(), trainer->steps_done(),
                static_cast<unsigned long long>(trainer->state().data_position));
  }
  // Only rank 0 writes: other ranks' streams stay closed and their output is dropped.
  std::ofstream metrics;
  if (root) {
    metrics.open(metrics_path, std::ios::app);
    check(static_cast<bool>(metrics), "cannot write ", metrics_path);
  }
  if (root)
    std::printf("training: %ld steps, %llu tokens/step (batch %d x context %d x accum %d), %.3g "
                "GFLOP/token\n",
                opts.steps, static_cast<unsigned long long>(trainer->tokens_per_step()), opts.batch,
                opts.context, opts.grad_accum,
                model::flops_per_token(opts.config, opts.context) / 1e9);
  std::fflush(stdout);

  const long first = trainer->steps_done();
  Timer wall;
  while (trainer->steps_done() < opts.steps) {
    const StepResult r = trainer->step();
    if (!r.finite) {
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
    const double elapsed = wall.seconds();
    const double done = static_cast<double>(r.step - first);
    const double tok_s = done * static_cast<double>(trainer->tokens_per_step()) / elapsed;
    const double eta = elapsed / done * static_cast<double>(opts.steps - r.step);
    if (root && (r.step % run.log_every == 0 || r.step == opts.steps)) {
      std::printf("step %ld/%ld | loss %.4f | lr %.3e | norm %.3f | %.0f tok/s | %s | ETA %s\n",
                  r.step, opts.steps, r.loss, r.lr, r.grad_norm, tok_s,
                  format_duration(elapsed).c_str(), format_duration(eta).c_str());
      std::fflush(stdout);
    }
    io::Json line = {{"step", r.step},
                     {"loss", r.loss},
                     {"lr", r.lr},
                     {"grad_norm", r.grad_norm},
                     {"step_seconds", r.seconds},
                     {"tokens_per_s", tok_s},
                     {"tokens_seen", trainer->state().tokens_seen},
                     {"elapsed_s", elapsed}};
    if (root) metrics << line.dump() << "\n" << std::flush;
    if (run.save_every > 0 && r.step % run.save_every == 0 && r.step != opts.steps) {
      if (root) trainer->save(ckpt);
      last_saved = r.step;
    }
  }
  if (last_saved != trainer->steps_done() && root) trainer->save(ckpt);
  if (root) std::printf("saved %s (step %ld)\n", ckpt.c_str(), trainer->steps_done());
  // Nobody leaves before the final checkpoint is in place (a following --resume reads it).
  dist::barrier();
}

// Keeps the metrics lines of steps <= `step` (a resumed run rewrites what came after).
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

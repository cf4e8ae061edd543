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
#include "kernels/gemm.h"

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

Trainer::Trainer(const TrainOptions& opts, TokenWindows data)
    : opts_(opts), data_(std::move(data)) {
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
        state_.context, " --grad-accum ", state_.grad_accum,
        "; pass the same values to continue it");
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
  const kernels::GemmPrecisionScope precision(opts_.precision);
  model_->zero_grads();
  const float scale = 1.0f / static_cast<float>(tokens_per_step());
  double sum = 0;
  long count = 0;
  for (int a = 0; a < opts_.grad_accum; ++a) {
    const model::LossSum l =
        opts_.context_parallel > 1 ? cp_forward_backward(scale) : local_forward_backward(scale);
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
    const float k =
        static_cast<float>(static_cast<double>(tokens_per_step()) / static_cast<double>(count));
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

void Trainer::save(const std::string& dir, const std::string& tokenizer) const {
  save_checkpoint(dir, *model_, *opt_, state_, tokenizer);
}

}  // namespace harpe::train

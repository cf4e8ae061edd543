// Running an extension (train/extend.h): each stage starts from a seed checkpoint written into
// OUT/checkpoint and goes through the one training driver (train/run.h).
#include "train/extend.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <sstream>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/dir_lock.h"
#include "io/json_util.h"
#include "model/weights_io.h"
#include "train/base_check.h"
#include "train/dist.h"
#include "train/run.h"
#include "train/stop.h"

namespace harpe::train {

namespace fs = std::filesystem;

namespace {

TrainOptions stage_train_options(const ExtendOptions& o, const ExtendPlan& plan, int i) {
  TrainOptions t;
  t.config = stage_config(plan, i);
  t.context = plan.stages[static_cast<std::size_t>(i)].context;
  t.batch = o.batch;
  t.grad_accum = o.grad_accum;
  t.steps = plan.stages[static_cast<std::size_t>(i)].end_step;  // cumulative over stages
  t.schedule.kind = parse_schedule(o.schedule);
  t.schedule.peak = o.lr;
  t.schedule.warmup = plan.warmup;
  t.schedule.min_ratio = o.min_lr_ratio;
  t.adamw.beta1 = o.beta1;
  t.adamw.beta2 = o.beta2;
  t.adamw.weight_decay = o.weight_decay;
  t.clip = o.clip;
  t.recompute = o.recompute;
  t.precision = o.precision;
  t.answers_only = o.answers_only;
  t.data_seed = o.data_seed;
  return t;
}

// Writes the checkpoint stage i starts from: weights (and, after stage 0, AdamW moments, step and
// data position) from `prev_dir`, with stage i's config and trainer settings.
void write_seed_checkpoint(const TrainOptions& t, int i, const std::string& prev_dir,
                           const std::string& ckpt, const std::string& data_name,
                           const std::string& tokenizer) {
  model::Model m(t.config);
  AdamWState opt(m.layout.total);
  TrainerState state;
  if (i == 0) {
    model::load_weights_dir(m, prev_dir);  // fresh optimizer, step 0 (one file or shards)
  } else {
    load_checkpoint(prev_dir, m, opt, state);  // carried moments, step and data position
  }
  state.batch = t.batch;
  state.context = t.context;
  state.grad_accum = t.grad_accum;
  state.schedule = t.schedule;
  state.schedule.total = t.steps;
  state.adamw = t.adamw;
  state.clip = t.clip;
  state.data = data_name;
  save_checkpoint(ckpt, m, opt, state, tokenizer);
}

bool complete_model_dir(const std::string& dir) {
  return fs::is_regular_file(dir + "/config.json") && model::has_weights(dir);
}

}  // namespace

RunEnd run_extend(const ExtendOptions& o) {
  const ExtendPlan plan = plan_extend(o);
  RunTarget target;
  target.out_dir = o.out_dir;
  target.total_steps = plan.stages.back().end_step;
  const std::string ckpt = checkpoint_dir(target), rc_path = o.out_dir + "/run_config.json";
  TrainOptions last = stage_train_options(o, plan, static_cast<int>(plan.stages.size()) - 1);
  LoopHooks hooks = prepare_parallel(last, o.hooks);
  hooks.tokenizer = plan.tokenizer;
  const bool quiet = hooks.quiet;
  const bool root = dist::world().is_root();
  std::unique_ptr<io::DirLock> lock;
  if (root) lock = std::make_unique<io::DirLock>(o.out_dir);

  long resume_step = -1;
  if (o.resume) {
    const std::string have = resolve_checkpoint(ckpt);
    check(fs::exists(rc_path), "--resume: ", rc_path, " is missing");
    check_same_run_config(io::read_file(rc_path), plan.run_config, rc_path, o.override_keys);
    resume_step = read_trainer_state(have).step;
  } else {
    check(!fs::exists(ckpt) && !fs::exists(ckpt + ".old"), ckpt,
          " already exists: pass --resume to continue that run, or choose another --out");
  }
  if (!quiet) {
    std::printf("extend: %s, C0 %d -> L %d (x%g), %zu stage(s), %ld steps\n",
                plan.source_dir.c_str(), plan.original_context, plan.context, plan.scaled.factor,
                plan.stages.size(), plan.stages.back().end_step);
    print_precision(o.precision);
    std::printf("run config (%s):\n%s", rc_path.c_str(), plan.run_config.c_str());
    std::printf("%s", check_base_bound(last.config, plan.context).text.c_str());
    std::fflush(stdout);
  }
  preflight(last, quiet);  // at the longest stage, before anything is written

  if (root) {
    if (!o.resume || !o.override_keys.empty()) io::write_text_atomic(rc_path, plan.run_config);
    if (!o.resume)
      io::write_text_atomic(metrics_path(target), "");
    else
      truncate_metrics(metrics_path(target), resume_step);
  }

  StopGuard guard;
  const bool staged = plan.stages.size() > 1;
  for (std::size_t k = 0; k < plan.stages.size(); ++k) {
    const ExtendStage& st = plan.stages[k];
    const long begin = k == 0 ? 0 : plan.stages[k - 1].end_step;
    const std::string stage_dir = o.out_dir + "/stage" + std::to_string(k + 1);
    if (resume_step >= st.end_step) {  // stage done: its model directory must be there
      if (staged && root && !complete_model_dir(stage_dir)) {
        check(resume_step == st.end_step, "--resume: ", stage_dir,
              " is incomplete and the "
              "checkpoint (step ",
              resume_step, ") is past that stage's end (step ", st.end_step,
              "): rerun the extension without --resume into a new --out");
        model::Model m(stage_config(plan, static_cast<int>(k)));
        model::load_weights(m, resolve_checkpoint(ckpt) + "/model.safetensors");
        write_model_dir(m, stage_dir, plan.tokenizer, hooks.weights);
      }
      continue;
    }
    TrainOptions t = stage_train_options(o, plan, static_cast<int>(k));
    t.data_parallel = true;
    // A checkpoint at exactly this stage's first step (or none yet) needs the stage's seed.
    if ((resume_step < 0 || resume_step == begin) && root)
      write_seed_checkpoint(t, static_cast<int>(k),
                            k == 0 ? plan.source_dir : resolve_checkpoint(ckpt), ckpt, o.data_path,
                            plan.tokenizer);
    dist::barrier();  // every rank loads the seed checkpoint next
    if (!quiet) {
      std::printf("stage %zu/%zu: context %d, steps %ld..%ld, %s\n", k + 1, plan.stages.size(),
                  st.context, begin + 1, st.end_step, model::describe(t.config).c_str());
      std::fflush(stdout);
    }
    TokenWindows data = TokenWindows::from_shard(o.data_path, /*shuffle=*/true, t.data_seed,
                                                 /*align=*/true, t.answers_only);
    check(data.vocab_size() <= static_cast<uint32_t>(plan.source_config.vocab_size), o.data_path,
          ": the shard's vocabulary (", data.vocab_size(), ") is larger than the model's (",
          plan.source_config.vocab_size, ")");
    Trainer trainer(t, std::move(data), ckpt);
    target.end_step = st.end_step;
    target.stage = staged ? static_cast<int>(k) : -1;
    if (drive(trainer, target, hooks, trainer.steps_done()) == RunEnd::interrupted)
      return RunEnd::interrupted;
    resume_step = st.end_step;
    // Each stage's final model, for evaluating the schedule stage by stage.
    if (staged && root) write_model_dir(trainer.model(), stage_dir, plan.tokenizer, hooks.weights);
    if (k + 1 == plan.stages.size()) export_model(trainer, target, hooks, quiet);
  }
  if (!quiet) std::printf("saved %s (step %ld)\n", ckpt.c_str(), plan.stages.back().end_step);
  return RunEnd::finished;
}

}  // namespace harpe::train

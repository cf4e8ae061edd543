#include "train/extend.h"

#include <csignal>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "core/timer.h"
#include "io/atomic_file.h"
#include "io/json_util.h"
#include "model/weights_io.h"
#include "rope/bases.h"
#include "train/base_check.h"
#include "train/dist.h"

namespace harpe::train {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// Stop flag.

namespace {

volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_stop_signal(int) { g_stop = 1; }

using Handler = void (*)(int);
Handler g_prev_int = SIG_DFL, g_prev_term = SIG_DFL;

}  // namespace

StopGuard::StopGuard() {
  g_stop = 0;
  g_prev_int = std::signal(SIGINT, on_stop_signal);
  g_prev_term = std::signal(SIGTERM, on_stop_signal);
}

StopGuard::~StopGuard() {
  std::signal(SIGINT, g_prev_int == SIG_ERR ? SIG_DFL : g_prev_int);
  std::signal(SIGTERM, g_prev_term == SIG_ERR ? SIG_DFL : g_prev_term);
}

bool stop_requested() { return g_stop != 0; }

// ---------------------------------------------------------------------------------------------
// The loop shared by pretrain and extend.

namespace {

void copy_tokenizer(const std::string& tokenizer, const std::string& dir) {
  if (tokenizer.empty()) return;
  const std::string dst = dir + "/tokenizer.model";
  if (fs::exists(dst) && fs::equivalent(tokenizer, dst)) return;
  io::write_text_atomic(dst, io::read_file(tokenizer));
}

void save_with_tokenizer(const Trainer& t, const std::string& ckpt, const std::string& tokenizer) {
  t.save(ckpt);
  copy_tokenizer(tokenizer, ckpt);
}

// Memory estimate from the same sizing function that allocates; refuses what would not fit.
void preflight(const model::ModelConfig& cfg, int batch, int context, bool recompute, bool quiet) {
  const model::MemoryEstimate mem = model::estimate_training_memory(cfg, batch, context, recompute);
  const std::size_t avail = available_memory_bytes();
  if (!quiet)
    std::printf("memory: %s needed at context %d (params %s, grads %s, AdamW %s, activations %s%s); "
                "%s available\n",
                format_bytes(double(mem.total())).c_str(), context,
                format_bytes(double(mem.params)).c_str(), format_bytes(double(mem.grads)).c_str(),
                format_bytes(double(mem.optimizer)).c_str(),
                format_bytes(double(mem.activations)).c_str(), recompute ? ", recompute" : "",
                avail ? format_bytes(double(avail)).c_str() : "unknown");
  check(avail == 0 || mem.total() <= avail, "not enough memory: training at context ", context,
        " with batch ", batch, " needs ", format_bytes(double(mem.total())), " but ",
        format_bytes(double(avail)),
        " is available; try --recompute, a smaller --batch or --context, or a smaller model");
}

struct LoopState {
  std::string ckpt, metrics_path;
  std::string out_dir;  // where keep_every's step-N directories go
  long end_step = 0;   // the loop runs until the trainer has done this many steps
  long total_steps = 0;  // of the whole run (for the ETA and the progress line)
  int stage = -1;      // recorded in metrics when >= 0
  long last_saved = -1;
};

// Rank 0 writes checkpoints; the others wait until it is in place (they may read it next).
void save_on_root(const Trainer& t, const std::string& ckpt, const std::string& tokenizer) {
  if (dist::world().is_root()) save_with_tokenizer(t, ckpt, tokenizer);
  dist::barrier();
}

// Every rank must leave the loop at the same step (the next step's all-reduce would hang
// otherwise), so a signal seen by any rank stops all of them.
bool stop_agreed() {
  if (dist::world().size == 1) return stop_requested();
  double flag = stop_requested() ? 1.0 : 0.0;
  dist::allreduce_sum(&flag, 1);
  return flag > 0;
}

RunEnd train_loop(Trainer& t, LoopState& ls, const LoopHooks& hooks) {
  const bool root = dist::world().is_root();
  const bool quiet = hooks.quiet || !root;
  std::ofstream metrics;
  if (root) {
    metrics.open(ls.metrics_path, std::ios::app);
    check(static_cast<bool>(metrics), "cannot write ", ls.metrics_path);
  }
  const long first = t.steps_done();
  Timer wall;
  while (t.steps_done() < ls.end_step) {
    const StepResult r = t.step();
    if (!r.finite) {
      std::ostringstream why;
      why << "step " << r.step + 1 << ": " << (std::isfinite(r.loss) ? "gradient norm" : "loss")
          << " is not finite (loss " << r.loss << ", grad norm " << r.grad_norm
          << "); stopped without updating. ";
      if (ls.last_saved >= 0)
        why << "The last good checkpoint (step " << ls.last_saved << ") in " << ls.ckpt
            << " is intact";
      else
        why << "No checkpoint was saved yet";
      why << "; try a lower --lr or --clip";
      fail(why.str());
    }
    const double elapsed = wall.seconds();
    const double done = static_cast<double>(r.step - first);
    const double tok_s = done * static_cast<double>(t.tokens_per_step()) / elapsed;
    const double eta = elapsed / done * static_cast<double>(ls.total_steps - r.step);
    if (!quiet && (r.step % hooks.log_every == 0 || r.step == ls.end_step)) {
      std::printf("%sstep %ld/%ld | loss %.4f | lr %.3e | norm %.3f | %.0f tok/s | %s | ETA %s\n",
                  ls.stage >= 0 ? ("stage " + std::to_string(ls.stage + 1) + " | ").c_str() : "",
                  r.step, ls.total_steps, r.loss, r.lr, r.grad_norm, tok_s,
                  format_duration(elapsed).c_str(), format_duration(eta).c_str());
      std::fflush(stdout);
    }
    io::Json line = {{"step", r.step},
                     {"loss", r.loss},
                     {"lr", r.lr},
                     {"grad_norm", r.grad_norm},
                     {"step_seconds", r.seconds},
                     {"tokens_per_s", tok_s},
                     {"tokens_seen", t.state().tokens_seen},
                     {"context", t.options().context},
                     {"elapsed_s", elapsed}};
    if (ls.stage >= 0) line["stage"] = ls.stage + 1;
    if (root) metrics << line.dump() << "\n" << std::flush;
    if (hooks.on_step) hooks.on_step(r.step);
    if (stop_agreed() && r.step < ls.end_step) {
      save_on_root(t, ls.ckpt, hooks.tokenizer);
      ls.last_saved = r.step;
      if (root)
        std::printf("interrupted: saved %s at step %ld; rerun the same command with --resume to "
                    "continue\n",
                    ls.ckpt.c_str(), r.step);
      std::fflush(stdout);
      return RunEnd::interrupted;
    }
    if (hooks.keep_every > 0 && r.step % hooks.keep_every == 0 && root) {
      const std::string dir = ls.out_dir + "/step-" + std::to_string(r.step);
      fs::create_directories(dir);
      model::save_model_dir(t.model(), dir);
      copy_tokenizer(hooks.tokenizer, dir);
    }
    if (hooks.save_every > 0 && r.step % hooks.save_every == 0 && r.step != ls.end_step) {
      save_on_root(t, ls.ckpt, hooks.tokenizer);
      ls.last_saved = r.step;
    }
  }
  if (ls.last_saved != t.steps_done()) {
    save_on_root(t, ls.ckpt, hooks.tokenizer);
    ls.last_saved = t.steps_done();
  }
  return RunEnd::finished;
}

io::Json train_options_json(const TrainOptions& o) {
  return {{"context", o.context},
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
          {"seed", o.seed},
          {"loss", o.answers_only ? "answers" : "all"},
          {"data_seed", o.data_seed}};
}

// ---------------------------------------------------------------------------------------------
// pretrain

// Starts MPI when launched by mpirun (or fails when --distributed cannot be honoured); the
// returned hooks are quiet on every rank but 0.
LoopHooks start_data_parallel(int batch, const LoopHooks& hooks) {
  const dist::Comm& comm = dist::init(hooks.distributed);
  check(batch % comm.size == 0, "--batch ", batch, " must be a multiple of the ", comm.size,
        " data-parallel ranks (mpirun -np)");
  LoopHooks h = hooks;
  h.quiet = hooks.quiet || !comm.is_root();
  if (comm.size > 1 && !h.quiet)
    std::printf("data parallel: %d ranks, %d sequences each per micro-batch (memory below is per "
                "rank)\n", comm.size, batch / comm.size);
  return h;
}

}  // namespace

RunEnd run_pretrain(const PretrainOptions& po_in) {
  check(!po_in.out_dir.empty(), "--out is required");
  PretrainOptions po = po_in;
  TrainOptions opts = po.train;
  opts.data_parallel = true;
  po.hooks = start_data_parallel(opts.batch, po.hooks);
  const bool root = dist::world().is_root();
  const std::string ckpt = po.out_dir + "/checkpoint";
  const std::string metrics_path = po.out_dir + "/metrics.jsonl";
  if (po.resume) {
    opts.config = model::read_hf_config(resolve_checkpoint(ckpt) + "/config.json");
  } else {
    check(!fs::exists(ckpt) && !fs::exists(ckpt + ".old"), ckpt,
          " already exists: pass --resume to continue that run, or choose another --out");
    opts.config.max_position_embeddings = opts.context;  // C0: what `harpe extend` reads
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
  if (!po.hooks.quiet) std::printf("model: %s\n", model::describe(opts.config).c_str());
  preflight(opts.config, opts.batch / dist::world().size, opts.context, opts.recompute,
            po.hooks.quiet);

  if (root) fs::create_directories(po.out_dir);
  if (!po.resume && root) {
    io::Json rc = {{"command", "pretrain"},
                   {"data", po.data_path},
                   {"tokenizer", po.hooks.tokenizer},
                   {"model", io::parse_json(model::to_hf_config(opts.config), "config")},
                   {"train", train_options_json(opts)}};
    io::write_text_atomic(po.out_dir + "/run_config.json", rc.dump(2) + "\n");
  }
  StopGuard guard;
  std::unique_ptr<Trainer> trainer = po.resume ? std::make_unique<Trainer>(opts, std::move(data), ckpt)
                                               : std::make_unique<Trainer>(opts, std::move(data));
  LoopState ls;
  ls.ckpt = ckpt;
  ls.metrics_path = metrics_path;
  ls.out_dir = po.out_dir;
  ls.end_step = ls.total_steps = opts.steps;
  if (po.resume) {
    ls.last_saved = trainer->steps_done();
    if (root) truncate_metrics(metrics_path, trainer->steps_done());
    if (!po.hooks.quiet)
      std::printf("resumed %s at step %ld\n", ckpt.c_str(), trainer->steps_done());
  } else if (root && fs::exists(metrics_path)) {
    fs::remove(metrics_path);
  }
  if (!po.hooks.quiet) {
    std::printf("pretrain: %ld steps at context %d, %llu tokens/step\n", opts.steps, opts.context,
                static_cast<unsigned long long>(trainer->tokens_per_step()));
    std::fflush(stdout);
  }
  const RunEnd end = train_loop(*trainer, ls, po.hooks);
  if (end == RunEnd::finished && !po.hooks.quiet)
    std::printf("saved %s (step %ld)\n", ckpt.c_str(), trainer->steps_done());
  return end;
}

// ---------------------------------------------------------------------------------------------
// Stage lists.

std::vector<StageSpec> parse_stages(const std::string& text) {
  std::vector<StageSpec> out;
  std::string item;
  std::istringstream items(text);
  while (std::getline(items, item, ',')) {
    const std::string where = "--stages: stage " + std::to_string(out.size() + 1) + " '" + item + "'";
    StageSpec s;
    std::string kv;
    std::istringstream fields(item);
    bool has_base = false, has_len = false;
    while (std::getline(fields, kv, ':')) {
      const auto eq = kv.find('=');
      check(eq != std::string::npos, where, ": expected key=value, got '", kv, "'");
      const std::string key = kv.substr(0, eq), val = kv.substr(eq + 1);
      double x = 0;
      std::size_t used = 0;
      try {
        x = std::stod(val, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      check(used == val.size() && !val.empty() && std::isfinite(x), where, ": ", key,
            " is not a number: '", val, "'");
      if (key == "base") {
        check(x > 1, where, ": base must be > 1");
        s.base = x;
        has_base = true;
      } else if (key == "len" || key == "length" || key == "context") {
        check(x >= 2 && x == std::floor(x) && x < 1e9, where, ": len must be an integer >= 2");
        s.length = static_cast<int>(x);
        has_len = true;
      } else if (key == "tokens") {
        check(x >= 1 && x == std::floor(x), where, ": tokens must be a positive integer");
        s.tokens = static_cast<uint64_t>(x);
      } else if (key == "steps") {
        check(x >= 1 && x == std::floor(x), where, ": steps must be a positive integer");
        s.steps = static_cast<long>(x);
      } else {
        fail(where, ": unknown key '", key, "' (base, len, tokens, steps)");
      }
    }
    check(has_base && has_len, where, ": needs base=B and len=L");
    check((s.tokens > 0) != (s.steps > 0), where, ": give exactly one of tokens=N or steps=S");
    out.push_back(s);
  }
  check(!out.empty(), "--stages: no stages in '", text, "'");
  for (std::size_t i = 1; i < out.size(); ++i)
    check(out[i].length >= out[i - 1].length, "--stages: stage ", i + 1,
          " is shorter than the one before (", out[i].length, " < ", out[i - 1].length, ")");
  return out;
}

std::vector<StageSpec> read_stages_file(const std::string& path) {
  check(fs::is_regular_file(path), "--stages-file ", path, ": no such file");
  std::istringstream in(io::read_file(path));
  std::string line, joined;
  while (std::getline(in, line)) {
    line = line.substr(0, line.find('#'));
    std::string clean;
    for (char c : line)
      if (!std::isspace(static_cast<unsigned char>(c))) clean += c;
    if (clean.empty()) continue;
    if (!joined.empty() && joined.back() != ',' && clean.front() != ',') joined += ',';
    joined += clean;
  }
  check(!joined.empty(), "--stages-file ", path, ": no stages");
  return parse_stages(joined);
}

// ---------------------------------------------------------------------------------------------
// Planning.

std::string resolve_model_source(const std::string& from) {
  check(!from.empty(), "--from is required");
  for (const std::string& d : {from, from + ".old", from + "/checkpoint", from + "/checkpoint.old"})
    if (fs::exists(d + "/config.json") && fs::exists(d + "/model.safetensors")) return d;
  fail("--from ", from, ": no config.json and model.safetensors there (nor in ", from,
       "/checkpoint)");
}

namespace {

std::vector<double> parse_base_list(const std::string& text) {
  std::vector<double> out;
  std::string item;
  std::istringstream in(text);
  while (std::getline(in, item, ',')) {
    std::size_t used = 0;
    double x = 0;
    try {
      x = std::stod(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    check(used == item.size() && !item.empty() && std::isfinite(x) && x > 1, "--bases: '", item,
          "' is not a base > 1 (expected uniform, uniform-desc, peak-valley or a list b1,b2,...)");
    out.push_back(x);
  }
  return out;
}

long steps_for(uint64_t tokens, long steps, uint64_t tokens_per_step) {
  if (steps > 0) return steps;
  return static_cast<long>((tokens + tokens_per_step - 1) / tokens_per_step);
}

io::Json spec_json(const rope::RopeSpec& r) {
  io::Json j = {{"scheme", std::string(rope::scheme_name(r.scheme))}, {"base", r.base}};
  if (r.scheme == rope::Scheme::pi || r.scheme == rope::Scheme::ntk || r.scheme == rope::Scheme::yarn)
    j["factor"] = r.factor;
  if (r.scheme == rope::Scheme::yarn) {
    j["original_context"] = r.original_context;
    j["beta_fast"] = r.beta_fast;
    j["beta_slow"] = r.beta_slow;
  }
  if (r.scheme == rope::Scheme::harpe) j["bases"] = r.bases;
  return j;
}

}  // namespace

model::ModelConfig stage_config(const ExtendPlan& plan, int i) {
  model::ModelConfig c = plan.source_config;
  const ExtendStage& st = plan.stages.at(static_cast<std::size_t>(i));
  c.rope = st.rope;
  c.rope_scaling_extra = st.harpe_extra;
  c.max_position_embeddings = st.context;
  c.validate();
  return c;
}

ExtendPlan plan_extend(const ExtendOptions& o) {
  ExtendPlan plan;
  check(!o.out_dir.empty(), "--out is required");
  check(!o.data_path.empty(), "--data is required");
  plan.source_dir = resolve_model_source(o.from);
  plan.source_config = model::read_hf_config(plan.source_dir + "/config.json");
  const model::ModelConfig& src = plan.source_config;
  check(src.rope.scheme == rope::Scheme::rope, "--from ", plan.source_dir,
        ": extension starts from a model trained with plain RoPE, but its config.json has rope "
        "scheme '", rope::scheme_name(src.rope.scheme), "'");

  // C0: the trained context recorded by the trainer, else the config's.
  plan.original_context = o.original_context;
  if (plan.original_context <= 0) {
    plan.original_context = fs::exists(plan.source_dir + "/trainer_state.json")
                                ? read_trainer_state(plan.source_dir).context
                                : src.max_position_embeddings;
  }
  check(o.context > 0, "--context (target length L) is required and must be positive");
  plan.context = o.context;
  plan.scaled = rope::scaled_settings(plan.original_context, plan.context, src.head_size());
  const rope::ScaledSettings& sc = plan.scaled;

  check(o.batch > 0, "--batch must be positive, got ", o.batch);
  check(o.grad_accum > 0, "--grad-accum must be positive, got ", o.grad_accum);
  check(o.lr > 0 && std::isfinite(o.lr), "--lr must be positive, got ", o.lr);
  check(o.steps >= 0, "--steps must be >= 0, got ", o.steps);

  const bool staged = !o.stages.empty() || !o.stages_file.empty();
  check(!(o.tokens > 0 && o.steps > 0), "give at most one of --tokens and --steps");
  auto per_step = [&](int ctx) {
    return static_cast<uint64_t>(o.batch) * static_cast<uint64_t>(ctx) * o.grad_accum;
  };

  const std::string& m = o.method;
  if (staged) {
    check(m == "abf", "--stages applies to --method abf, not '", m, "'");
    check(o.stages.empty() || o.stages_file.empty(), "give --stages or --stages-file, not both");
    std::vector<StageSpec> specs;
    if (o.stages == "scaled") {
      check(o.tokens > 0 || o.steps > 0, "--stages scaled needs --tokens or --steps (split evenly)");
      for (const rope::StageSetting& s : sc.stages) {
        StageSpec sp;
        sp.base = s.base;
        sp.length = s.length;
        sp.steps = o.steps > 0 ? o.steps : 0;
        sp.tokens = o.steps > 0 ? 0 : std::max<uint64_t>(1, o.tokens / sc.stages.size());
        specs.push_back(sp);
      }
    } else {
      check(o.tokens == 0 && o.steps == 0,
            "--tokens/--steps do not apply to an explicit --stages list (each stage has tokens= or "
            "steps=)");
      specs = o.stages_file.empty() ? parse_stages(o.stages) : read_stages_file(o.stages_file);
    }
    check(specs.back().length == plan.context, "--stages: the last stage's len (",
          specs.back().length, ") must equal --context (", plan.context, ")");
    long end = 0;
    for (const StageSpec& sp : specs) {
      ExtendStage st;
      st.rope.scheme = rope::Scheme::rope;
      st.rope.base = sp.base;
      st.context = sp.length;
      st.steps = steps_for(sp.tokens, sp.steps, per_step(sp.length));
      end += st.steps;
      st.end_step = end;
      plan.stages.push_back(st);
    }
  } else {
    check(o.tokens > 0 || o.steps > 0, "give a budget: --tokens N or --steps S");
    ExtendStage st;
    st.context = plan.context;
    st.steps = steps_for(o.tokens, o.steps, per_step(plan.context));
    st.end_step = st.steps;
    rope::RopeSpec& r = st.rope;
    r.base = src.rope.base;
    const double factor = o.factor > 0 ? o.factor : sc.factor;
    if (m == "pi") {
      r.scheme = rope::Scheme::pi;
      r.factor = factor;
    } else if (m == "ntk") {
      r.scheme = rope::Scheme::ntk;
      r.factor = factor;
    } else if (m == "yarn") {
      r.scheme = rope::Scheme::yarn;
      r.factor = factor;
      r.original_context = plan.original_context;
      r.beta_fast = o.beta_fast;
      r.beta_slow = o.beta_slow;
    } else if (m == "abf") {
      r.scheme = rope::Scheme::rope;
      r.base = o.abf_base > 0 ? o.abf_base : sc.abf_base;
    } else if (m == "harpe") {
      r.scheme = rope::Scheme::harpe;
      const int kv = src.kv_heads();
      io::Json extra;
      if (o.bases == "uniform" || o.bases == "uniform-desc" || o.bases == "peak-valley") {
        const double bmin = o.bases_min > 0 ? o.bases_min : sc.harpe_min;
        const double bmax = o.bases_max > 0 ? o.bases_max : sc.harpe_max;
        const double stride = o.bases_stride > 0 ? o.bases_stride : sc.harpe_stride;
        const rope::BaseStrategy strat = rope::parse_base_strategy(o.bases);
        const rope::BaseSelection sel =
            rope::select_bases(strat, kv, bmin, bmax, stride, sc.peak_valley);
        r.bases = sel.bases;
        extra = {{"strategy", o.bases}, {"b_min", bmin}, {"b_max", bmax}};
        if (strat == rope::BaseStrategy::peak_valley) extra["stride"] = stride;
      } else {
        r.bases = parse_base_list(o.bases);
        extra = {{"strategy", "explicit"}};
      }
      st.harpe_extra = extra.dump();
    } else {
      fail("--method: unknown method '", m, "' (pi, abf, ntk, yarn, harpe)");
    }
    plan.stages.push_back(st);
  }
  // Every stage's table must build (catches bad factors, base lists of the wrong length ...).
  for (std::size_t i = 0; i < plan.stages.size(); ++i) {
    const model::ModelConfig c = stage_config(plan, static_cast<int>(i));
    (void)rope::build_table(c.rope, c.table_shape(), c.max_position_embeddings);
  }

  const long total = plan.stages.back().end_step;
  plan.warmup = o.warmup >= 0 ? o.warmup : std::max(1L, total / 20);
  check(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1,
        "--beta1/--beta2 must lie in [0, 1)");
  check(o.weight_decay >= 0, "--weight-decay must be >= 0, got ", o.weight_decay);
  check(o.clip >= 0, "--clip must be >= 0, got ", o.clip);
  (void)parse_schedule(o.schedule);

  // Tokenizer: the flag, else the source's.
  if (!o.tokenizer.empty()) {
    check(fs::is_regular_file(o.tokenizer), "--tokenizer ", o.tokenizer, ": no such file");
    plan.tokenizer = o.tokenizer;
  } else if (fs::exists(plan.source_dir + "/tokenizer.model")) {
    plan.tokenizer = plan.source_dir + "/tokenizer.model";
  }

  // Self-Extend settings for inference (recorded, not trained).
  int se_w = sc.self_extend_window, se_g = sc.self_extend_group;
  if (!o.self_extend.empty()) {
    char comma = 0;
    std::istringstream in(o.self_extend);
    check(static_cast<bool>(in >> se_w >> comma >> se_g) && comma == ',' && in.peek() == EOF &&
              se_w >= se_g && se_g >= 1,
          "--self-extend expects W,G with W >= G >= 1, got '", o.self_extend, "'");
  }

  io::Json stages = io::Json::array();
  for (std::size_t i = 0; i < plan.stages.size(); ++i) {
    const ExtendStage& st = plan.stages[i];
    stages.push_back({{"context", st.context},
                      {"steps", st.steps},
                      {"tokens", static_cast<uint64_t>(st.steps) * per_step(st.context)},
                      {"end_step", st.end_step},
                      {"rope", spec_json(st.rope)}});
    if (!st.harpe_extra.empty()) stages.back()["harpe"] = io::Json::parse(st.harpe_extra);
  }
  const rope::PeakValleyParams& pv = sc.peak_valley;
  io::Json rc = {
      {"command", "extend"},
      {"from", plan.source_dir},
      {"data", o.data_path},
      {"tokenizer", plan.tokenizer},
      {"method", staged ? "abf-stages" : m},
      {"original_context", plan.original_context},
      {"context", plan.context},
      {"head_dim", src.head_size()},
      {"stages", stages},
      {"self_extend", {{"window", se_w}, {"group", se_g}}},
      {"scaled_defaults",
       {{"factor", sc.factor},
        {"abf_base", sc.abf_base},
        {"harpe_min", sc.harpe_min},
        {"harpe_max", sc.harpe_max},
        {"harpe_stride", sc.harpe_stride},
        {"peak_valley",
         {{"m_lo", pv.m_lo},
          {"m_hi", pv.m_hi},
          {"peak_gap", pv.peak_gap},
          {"trough_gap", pv.trough_gap},
          {"skip", pv.skip},
          {"window", pv.window},
          {"cover_radius", pv.cover_radius},
          {"max_chain", pv.max_chain},
          {"tolerance", pv.tolerance}}}}},
      {"train",
       {{"batch", o.batch},
        {"grad_accum", o.grad_accum},
        {"total_steps", total},
        {"lr", o.lr},
        {"warmup", plan.warmup},
        {"schedule", o.schedule},
        {"min_lr_ratio", o.min_lr_ratio},
        {"adamw",
         {{"beta1", o.beta1}, {"beta2", o.beta2}, {"eps", 1e-8}, {"weight_decay", o.weight_decay}}},
        {"clip", o.clip},
        {"recompute", o.recompute},
        {"loss", o.answers_only ? "answers" : "all"},
        {"data_seed", o.data_seed},
        {"optimizer_first_stage", "fresh"},
        {"optimizer_later_stages", "carried"}}}};
  plan.run_config = rc.dump(2) + "\n";
  return plan;
}

// ---------------------------------------------------------------------------------------------
// Running.

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
  t.answers_only = o.answers_only;
  t.data_seed = o.data_seed;
  return t;
}

// Writes the checkpoint stage i starts from: weights (and, after stage 0, AdamW moments, step and
// data position) from `prev_dir`, with stage i's config and trainer settings.
void write_seed_checkpoint(const TrainOptions& t, int i,
                           const std::string& prev_dir, const std::string& ckpt, const std::string& data_name) {
  model::Model m(t.config);
  AdamWState opt(m.layout.total);
  TrainerState state;
  if (i == 0) {
    model::load_weights(m, prev_dir + "/model.safetensors");  // fresh optimizer, step 0
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
  save_checkpoint(ckpt, m, opt, state);
}

}  // namespace

RunEnd run_extend(const ExtendOptions& o) {
  const ExtendPlan plan = plan_extend(o);
  const std::string ckpt = o.out_dir + "/checkpoint";
  const std::string metrics_path = o.out_dir + "/metrics.jsonl";
  const std::string rc_path = o.out_dir + "/run_config.json";
  LoopHooks hooks = start_data_parallel(o.batch, o.hooks);
  hooks.tokenizer = plan.tokenizer;
  const bool quiet = hooks.quiet;
  const bool root = dist::world().is_root();

  long resume_step = -1;
  if (o.resume) {
    const std::string have = resolve_checkpoint(ckpt);
    check(fs::exists(rc_path), "--resume: ", rc_path, " is missing");
    const io::Json saved = io::parse_json(io::read_file(rc_path), rc_path);
    const io::Json now = io::Json::parse(plan.run_config);
    for (auto it = now.begin(); it != now.end(); ++it)
      check(saved.contains(it.key()) && saved[it.key()] == it.value(), "--resume: the flags give a "
            "different \"", it.key(), "\" than ", rc_path, "; rerun with the original flags");
    resume_step = read_trainer_state(have).step;
  } else {
    check(!fs::exists(ckpt) && !fs::exists(ckpt + ".old"), ckpt,
          " already exists: pass --resume to continue that run, or choose another --out");
  }
  if (!quiet) {
    std::printf("extend: %s, C0 %d -> L %d (x%g), %zu stage(s), %ld steps\n", plan.source_dir.c_str(),
                plan.original_context, plan.context, plan.scaled.factor, plan.stages.size(),
                plan.stages.back().end_step);
    std::printf("run config (%s):\n%s", rc_path.c_str(), plan.run_config.c_str());
    const model::ModelConfig last = stage_config(plan, static_cast<int>(plan.stages.size()) - 1);
    std::printf("%s", check_base_bound(last, plan.context).text.c_str());
    std::fflush(stdout);
  }
  // Preflight at the longest stage before anything is written.
  preflight(stage_config(plan, static_cast<int>(plan.stages.size()) - 1),
            o.batch / dist::world().size, plan.context, o.recompute, quiet);

  if (root) {
    fs::create_directories(o.out_dir);
    if (!o.resume) {
      io::write_text_atomic(rc_path, plan.run_config);
      if (fs::exists(metrics_path)) fs::remove(metrics_path);
    } else {
      truncate_metrics(metrics_path, resume_step);
    }
  }

  StopGuard guard;
  LoopState ls;
  ls.ckpt = ckpt;
  ls.metrics_path = metrics_path;
  ls.out_dir = o.out_dir;
  ls.total_steps = plan.stages.back().end_step;
  const bool staged = plan.stages.size() > 1;
  for (std::size_t k = 0; k < plan.stages.size(); ++k) {
    const ExtendStage& st = plan.stages[k];
    const long begin = k == 0 ? 0 : plan.stages[k - 1].end_step;
    if (resume_step >= st.end_step) continue;  // stage already done
    TrainOptions t = stage_train_options(o, plan, static_cast<int>(k));
    t.data_parallel = true;
    // A checkpoint at exactly this stage's first step (or none yet) needs the stage's seed.
    if ((resume_step < 0 || resume_step == begin) && root) {
      write_seed_checkpoint(t, static_cast<int>(k), k == 0 ? plan.source_dir : resolve_checkpoint(ckpt),
                            ckpt, o.data_path);
      copy_tokenizer(plan.tokenizer, ckpt);
    }
    dist::barrier();  // every rank loads the seed checkpoint next
    if (!quiet) {
      const model::ModelConfig c = stage_config(plan, static_cast<int>(k));
      std::printf("stage %zu/%zu: context %d, steps %ld..%ld, %s\n", k + 1, plan.stages.size(), st.context, begin + 1, st.end_step,
                  model::describe(c).c_str());
      std::fflush(stdout);
    }
    TokenWindows data = TokenWindows::from_shard(o.data_path, /*shuffle=*/true, t.data_seed,
                                                 /*align=*/true, t.answers_only);
    check(data.vocab_size() <= static_cast<uint32_t>(plan.source_config.vocab_size), o.data_path,
          ": the shard's vocabulary (", data.vocab_size(), ") is larger than the model's (",
          plan.source_config.vocab_size, ")");
    Trainer trainer(t, std::move(data), ckpt);
    ls.end_step = st.end_step;
    ls.stage = staged ? static_cast<int>(k) : -1;
    ls.last_saved = trainer.steps_done();
    if (train_loop(trainer, ls, hooks) == RunEnd::interrupted) return RunEnd::interrupted;
    resume_step = st.end_step;
    if (staged && root) {
      // Each stage's final model, for evaluating the schedule stage by stage.
      const std::string dir = o.out_dir + "/stage" + std::to_string(k + 1);
      fs::create_directories(dir);
      model::save_model_dir(trainer.model(), dir);
      copy_tokenizer(plan.tokenizer, dir);
    }
    if (stop_agreed() && k + 1 < plan.stages.size()) {
      if (!quiet)
        std::printf("interrupted after stage %zu: %s is saved; rerun with --resume to continue\n",
                    k + 1, ckpt.c_str());
      return RunEnd::interrupted;
    }
  }
  if (!quiet) std::printf("saved %s (step %ld)\n", ckpt.c_str(), plan.stages.back().end_step);
  return RunEnd::finished;
}

// ---------------------------------------------------------------------------------------------

std::string describe_scaled_settings(const rope::ScaledSettings& s) {
  using P = rope::PaperSettings;
  const rope::PeakValleyParams paper_pv;
  const rope::PeakValleyParams& pv = s.peak_valley;
  std::ostringstream o;
  char buf[256];
  auto row = [&](const char* name, const std::string& paper, const std::string& ours) {
    std::snprintf(buf, sizeof buf, "  %-28s %-24s %s\n", name, paper.c_str(), ours.c_str());
    o << buf;
  };
  auto g = [](double x) {
    char b[32];
    std::snprintf(b, sizeof b, "%.6g", x);
    return std::string(b);
  };
  auto i = [](long x) { return std::to_string(x); };
  o << "scaled settings: C0 " << s.original_context << " -> L " << s.context << ", head dim "
    << s.head_dim << "\n";
  std::snprintf(buf, sizeof buf, "  %-28s %-24s %s\n", "setting", "paper (d=128, 4k->128k)", "scaled");
  o << buf;
  row("context C0 -> L", i(P::original_context) + " -> " + i(P::context),
      i(s.original_context) + " -> " + i(s.context));
  row("pi/ntk/yarn factor", g(double(P::context) / P::original_context), g(s.factor));
  row("abf base", g(P::abf_base), g(s.abf_base));
  for (std::size_t k = 0; k < s.stages.size() && k < 3; ++k)
    row(("abf stage " + i(long(k) + 1) + " base@len").c_str(),
        g(P::stage_bases[k]) + "@" + i(P::stage_lengths[k]),
        g(s.stages[k].base) + "@" + i(s.stages[k].length));
  row("harpe b_min", g(P::harpe_min), g(s.harpe_min));
  row("harpe b_max", g(P::harpe_max), g(s.harpe_max));
  row("harpe stride", g(P::harpe_stride), g(s.harpe_stride));
  row("peak-valley m_lo..m_hi", i(paper_pv.m_lo) + ".." + i(paper_pv.m_hi), i(pv.m_lo) + ".." + i(pv.m_hi));
  row("peak-valley peak/trough gap", i(paper_pv.peak_gap) + "/" + i(paper_pv.trough_gap),
      i(pv.peak_gap) + "/" + i(pv.trough_gap));
  row("peak-valley skip", i(paper_pv.skip), i(pv.skip));
  row("peak-valley window", i(paper_pv.window), i(pv.window));
  row("peak-valley cover radius", i(paper_pv.cover_radius), i(pv.cover_radius));
  row("self-extend window,group", i(P::self_extend_window) + "," + i(P::self_extend_group),
      i(s.self_extend_window) + "," + i(s.self_extend_group));
  std::snprintf(buf, sizeof buf, "  longest wavelength / L of the abf base: paper %.4g, scaled %.4g\n",
                rope::longest_wavelength(P::abf_base, P::head_dim) / P::context,
                rope::longest_wavelength(s.abf_base, s.head_dim) / s.context);
  o << buf;
  return o.str();
}

}  // namespace harpe::train

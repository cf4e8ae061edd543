// Planning an extension (train/extend.h): the source, C0, the method's RoPE table per stage, the
// budget, and run_config.json. No training, no writes.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/json_util.h"
#include "model/original_context.h"
#include "model/weights_io.h"
#include "rope/bases.h"
#include "train/checkpoint.h"
#include "train/extend.h"

namespace harpe::train {

namespace fs = std::filesystem;

std::string resolve_model_source(const std::string& from) {
  check(!from.empty(), "--from is required");
  for (const std::string& d : {from, from + ".old", from + "/checkpoint", from + "/checkpoint.old"})
    if (fs::exists(d + "/config.json") && model::has_weights(d)) return d;
  fail("--from ", from, ": no config.json and model.safetensors(.index.json) there (nor in ", from,
       "/checkpoint)");
}

namespace {

long steps_for(uint64_t tokens, long steps, uint64_t tokens_per_step) {
  if (steps > 0) return steps;
  return static_cast<long>((tokens + tokens_per_step - 1) / tokens_per_step);
}

io::Json spec_json(const rope::RopeSpec& r) {
  io::Json j = {{"scheme", std::string(rope::scheme_name(r.scheme))}, {"base", r.base}};
  if (r.scheme == rope::Scheme::pi || r.scheme == rope::Scheme::ntk ||
      r.scheme == rope::Scheme::yarn)
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

namespace {

uint64_t tokens_per_step(const ExtendOptions& o, int context) {
  return static_cast<uint64_t>(o.batch) * static_cast<uint64_t>(context) *
         static_cast<uint64_t>(o.grad_accum);
}

// Multi-stage ABF: the scaled 3-stage schedule (the budget split evenly) or an explicit list.
std::vector<ExtendStage> abf_stages(const ExtendOptions& o, const ExtendPlan& plan) {
  check(o.method == rope::Method::abf, "--stages applies to --method abf, not '",
        rope::method_name(o.method), "'");
  check(!(o.scaled_stages && !o.stages.empty()), "give --stages scaled or a stage list, not both");
  std::vector<StageSpec> specs;
  if (o.scaled_stages) {
    check(o.tokens > 0 || o.steps > 0, "--stages scaled needs --tokens or --steps (split evenly)");
    for (const rope::StageSetting& s : plan.scaled.stages) {
      StageSpec sp;
      sp.base = s.base;
      sp.length = s.length;
      sp.steps = o.steps > 0 ? o.steps : 0;
      sp.tokens = o.steps > 0 ? 0 : std::max<uint64_t>(1, o.tokens / plan.scaled.stages.size());
      specs.push_back(sp);
    }
  } else {
    check(o.tokens == 0 && o.steps == 0,
          "--tokens/--steps do not apply to an explicit --stages list (each stage has tokens= or "
          "steps=)");
    specs = o.stages;
  }
  check(specs.back().length == plan.context, "--stages: the last stage's len (",
        specs.back().length, ") must equal --context (", plan.context, ")");
  std::vector<ExtendStage> out;
  long end = 0;
  for (const StageSpec& sp : specs) {
    ExtendStage st;
    st.rope.scheme = rope::Scheme::rope;
    st.rope.base = sp.base;
    st.context = sp.length;
    st.steps = steps_for(sp.tokens, sp.steps, tokens_per_step(o, sp.length));
    end += st.steps;
    st.end_step = end;
    out.push_back(st);
  }
  return out;
}

// HARPE's per-KV-head bases (a strategy over [b_min, b_max], or the explicit list) and the
// rope_scaling keys that record how they were chosen.
void harpe_bases(const ExtendOptions& o, const ExtendPlan& plan, ExtendStage& st) {
  const rope::ScaledSettings& sc = plan.scaled;
  io::Json extra;
  if (o.bases.empty()) {
    const double bmin = o.bases_min > 0 ? o.bases_min : sc.harpe_min;
    const double bmax = o.bases_max > 0 ? o.bases_max : sc.harpe_max;
    const double stride = o.bases_stride > 0 ? o.bases_stride : sc.harpe_stride;
    const rope::BaseStrategy strat = o.base_strategy;
    st.rope.bases =
        rope::select_bases(strat, plan.source_config.kv_heads(), bmin, bmax, stride, sc.peak_valley)
            .bases;
    extra = {{"strategy", std::string(rope::base_strategy_name(strat))},
             {"b_min", bmin},
             {"b_max", bmax}};
    if (strat == rope::BaseStrategy::peak_valley) extra["stride"] = stride;
  } else {
    st.rope.bases = o.bases;
    extra = {{"strategy", "explicit"}};
  }
  st.harpe_extra = extra.dump();
}

// One stage at L with the method's table (its parameters: the flags, else the scaled defaults).
ExtendStage single_stage(const ExtendOptions& o, const ExtendPlan& plan) {
  check(o.tokens > 0 || o.steps > 0, "give a budget: --tokens N or --steps S");
  const rope::ScaledSettings& sc = plan.scaled;
  const rope::Method m = o.method;
  ExtendStage st;
  st.context = plan.context;
  st.steps = steps_for(o.tokens, o.steps, tokens_per_step(o, plan.context));
  st.end_step = st.steps;
  rope::RopeSpec& r = st.rope;
  r.base = plan.source_config.rope.base;
  r.scheme = rope::method_info(m).scheme;
  const double factor = o.factor > 0 ? o.factor : sc.factor;
  if (m == rope::Method::pi || m == rope::Method::ntk) {
    r.factor = factor;
  } else if (m == rope::Method::yarn) {
    r.factor = factor;
    r.original_context = plan.original_context;
    r.beta_fast = o.beta_fast;
    r.beta_slow = o.beta_slow;
  } else if (m == rope::Method::abf) {
    r.base = o.abf_base > 0 ? o.abf_base : sc.abf_base;
  } else if (m == rope::Method::harpe) {
    harpe_bases(o, plan, st);
  }
  return st;
}

// OUT/run_config.json: every resolved setting (compared on --resume).
std::string run_config_json(const ExtendOptions& o, const ExtendPlan& plan) {
  const rope::ScaledSettings& sc = plan.scaled;
  const bool staged = plan.stages.size() > 1 || o.scaled_stages || !o.stages.empty();
  const int se_w = o.self_extend ? o.self_extend->window : sc.self_extend_window;
  const int se_g = o.self_extend ? o.self_extend->group : sc.self_extend_group;
  io::Json stages = io::Json::array();
  for (const ExtendStage& st : plan.stages) {
    stages.push_back({{"context", st.context},
                      {"steps", st.steps},
                      {"tokens", static_cast<uint64_t>(st.steps) * tokens_per_step(o, st.context)},
                      {"end_step", st.end_step},
                      {"rope", spec_json(st.rope)}});
    if (!st.harpe_extra.empty()) stages.back()["harpe"] = io::Json::parse(st.harpe_extra);
  }
  const rope::PeakValleyParams& pv = sc.peak_valley;
  const io::Json rc = {
      {"command", "extend"},
      {"from", plan.source_dir},
      {"data", o.data_path},
      {"tokenizer", plan.tokenizer},
      {"method", staged ? std::string("abf-stages") : std::string(rope::method_name(o.method))},
      {"original_context", plan.original_context},
      {"context", plan.context},
      {"head_dim", plan.source_config.head_size()},
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
        {"total_steps", plan.stages.back().end_step},
        {"lr", o.lr},
        {"warmup", plan.warmup},
        {"schedule", o.schedule},
        {"min_lr_ratio", o.min_lr_ratio},
        {"adamw",
         {{"beta1", o.beta1}, {"beta2", o.beta2}, {"eps", 1e-8}, {"weight_decay", o.weight_decay}}},
        {"clip", o.clip},
        {"recompute", o.recompute},
        {"precision", precision_name(o.precision)},
        {"loss", o.answers_only ? "answers" : "all"},
        {"data_seed", o.data_seed},
        {"optimizer_first_stage", "fresh"},
        {"optimizer_later_stages", "carried"}}}};
  return rc.dump(2) + "\n";
}

void check_training_options(const ExtendOptions& o) {
  check(o.batch > 0, "--batch must be positive, got ", o.batch);
  check(o.grad_accum > 0, "--grad-accum must be positive, got ", o.grad_accum);
  check(o.lr > 0 && std::isfinite(o.lr), "--lr must be positive, got ", o.lr);
  check(o.steps >= 0, "--steps must be >= 0, got ", o.steps);
  check(!(o.tokens > 0 && o.steps > 0), "give at most one of --tokens and --steps");
  check(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1,
        "--beta1/--beta2 must lie in [0, 1)");
  check(o.weight_decay >= 0, "--weight-decay must be >= 0, got ", o.weight_decay);
  check(o.clip >= 0, "--clip must be >= 0, got ", o.clip);
  (void)parse_schedule(o.schedule);
}

}  // namespace

ExtendPlan plan_extend(const ExtendOptions& o) {
  ExtendPlan plan;
  check(!o.out_dir.empty(), "--out is required");
  check(!o.data_path.empty(), "--data is required");
  check(o.context > 0, "--context (target length L) is required and must be positive");
  check_training_options(o);
  plan.source_dir = resolve_model_source(o.from);
  plan.source_config = model::read_hf_config(plan.source_dir + "/config.json");
  const model::ModelConfig& src = plan.source_config;
  check(src.rope.scheme == rope::Scheme::rope, "--from ", plan.source_dir,
        ": extension starts from a model trained with plain RoPE, but its config.json has rope "
        "scheme '",
        rope::scheme_name(src.rope.scheme), "'");
  plan.original_context =
      o.original_context > 0
          ? o.original_context
          : static_cast<int>(model::original_context(plan.source_dir, src).tokens);
  plan.context = o.context;
  plan.scaled = rope::scaled_settings(plan.original_context, plan.context, src.head_size());

  if (o.scaled_stages || !o.stages.empty())
    plan.stages = abf_stages(o, plan);
  else
    plan.stages.push_back(single_stage(o, plan));
  // Every stage's table must build (catches bad factors, base lists of the wrong length ...).
  for (std::size_t i = 0; i < plan.stages.size(); ++i) {
    const model::ModelConfig c = stage_config(plan, static_cast<int>(i));
    (void)rope::build_table(c.rope, c.table_shape(), c.max_position_embeddings);
  }
  plan.warmup = o.warmup >= 0 ? o.warmup : std::max(1L, plan.stages.back().end_step / 20);

  // Tokenizer: the flag, else the source's.
  if (!o.tokenizer.empty()) {
    check(fs::is_regular_file(o.tokenizer), "--tokenizer ", o.tokenizer, ": no such file");
    plan.tokenizer = o.tokenizer;
  } else if (fs::exists(plan.source_dir + "/tokenizer.model")) {
    plan.tokenizer = plan.source_dir + "/tokenizer.model";
  }
  plan.run_config = run_config_json(o, plan);
  return plan;
}

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
  std::snprintf(buf, sizeof buf, "  %-28s %-24s %s\n", "setting", "paper (d=128, 4k->128k)",
                "scaled");
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
  row("peak-valley m_lo..m_hi", i(paper_pv.m_lo) + ".." + i(paper_pv.m_hi),
      i(pv.m_lo) + ".." + i(pv.m_hi));
  row("peak-valley peak/trough gap", i(paper_pv.peak_gap) + "/" + i(paper_pv.trough_gap),
      i(pv.peak_gap) + "/" + i(pv.trough_gap));
  row("peak-valley skip", i(paper_pv.skip), i(pv.skip));
  row("peak-valley window", i(paper_pv.window), i(pv.window));
  row("peak-valley cover radius", i(paper_pv.cover_radius), i(pv.cover_radius));
  row("self-extend window,group", i(P::self_extend_window) + "," + i(P::self_extend_group),
      i(s.self_extend_window) + "," + i(s.self_extend_group));
  std::snprintf(buf, sizeof buf,
                "  longest wavelength / L of the abf base: paper %.4g, scaled %.4g\n",
                rope::longest_wavelength(P::abf_base, P::head_dim) / P::context,
                rope::longest_wavelength(s.abf_base, s.head_dim) / s.context);
  o << buf;
  return o.str();
}

}  // namespace harpe::train

#include "eval/model_commands.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/timer.h"
#include "data/corpus.h"
#include "eval/heatmap.h"
#include "eval/model_eval.h"
#include "eval/run_needle.h"
#include "eval/run_ppl.h"
#include "eval/run_ruler.h"
#include "io/atomic_file.h"
#include "io/read_limits.h"

namespace harpe::eval {

namespace fs = std::filesystem;

namespace {

constexpr const char* kDefaultCorpus = "data/corpus";

// Lengths come typed from the CLI (parse_lengths); a library caller may still pass anything.
void check_lengths(const std::vector<int64_t>& lengths) {
  check(!lengths.empty(), "--lengths: no length given");
  for (int64_t l : lengths) check(l > 0, "--lengths: ", l, " is not a positive length");
}

void note(bool quiet, const char* fmt, auto... args) {
  if (quiet) return;
  std::fprintf(stderr, fmt, args...);
  std::fflush(stderr);
}

std::string run_name(const ModelArgs& m, const std::string& fallback) {
  if (!m.name.empty()) return m.name;
  if (!m.out_dir.empty()) {
    const std::string n = fs::path(m.out_dir).lexically_normal().filename().string();
    if (!n.empty() && n != ".") return n;
  }
  return fallback;
}

// The corpus to take held-out text from: the flag, else data/corpus when it exists.
std::string corpus_or_default(const std::string& flag_value, bool quiet, const char* what) {
  if (!flag_value.empty()) return flag_value;
  if (fs::exists(std::string(kDefaultCorpus) + "/test.jsonl")) {
    note(quiet, "%s: using the default corpus %s\n", what, kDefaultCorpus);
    return kDefaultCorpus;
  }
  return "";
}

std::vector<PplResult> ppl_with(const LoadedModel& lm, const rope::PositionMap& position,
                                const PplArgs& a, bool quiet,
                                std::map<std::string, std::string>& meta) {
  const std::vector<int64_t>& lengths = a.lengths;
  check_lengths(lengths);
  check(a.stride >= 1, "--stride must be >= 1, got ", a.stride);
  check(a.documents >= 0, "--documents must be >= 0, got ", a.documents);
  check(a.corpus.empty() || a.shard.empty(), "give either --corpus or --shard, not both");
  const int64_t longest_len = *std::max_element(lengths.begin(), lengths.end());
  DocumentSelection sel;
  sel.min_tokens = longest_len;
  sel.max_documents = a.documents;
  sel.source = a.source;
  int64_t seen = 0, longest = 0;
  std::vector<PplDocument> docs;
  std::string dataset, where;
  if (!a.shard.empty()) {
    check(fs::exists(a.shard), "--shard ", a.shard, ": no such file");
    docs = shard_documents(a.shard, sel, &seen, &longest);
    dataset = fs::path(a.shard).stem().string();
    where = "shard " + a.shard;
  } else {
    const std::string corpus = corpus_or_default(a.corpus, quiet, "ppl");
    check(!corpus.empty(),
          "perplexity needs held-out text: give --corpus DIR (with --split) or --shard FILE");
    const std::string path = data::corpus_split_path(corpus, data::parse_split(a.split));
    check(fs::exists(path), "--corpus ", corpus, ": no ", path);
    docs = corpus_documents(
        corpus, a.split,
        [&](const std::string& text) { return lm.tokenizer.encode_document(text); }, sel, &seen,
        &longest);
    dataset = fs::path(corpus).lexically_normal().filename().string() + "-" + a.split;
    where = "corpus " + path;
  }
  if (!a.source.empty()) {
    dataset += "-" + a.source;
    where += " (source " + a.source + ")";
  }
  check(
      !docs.empty(), "no document of ", where, " has >= ", longest_len, " tokens (", seen,
      " documents read, the longest has ", longest,
      " tokens): use shorter --lengths, another split or source, or a shard with longer documents");
  note(quiet,
       "ppl: %zu document(s) of %s with >= %lld tokens (of %lld read), each cut to %lld tokens\n",
       docs.size(), where.c_str(), static_cast<long long>(longest_len),
       static_cast<long long>(seen), static_cast<long long>(longest_len));
  meta["ppl_data"] = where;
  meta["ppl_documents"] = std::to_string(docs.size()) + " of " + std::to_string(seen) +
                          " (>= " + std::to_string(longest_len) + " tokens, cut to that)";

  PplRunOptions opt;
  opt.lengths = lengths;
  opt.stride = a.stride;
  opt.position = position;
  opt.dataset = dataset;
  opt.progress = [quiet](int64_t L, int d, int n, const NllSum& s, double secs) {
    note(quiet, "ppl: window %lld, document %d/%d, running ppl %.4f (%lld tokens, %.1f s)\n",
         static_cast<long long>(L), d + 1, n, s.perplexity(), static_cast<long long>(s.tokens),
         secs);
  };
  for (int64_t L : lengths)
    if (a.stride >= L)
      note(quiet, "ppl: stride %lld >= window %lld: using stride %lld for that window\n",
           static_cast<long long>(a.stride), static_cast<long long>(L),
           static_cast<long long>(std::max<int64_t>(1, L / 2)));
  return run_perplexity(lm.model, docs, opt);
}

std::string essay_for(const std::string& essay, const std::string& corpus_flag,
                      const std::string& split, bool needed, bool quiet) {
  if (!needed) return "";
  if (!essay.empty()) return load_essay(essay, "", split);
  const std::string corpus = corpus_or_default(corpus_flag, quiet, "haystack");
  if (corpus.empty()) return "";
  return load_essay("", corpus, split);
}

std::vector<TaskResult> ruler_with(const LoadedModel& lm, const rope::PositionMap& position,
                                   const RulerArgs& a, bool allow_other, bool quiet,
                                   std::map<std::string, std::string>& meta) {
  RulerRunOptions opt;
  check_task_list(a.tasks, allow_other);
  opt.tasks = a.tasks;
  check_lengths(a.lengths);
  opt.lengths = a.lengths;
  check(a.samples >= 1, "--samples must be >= 1, got ", a.samples);
  check(a.jobs >= 1, "--jobs must be >= 1, got ", a.jobs);
  opt.samples = a.samples;
  opt.jobs = a.jobs;
  opt.gen.count_tokens = model_token_counter(lm.tokenizer);
  opt.gen.seed = a.seed;
  opt.gen.tokens_to_generate = a.tokens_to_generate;
  bool needs_essay = false;
  for (const auto& t : opt.tasks) needs_essay = needs_essay || task_needs_essay(t);
  opt.gen.essay = essay_for(a.essay, a.haystack_corpus, a.haystack_split, needs_essay, quiet);

  std::vector<GenerationStats> stats(static_cast<size_t>(a.jobs));
  const std::string tag = allow_other ? "ruler" : "niah";
  opt.progress = [&](const std::string& task, int64_t L, int i, int n, const Prediction& p,
                     double s) {
    (void)i;
    note(quiet, "%s: %s @%lld sample %d/%d score %.0f words %.0f (%lld prompt tokens, %.1f s)\n",
         tag.c_str(), task.c_str(), static_cast<long long>(L), p.index + 1, n, p.score,
         p.word_score, static_cast<long long>(p.prompt_tokens), s);
  };
  Timer wall;
  std::vector<TaskResult> results = run_ruler(opt, [&](int worker) {
    return model_generator(lm.model, lm.tokenizer, position, &stats[static_cast<size_t>(worker)]);
  });
  const double secs = wall.seconds();
  GenerationStats all;
  for (const auto& s : stats) {
    all.prompts += s.prompts;
    all.prompt_tokens += s.prompt_tokens;
    all.new_tokens += s.new_tokens;
    all.prefill_s += s.prefill_s;
    all.decode_s += s.decode_s;
  }
  note(quiet,
       "%s: %lld prompts, %lld prompt tokens, %lld generated, in %.1f s wall (jobs %d; prefill "
       "%.1f s, "
       "decode %.1f s summed over workers)\n",
       tag.c_str(), static_cast<long long>(all.prompts), static_cast<long long>(all.prompt_tokens),
       static_cast<long long>(all.new_tokens), secs, a.jobs, all.prefill_s, all.decode_s);
  meta[tag + "_wall_seconds"] = std::to_string(secs);
  meta[tag + "_samples"] = std::to_string(a.samples);
  meta["seed"] = std::to_string(a.seed);
  meta["jobs"] = std::to_string(a.jobs);
  if (needs_essay)
    meta["haystack"] = a.essay.empty()
                           ? corpus_or_default(a.haystack_corpus, true, "") + " " + a.haystack_split
                           : a.essay;
  return results;
}

void finish(const RunResults& run, const ModelArgs& m, bool keep_predictions) {
  std::printf("%s", run_markdown(run).c_str());
  if (!m.out_dir.empty()) {
    write_run_dir(run, m.out_dir, keep_predictions);
    note(m.quiet, "wrote %s/results.json and %s/results.md\n", m.out_dir.c_str(),
         m.out_dir.c_str());
  }
}

}  // namespace

std::string load_essay(const std::string& essay_file, const std::string& corpus_dir,
                       const std::string& split, size_t max_bytes) {
  if (!essay_file.empty()) {
    check(fs::exists(essay_file), "--essay ", essay_file, ": no such file");
    return io::read_regular_file(essay_file, io::kTextFileLimit, "--essay");
  }
  if (corpus_dir.empty()) return "";
  const std::string path = data::corpus_split_path(corpus_dir, data::parse_split(split));
  check(fs::exists(path), "--haystack-corpus ", corpus_dir, ": no ", path);
  std::string text;
  data::for_each_record(path, [&](data::Record&& r) {
    if (text.size() >= max_bytes) return;
    if (!text.empty()) text += "\n\n";
    text += r.text;
  });
  check(!text.empty(), "--haystack-corpus ", path, ": no text");
  return text;
}

RunResults eval_ppl(const ModelArgs& m, const PplArgs& a) {
  const rope::PositionMap& position = m.position;
  // Flag errors before the (slow) load.
  check_lengths(a.lengths);
  check(a.stride >= 1, "--stride must be >= 1, got ", a.stride);
  check(a.documents >= 0, "--documents must be >= 0, got ", a.documents);
  check(a.corpus.empty() || a.shard.empty(), "give either --corpus or --shard, not both");
  Timer timer;
  const LoadedModel lm = load_model_and_tokenizer(m.model_dir, m.tokenizer, m.precision);
  note(m.quiet, "model %s (%s), self-extend %s, weights %s\n", m.model_dir.c_str(),
       model::describe(lm.model.config()).c_str(), self_extend_label(position).c_str(),
       lm.model.describe().c_str());
  RunResults run;
  run.name = run_name(m, "ppl");
  fill_model_meta(run, lm, position);
  run.ppl = ppl_with(lm, position, a, m.quiet, run.meta);
  run.meta["ppl_wall_seconds"] = std::to_string(timer.seconds());
  finish(run, m, true);
  return run;
}

RunResults eval_ruler(const ModelArgs& m, const RulerArgs& a, bool allow_other) {
  const rope::PositionMap& position = m.position;
  check_task_list(a.tasks, allow_other);  // flag errors before the (slow) load
  check_lengths(a.lengths);
  check(a.samples >= 1, "--samples must be >= 1, got ", a.samples);
  check(a.jobs >= 1, "--jobs must be >= 1, got ", a.jobs);
  const LoadedModel lm = load_model_and_tokenizer(m.model_dir, m.tokenizer, m.precision);
  note(m.quiet, "model %s (%s), self-extend %s, weights %s\n", m.model_dir.c_str(),
       model::describe(lm.model.config()).c_str(), self_extend_label(position).c_str(),
       lm.model.describe().c_str());
  RunResults run;
  run.name = run_name(m, allow_other ? "ruler" : "niah");
  fill_model_meta(run, lm, position);
  run.tasks = ruler_with(lm, position, a, allow_other, m.quiet, run.meta);
  finish(run, m, a.keep_predictions);
  return run;
}

RunResults eval_needle(const ModelArgs& m, const NeedleArgs& a) {
  const rope::PositionMap& position = m.position;
  NeedleGridSpec spec;
  check_lengths(a.lengths);
  spec.lengths = a.lengths;
  check(a.depth_count >= 2, "--depth-count must be >= 2, got ", a.depth_count);
  for (double d : a.depths)
    check(d >= 0 && d <= 100, "--depths: ", d, " is not a percent in [0, 100]");
  spec.depths = a.depths.empty() ? evenly_spaced_depths(a.depth_count) : a.depths;
  check(a.samples >= 1, "--samples must be >= 1, got ", a.samples);
  check(a.jobs >= 1, "--jobs must be >= 1, got ", a.jobs);
  spec.samples_per_cell = a.samples;
  check(a.haystack == Haystack::noise || a.haystack == Haystack::essay,
        "--haystack must be noise or essay");
  spec.haystack = a.haystack;
  const LoadedModel lm = load_model_and_tokenizer(m.model_dir, m.tokenizer, m.precision);
  note(m.quiet, "model %s (%s), self-extend %s, weights %s\n", m.model_dir.c_str(),
       model::describe(lm.model.config()).c_str(), self_extend_label(position).c_str(),
       lm.model.describe().c_str());
  GenOptions gen;
  gen.count_tokens = model_token_counter(lm.tokenizer);
  gen.seed = a.seed;
  gen.tokens_to_generate = a.tokens_to_generate;
  gen.essay = essay_for(a.essay, a.haystack_corpus, a.haystack_split,
                        spec.haystack == Haystack::essay, m.quiet);
  std::vector<GenerationStats> stats(static_cast<size_t>(a.jobs));
  std::vector<Prediction> predictions;
  Timer wall;
  RunResults run;
  run.name = run_name(m, "needle");
  fill_model_meta(run, lm, position);
  run.needle = run_needle(
      spec, gen, a.jobs,
      [&](int worker) {
        return model_generator(lm.model, lm.tokenizer, position,
                               &stats[static_cast<size_t>(worker)]);
      },
      &predictions,
      [&](size_t done, size_t total, double s) {
        note(m.quiet, "needle: %zu/%zu prompts (%.1f s)\n", done, total, s);
      });
  run.has_needle = true;
  run.meta["needle_wall_seconds"] = std::to_string(wall.seconds());
  run.meta["seed"] = std::to_string(a.seed);
  run.meta["haystack"] = a.haystack == Haystack::essay ? "essay" : "noise";
  if (!m.out_dir.empty()) {
    std::error_code ec;
    fs::create_directories(m.out_dir, ec);
    check(fs::is_directory(m.out_dir), "--out ", m.out_dir, ": cannot create the directory");
    const std::string title = run.name + " (needle)";
    write_heatmap_svg(run.needle, m.out_dir + "/needle.svg", title);
    run.needle_svg = "needle.svg";
    if (a.png) {
      try {
        write_heatmap_png(run.needle, m.out_dir + "/needle.png", title);
        run.needle_png = "needle.png";
      } catch (const Error& e) {
        note(m.quiet, "needle: no PNG (%s); the SVG is written\n", e.what());
      }
    }
    nlohmann::json preds = nlohmann::json::array();
    for (const Prediction& p : predictions)
      preds.push_back({{"length", p.length},
                       {"depth", p.depth},
                       {"index", p.index},
                       {"expected", p.expected},
                       {"output", p.output},
                       {"score", p.score},
                       {"prompt_tokens", p.prompt_tokens}});
    io::write_text_atomic(m.out_dir + "/needle_predictions.json", preds.dump(1) + "\n");
  }
  finish(run, m, true);
  return run;
}

RunResults eval_short(const ModelArgs& m, PplArgs ppl, RulerArgs niah, int64_t context) {
  const rope::PositionMap& position = m.position;
  check_task_list(niah.tasks, false);
  const LoadedModel lm = load_model_and_tokenizer(m.model_dir, m.tokenizer, m.precision);
  OriginalContext c0 = original_context(m.model_dir, lm.model.config());
  if (context > 0) c0 = {context, "--context"};
  note(m.quiet, "model %s (%s), self-extend %s, weights %s, original context %lld (from %s)\n",
       m.model_dir.c_str(), model::describe(lm.model.config()).c_str(),
       self_extend_label(position).c_str(), lm.model.describe().c_str(),
       static_cast<long long>(c0.tokens), c0.source.c_str());
  ppl.lengths = {c0.tokens};
  niah.lengths = {c0.tokens};
  RunResults run;
  run.name = run_name(m, "short");
  fill_model_meta(run, lm, position);
  run.meta["original_context"] = std::to_string(c0.tokens);
  run.meta["original_context_source"] = c0.source;
  run.ppl = ppl_with(lm, position, ppl, m.quiet, run.meta);
  run.tasks = ruler_with(lm, position, niah, false, m.quiet, run.meta);
  finish(run, m, niah.keep_predictions);
  return run;
}

}  // namespace harpe::eval

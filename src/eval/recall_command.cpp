// `harpe eval recall` as a library call (declared in eval/model_commands.h).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>

#include "core/error.h"
#include "core/system.h"
#include "core/timer.h"
#include "eval/heatmap.h"
#include "eval/model_commands.h"
#include "eval/model_eval.h"
#include "eval/run_recall.h"
#include "io/atomic_file.h"
#include "model/weights_io.h"

namespace harpe::eval {

namespace fs = std::filesystem;

namespace {

// Bytes one sequence of T tokens needs at inference: the KV cache (k, v and Self-Extend's grouped
// k) and the logits of every position.
double recall_bytes(const model::ModelConfig& c, int64_t T) {
  return 4.0 * static_cast<double>(T) *
         (3.0 * static_cast<double>(c.num_hidden_layers) * static_cast<double>(c.kv_dim()) +
          static_cast<double>(c.vocab_size));
}

}  // namespace

RunResults eval_recall(const ModelArgs& m, const RecallArgs& a) {
  check(a.samples > 0, "--samples must be positive, got ", a.samples);
  Timer wall;
  const infer::InferenceModel model(model::load_model_dir(m.model_dir), m.precision);
  const model::ModelConfig& cfg = model.config();
  const rope::PositionMap& position = m.position;
  const OriginalContext c0 = original_context(m.model_dir, cfg);

  // A length the machine cannot hold is refused before any work.
  auto check_memory = [&](int64_t longest) {
    const std::size_t avail = available_memory_bytes();
    check(avail == 0 || recall_bytes(cfg, longest) < 0.8 * static_cast<double>(avail),
          "recall: a sequence of ", longest, " tokens needs ",
          format_bytes(recall_bytes(cfg, longest)), " at inference but ",
          format_bytes(static_cast<double>(avail)), " is available");
  };
  // (variant, length) -> sequences, in the order they will be run.
  std::map<std::pair<std::string, int64_t>, std::vector<RecallSequence>> groups;
  std::vector<std::pair<std::string, int64_t>> order;
  auto add = [&](RecallSequence s) {
    const std::pair<std::string, int64_t> key{s.variant, static_cast<int64_t>(s.tokens.size())};
    auto [it, fresh] = groups.try_emplace(key);
    if (fresh) order.push_back(key);
    it->second.push_back(std::move(s));
  };
  if (!a.input.empty()) {
    for (RecallSequence& s : read_recall_jsonl(a.input)) {
      check(s.vocab <= cfg.vocab_size, s.where, ": the sequence's vocabulary (", s.vocab,
            ") is larger than the model's (", cfg.vocab_size, ")");
      add(std::move(s));
    }
  } else {
    const std::vector<int64_t> lengths = parse_lengths(a.lengths, "--lengths", c0.tokens);
    check_memory(*std::max_element(lengths.begin(), lengths.end()));
    RecallSpec spec;
    spec.vocab = a.vocab > 0 ? a.vocab : cfg.vocab_size;
    check(spec.vocab <= cfg.vocab_size, "--vocab ", spec.vocab, " is larger than the model's ",
          cfg.vocab_size);
    spec.filler = a.filler;
    spec.pairs = a.pairs;
    spec.values = a.values;
    spec.queries = a.queries;
    spec.far = a.far;
    spec.span = a.span;
    spec.adjacent = a.adjacent;
    for (RecallVariant v : parse_recall_variants(a.variants, "--variants"))
      for (int64_t L : lengths) {
        check(L <= (int64_t{1} << 24), "--lengths: ", L,
              " tokens is more than this command "
              "evaluates (16M)");
        spec.variant = v;
        spec.length = static_cast<int>(L);
        spec.validate();
        for (int i = 0; i < a.samples; ++i)
          add(generate_recall(
              spec, recall_sample_seed(a.seed, "eval", v, spec.length, static_cast<uint64_t>(i))));
      }
  }
  int64_t longest = 0;
  for (const auto& k : order) longest = std::max(longest, k.second);
  check_memory(longest);

  RunResults run;
  run.name = m.name;
  if (run.name.empty() && !m.out_dir.empty())
    run.name = fs::path(m.out_dir).lexically_normal().filename().string();
  if (run.name.empty()) run.name = "recall";
  run.meta["model"] = model::describe(cfg);
  run.meta["checkpoint"] = m.model_dir;
  run.meta["method"] = std::string(rope::scheme_name(cfg.rope.scheme));
  run.meta["self_extend"] = self_extend_label(position);
  run.meta["weights"] = precision_name(model.precision());
  run.meta["kv_cache"] = precision_name(model.precision());  // sessions follow the weights
  run.meta["original_context"] = std::to_string(c0.tokens);
  run.meta["original_context_source"] = c0.source;
  if (!a.group.empty()) run.meta["group"] = a.group;
  if (a.input.empty()) {
    run.meta["recall_seed"] = std::to_string(a.seed);
    run.meta["recall_samples"] = std::to_string(a.samples);
    run.meta["recall_spec"] = "vocab " + std::to_string(a.vocab > 0 ? a.vocab : cfg.vocab_size) +
                              ", filler " + std::to_string(a.filler) + ", pairs " +
                              std::to_string(a.pairs) + ", values " + std::to_string(a.values) +
                              ", queries " + std::to_string(a.queries) + ", far " +
                              std::to_string(a.far) + ", span " + std::to_string(a.span) +
                              (a.adjacent ? ", copy adjacent" : "");
  } else {
    run.meta["recall_input"] = a.input;
  }
  if (!m.quiet)
    std::fprintf(stderr, "recall: model %s (%s), weights %s\n", m.model_dir.c_str(),
                 model::describe(cfg).c_str(), model.describe().c_str());
  for (const auto& key : order) {
    Timer t;
    RecallResult r = run_recall(model, position, groups[key]);
    r.variant = key.first;
    if (!m.quiet)
      std::fprintf(stderr, "recall %s @ %lld: query %.2f sequence %.2f (%lld sequences, %.1f s)\n",
                   r.variant.c_str(), static_cast<long long>(r.length), r.query_score(),
                   r.sequence_score(), static_cast<long long>(r.sequences), t.seconds());
    run.recall.push_back(std::move(r));
  }
  run.meta["recall_wall_seconds"] = std::to_string(wall.seconds());
  if (!m.out_dir.empty()) {
    write_run_dir(run, m.out_dir, /*keep_predictions=*/false);
    if (a.heatmaps)
      for (const std::string& v : recall_variants(run))
        io::write_text_atomic(m.out_dir + "/recall_" + v + ".svg",
                              heatmap_svg(recall_heat_grid(run, v), run.name + ": recall " + v));
  }
  return run;
}

}  // namespace harpe::eval

// results.json (schema harpe.eval.v1, docs/formats.md): writing, reading with one-line errors
// naming the file, and finding a run's results from a directory or a file.
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "eval/report.h"
#include "eval/scoring.h"
#include "io/atomic_file.h"
#include "io/json_util.h"
#include "io/read_limits.h"

namespace harpe::eval {
namespace {

using nlohmann::json;
constexpr const char* kSchema = "harpe.eval.v1";
const double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

std::string results_to_json(const RunResults& run, bool keep_predictions) {
  json j;
  j["schema"] = kSchema;
  j["name"] = run.name;
  j["meta"] = run.meta;
  j["tasks"] = json::array();
  for (const auto& t : run.tasks) {
    json jt = {{"task", t.task},
               {"length", t.length},
               {"score", t.score},
               {"samples", t.samples},
               {"word_score", t.word_score}};
    if (!std::isnan(t.word_baseline)) jt["word_baseline"] = t.word_baseline;
    if (keep_predictions) {
      jt["predictions"] = json::array();
      for (const auto& p : t.predictions) {
        json jp = {{"index", p.index},
                   {"length", p.length},
                   {"expected", p.expected},
                   {"output", p.output},
                   {"score", p.score},
                   {"word_score", p.word_score},
                   {"prompt_tokens", p.prompt_tokens}};
        if (p.depth >= 0) jp["depth"] = p.depth;
        jt["predictions"].push_back(jp);
      }
    }
    j["tasks"].push_back(jt);
  }
  if (run.has_needle) {
    json scores = json::array();
    for (const auto& row : run.needle.scores) {
      json jr = json::array();
      for (double v : row) jr.push_back(std::isnan(v) ? json(nullptr) : json(v));
      scores.push_back(jr);
    }
    j["needle"] = {{"lengths", run.needle.lengths},
                   {"depths", run.needle.depths},
                   {"scores", scores},
                   {"average", run.needle.average()}};
    if (!run.needle_svg.empty()) j["needle"]["svg"] = run.needle_svg;
    if (!run.needle_png.empty()) j["needle"]["png"] = run.needle_png;
  }
  if (!run.recall.empty()) {
    j["recall"] = json::array();
    for (const auto& r : run.recall) {
      json buckets = json::array();
      for (const auto& b : r.buckets)
        buckets.push_back({{"lo", recall_bucket_lo(b.bucket)},
                           {"hi", recall_bucket_hi(b.bucket)},
                           {"queries", b.queries},
                           {"exact", b.exact}});
      j["recall"].push_back({{"variant", r.variant},
                             {"length", r.length},
                             {"query_score", r.query_score()},
                             {"sequence_score", r.sequence_score()},
                             {"queries", r.queries},
                             {"queries_exact", r.queries_exact},
                             {"sequences", r.sequences},
                             {"sequences_exact", r.sequences_exact},
                             {"buckets", buckets}});
    }
  }
  if (!run.ppl.empty()) {
    j["ppl"] = json::array();
    for (const auto& p : run.ppl)
      j["ppl"].push_back({{"dataset", p.dataset},
                          {"window", p.window},
                          {"stride", p.stride},
                          {"nll_sum", p.nll_sum},
                          {"tokens", p.tokens},
                          {"ppl", p.perplexity()}});
  }
  return j.dump(2) + "\n";
}

namespace {

// Integers through io::as_int (range- and type-checked): a float such as 1e300 where a count is
// expected is an error, never a float-to-int conversion (undefined behaviour; found by fuzzing).
int small_int(const json& obj, const char* key, int def, const std::string& where) {
  const int64_t v = io::json_int_or(obj, key, def, where);
  check(v >= INT32_MIN && v <= INT32_MAX, where, ": \"", key, "\" out of range: ", v);
  return static_cast<int>(v);
}

// One entry of "tasks"; fields missing from older files are recomputed from the predictions.
// JSON type errors propagate (results_from_json names the file).
TaskResult task_from_json(const json& jt, const std::string& where) {
  TaskResult t;
  t.task = jt.at("task").get<std::string>();
  t.length = io::json_int(jt, "length", where);
  t.score = jt.at("score").get<double>();
  t.samples = small_int(jt, "samples", 0, where);
  for (const auto& jp : jt.value("predictions", json::array())) {
    Prediction p;
    p.index = small_int(jp, "index", 0, where);
    p.length = io::json_int_or(jp, "length", t.length, where);
    p.expected = jp.value("expected", std::vector<std::string>{});
    p.output = jp.value("output", std::string());
    p.score = jp.value("score", 0.0);
    // Results written before word_match existed: recomputed from the prediction.
    if (jp.contains("word_score"))
      p.word_score = jp["word_score"].get<double>();
    else if (!p.expected.empty())
      p.word_score = word_match(p.output, p.expected);
    p.prompt_tokens = io::json_int_or(jp, "prompt_tokens", 0, where);
    p.depth = jp.value("depth", -1.0);
    t.predictions.push_back(std::move(p));
  }
  if (jt.contains("word_score")) {
    t.word_score = jt["word_score"].get<double>();
  } else {  // older results: the mean of the predictions' (recomputed) partial credit, if kept
    std::vector<double> v;
    for (const auto& p : t.predictions) v.push_back(p.word_score);
    t.word_score = nan_mean(v);
  }
  t.word_baseline = jt.contains("word_baseline") ? jt["word_baseline"].get<double>()
                                                 : word_baseline(t.predictions);
  return t;
}

// One entry of "recall", its counts checked for consistency.
RecallResult recall_from_json(const json& jr, const std::string& source) {
  const std::string where = "results " + source + ": recall";
  RecallResult rr;
  rr.variant = jr.at("variant").get<std::string>();
  rr.length = io::json_int(jr, "length", where);
  rr.queries = io::json_int(jr, "queries", where);
  rr.queries_exact = io::json_int(jr, "queries_exact", where);
  rr.sequences = io::json_int(jr, "sequences", where);
  rr.sequences_exact = io::json_int(jr, "sequences_exact", where);
  check(rr.length > 0 && rr.queries >= 0 && rr.queries_exact >= 0 &&
            rr.queries_exact <= rr.queries && rr.sequences >= 0 && rr.sequences_exact >= 0 &&
            rr.sequences_exact <= rr.sequences,
        "results ", source, ": recall ", rr.variant, " @ ", rr.length, ": inconsistent counts");
  for (const auto& jb : jr.value("buckets", json::array())) {
    RecallBucketScore b;
    const int64_t lo = io::json_int(jb, "lo", where);
    check(lo >= 0 && lo < (int64_t{1} << 30), "results ", source, ": recall bucket lo ", lo,
          " out of range");
    b.bucket = recall_distance_bucket(static_cast<int>(lo));
    b.queries = io::json_int(jb, "queries", where);
    b.exact = io::json_int(jb, "exact", where);
    check(b.queries >= 0 && b.exact >= 0 && b.exact <= b.queries, "results ", source,
          ": recall bucket counts inconsistent");
    rr.buckets.push_back(b);
  }
  return rr;
}

}  // namespace

RunResults results_from_json(const std::string& text, const std::string& source) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    fail("results ", source, ": not valid JSON (", e.what(), ")");
  }
  const auto schema = j.is_object() ? j.find("schema") : j.end();
  check(schema != j.end() && schema->is_string() && schema->get<std::string>() == kSchema,
        "results ", source, ": expected a JSON object with \"schema\": \"", kSchema, "\"");
  RunResults r;
  try {
    r.name = j.value("name", std::string());
    if (j.contains("meta"))
      for (const auto& [k, v] : j["meta"].items())
        r.meta[k] = v.is_string() ? v.get<std::string>() : v.dump();
    for (const auto& jt : j.value("tasks", json::array()))
      r.tasks.push_back(task_from_json(jt, "results " + source + ": tasks"));
    if (j.contains("needle")) {
      const json& n = j["needle"];
      r.has_needle = true;
      for (const auto& l : n.at("lengths"))
        r.needle.lengths.push_back(io::as_int(l, "results " + source + ": needle length"));
      r.needle.depths = n.at("depths").get<std::vector<double>>();
      for (const auto& row : n.at("scores")) {
        std::vector<double> vals;
        for (const auto& v : row) vals.push_back(v.is_null() ? kNaN : v.get<double>());
        r.needle.scores.push_back(vals);
      }
      r.needle_svg = n.value("svg", std::string());
      r.needle_png = n.value("png", std::string());
    }
    for (const auto& jr : j.value("recall", json::array()))
      r.recall.push_back(recall_from_json(jr, source));
    for (const auto& jp : j.value("ppl", json::array())) {
      PplResult p;
      p.dataset = jp.at("dataset").get<std::string>();
      const std::string where = "results " + source + ": ppl";
      p.window = io::json_int(jp, "window", where);
      p.stride = io::json_int(jp, "stride", where);
      p.nll_sum = jp.at("nll_sum").get<double>();
      p.tokens = io::json_int(jp, "tokens", where);
      r.ppl.push_back(p);
    }
  } catch (const json::exception& e) {
    fail("results ", source, ": ", e.what());
  }
  if (r.name.empty()) r.name = source;
  return r;
}

void write_results(const RunResults& run, const std::string& path, bool keep_predictions) {
  // Atomic and checked: a full disk is an error and the previous file stays.
  io::write_text_atomic(path, results_to_json(run, keep_predictions));
}

RunResults read_results(const std::string& path) {
  return results_from_json(io::read_regular_file(path, io::kResultsFileLimit, "results"), path);
}

RunResults read_run(const std::string& run) {
  namespace fs = std::filesystem;
  const fs::path p(run);
  if (fs::is_directory(p)) {
    const fs::path f = p / "results.json";
    check(fs::exists(f), "report: ", run, " has no results.json");
    RunResults r = read_results(f.string());
    if (r.name == f.string())
      r.name = p.filename().empty() ? p.parent_path().filename().string() : p.filename().string();
    return r;
  }
  check(fs::exists(p), "report: ", run, " does not exist");
  return read_results(run);
}

}  // namespace harpe::eval

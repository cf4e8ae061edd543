#include "eval/report.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <utility>

#include "core/error.h"
#include "eval/chart.h"
#include "eval/heatmap.h"
#include "eval/ruler.h"
#include "io/atomic_file.h"
#include "io/read_limits.h"

namespace harpe::eval {
namespace {

using nlohmann::json;
constexpr const char* kSchema = "harpe.eval.v1";
const double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string fmt2(double v) {
  if (std::isnan(v)) return "-";
  std::ostringstream o;
  o.setf(std::ios::fixed);
  o.precision(2);
  o << v;
  return o.str();
}

double mean(const std::vector<double>& v) {
  double s = 0;
  int n = 0;
  for (double x : v)
    if (!std::isnan(x)) s += x, ++n;
  return n ? s / n : kNaN;
}

// Task order: RULER's names first, then any others alphabetically.
std::vector<std::string> ordered_tasks(const std::set<std::string>& present) {
  std::vector<std::string> out;
  for (const auto& t : ruler_task_names())
    if (present.count(t)) out.push_back(t);
  for (const auto& t : present)
    if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
  return out;
}

std::set<int64_t> run_lengths(const RunResults& r) {
  std::set<int64_t> s;
  for (const auto& t : r.tasks) s.insert(t.length);
  return s;
}

std::set<std::string> run_tasks(const RunResults& r) {
  std::set<std::string> s;
  for (const auto& t : r.tasks) s.insert(t.task);
  return s;
}

// The cell metric: string_match_all (score) or the partial credit word_match (word_score).
using Metric = double TaskResult::*;

double score_of(const RunResults& r, const std::string& task, int64_t length,
                Metric metric = &TaskResult::score) {
  for (const auto& t : r.tasks)
    if (t.task == task && t.length == length) return t.*metric;
  return kNaN;
}

// Mean over the run's tasks at one length.
double length_mean(const RunResults& r, int64_t length, Metric metric = &TaskResult::score) {
  std::vector<double> v;
  for (const auto& t : r.tasks)
    if (t.length == length) v.push_back(t.*metric);
  return mean(v);
}

double run_mean(const RunResults& r, Metric metric = &TaskResult::score) {
  std::vector<double> v;
  for (const auto& t : r.tasks) v.push_back(t.*metric);
  return mean(v);
}

// A generic table: header cells, then rows of (label, values); values are scores (NaN = "-").
struct Table {
  std::vector<std::string> header;
  std::vector<std::pair<std::string, std::vector<double>>> rows;
};

std::string table_markdown(const Table& t) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& [label, vals] : t.rows) {
    rows.push_back({label});
    for (double v : vals) rows.back().push_back(fmt2(v));
  }
  return text_table_markdown(t.header, rows);
}

// Scores (0..100, higher is better) get the heatmap palette; other values (perplexities) do not.
std::string table_html(const Table& t, bool score_colours = true) {
  std::ostringstream s;
  s << "<table>\n<tr>";
  for (const auto& h : t.header) s << "<th>" << markup_escape(h) << "</th>";
  s << "</tr>\n";
  for (const auto& [label, vals] : t.rows) {
    s << "<tr><td class=\"label\">" << markup_escape(label) << "</td>";
    for (double v : vals) {
      if (std::isnan(v))
        s << "<td>-</td>";
      else if (!score_colours)
        s << "<td>" << fmt2(v) << "</td>";
      else
        s << "<td style=\"background:" << hex_colour(rdylgn(v)) << "\">" << fmt2(v) << "</td>";
    }
    s << "</tr>\n";
  }
  s << "</table>\n";
  return s.str();
}

// The comparison tables shared by the markdown and HTML output.
struct Comparison {
  Table summary;
  Table summary_words;  // the same, with word_match's partial credit
  std::vector<std::pair<std::string, Table>> per_task;
  bool has_ppl = false;
  bool has_tasks = false;  // some run has RULER-style tasks
  Table ppl;               // run rows x "dataset (window/stride)" columns; values are perplexities
};

Comparison compare(const std::vector<RunResults>& runs) {
  check(!runs.empty(), "report: no runs given");
  std::set<int64_t> lengths;
  std::set<std::string> tasks;
  for (const auto& r : runs) {
    for (int64_t l : run_lengths(r)) lengths.insert(l);
    for (const auto& t : run_tasks(r)) tasks.insert(t);
  }
  Comparison c;
  c.has_tasks = !tasks.empty();
  c.summary.header = {"run"};
  for (int64_t l : lengths) c.summary.header.push_back(length_label(l));
  c.summary.header.push_back("avg");
  c.summary_words.header = c.summary.header;
  auto summary_row = [&](const RunResults& r, Metric metric) {
    std::vector<double> vals;
    for (int64_t l : lengths) vals.push_back(length_mean(r, l, metric));
    vals.push_back(run_mean(r, metric));
    return std::make_pair(r.name + " (" + std::to_string(run_tasks(r).size()) + " tasks)", vals);
  };
  for (const auto& r : runs) {
    c.summary.rows.push_back(summary_row(r, &TaskResult::score));
    c.summary_words.rows.push_back(summary_row(r, &TaskResult::word_score));
  }
  for (const auto& task : ordered_tasks(tasks)) {
    Table t;
    t.header = c.summary.header;
    for (const auto& r : runs) {
      std::vector<double> vals;
      for (int64_t l : lengths) vals.push_back(score_of(r, task, l));
      vals.push_back(mean(std::vector<double>(vals.begin(), vals.end())));
      t.rows.push_back({r.name, vals});
    }
    c.per_task.push_back({task, t});
  }
  std::vector<std::string> ppl_cols;
  for (const auto& r : runs)
    for (const auto& p : r.ppl) {
      const std::string col =
          p.dataset + " (L=" + std::to_string(p.window) + ", S=" + std::to_string(p.stride) + ")";
      if (std::find(ppl_cols.begin(), ppl_cols.end(), col) == ppl_cols.end())
        ppl_cols.push_back(col);
    }
  if (!ppl_cols.empty()) {
    c.has_ppl = true;
    c.ppl.header = {"run"};
    for (const auto& col : ppl_cols) c.ppl.header.push_back(col);
    for (const auto& r : runs) {
      std::vector<double> vals(ppl_cols.size(), kNaN);
      for (const auto& p : r.ppl) {
        const std::string col =
            p.dataset + " (L=" + std::to_string(p.window) + ", S=" + std::to_string(p.stride) + ")";
        const size_t i = static_cast<size_t>(std::find(ppl_cols.begin(), ppl_cols.end(), col) -
                                             ppl_cols.begin());
        vals[i] = p.perplexity();
      }
      c.ppl.rows.push_back({r.name, vals});
    }
  }
  return c;
}

}  // namespace

std::string text_table_markdown(const std::vector<std::string>& header,
                                const std::vector<std::vector<std::string>>& rows) {
  std::ostringstream s;
  s << "|";
  for (const auto& h : header) s << " " << h << " |";
  s << "\n|";
  for (size_t i = 0; i < header.size(); ++i) s << (i ? " ---: |" : " --- |");
  s << "\n";
  for (const auto& r : rows) {
    s << "|";
    for (const auto& c : r) s << " " << c << " |";
    s << "\n";
  }
  return s.str();
}

double PplResult::perplexity() const {
  return tokens > 0 ? std::exp(nll_sum / static_cast<double>(tokens)) : kNaN;
}

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

// One entry of "tasks"; fields missing from older files are recomputed from the predictions.
// JSON type errors propagate (results_from_json names the file).
TaskResult task_from_json(const json& jt) {
  TaskResult t;
  t.task = jt.at("task").get<std::string>();
  t.length = jt.at("length").get<int64_t>();
  t.score = jt.at("score").get<double>();
  t.samples = jt.value("samples", 0);
  for (const auto& jp : jt.value("predictions", json::array())) {
    Prediction p;
    p.index = jp.value("index", 0);
    p.length = jp.value("length", t.length);
    p.expected = jp.value("expected", std::vector<std::string>{});
    p.output = jp.value("output", std::string());
    p.score = jp.value("score", 0.0);
    // Results written before word_match existed: recomputed from the prediction.
    if (jp.contains("word_score"))
      p.word_score = jp["word_score"].get<double>();
    else if (!p.expected.empty())
      p.word_score = word_match(p.output, p.expected);
    p.prompt_tokens = jp.value("prompt_tokens", int64_t{0});
    p.depth = jp.value("depth", -1.0);
    t.predictions.push_back(std::move(p));
  }
  if (jt.contains("word_score")) {
    t.word_score = jt["word_score"].get<double>();
  } else {  // older results: the mean of the predictions' (recomputed) partial credit, if kept
    std::vector<double> v;
    for (const auto& p : t.predictions) v.push_back(p.word_score);
    t.word_score = mean(v);
  }
  t.word_baseline = jt.contains("word_baseline") ? jt["word_baseline"].get<double>()
                                                 : word_baseline(t.predictions);
  return t;
}

// One entry of "recall", its counts checked for consistency.
RecallResult recall_from_json(const json& jr, const std::string& source) {
  RecallResult rr;
  rr.variant = jr.at("variant").get<std::string>();
  rr.length = jr.at("length").get<int64_t>();
  rr.queries = jr.at("queries").get<int64_t>();
  rr.queries_exact = jr.at("queries_exact").get<int64_t>();
  rr.sequences = jr.at("sequences").get<int64_t>();
  rr.sequences_exact = jr.at("sequences_exact").get<int64_t>();
  check(rr.length > 0 && rr.queries >= 0 && rr.queries_exact >= 0 &&
            rr.queries_exact <= rr.queries && rr.sequences >= 0 && rr.sequences_exact >= 0 &&
            rr.sequences_exact <= rr.sequences,
        "results ", source, ": recall ", rr.variant, " @ ", rr.length, ": inconsistent counts");
  for (const auto& jb : jr.value("buckets", json::array())) {
    RecallBucketScore b;
    const int64_t lo = jb.at("lo").get<int64_t>();
    check(lo >= 0 && lo < (int64_t{1} << 30), "results ", source, ": recall bucket lo ", lo,
          " out of range");
    b.bucket = recall_distance_bucket(static_cast<int>(lo));
    b.queries = jb.at("queries").get<int64_t>();
    b.exact = jb.at("exact").get<int64_t>();
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
    for (const auto& jt : j.value("tasks", json::array())) r.tasks.push_back(task_from_json(jt));
    if (j.contains("needle")) {
      const json& n = j["needle"];
      r.has_needle = true;
      r.needle.lengths = n.at("lengths").get<std::vector<int64_t>>();
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
      p.window = jp.at("window").get<int64_t>();
      p.stride = jp.at("stride").get<int64_t>();
      p.nll_sum = jp.at("nll_sum").get<double>();
      p.tokens = jp.at("tokens").get<int64_t>();
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

std::string markdown_table(const RunResults& run, TaskMetric which) {
  const Metric metric = which == TaskMetric::words ? &TaskResult::word_score : &TaskResult::score;
  const std::set<int64_t> lengths = run_lengths(run);
  Table t;
  t.header = {"task"};
  for (int64_t l : lengths) t.header.push_back(length_label(l));
  t.header.push_back("avg");
  for (const auto& task : ordered_tasks(run_tasks(run))) {
    std::vector<double> vals;
    for (int64_t l : lengths) vals.push_back(score_of(run, task, l, metric));
    vals.push_back(mean(vals));
    t.rows.push_back({task, vals});
  }
  std::vector<double> avg;
  for (int64_t l : lengths) avg.push_back(length_mean(run, l, metric));
  avg.push_back(run_mean(run, metric));
  t.rows.push_back({"avg", avg});
  return table_markdown(t);
}

std::string needle_markdown(const NeedleGrid& g) {
  Table t;
  t.header = {"depth %"};
  for (int64_t l : g.lengths) t.header.push_back(length_label(l));
  t.header.push_back("avg");
  for (size_t d = 0; d < g.depths.size(); ++d) {
    std::vector<double> vals = g.scores.at(d);
    vals.push_back(mean(g.scores.at(d)));
    t.rows.push_back({fmt2(g.depths[d]), vals});
  }
  std::vector<double> avg;
  for (size_t l = 0; l < g.lengths.size(); ++l) {
    std::vector<double> col;
    for (const auto& row : g.scores) col.push_back(row.at(l));
    avg.push_back(mean(col));
  }
  avg.push_back(g.average());
  t.rows.push_back({"avg", avg});
  return table_markdown(t);
}

std::vector<std::string> recall_variants(const RunResults& run) {
  std::set<std::string> present;
  for (const auto& r : run.recall) present.insert(r.variant);
  std::vector<std::string> out;
  std::vector<RecallVariant> known = all_recall_variants();
  known.push_back(RecallVariant::copy);
  for (RecallVariant v : known)
    if (present.erase(std::string(recall_variant_name(v))))
      out.push_back(std::string(recall_variant_name(v)));
  for (const auto& v : present) out.push_back(v);  // foreign files' variant names
  return out;
}

namespace {

std::set<int64_t> recall_lengths(const RunResults& run) {
  std::set<int64_t> s;
  for (const auto& r : run.recall) s.insert(r.length);
  return s;
}

const RecallResult* find_recall(const RunResults& run, const std::string& variant, int64_t length) {
  for (const auto& r : run.recall)
    if (r.variant == variant && r.length == length) return &r;
  return nullptr;
}

}  // namespace

HeatGrid recall_heat_grid(const RunResults& run, const std::string& variant) {
  const std::set<int64_t> lengths = recall_lengths(run);
  std::set<int> buckets;
  for (const auto& r : run.recall)
    if (r.variant == variant)
      for (const auto& b : r.buckets) buckets.insert(b.bucket);
  HeatGrid g;
  for (int64_t l : lengths) {
    g.cols.push_back(length_label(l));
    g.col_values.push_back(std::to_string(l));
  }
  // Far distances on top, as in the needle picture's depth axis read from the far end.
  for (auto it = buckets.rbegin(); it != buckets.rend(); ++it) {
    g.rows.push_back(recall_bucket_label(*it));
    std::vector<double> row;
    for (int64_t l : lengths) {
      const RecallResult* r = find_recall(run, variant, l);
      double v = kNaN;
      if (r)
        for (const auto& b : r->buckets)
          if (b.bucket == *it && b.queries > 0)
            v = 100.0 * static_cast<double>(b.exact) / static_cast<double>(b.queries);
      row.push_back(v);
    }
    g.scores.push_back(row);
  }
  g.y_title = "Key-query distance (tokens)";
  g.y_name = "distance";
  return g;
}

std::string recall_markdown(const RunResults& run) {
  if (run.recall.empty()) return "";
  const std::set<int64_t> lengths = recall_lengths(run);
  const std::vector<std::string> variants = recall_variants(run);
  auto table = [&](double (RecallResult::*metric)() const) {
    Table t;
    t.header = {"variant"};
    for (int64_t l : lengths) t.header.push_back(length_label(l));
    for (const auto& v : variants) {
      std::vector<double> vals;
      for (int64_t l : lengths) {
        const RecallResult* r = find_recall(run, v, l);
        vals.push_back(r ? (r->*metric)() : kNaN);
      }
      t.rows.push_back({v, vals});
    }
    return table_markdown(t);
  };
  std::ostringstream s;
  s << "Associative recall, exact match per query (%):\n\n"
    << table(&RecallResult::query_score) << "\nExact match per sequence (every query right, %):\n\n"
    << table(&RecallResult::sequence_score) << "\n";
  for (const auto& v : variants) {
    const HeatGrid g = recall_heat_grid(run, v);
    Table t;
    t.header = {"distance"};
    for (const auto& c : g.cols) t.header.push_back(c);
    for (size_t i = 0; i < g.rows.size(); ++i) t.rows.push_back({g.rows[i], g.scores[i]});
    s << "Recall " << v << " by key-query distance (rows) and length (columns), exact %:\n\n"
      << table_markdown(t) << "\n";
  }
  return s.str();
}

std::string comparison_markdown(const std::vector<RunResults>& runs) {
  const Comparison c = compare(runs);
  std::ostringstream s;
  s << "# Evaluation comparison\n\n";
  if (c.has_tasks) {
    s << "Scores are RULER's string_match_all (0..100). Summary: mean over the tasks each run has "
         "at each length.\n\n";
    s << table_markdown(c.summary) << "\n";
    s << kPartialCreditCaption << ":\n\n" << table_markdown(c.summary_words) << "\n";
    for (const auto& [task, t] : c.per_task)
      s << "## " << task << "\n\n" << table_markdown(t) << "\n";
  }
  s << recall_comparison_markdown(runs);
  for (const auto& r : runs) {
    if (!r.has_needle) continue;
    s << "## Needle grid: " << r.name << "\n\n" << needle_markdown(r.needle) << "\n";
  }
  if (c.has_ppl) s << "## Perplexity (sliding window)\n\n" << table_markdown(c.ppl) << "\n";
  return s.str();
}

std::string comparison_html(const std::vector<RunResults>& runs) {
  const Comparison c = compare(runs);
  std::ostringstream s;
  s << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>harpe evaluation</title>\n"
       "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
       "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td.label{text-align:left}"
       "th{background:#eee}</style></head><body>\n";
  if (c.has_tasks) {
    s << "<h1>Evaluation comparison</h1>\n<p>Scores are RULER's string_match_all (0..100). "
         "Summary: mean over the tasks each run has at each length.</p>\n";
    s << table_html(c.summary);
    s << "<p>" << kPartialCreditCaption << ":</p>\n" << table_html(c.summary_words);
    for (const auto& [task, t] : c.per_task)
      s << "<h2>" << markup_escape(task) << "</h2>\n" << table_html(t);
  }
  s << recall_comparison_html(runs);
  if (c.has_ppl)
    s << "<h2>Perplexity (sliding window)</h2>\n"
      << ppl_charts_html(runs) << table_html(c.ppl, false);
  for (const RunResults& r : runs) {
    if (!r.has_needle) continue;
    s << "<h2>Needle grid: " << markup_escape(r.name) << "</h2>\n";
    // Always redrawn from the scores: no file that results.json names is ever read or inlined
    // (a crafted "svg" path could be any file, an SVG could carry a <script>).
    s << "<div>" << heatmap_svg(r.needle, r.name) << "</div>\n";
  }
  s << "</body></html>\n";
  return s.str();
}

}  // namespace harpe::eval

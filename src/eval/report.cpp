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
const double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string fmt2(double v) {
  if (std::isnan(v)) return "-";
  std::ostringstream o;
  o.setf(std::ios::fixed);
  o.precision(2);
  o << v;
  return o.str();
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
  return nan_mean(v);
}

double run_mean(const RunResults& r, Metric metric = &TaskResult::score) {
  std::vector<double> v;
  for (const auto& t : r.tasks) v.push_back(t.*metric);
  return nan_mean(v);
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
      vals.push_back(nan_mean(std::vector<double>(vals.begin(), vals.end())));
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

double nan_mean(const std::vector<double>& v) {
  double s = 0;
  int n = 0;
  for (double x : v)
    if (!std::isnan(x)) s += x, ++n;
  return n ? s / n : kNaN;
}

double PplResult::perplexity() const {
  return tokens > 0 ? std::exp(nll_sum / static_cast<double>(tokens)) : kNaN;
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
    vals.push_back(nan_mean(vals));
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
    vals.push_back(nan_mean(g.scores.at(d)));
    t.rows.push_back({fmt2(g.depths[d]), vals});
  }
  std::vector<double> avg;
  for (size_t l = 0; l < g.lengths.size(); ++l) {
    std::vector<double> col;
    for (const auto& row : g.scores) col.push_back(row.at(l));
    avg.push_back(nan_mean(col));
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

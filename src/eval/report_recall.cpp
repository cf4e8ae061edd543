// The recall and perplexity parts of `harpe report`: runs grouped (meta "group", e.g. the seeds
// of one method), each cell the mean over the group's runs with its min..max, a verdict per length
// that names a winner only beyond the spread, line charts and per-group distance x length heatmaps.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "core/error.h"
#include "eval/chart.h"
#include "eval/heatmap.h"
#include "eval/report.h"

namespace harpe::eval {

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string fmt(double v, int prec) {
  if (std::isnan(v)) return "-";
  std::ostringstream o;
  o.setf(std::ios::fixed);
  o.precision(prec);
  o << v;
  return o.str();
}

std::set<int64_t> all_recall_lengths(const std::vector<RunGroup>& groups) {
  std::set<int64_t> s;
  for (const RunGroup& g : groups)
    for (const RunResults* r : g.runs)
      for (const RecallResult& x : r->recall) s.insert(x.length);
  return s;
}

std::vector<std::string> all_variants(const std::vector<RunResults>& runs) {
  RunResults merged;
  for (const RunResults& r : runs)
    merged.recall.insert(merged.recall.end(), r.recall.begin(), r.recall.end());
  return recall_variants(merged);
}

// A run's query score for (variant, length); "" variant: the mean over the run's variants there.
double run_score(const RunResults& r, const std::string& variant, int64_t length) {
  double sum = 0;
  int n = 0;
  for (const RecallResult& x : r.recall)
    if (x.length == length && (variant.empty() || x.variant == variant))
      sum += x.query_score(), ++n;
  return n ? sum / n : kNaN;
}

Spread spread_of(const std::vector<double>& v) {
  Spread s;
  double sum = 0;
  s.min = std::numeric_limits<double>::infinity();
  s.max = -s.min;
  for (double x : v)
    if (!std::isnan(x)) sum += x, ++s.n, s.min = std::min(s.min, x), s.max = std::max(s.max, x);
  if (s.n == 0) return Spread{kNaN, kNaN, kNaN, kNaN, 0};
  s.mean = sum / s.n;
  double ss = 0;
  for (double x : v)
    if (!std::isnan(x)) ss += (x - s.mean) * (x - s.mean);
  s.sd = s.n > 1 ? std::sqrt(ss / (s.n - 1)) : 0;
  return s;
}

Spread group_score(const RunGroup& g, const std::string& variant, int64_t length) {
  std::vector<double> v;
  for (const RunResults* r : g.runs) v.push_back(run_score(*r, variant, length));
  return spread_of(v);
}

std::string cell(const Spread& s) {
  if (s.n == 0) return "-";
  if (s.n == 1) return fmt(s.mean, 1);
  return fmt(s.mean, 1) + " (" + fmt(s.min, 1) + "-" + fmt(s.max, 1) + ")";
}

// The verdict of one column: the group with the best mean, and whether its worst run beats every
// other group's best run ("beyond the spread").
std::string verdict(const std::vector<RunGroup>& groups, const std::string& variant, int64_t L) {
  int best = -1;
  std::vector<Spread> s;
  for (const RunGroup& g : groups) s.push_back(group_score(g, variant, L));
  for (size_t i = 0; i < s.size(); ++i)
    if (s[i].n > 0 && (best < 0 || s[i].mean > s[static_cast<size_t>(best)].mean))
      best = static_cast<int>(i);
  if (best < 0) return "-";
  for (const Spread& x : s)
    if (x.n == 1) return groups[static_cast<size_t>(best)].name + " (single runs: no spread)";
  bool beyond = true;
  for (size_t i = 0; i < s.size(); ++i)
    if (static_cast<int>(i) != best && s[i].n > 0 && s[i].max >= s[static_cast<size_t>(best)].min)
      beyond = false;
  return groups[static_cast<size_t>(best)].name +
         (beyond ? " (beyond the spread)" : " (within the spread)");
}

struct TextTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};

std::string markdown(const TextTable& t) { return text_table_markdown(t.header, t.rows); }

std::string html(const TextTable& t) {
  std::ostringstream s;
  s << "<table>\n<tr>";
  for (const auto& h : t.header) s << "<th>" << markup_escape(h) << "</th>";
  s << "</tr>\n";
  for (const auto& r : t.rows) {
    s << "<tr>";
    for (size_t i = 0; i < r.size(); ++i)
      s << (i ? "<td>" : "<td class=\"label\">") << markup_escape(r[i]) << "</td>";
    s << "</tr>\n";
  }
  s << "</table>\n";
  return s.str();
}

TextTable score_table(const std::vector<RunGroup>& groups, const std::set<int64_t>& lengths,
                      const std::string& variant) {
  TextTable t;
  t.header = {"method (runs)"};
  for (int64_t l : lengths) t.header.push_back(length_label(l));
  for (const RunGroup& g : groups) {
    std::vector<std::string> row{g.name + " (" + std::to_string(g.runs.size()) + ")"};
    for (int64_t l : lengths) row.push_back(cell(group_score(g, variant, l)));
    t.rows.push_back(row);
  }
  std::vector<std::string> v{"best"};
  for (int64_t l : lengths) v.push_back(verdict(groups, variant, l));
  t.rows.push_back(v);
  return t;
}

// Pooled over a group's runs: queries and exact matches per (bucket, length).
HeatGrid pooled_heat_grid(const RunGroup& g, const std::string& variant) {
  RunResults pooled;
  std::map<int64_t, RecallResult> by_length;
  for (const RunResults* r : g.runs)
    for (const RecallResult& x : r->recall) {
      if (x.variant != variant) continue;
      RecallResult& p = by_length[x.length];
      p.variant = variant;
      p.length = x.length;
      for (const RecallBucketScore& b : x.buckets) {
        auto it = std::find_if(p.buckets.begin(), p.buckets.end(),
                               [&](const RecallBucketScore& y) { return y.bucket == b.bucket; });
        if (it == p.buckets.end())
          p.buckets.push_back(b);
        else
          it->queries += b.queries, it->exact += b.exact;
      }
    }
  for (auto& [l, x] : by_length) {
    std::sort(
        x.buckets.begin(), x.buckets.end(),
        [](const RecallBucketScore& a, const RecallBucketScore& b) { return a.bucket < b.bucket; });
    pooled.recall.push_back(x);
  }
  return recall_heat_grid(pooled, variant);
}

LineChart score_chart(const std::vector<RunGroup>& groups, const std::set<int64_t>& lengths,
                      const std::string& variant, const std::string& title) {
  LineChart c;
  c.title = title;
  c.x_label = "context length (tokens)";
  c.y_label = "exact match per query (%)";
  c.fixed_y = true;
  for (const RunGroup& g : groups) {
    ChartSeries s;
    s.name = g.name;
    bool band = g.runs.size() > 1;
    for (int64_t l : lengths) {
      const Spread sp = group_score(g, variant, l);
      s.x.push_back(static_cast<double>(l));
      s.y.push_back(sp.mean);
      if (band) {
        s.lo.push_back(sp.min);
        s.hi.push_back(sp.max);
      }
    }
    c.series.push_back(std::move(s));
  }
  return c;
}

}  // namespace

std::vector<RunGroup> group_runs(const std::vector<RunResults>& runs) {
  std::vector<RunGroup> groups;
  for (const RunResults& r : runs) {
    const auto it = r.meta.find("group");
    const std::string name = it != r.meta.end() && !it->second.empty() ? it->second : r.name;
    auto g = std::find_if(groups.begin(), groups.end(),
                          [&](const RunGroup& x) { return x.name == name; });
    if (g == groups.end())
      groups.push_back({name, {&r}});
    else
      g->runs.push_back(&r);
  }
  return groups;
}

bool has_recall(const std::vector<RunResults>& runs) {
  for (const RunResults& r : runs)
    if (!r.recall.empty()) return true;
  return false;
}

namespace {

// The runs that have recall results, their groups and all their lengths.
struct RecallRuns {
  std::vector<RunResults> runs;
  std::vector<RunGroup> groups;  // point into `runs`
  std::set<int64_t> lengths;
};

std::unique_ptr<RecallRuns> recall_runs(const std::vector<RunResults>& all) {
  auto r = std::make_unique<RecallRuns>();
  for (const RunResults& x : all)
    if (!x.recall.empty()) r->runs.push_back(x);
  r->groups = group_runs(r->runs);
  r->lengths = all_recall_lengths(r->groups);
  return r;
}

}  // namespace

std::string recall_comparison_markdown(const std::vector<RunResults>& runs) {
  if (!has_recall(runs)) return "";
  const auto rr = recall_runs(runs);
  std::ostringstream s;
  s << "## Associative recall\n\n"
    << "Exact match per query (%), mean over each method's runs (seeds) with min-max in brackets; "
       "\"best\" names the best mean and whether its worst run beats every other method's best run "
       "(beyond the spread).\n\n"
    << "Mean over the variants:\n\n"
    << markdown(score_table(rr->groups, rr->lengths, "")) << "\n";
  for (const std::string& v : all_variants(rr->runs))
    s << "### " << v << "\n\n" << markdown(score_table(rr->groups, rr->lengths, v)) << "\n";
  return s.str();
}

std::string recall_comparison_html(const std::vector<RunResults>& runs) {
  if (!has_recall(runs)) return "";
  const auto rr = recall_runs(runs);
  std::ostringstream s;
  s << "<h1>Associative recall</h1>\n<p>Exact match per query (%): mean over each method's runs "
       "(seeds), min-max in brackets and as the shaded band.</p>\n";
  s << "<div>"
    << line_chart_svg(score_chart(rr->groups, rr->lengths, "",
                                  "Recall vs context length (mean over variants)"))
    << "</div>\n"
    << html(score_table(rr->groups, rr->lengths, ""));
  for (const std::string& v : all_variants(rr->runs)) {
    s << "<h2>" << markup_escape(v) << "</h2>\n<div>"
      << line_chart_svg(
             score_chart(rr->groups, rr->lengths, v, "Recall " + v + " vs context length"))
      << "</div>\n"
      << html(score_table(rr->groups, rr->lengths, v));
  }
  s << "<h2>Recall by key-query distance and length (pooled over each method's runs)</h2>\n";
  for (const std::string& v : all_variants(rr->runs))
    for (const RunGroup& g : rr->groups) {
      const HeatGrid grid = pooled_heat_grid(g, v);
      if (grid.rows.empty()) continue;
      s << "<div>" << heatmap_svg(grid, g.name + ": " + v) << "</div>\n";
    }
  return s.str();
}

std::string ppl_charts_html(const std::vector<RunResults>& runs) {
  std::vector<std::string> datasets;
  for (const RunResults& r : runs)
    for (const PplResult& p : r.ppl)
      if (std::find(datasets.begin(), datasets.end(), p.dataset) == datasets.end())
        datasets.push_back(p.dataset);
  if (datasets.empty()) return "";
  const std::vector<RunGroup> groups = group_runs(runs);
  std::ostringstream s;
  for (const std::string& d : datasets) {
    LineChart c;
    c.title = "Perplexity vs context length: " + d;
    c.x_label = "window (tokens)";
    c.y_label = "perplexity";
    for (const RunGroup& g : groups) {
      std::map<int64_t, std::vector<double>> by_window;
      for (const RunResults* r : g.runs)
        for (const PplResult& p : r->ppl)
          if (p.dataset == d) by_window[p.window].push_back(p.perplexity());
      if (by_window.empty()) continue;
      ChartSeries sr;
      sr.name = g.name;
      for (const auto& [w, v] : by_window) {
        const Spread sp = spread_of(v);
        sr.x.push_back(static_cast<double>(w));
        sr.y.push_back(sp.mean);
        if (g.runs.size() > 1) {
          sr.lo.push_back(sp.min);
          sr.hi.push_back(sp.max);
        }
      }
      c.series.push_back(std::move(sr));
    }
    s << "<div>" << line_chart_svg(c) << "</div>\n";
  }
  return s.str();
}

}  // namespace harpe::eval

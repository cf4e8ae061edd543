// Evaluation results on disk and as tables. One run directory holds results.json (schema
// "harpe.eval.v1", documented in docs/eval.md) and, optionally, the needle heatmap images it names.
// `harpe report RUN_DIR...` merges runs into one comparison (markdown + HTML).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "eval/heatmap.h"
#include "eval/needle_grid.h"
#include "eval/recall.h"
#include "eval/scoring.h"

namespace harpe::eval {

struct PplResult {
  std::string dataset;
  int64_t window = 0;
  int64_t stride = 0;
  double nll_sum = 0;
  int64_t tokens = 0;
  double perplexity() const;
};

struct RunResults {
  std::string name;                         // shown in comparisons (e.g. "harpe-uniform")
  std::map<std::string, std::string> meta;  // free-form: model, method, checkpoint, seed, date
  std::vector<TaskResult> tasks;            // one entry per (task, length)
  bool has_needle = false;
  NeedleGrid needle;
  std::string needle_svg, needle_png;  // image files, relative to the run directory
  std::vector<PplResult> ppl;
  std::vector<RecallResult> recall;  // one entry per (variant, length)
};

// JSON text of a run (predictions included when keep_predictions).
std::string results_to_json(const RunResults& run, bool keep_predictions = true);
RunResults results_from_json(const std::string& json_text, const std::string& source_name);
void write_results(const RunResults& run, const std::string& path, bool keep_predictions = true);
RunResults read_results(const std::string& path);
// Reads RUN_DIR/results.json (or the file itself when given a .json path).
RunResults read_run(const std::string& run_dir_or_file);

// The mean of the entries that are not NaN; NaN when there are none (a length a run lacks).
double nan_mean(const std::vector<double>& v);

// A markdown table from text cells (header, then rows); numbers right-aligned.
std::string text_table_markdown(const std::vector<std::string>& header,
                                const std::vector<std::vector<std::string>>& rows);

// Markdown: task rows x length columns with an "avg" column, and an "avg" row (mean over tasks
// at each length). Scores with 2 decimals; "-" where a (task, length) was not run. `words`:
// word_match's partial credit instead of string_match_all.
enum class TaskMetric { exact, words };
// The heading above a words table, in results.md and the comparisons.
inline constexpr const char* kPartialCreditCaption =
    "Partial credit (word_match: the share of each answer's words found in place, 0..100)";
std::string markdown_table(const RunResults& run, TaskMetric metric = TaskMetric::exact);
// Markdown needle grid: depth rows x length columns.
std::string needle_markdown(const NeedleGrid& grid);

// Associative recall of one run: exact match per query (variant rows x length columns), per
// sequence, and per variant a distance-bucket x length grid.
std::string recall_markdown(const RunResults& run);
// The distance-bucket x length grid of one variant (rows: buckets that have queries).
HeatGrid recall_heat_grid(const RunResults& run, const std::string& variant);
std::vector<std::string> recall_variants(const RunResults& run);  // in eval/recall.h's order

// Runs grouped by meta "group" (e.g. the seeds of one method; a run without one is its own group),
// in order of first appearance, and a score's mean and spread over a group's runs.
struct RunGroup {
  std::string name;
  std::vector<const RunResults*> runs;
};
std::vector<RunGroup> group_runs(const std::vector<RunResults>& runs);
struct Spread {
  double mean = 0, min = 0, max = 0, sd = 0;
  int n = 0;
};
bool has_recall(const std::vector<RunResults>& runs);
// The recall comparison (report_recall.cpp): per variant, method rows x length columns, "mean
// (min-max)" over each group's runs and a "best" row; HTML adds line charts (log2 length axis,
// min-max band) and each group's pooled distance x length heatmap. "" when no run has recall.
std::string recall_comparison_markdown(const std::vector<RunResults>& runs);
std::string recall_comparison_html(const std::vector<RunResults>& runs);
// Perplexity vs window per dataset, one line per group (HTML, inline SVG); "" without perplexity.
std::string ppl_charts_html(const std::vector<RunResults>& runs);

// Comparison of runs: a summary table (run rows x length columns: the mean over the tasks each run
// has at that length, plus "avg"), then one table per task (run rows x lengths), then perplexity.
std::string comparison_markdown(const std::vector<RunResults>& runs);
// The same tables as an HTML page, with each run's needle heatmap drawn from its scores (inline
// SVG). No file a results.json names is read: image paths in it are never followed or inlined.
std::string comparison_html(const std::vector<RunResults>& runs);

}  // namespace harpe::eval

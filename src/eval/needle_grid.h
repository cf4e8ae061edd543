// The classic single-needle test over a grid of context lengths x needle depths (`harpe eval
// needle`; the HARPE paper's Figure 2): one word-key/7-digit-number needle per sample, placed at
// the depth, scored with string_match_all.
#pragma once

#include <cstdint>
#include <vector>

#include "eval/ruler.h"
#include "eval/scoring.h"

namespace harpe::eval {

struct NeedleGridSpec {
  std::vector<int64_t> lengths;  // context lengths (tokens), the heatmap's columns
  std::vector<double> depths;    // needle depth percents (0 = start), the heatmap's rows
  int samples_per_cell = 1;
  Haystack haystack = Haystack::noise;  // noise or essay
};

// 0, 100/(n-1), ..., 100.
std::vector<double> evenly_spaced_depths(int n);

struct NeedleGrid {
  std::vector<int64_t> lengths;
  std::vector<double> depths;
  std::vector<std::vector<double>> scores;  // [depth][length], 0..100; NaN where not measured
  double average() const;                   // over measured cells
};

struct NeedleCell {
  int64_t length = 0;
  double depth = 0;
  std::vector<TaskSample> samples;
};

// All samples of the grid, in (length, depth) order.
std::vector<NeedleCell> generate_needle_grid(const NeedleGridSpec& spec, const GenOptions& options);

// Runs the generator over the grid; predictions (with their depth) go to *predictions when given.
NeedleGrid run_needle_grid(const NeedleGridSpec& spec, const GenOptions& options,
                           const Generator& generate, std::vector<Prediction>* predictions);

}  // namespace harpe::eval

#include "eval/needle_grid.h"

#include <cmath>
#include <limits>

#include "core/error.h"

namespace harpe::eval {

std::vector<double> evenly_spaced_depths(int n) {
  check(n >= 1, "needle: number of depths must be >= 1, got ", n);
  if (n == 1) return {50.0};
  std::vector<double> d;
  for (int i = 0; i < n; ++i) d.push_back(100.0 * i / (n - 1));
  return d;
}

double NeedleGrid::average() const {
  double sum = 0;
  int n = 0;
  for (const auto& row : scores)
    for (double v : row)
      if (!std::isnan(v)) sum += v, ++n;
  return n ? sum / n : std::numeric_limits<double>::quiet_NaN();
}

std::vector<NeedleCell> generate_needle_grid(const NeedleGridSpec& spec,
                                             const GenOptions& options) {
  check(!spec.lengths.empty(), "needle: no lengths given");
  check(!spec.depths.empty(), "needle: no depths given");
  check(spec.samples_per_cell >= 1, "needle: samples per cell must be >= 1");
  std::vector<NeedleCell> cells;
  for (int64_t len : spec.lengths) {
    for (double depth : spec.depths) {
      NeedleCell c{len, depth, {}};
      for (int i = 0; i < spec.samples_per_cell; ++i)
        c.samples.push_back(generate_needle_sample(len, depth, i, spec.haystack, options));
      cells.push_back(std::move(c));
    }
  }
  return cells;
}

NeedleGrid run_needle_grid(const NeedleGridSpec& spec, const GenOptions& options,
                           const Generator& generate, std::vector<Prediction>* predictions) {
  NeedleGrid g;
  g.lengths = spec.lengths;
  g.depths = spec.depths;
  g.scores.assign(spec.depths.size(), std::vector<double>(spec.lengths.size(), 0.0));
  size_t k = 0;
  for (const NeedleCell& cell : generate_needle_grid(spec, options)) {
    const size_t li = k / spec.depths.size(), di = k % spec.depths.size();
    ++k;
    TaskResult r = run_task(cell.samples, generate);
    g.scores[di][li] = r.score;
    if (predictions) {
      for (Prediction& p : r.predictions) {
        p.depth = cell.depth;
        predictions->push_back(std::move(p));
      }
    }
  }
  return g;
}

}  // namespace harpe::eval

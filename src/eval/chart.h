// Line charts as SVG text (no gnuplot, nothing run): one line per series, an optional shaded band
// (e.g. the min..max over seeds), a log2 or linear x axis. Used by `harpe report` for "score vs
// context length" and "perplexity vs context length".
#pragma once

#include <string>
#include <vector>

namespace harpe::eval {

struct ChartSeries {
  std::string name;
  std::vector<double> x, y;    // points in x order; NaN y leaves a gap
  std::vector<double> lo, hi;  // band per point (both empty: no band)
};

struct LineChart {
  std::string title, x_label, y_label;
  bool log2_x = true;
  bool fixed_y = false;  // y axis [y_min, y_max]; else from the data
  double y_min = 0, y_max = 100;
  std::vector<ChartSeries> series;
};

// Throws Error on mismatched vector sizes or non-positive x on a log axis.
std::string line_chart_svg(const LineChart& chart);

// Markup escape for text placed in SVG or HTML (&, <, >, ", ').
std::string markup_escape(const std::string& s);

}  // namespace harpe::eval

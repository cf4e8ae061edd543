// The needle heatmap picture (context length x depth, colour 0..100 on a red-yellow-green scale
// like matplotlib's RdYlGn, as in the HARPE paper's Figure 2): an SVG written directly, and a PNG
// drawn by gnuplot (run as a process on a script and data file in a temporary directory).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "eval/needle_grid.h"

namespace harpe::eval {

// The colour of a score in [0, 100] (clamped): red at 0, pale yellow at 50, green at 100.
std::array<uint8_t, 3> rdylgn(double score);
std::string hex_colour(const std::array<uint8_t, 3>& rgb);  // "#rrggbb"

// "4K" for 4096, "128K" for 131072, else the number.
std::string length_label(int64_t tokens);

// Any score grid (0..100): column and row labels, axis titles, and how a cell's tooltip names its
// column and row ("length 4096, depth 50%: 75.0").
struct HeatGrid {
  std::vector<std::string> cols, rows;
  std::vector<std::vector<double>> scores;  // [row][col]; NaN: not measured (grey)
  std::string x_title = "Context length (tokens)", y_title;
  std::string x_name = "length", y_name, y_unit;    // tooltip words
  std::vector<std::string> col_values, row_values;  // tooltip values (default: the labels)
};
std::string heatmap_svg(const HeatGrid& grid, const std::string& title);
// The needle grid as a HeatGrid (lengths x depth percents).
HeatGrid needle_heat_grid(const NeedleGrid& grid);

std::string heatmap_svg(const NeedleGrid& grid, const std::string& title);
void write_heatmap_svg(const NeedleGrid& grid, const std::string& path, const std::string& title);
// Through run_gnuplot (eval/gnuplot.h). Throws Error when gnuplot cannot be run or fails (its
// message included), and before running anything when the path or the title holds a control
// character (it would reach the gnuplot script).
void write_heatmap_png(const NeedleGrid& grid, const std::string& path, const std::string& title,
                       const std::string& gnuplot = "gnuplot");

}  // namespace harpe::eval

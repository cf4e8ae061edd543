#include "eval/heatmap.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "eval/chart.h"
#include "eval/gnuplot.h"

namespace harpe::eval {
namespace {

// ColorBrewer RdYlGn, 11 classes, from 0 (red) to 100 (green).
constexpr uint8_t kRdYlGn[11][3] = {{0xa5, 0x00, 0x26}, {0xd7, 0x30, 0x27}, {0xf4, 0x6d, 0x43},
                                    {0xfd, 0xae, 0x61}, {0xfe, 0xe0, 0x8b}, {0xff, 0xff, 0xbf},
                                    {0xd9, 0xef, 0x8b}, {0xa6, 0xd9, 0x6a}, {0x66, 0xbd, 0x63},
                                    {0x1a, 0x98, 0x50}, {0x00, 0x68, 0x37}};

std::string fmt(double v, int prec) {
  std::ostringstream o;
  o.setf(std::ios::fixed);
  o.precision(prec);
  o << v;
  return o.str();
}

void check_grid(const NeedleGrid& g) {
  check(!g.lengths.empty() && !g.depths.empty(), "heatmap: empty grid");
  check(g.scores.size() == g.depths.size(), "heatmap: ", g.scores.size(), " score rows for ",
        g.depths.size(), " depths");
  for (const auto& row : g.scores)
    check(row.size() == g.lengths.size(), "heatmap: a score row has ", row.size(), " values for ",
          g.lengths.size(), " lengths");
}

}  // namespace

std::array<uint8_t, 3> rdylgn(double score) {
  if (std::isnan(score)) return {0xbb, 0xbb, 0xbb};
  const double x = std::clamp(score, 0.0, 100.0) / 10.0;
  const int i = std::min(static_cast<int>(x), 9);
  const double t = x - i;
  std::array<uint8_t, 3> c{};
  for (int k = 0; k < 3; ++k)
    c[static_cast<size_t>(k)] =
        static_cast<uint8_t>(std::lround(kRdYlGn[i][k] + t * (kRdYlGn[i + 1][k] - kRdYlGn[i][k])));
  return c;
}

std::string hex_colour(const std::array<uint8_t, 3>& rgb) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
  return buf;
}

std::string length_label(int64_t tokens) {
  if (tokens >= 1024 && tokens % 1024 == 0) return std::to_string(tokens / 1024) + "K";
  return std::to_string(tokens);
}

HeatGrid needle_heat_grid(const NeedleGrid& g) {
  check_grid(g);
  HeatGrid h;
  for (int64_t l : g.lengths) {
    h.cols.push_back(length_label(l));
    h.col_values.push_back(std::to_string(l));
  }
  for (double d : g.depths) {
    h.rows.push_back(fmt(d, 0));
    h.row_values.push_back(fmt(d, 1));
  }
  h.scores = g.scores;
  h.y_title = "Depth (%)";
  h.y_name = "depth";
  h.y_unit = std::string(1, '%');  // (a plain "%" trips GCC 12's -Wrestrict false positive)
  return h;
}

std::string heatmap_svg(const NeedleGrid& g, const std::string& title) {
  return heatmap_svg(needle_heat_grid(g), title);
}

std::string heatmap_svg(const HeatGrid& g, const std::string& title) {
  check(!g.cols.empty() && !g.rows.empty(), "heatmap: empty grid");
  check(g.scores.size() == g.rows.size(), "heatmap: ", g.scores.size(), " score rows for ",
        g.rows.size(), " rows");
  for (const auto& row : g.scores)
    check(row.size() == g.cols.size(), "heatmap: a score row has ", row.size(), " values for ",
          g.cols.size(), " columns");
  const auto col_value = [&](size_t x) {
    return x < g.col_values.size() ? g.col_values[x] : g.cols[x];
  };
  const auto row_value = [&](size_t y) {
    return y < g.row_values.size() ? g.row_values[y] : g.rows[y];
  };
  const int nx = static_cast<int>(g.cols.size()), ny = static_cast<int>(g.rows.size());
  const int cw = std::max(36, 640 / nx), ch = std::clamp(360 / ny, 18, 40);
  const int left = 80, top = 40, bottom = 60, bar_gap = 24, bar_w = 18, right = 70;
  const int w = left + nx * cw + bar_gap + bar_w + right, h = top + ny * ch + bottom;
  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << w << "\" height=\"" << h
    << "\" viewBox=\"0 0 " << w << " " << h << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  s << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  s << "<text x=\"" << left + nx * cw / 2 << "\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">"
    << markup_escape(title) << "</text>\n";
  for (int y = 0; y < ny; ++y) {
    for (int x = 0; x < nx; ++x) {
      const double v = g.scores[static_cast<size_t>(y)][static_cast<size_t>(x)];
      const int px = left + x * cw, py = top + y * ch;
      s << "<rect x=\"" << px << "\" y=\"" << py << "\" width=\"" << cw << "\" height=\"" << ch
        << "\" fill=\"" << hex_colour(rdylgn(v)) << "\" stroke=\"white\" stroke-width=\"1\">"
        << "<title>" << markup_escape(g.x_name) << " "
        << markup_escape(col_value(static_cast<size_t>(x))) << ", " << markup_escape(g.y_name)
        << " " << markup_escape(row_value(static_cast<size_t>(y))) << markup_escape(g.y_unit)
        << ": " << (std::isnan(v) ? std::string("n/a") : fmt(v, 1)) << "</title></rect>\n";
      if (!std::isnan(v) && ch >= 16 && cw >= 30) {
        const bool dark = v < 15 || v > 85;
        s << "<text x=\"" << px + cw / 2 << "\" y=\"" << py + ch / 2 + 4
          << "\" text-anchor=\"middle\" font-size=\"10\" fill=\"" << (dark ? "white" : "black")
          << "\">" << fmt(v, 0) << "</text>\n";
      }
    }
  }
  for (int x = 0; x < nx; ++x)
    s << "<text x=\"" << left + x * cw + cw / 2 << "\" y=\"" << top + ny * ch + 16
      << "\" text-anchor=\"middle\">" << markup_escape(g.cols[static_cast<size_t>(x)])
      << "</text>\n";
  for (int y = 0; y < ny; ++y)
    s << "<text x=\"" << left - 6 << "\" y=\"" << top + y * ch + ch / 2 + 4
      << "\" text-anchor=\"end\">" << markup_escape(g.rows[static_cast<size_t>(y)]) << "</text>\n";
  s << "<text x=\"" << left + nx * cw / 2 << "\" y=\"" << top + ny * ch + 40
    << "\" text-anchor=\"middle\">" << markup_escape(g.x_title) << "</text>\n";
  s << "<text transform=\"translate(24," << top + ny * ch / 2
    << ") rotate(-90)\" text-anchor=\"middle\">" << markup_escape(g.y_title) << "</text>\n";
  // Colour bar: 0 at the bottom, 100 at the top.
  const int bx = left + nx * cw + bar_gap, bh = ny * ch, steps = 50;
  for (int i = 0; i < steps; ++i) {
    const double v = 100.0 * (i + 0.5) / steps;
    const double y0 = top + bh - static_cast<double>(bh) * (i + 1) / steps;
    s << "<rect x=\"" << bx << "\" y=\"" << fmt(y0, 2) << "\" width=\"" << bar_w << "\" height=\""
      << fmt(static_cast<double>(bh) / steps + 0.5, 2) << "\" fill=\"" << hex_colour(rdylgn(v))
      << "\"/>\n";
  }
  for (int t = 0; t <= 100; t += 25)
    s << "<text x=\"" << bx + bar_w + 4 << "\" y=\"" << fmt(top + bh - bh * t / 100.0 + 4, 1)
      << "\">" << t << "</text>\n";
  s << "<text transform=\"translate(" << bx + bar_w + 44 << "," << top + bh / 2
    << ") rotate(90)\" text-anchor=\"middle\">Score</text>\n";
  s << "</svg>\n";
  return s.str();
}

void write_heatmap_svg(const NeedleGrid& grid, const std::string& path, const std::string& title) {
  const std::string svg = heatmap_svg(grid, title);
  std::ofstream f(path, std::ios::binary);
  check(f.good(), "heatmap: cannot write ", path);
  f << svg;
  check(f.good(), "heatmap: write failed for ", path);
}

void write_heatmap_png(const NeedleGrid& g, const std::string& path, const std::string& title,
                       const std::string& gnuplot) {
  check_grid(g);
  namespace fs = std::filesystem;
  const std::string out = fs::absolute(path).string();
  // Quoted first: a name that could break out of its literal is refused before anything runs.
  const std::string out_q = gp_quote(out, "heatmap: the PNG path");
  const std::string title_q = gp_quote(title, "heatmap: the title (run name)");
  const int nx = static_cast<int>(g.lengths.size()), ny = static_cast<int>(g.depths.size());
  std::ostringstream d;
  for (int y = 0; y < ny; ++y) {
    for (int x = 0; x < nx; ++x) {
      const double v = g.scores[static_cast<size_t>(y)][static_cast<size_t>(x)];
      d << x << ' ' << y << ' ' << (std::isnan(v) ? std::string("NaN") : fmt(v, 3)) << '\n';
    }
    d << '\n';
  }
  std::ostringstream p;
  p << "set terminal pngcairo size " << std::max(480, 140 + 56 * nx) << ","
    << std::max(360, 120 + 30 * ny) << " font 'sans,10'\n";
  p << "set output " << out_q << "\n";
  p << "set title " << title_q << "\n";
  p << "set xlabel 'Context length (tokens)'\nset ylabel 'Depth (%)'\nset cblabel 'Score'\n";
  p << "set cbrange [0:100]\nset xrange [-0.5:" << nx - 0.5 << "]\nset yrange [" << ny - 0.5
    << ":-0.5]\n";
  p << "set palette defined (";
  for (int i = 0; i < 11; ++i)
    p << (i ? ", " : "") << i * 10 << " '"
      << hex_colour({kRdYlGn[i][0], kRdYlGn[i][1], kRdYlGn[i][2]}) << "'";
  p << ")\nset xtics (";
  for (int x = 0; x < nx; ++x)
    p << (x ? ", " : "") << gp_quote(length_label(g.lengths[static_cast<size_t>(x)]), "heatmap")
      << " " << x;
  p << ")\nset ytics (";
  for (int y = 0; y < ny; ++y)
    p << (y ? ", " : "") << gp_quote(fmt(g.depths[static_cast<size_t>(y)], 0), "heatmap") << " "
      << y;
  p << ")\nset tics scale 0\nunset key\n";
  p << "plot 'grid.dat' using 1:2:3 with image\n";
  run_gnuplot(p.str(), {{"grid.dat", d.str()}}, std::string("heatmap ").append(path), gnuplot);
  check(fs::exists(out) && fs::file_size(out) > 0, "heatmap: gnuplot wrote no image at ", path);
}

}  // namespace harpe::eval

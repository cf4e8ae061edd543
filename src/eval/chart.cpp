#include "eval/chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

#include "core/error.h"
#include "eval/heatmap.h"

namespace harpe::eval {

namespace {

// Ten colours that stay apart (Tableau 10); series past the tenth repeat them dashed.
constexpr const char* kPalette[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
constexpr std::size_t kColours = sizeof kPalette / sizeof kPalette[0];

std::string num(double v, int prec = 2) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", prec, v);
  return buf;
}

std::string tick_label(double v) {
  // Integer labels only where the value fits an integer exactly (a perplexity axis can reach 1e31).
  if (v >= 1024 && v < 9.0e15 && std::fmod(v, 1024) == 0)
    return length_label(static_cast<int64_t>(v));
  if (v == std::floor(v) && std::abs(v) < 1e9) return std::to_string(static_cast<int64_t>(v));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

}  // namespace

std::string markup_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string line_chart_svg(const LineChart& c) {
  const double inf = std::numeric_limits<double>::infinity();
  double x0 = inf, x1 = -inf, y0 = inf, y1 = -inf;
  for (const ChartSeries& s : c.series) {
    check(s.x.size() == s.y.size(), "chart: series ", s.name, " has ", s.x.size(), " x and ",
          s.y.size(), " y values");
    check(
        (s.lo.empty() && s.hi.empty()) || (s.lo.size() == s.x.size() && s.hi.size() == s.x.size()),
        "chart: series ", s.name, ": band size differs from its points");
    for (size_t i = 0; i < s.x.size(); ++i) {
      check(!c.log2_x || s.x[i] > 0, "chart: x must be positive on a log axis, got ", s.x[i]);
      x0 = std::min(x0, s.x[i]);
      x1 = std::max(x1, s.x[i]);
      for (double v : {s.y[i], s.lo.empty() ? s.y[i] : s.lo[i], s.hi.empty() ? s.y[i] : s.hi[i]})
        if (std::isfinite(v)) y0 = std::min(y0, v), y1 = std::max(y1, v);
    }
  }
  if (!std::isfinite(x0)) x0 = 1, x1 = 2;
  if (x1 == x0) x1 = c.log2_x ? x0 * 2 : x0 + 1;
  if (c.fixed_y) y0 = c.y_min, y1 = c.y_max;
  if (!std::isfinite(y0)) y0 = 0, y1 = 1;
  if (y1 == y0) y1 = y0 + 1;
  if (!c.fixed_y) {  // a little air above and below
    const double pad = 0.05 * (y1 - y0);
    y0 -= pad;
    y1 += pad;
  }
  const int left = 64, right = 180, top = 40, bottom = 56, pw = 560, ph = 300;
  const int w = left + pw + right, h = top + ph + bottom;
  auto fx = [&](double x) {
    const double t = c.log2_x ? (std::log2(x) - std::log2(x0)) / (std::log2(x1) - std::log2(x0))
                              : (x - x0) / (x1 - x0);
    return left + t * pw;
  };
  auto fy = [&](double y) { return top + ph - (y - y0) / (y1 - y0) * ph; };
  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << w << "\" height=\"" << h
    << "\" viewBox=\"0 0 " << w << " " << h << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  s << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  s << "<text x=\"" << left + pw / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">"
    << markup_escape(c.title) << "</text>\n";
  // Grid and ticks: x at every distinct point of the data (the lengths measured), y at 5 steps.
  std::vector<double> xs;
  for (const ChartSeries& sr : c.series) xs.insert(xs.end(), sr.x.begin(), sr.x.end());
  std::sort(xs.begin(), xs.end());
  xs.erase(std::unique(xs.begin(), xs.end()), xs.end());
  for (double x : xs)
    s << "<line x1=\"" << num(fx(x)) << "\" y1=\"" << top << "\" x2=\"" << num(fx(x)) << "\" y2=\""
      << top + ph << "\" stroke=\"#e5e5e5\"/>\n<text x=\"" << num(fx(x)) << "\" y=\""
      << top + ph + 16 << "\" text-anchor=\"middle\">" << tick_label(x) << "</text>\n";
  for (int k = 0; k <= 5; ++k) {
    const double y = y0 + (y1 - y0) * k / 5;
    s << "<line x1=\"" << left << "\" y1=\"" << num(fy(y)) << "\" x2=\"" << left + pw << "\" y2=\""
      << num(fy(y)) << "\" stroke=\"#e5e5e5\"/>\n<text x=\"" << left - 6 << "\" y=\""
      << num(fy(y) + 4) << "\" text-anchor=\"end\">" << tick_label(std::round(y * 100) / 100)
      << "</text>\n";
  }
  s << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << pw << "\" height=\"" << ph
    << "\" fill=\"none\" stroke=\"#888\"/>\n";
  s << "<text x=\"" << left + pw / 2 << "\" y=\"" << h - 14 << "\" text-anchor=\"middle\">"
    << markup_escape(c.x_label) << (c.log2_x ? " (log2 scale)" : "") << "</text>\n";
  s << "<text transform=\"translate(16," << top + ph / 2
    << ") rotate(-90)\" text-anchor=\"middle\">" << markup_escape(c.y_label) << "</text>\n";
  for (size_t k = 0; k < c.series.size(); ++k) {
    const ChartSeries& sr = c.series[k];
    const char* colour = kPalette[k % kColours];
    const char* dash = k >= kColours ? " stroke-dasharray=\"6 3\"" : "";
    if (!sr.lo.empty()) {  // band: upper edge left to right, lower edge back
      std::ostringstream pts;
      for (size_t i = 0; i < sr.x.size(); ++i)
        if (std::isfinite(sr.hi[i])) pts << num(fx(sr.x[i])) << "," << num(fy(sr.hi[i])) << " ";
      for (size_t i = sr.x.size(); i-- > 0;)
        if (std::isfinite(sr.lo[i])) pts << num(fx(sr.x[i])) << "," << num(fy(sr.lo[i])) << " ";
      s << "<polygon points=\"" << pts.str() << "\" fill=\"" << colour
        << "\" fill-opacity=\"0.18\" stroke=\"none\"/>\n";
    }
    std::ostringstream path;
    bool pen = false;
    for (size_t i = 0; i < sr.x.size(); ++i) {
      if (!std::isfinite(sr.y[i])) {
        pen = false;
        continue;
      }
      path << (pen ? " L " : " M ") << num(fx(sr.x[i])) << " " << num(fy(sr.y[i]));
      pen = true;
    }
    s << "<path d=\"" << path.str() << "\" fill=\"none\" stroke=\"" << colour
      << "\" stroke-width=\"2\"" << dash << "/>\n";
    for (size_t i = 0; i < sr.x.size(); ++i)
      if (std::isfinite(sr.y[i]))
        s << "<circle cx=\"" << num(fx(sr.x[i])) << "\" cy=\"" << num(fy(sr.y[i]))
          << "\" r=\"3\" fill=\"" << colour << "\"><title>" << markup_escape(sr.name) << ": "
          << tick_label(sr.x[i]) << ", " << num(sr.y[i]) << "</title></circle>\n";
    const int ly = top + 14 + static_cast<int>(k) * 18;
    s << "<line x1=\"" << left + pw + 12 << "\" y1=\"" << ly - 4 << "\" x2=\"" << left + pw + 32
      << "\" y2=\"" << ly - 4 << "\" stroke=\"" << colour << "\" stroke-width=\"3\"" << dash
      << "/>\n<text x=\"" << left + pw + 38 << "\" y=\"" << ly << "\">" << markup_escape(sr.name)
      << "</text>\n";
  }
  s << "</svg>\n";
  return s.str();
}

}  // namespace harpe::eval

// `harpe bases`: choose per-head RoPE bases (uniform, uniform-desc, peak-valley), print them as a
// table or JSON, and optionally plot the chosen bases' attention waveforms with gnuplot.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli/command.h"
#include "core/error.h"
#include "core/timer.h"
#include "eval/gnuplot.h"
#include "rope/base_bound.h"
#include "rope/bases.h"
#include "rope/waveform.h"

namespace {

namespace fs = std::filesystem;
using namespace harpe;
using namespace harpe::rope;
using harpe::eval::gp_quote;
using harpe::eval::run_gnuplot;

struct Options {
  std::string strategy;
  int heads = 0;
  int head_dim = 128;
  double b_min = 0, b_max = 0;
  double stride = 3e4;
  int context = 131072;
  int m_lo = 1000;
  bool json = false;
  bool naive = false;
  std::string plot;
  int plot_points = 2000;
  bool lower_bound = false;
  double precision = 1e-3;
};

// Integral bases print without decimals, others with two.
std::string format_base(double b) {
  char buf[64];
  if (b == std::floor(b) && std::abs(b) < 1e15)
    std::snprintf(buf, sizeof buf, "%.0f", b);
  else
    std::snprintf(buf, sizeof buf, "%.2f", b);
  return buf;
}

std::string plot_terminal(const std::string& path) {
  const std::string ext = fs::path(path).extension().string();
  if (ext == ".svg" || ext == ".SVG")
    return "set terminal svg size 1200,800 dynamic enhanced font 'Helvetica,13' background rgb "
           "'white'";
  if (ext == ".png" || ext == ".PNG")
    return "set terminal pngcairo size 1400,900 enhanced font 'Helvetica,12' background rgb "
           "'white'";
  fail("--plot: file must end in .svg or .png, got '", path, "'");
}

// Waveforms of the chosen bases (head order) and their sum, sampled at plot_points positions
// spread evenly over [m_lo, context], drawn with gnuplot (top: each head, bottom: the sum).
void plot_waveforms(const Options& o, const std::vector<double>& bases) {
  const std::string terminal = plot_terminal(o.plot);
  check(o.plot_points >= 2, "--plot-points: need at least 2, got ", o.plot_points);
  const fs::path out_path = fs::absolute(o.plot);  // gnuplot runs in its temporary directory
  const std::string out_q = gp_quote(out_path.string(), "--plot");
  const int n = static_cast<int>(bases.size());
  // Sample offsets from m_lo: geometric in m (the x axis is logarithmic: the peak chains sit in
  // the first few thousand positions, the trough chains spread over the whole context), every
  // position where that is denser than one per position.
  const long span = static_cast<long>(o.context) - o.m_lo;
  const double first = std::max(1, o.m_lo);
  const double ratio = std::pow(static_cast<double>(o.context) / first, 1.0 / (o.plot_points - 1));
  std::vector<long> sample;
  for (int k = 0; k < o.plot_points; ++k) {
    const long off = std::lround(first * std::pow(ratio, k)) - o.m_lo;
    const long clamped = std::clamp(off, 0L, span);
    if (sample.empty() || clamped > sample.back()) sample.push_back(clamped);
  }
  if (sample.front() != 0) sample.insert(sample.begin(), 0);
  const long points = static_cast<long>(sample.size());
  std::vector<std::vector<double>> rows(static_cast<size_t>(points), std::vector<double>(n + 1, 0));
  for (int h = 0; h < n; ++h) {
    const std::vector<double> f = waveform(bases[h], o.head_dim, o.m_lo, o.context);
    for (long k = 0; k < points; ++k) {
      rows[k][h] = f[sample[k]];
      rows[k][n] += f[sample[k]];
    }
  }
  std::ostringstream out;
  {
    out << "# m";
    for (double b : bases) out << " b=" << format_base(b);
    out << " sum\n";
    char buf[40];
    for (long k = 0; k < points; ++k) {
      out << o.m_lo + sample[k];
      for (double v : rows[k]) {
        std::snprintf(buf, sizeof buf, " %.5g", v);
        out << buf;
      }
      out << '\n';
    }
  }
  const std::string d = "'waveforms.dat'";
  std::ostringstream gp;
  {
    gp << terminal << "\n"
       << "set output " << out_q << "\n"
       << "set multiplot layout 2,1 title "
       << gp_quote(std::string("HARPE ")
                       .append(o.strategy)
                       .append(" bases: ")
                       .append(std::to_string(n))
                       .append(" heads, d = ")
                       .append(std::to_string(o.head_dim)),
                   "--strategy")
       << "\n"
       << "set grid lc rgb '#dddddd'\nset logscale x\nset xrange [" << std::max(1, o.m_lo) << ":"
       << o.context << "]\n"
       << "set format x '%.0s%c'\nset palette defined (0 '#1f4e9c', 0.5 '#2ca58d', 1 '#e07b00')\n"
       << "unset colorbox\nset key off\n"
       << "set ylabel 'f_b(m) per head'\n"
       << "set title 'attention waveform of each chosen base (blue: smallest base, orange: "
          "largest)'\n"
       << "set key top right opaque\n"
       << "plot for [i=2:" << n + 1 << "] " << d << " using 1:i with lines lw 0.6 lc palette frac "
       << (n > 1 ? "(i-2.0)/" + std::to_string(n - 1) : std::string("0")) << " notitle, \\\n  " << d
       << " using 1:($" << n + 2 << "/" << n << ") with lines lw 1.5 lc rgb '#000000' "
       << "title 'mean over heads'\nset key off\n"
       << "set xlabel 'relative position m (log scale)'\nset ylabel 'sum over heads'\n"
       << "set title 'sum of the " << n << " waveforms'\n"
       << "plot " << d << " using 1:" << n + 2 << " with lines lw 0.8 lc rgb '#202020'\n"
       << "unset multiplot\n";
  }
  run_gnuplot(gp.str(), {{"waveforms.dat", out.str()}}, "--plot");
  check(fs::exists(out_path) && fs::file_size(out_path) > 0, "--plot: gnuplot wrote nothing to '",
        o.plot, "'");
}

// --lower-bound: Men et al.'s smallest base for --context at --head-dim; with --json a table over
// the powers of two from 1024 (or less, when the context is smaller) up to the context.
void run_lower_bound(const Options& o) {
  check(o.context >= 1, "--context must be positive, got ", o.context);
  Timer timer;
  if (!o.json) {
    const double b = base_lower_bound(o.head_dim, o.context, o.precision);
    std::printf(
        "RoPE base lower bound (Men et al. 2024) for context %d at head dim %d: %.4g\n"
        "(smallest base with sum_i cos(m b^(-2i/d)) >= 0 for every m < %d; relative "
        "precision %g; %.3f s)\n",
        o.context, o.head_dim, b, o.context, o.precision, timer.seconds());
    return;
  }
  std::vector<int64_t> contexts;
  for (int64_t L = std::min<int64_t>(1024, o.context); L < o.context; L *= 2) contexts.push_back(L);
  contexts.push_back(o.context);
  nlohmann::ordered_json j;
  j["head_dim"] = o.head_dim;
  j["precision"] = o.precision;
  j["bounds"] = nlohmann::ordered_json::array();
  for (const BaseBoundRow& r : base_lower_bounds(o.head_dim, contexts, o.precision))
    j["bounds"].push_back({{"context", r.context}, {"base", r.base}});
  j["seconds"] = timer.seconds();
  std::printf("%s\n", j.dump().c_str());
}

void run(const Options& o) {
  if (o.lower_bound) return run_lower_bound(o);
  // Presence only: a NaN, infinite or negative value is refused below, naming its flag.
  check(!o.strategy.empty() && o.heads != 0 && o.b_min != 0 && o.b_max != 0,
        "give --strategy, --heads, --min and --max (or --lower-bound)");
  const BaseStrategy strategy = parse_base_strategy(o.strategy);
  check(o.heads > 0, "--heads: must be positive, got ", o.heads);
  check(std::isfinite(o.stride) && o.stride > 0, "--stride: must be positive, got ", o.stride);
  if (!o.plot.empty()) {  // reject a bad name or extension before the search
    gp_quote(fs::absolute(o.plot).string(), "--plot");
    plot_terminal(o.plot);
  }
  PeakValleyParams p;
  p.head_dim = o.head_dim;
  p.m_lo = o.m_lo;
  p.m_hi = o.context;
  p.naive_waveform = o.naive;
  // --head-dim / --context / --m-lo matter to the search and to the plot, not to uniform bases.
  if (strategy == BaseStrategy::peak_valley || !o.plot.empty()) validate(p);

  Timer timer;
  const BaseSelection sel = select_bases(strategy, o.heads, o.b_min, o.b_max, o.stride, p);
  const double seconds = timer.seconds();

  if (o.json) {
    nlohmann::ordered_json j;
    j["strategy"] = base_strategy_name(strategy);
    j["bases"] = sel.bases;
    j["selection_order"] = sel.selection_order;
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("# strategy %s, %d heads, bases %s..%s",
                std::string(base_strategy_name(strategy)).c_str(), o.heads,
                format_base(o.b_min).c_str(), format_base(o.b_max).c_str());
    if (strategy == BaseStrategy::peak_valley)
      std::printf(", stride %s, head dim %d, m = %d..%d, %.2f s", format_base(o.stride).c_str(),
                  o.head_dim, o.m_lo, o.context, seconds);
    const bool searched = strategy == BaseStrategy::peak_valley;
    std::printf("\n%4s  %14s%s\n", "head", "base", searched ? "  picked" : "");
    for (size_t h = 0; h < sel.bases.size(); ++h) {
      std::printf("%4zu  %14s", h, format_base(sel.bases[h]).c_str());
      if (searched) {  // rank in the search's selection order
        size_t rank = 0;
        while (rank < sel.selection_order.size() && sel.selection_order[rank] != sel.bases[h])
          ++rank;
        std::printf("  %6zu", rank + 1);
      }
      std::printf("\n");
    }
  }
  if (!o.plot.empty()) {
    Options po = o;
    po.strategy = std::string(base_strategy_name(strategy));
    plot_waveforms(po, sel.bases);
    if (!o.json) std::printf("# wrote %s\n", o.plot.c_str());
  }
}

void setup(CLI::App& parent) {
  auto o = std::make_shared<Options>();
  CLI::App* cmd = parent.add_subcommand(
      "bases",
      "Choose per-head RoPE bases for HARPE (uniform, uniform-desc or peak-valley search)");
  cmd->add_option("--strategy", o->strategy,
                  "uniform: b_h = b_min + h (b_max - b_min)/(N - 1) ascending over heads; "
                  "uniform-desc: the same, descending; peak-valley: the paper's Algorithm 1 "
                  "search over b_min + i*stride");
  cmd->add_option("--heads", o->heads, "Number of heads N (one base each)");
  cmd->add_option("--min", o->b_min, "Smallest base b_min, e.g. 1e6");
  cmd->add_option("--max", o->b_max, "Largest base b_max, e.g. 5e6");
  cmd->add_flag("--lower-bound", o->lower_bound,
                "Instead: the smallest base that supports --context tokens at --head-dim (Men et "
                "al. 2024: sum_i cos(m b^(-2i/d)) >= 0 for every m < context); with --json a "
                "table over context lengths");
  cmd->add_option("--precision", o->precision, "--lower-bound: relative precision of the base")
      ->capture_default_str();
  cmd->add_option("--head-dim", o->head_dim, "Head dimension d (even); peak-valley and --plot")
      ->capture_default_str();
  cmd->add_option("--stride", o->stride, "Candidate spacing s for peak-valley")
      ->capture_default_str();
  cmd->add_option("--context", o->context,
                  "Target context: last relative position m of the waveforms")
      ->capture_default_str();
  cmd->add_option("--m-lo", o->m_lo, "First relative position m of the waveforms")
      ->capture_default_str();
  cmd->add_flag("--json", o->json,
                "Print {\"strategy\", \"bases\" (head order), \"selection_order\"} as JSON");
  cmd->add_option(
         "--plot", o->plot,
         "Draw the chosen bases' waveforms and their sum to FILE (.svg or .png; needs gnuplot)")
      ->option_text("FILE");
  cmd->add_option("--plot-points", o->plot_points, "Positions sampled per curve in --plot")
      ->capture_default_str();
  cmd->add_flag("--naive", o->naive,
                "Peak-valley with std::cos at every point (slow reference, same result)");
  cmd->callback([o] { run(*o); });
}

}  // namespace

HARPE_COMMAND("", setup);

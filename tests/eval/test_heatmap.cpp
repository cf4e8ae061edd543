// The needle grid and its heatmap: colours, the SVG's cells and labels, and the PNG that gnuplot
// draws (checked by its PNG header: signature and the size the script asked for).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "eval/heatmap.h"
#include "eval/needle_grid.h"
#include "test_util.h"

namespace harpe::eval {
namespace {

namespace fs = std::filesystem;

NeedleGrid sample_grid() {
  NeedleGrid g;
  g.lengths = {1024, 2048, 4096, 8192, 16384};
  g.depths = evenly_spaced_depths(6);
  for (size_t d = 0; d < g.depths.size(); ++d) {
    std::vector<double> row;
    for (size_t l = 0; l < g.lengths.size(); ++l)
      row.push_back(std::max(
          0.0, 100.0 - 22.0 * static_cast<double>(l) * (0.5 + 0.2 * static_cast<double>(d))));
    g.scores.push_back(row);
  }
  return g;
}

fs::path temp_dir(const std::string& name) {
  fs::path p =
      fs::temp_directory_path() / ("harpe-test-" + name + "-" + std::to_string(::getpid()));
  fs::create_directories(p);
  return p;
}

TEST(Heatmap, PaletteEndsAndMiddle) {
  EXPECT_EQ(hex_colour(rdylgn(0)), "#a50026");
  EXPECT_EQ(hex_colour(rdylgn(50)), "#ffffbf");
  EXPECT_EQ(hex_colour(rdylgn(100)), "#006837");
  EXPECT_EQ(hex_colour(rdylgn(-5)), "#a50026");  // clamped
  EXPECT_EQ(hex_colour(rdylgn(150)), "#006837");
  // Halfway between classes 0 (a50026) and 1 (d73027): (a5+d7)/2 = be, (00+30)/2 = 18, (26+27)/2.
  EXPECT_EQ(hex_colour(rdylgn(5)), "#be1827");
  // Low scores are red-dominant, high scores green-dominant.
  for (double v : {0.0, 10.0, 20.0, 30.0}) EXPECT_GT(rdylgn(v)[0], rdylgn(v)[1]) << v;
  for (double v : {70.0, 80.0, 90.0, 100.0}) EXPECT_GT(rdylgn(v)[1], rdylgn(v)[0]) << v;
  EXPECT_EQ(length_label(4096), "4K");
  EXPECT_EQ(length_label(131072), "128K");
  EXPECT_EQ(length_label(3000), "3000");
}

TEST(Heatmap, SvgHasEveryCellAxesAndColourScale) {
  const NeedleGrid g = sample_grid();
  const std::string svg = heatmap_svg(g, "Needle: test");
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_EQ(testing::count_occurrences(svg, "<title>length "), 30);
  EXPECT_NE(svg.find(">16K<"), std::string::npos);
  EXPECT_NE(svg.find(">1K<"), std::string::npos);
  EXPECT_NE(svg.find("Depth (%)"), std::string::npos);
  EXPECT_NE(svg.find("Context length (tokens)"), std::string::npos);
  EXPECT_NE(svg.find("fill=\"#006837\""), std::string::npos);  // a 100 cell
  EXPECT_NE(svg.find(">100<"), std::string::npos);             // colour bar tick
  const fs::path dir = temp_dir("svg");
  write_heatmap_svg(g, (dir / "h.svg").string(), "t");
  EXPECT_GT(fs::file_size(dir / "h.svg"), 1000u);
  fs::remove_all(dir);
  NeedleGrid bad = g;
  bad.scores.pop_back();
  EXPECT_THROW(heatmap_svg(bad, "x"), Error);
}

uint32_t be32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

TEST(Heatmap, PngThroughGnuplot) {
  if (std::system("gnuplot --version >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "gnuplot not installed";
  NeedleGrid g = sample_grid();
  g.scores[2][3] = std::nan("");  // a cell that was not measured still draws
  const fs::path dir = temp_dir("png");
  const std::string path = (dir / "needle's map.png").string();  // a quote in the name
  write_heatmap_png(g, path, "Needle heatmap");
  std::ifstream f(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  ASSERT_GT(bytes.size(), 2000u);
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  EXPECT_EQ(bytes.substr(1, 3), "PNG");
  EXPECT_EQ(bytes.substr(12, 4), "IHDR");
  EXPECT_EQ(be32(p + 16), 140u + 56u * 5u < 480u ? 480u : 140u + 56u * 5u);  // width
  EXPECT_EQ(be32(p + 20), 360u);                                             // height
  EXPECT_THROW(write_heatmap_png(g, (dir / "x.png").string(), "t", "/nonexistent/gnuplot"), Error);
  fs::remove_all(dir);
}

TEST(NeedleGrid, RunsEveryCellAndScoresPerCell) {
  GenOptions opt;
  opt.count_tokens = whitespace_word_counter();
  NeedleGridSpec spec;
  spec.lengths = {600, 1200};
  spec.depths = evenly_spaced_depths(3);
  spec.samples_per_cell = 2;
  // A "model" that finds the needle only in the first half of the document.
  auto gen = [](const std::string& prompt, int) {
    const size_t at = prompt.find("is: ");
    const size_t b = prompt.find('\n'), e = prompt.rfind("\nWhat");
    if (at == std::string::npos || static_cast<double>(at - b) / static_cast<double>(e - b) > 0.6)
      return std::string("I do not know");
    return prompt.substr(at + 4, 7);
  };
  std::vector<Prediction> preds;
  const NeedleGrid g = run_needle_grid(spec, opt, gen, &preds);
  ASSERT_EQ(g.scores.size(), 3u);
  EXPECT_EQ(preds.size(), 12u);
  for (size_t l = 0; l < 2; ++l) {
    EXPECT_DOUBLE_EQ(g.scores[0][l], 100.0);  // depth 0
    EXPECT_DOUBLE_EQ(g.scores[1][l], 100.0);  // depth 50
    EXPECT_DOUBLE_EQ(g.scores[2][l], 0.0);    // depth 100
  }
  EXPECT_NEAR(g.average(), 200.0 / 3, 1e-9);
  EXPECT_DOUBLE_EQ(preds.back().depth, 100.0);
  EXPECT_EQ(preds.back().length, 1200);
}

}  // namespace
}  // namespace harpe::eval

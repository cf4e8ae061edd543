// No user text runs as gnuplot code: a newline in a run name (the heatmap title) or in an output
// path would end gnuplot's string literal and run the rest of the line (gnuplot has system()).
// The quoting refuses control characters, the script and data live in a temporary directory that
// is always removed, and gnuplot runs without a shell.
#include <gtest/gtest.h>
#include <stdlib.h>  // setenv
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/error.h"
#include "eval/gnuplot.h"
#include "eval/heatmap.h"
#include "eval/needle_grid.h"

namespace harpe::eval {
namespace {

namespace fs = std::filesystem;

bool have_gnuplot() { return std::system("gnuplot --version >/dev/null 2>&1") == 0; }

// A private TMPDIR for the test (fs::temp_directory_path reads it), so that leftovers are seen.
struct PrivateTmp {
  fs::path root, tmp;
  std::string old;
  bool had_old = false;
  explicit PrivateTmp(const std::string& name) {
    root = fs::temp_directory_path() / ("harpe-test-gp-" + name + "-" + std::to_string(::getpid()));
    fs::remove_all(root);
    tmp = root / "tmp";
    fs::create_directories(tmp);
    if (const char* t = std::getenv("TMPDIR")) had_old = true, old = t;
    ::setenv("TMPDIR", tmp.c_str(), 1);
  }
  ~PrivateTmp() {
    if (had_old)
      ::setenv("TMPDIR", old.c_str(), 1);
    else
      ::unsetenv("TMPDIR");
    fs::remove_all(root);
  }
  bool tmp_empty() const { return fs::is_empty(tmp); }
};

NeedleGrid small_grid() {
  NeedleGrid g;
  g.lengths = {1024, 2048};
  g.depths = {0, 50, 100};
  g.scores = {{100, 90}, {80, std::nan("")}, {60, 50}};
  return g;
}

TEST(Gnuplot, QuoteDoublesQuotesAndRefusesControlCharacters) {
  EXPECT_EQ(gp_quote("plain", "x"), "'plain'");
  EXPECT_EQ(gp_quote("it's", "x"), "'it''s'");
  EXPECT_EQ(gp_quote("`cmd` @macro \\n \"dq\"", "x"), "'`cmd` @macro \\n \"dq\"'");  // inert in ''
  EXPECT_EQ(gp_quote("caf\xc3\xa9", "x"), "'caf\xc3\xa9'");                          // UTF-8 kept
  for (const std::string& bad : {std::string("a\nb"), std::string("a\rb"), std::string("a\tb"),
                                 std::string("a\x7f"), std::string("a\0b", 3)}) {
    try {
      gp_quote(bad, "--plot");
      ADD_FAILURE() << "quoted a control character";
    } catch (const Error& e) {
      const std::string m = e.what();
      EXPECT_EQ(m.rfind("--plot: a control character", 0), 0u) << m;
      EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    }
  }
}

TEST(Gnuplot, RunNameCannotInjectCommands) {
  if (!have_gnuplot()) GTEST_SKIP() << "gnuplot not installed";
  PrivateTmp t("title");
  const fs::path marker = t.root / "pwned";
  const fs::path out = t.root / "needle.png";
  // The run name is the heatmap's title; gnuplot accepts the unterminated literal on the first
  // line and would run the second.
  const std::string title = "run\nsystem('touch " + marker.string() + "')\n#";
  EXPECT_THROW(write_heatmap_png(small_grid(), out.string(), title), Error);
  EXPECT_FALSE(fs::exists(marker)) << "gnuplot ran code from the run name";
  EXPECT_FALSE(fs::exists(out));
  EXPECT_TRUE(t.tmp_empty());
  // The same through a carriage return (gnuplot reads CR LF scripts).
  EXPECT_THROW(write_heatmap_png(small_grid(), out.string(), "run\rsystem('touch x')"), Error);
  // A quote in the name is data, not code.
  write_heatmap_png(small_grid(), out.string(), "it's run '); system('touch " + marker.string());
  EXPECT_TRUE(fs::exists(out));
  EXPECT_FALSE(fs::exists(marker));
  EXPECT_TRUE(t.tmp_empty());
}

TEST(Gnuplot, OutputDirectoryCannotInjectCommands) {
  if (!have_gnuplot()) GTEST_SKIP() << "gnuplot not installed";
  PrivateTmp t("outdir");
  const fs::path marker = t.root / "pwned";
  const fs::path dir = t.root / ("out\nsystem('touch " + marker.string() + "')\n#");
  fs::create_directories(dir);
  try {
    write_heatmap_png(small_grid(), (dir / "needle.png").string(), "t");
    ADD_FAILURE() << "a newline in the output path reached gnuplot";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("heatmap: the PNG path: a control character"),
              std::string::npos)
        << e.what();
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(marker)) << "gnuplot ran code from the output directory";
  EXPECT_TRUE(t.tmp_empty());
}

TEST(Gnuplot, TemporaryDirectoryRemovedOnFailure) {
  PrivateTmp t("fail");
  const fs::path out = t.root / "x.png";
  // gnuplot missing, or a program that fails: an Error, and nothing left behind.
  EXPECT_THROW(write_heatmap_png(small_grid(), out.string(), "t", "/nonexistent/gnuplot"), Error);
  EXPECT_TRUE(t.tmp_empty());
  try {
    run_gnuplot("plot 'data.txt'\n", {{"data.txt", "1 2\n"}}, "test", "false");
    ADD_FAILURE() << "`false` succeeded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("test: gnuplot failed (exit 1)"), std::string::npos)
        << e.what();
  }
  EXPECT_TRUE(t.tmp_empty());
  try {
    run_gnuplot("x", {}, "test", "no-such-gnuplot-program");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("gnuplot not found in PATH"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(run_gnuplot("x", {{"../escape", ""}}, "test", "true"), Error);
  EXPECT_FALSE(fs::exists(t.root / "escape"));
  EXPECT_TRUE(t.tmp_empty());
}

TEST(Gnuplot, ErrorCarriesGnuplotsMessageAndDataFilesAreBesideTheScript) {
  if (!have_gnuplot()) GTEST_SKIP() << "gnuplot not installed";
  PrivateTmp t("run");
  try {
    run_gnuplot("set nosuchoption\n", {}, "test");
    ADD_FAILURE();
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("test: gnuplot failed (exit 1): "), std::string::npos) << m;
    EXPECT_NE(m.find("line 1"), std::string::npos) << m;  // gnuplot's own "plot.gp" line 1: ...
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
  EXPECT_TRUE(t.tmp_empty());
  const fs::path out = t.root / "sum.txt";
  run_gnuplot("stats 'numbers.dat' using 1 nooutput\nset print " + gp_quote(out.string(), "out") +
                  "\nprint STATS_sum\n",
              {{"numbers.dat", "1\n2\n3\n"}}, "test");
  std::ifstream in(out);
  std::string sum;
  in >> sum;
  EXPECT_EQ(sum, "6.0");
  EXPECT_TRUE(t.tmp_empty());
}

}  // namespace
}  // namespace harpe::eval

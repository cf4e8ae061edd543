// `harpe report RUN_DIR...`: merge evaluation runs (each RUN_DIR/results.json, schema
// harpe.eval.v1, see docs/eval.md) into one comparison: markdown on stdout, and with --out a
// comparison.md and a comparison.html (tables + needle heatmaps redrawn from the scores).
// --rescore rewrites each run's results.json with the fields this version derives from the kept
// predictions (word_score).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cli/command.h"
#include "core/error.h"
#include "eval/report.h"

namespace {

struct Args {
  std::vector<std::string> runs;
  std::string out;
  bool rescore = false;
};

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  harpe::check(f.good(), "--out: cannot write ", path.string());
  f << text;
  harpe::check(f.good(), "--out: write failed for ", path.string());
}

void run(const Args& a) {
  namespace fs = std::filesystem;
  std::vector<harpe::eval::RunResults> runs;
  for (const auto& r : a.runs) {
    runs.push_back(harpe::eval::read_run(r));
    if (a.rescore) {
      const std::string file = fs::is_directory(r) ? (fs::path(r) / "results.json").string() : r;
      harpe::eval::write_results(runs.back(), file);
      std::fprintf(stderr, "rescored %s\n", file.c_str());
    }
  }
  const std::string md = harpe::eval::comparison_markdown(runs);
  std::fputs(md.c_str(), stdout);
  if (!a.out.empty()) {
    std::error_code ec;
    fs::create_directories(a.out, ec);
    harpe::check(fs::is_directory(a.out), "--out ", a.out, ": cannot create the directory");
    write_text(fs::path(a.out) / "comparison.md", md);
    write_text(fs::path(a.out) / "comparison.html", harpe::eval::comparison_html(runs));
    std::fprintf(stderr, "wrote %s/comparison.md and %s/comparison.html\n", a.out.c_str(),
                 a.out.c_str());
  }
}

void setup(CLI::App& parent) {
  auto args = std::make_shared<Args>();
  CLI::App* cmd = parent.add_subcommand(
      "report", "Compare evaluation runs: markdown tables, and an HTML page with heatmaps");
  cmd->add_option("runs", args->runs,
                  "Run directories (each holding results.json) or results JSON files")
      ->required();
  cmd->add_option("--out,-o", args->out,
                  "Directory for comparison.md and comparison.html (default: print only)");
  cmd->add_flag("--rescore", args->rescore,
                "Rewrite each run's results.json with the scores derived from its kept predictions "
                "(word_score, for results written before it existed)");
  cmd->callback([args] { run(*args); });
}

}  // namespace

HARPE_COMMAND("", setup);

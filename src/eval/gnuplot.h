// Running gnuplot safely, for every picture harpe draws with it (the needle heatmap PNG,
// `harpe bases --plot`). User text (file names, run names, titles) reaches gnuplot only as a
// quoted string literal, which cannot be broken out of: gp_quote doubles quotes and refuses control
// characters (a newline would end the literal and run the rest of the line as gnuplot commands).
// The script and its data files live in a temporary directory that is removed on every path out
// (exceptions included), and gnuplot runs without a shell (posix_spawn with an argument vector).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace harpe::eval {

// `s` as a gnuplot single-quoted string literal (a quote is doubled; nothing else is special in
// one: no backslash escapes, no `command` or @macro substitution). Throws Error naming `what` when
// `s` holds a control character (newline, carriage return, tab, ... or DEL).
std::string gp_quote(std::string_view s, std::string_view what);

// A fresh directory under the system's temporary directory (mkdtemp, mode 0700), removed with
// everything in it when the object goes out of scope.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix);  // directory name: PREFIX-XXXXXX
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A data file written next to the script; `name` is a plain file name (no '/').
struct GnuplotFile {
  std::string name;
  std::string contents;
};

// Writes `script` (as plot.gp) and `files` into a fresh TempDir and runs `program plot.gp` there
// (the working directory, so the script names its data files by their plain names, fixed text)
// with no shell, stdin from /dev/null and stdout + stderr captured. The script must name its output
// by an absolute path, quoted with gp_quote. Throws Error, one line starting with `what`, when
// gnuplot cannot be started (not found: says so) or exits non-zero (its last message included).
void run_gnuplot(const std::string& script, const std::vector<GnuplotFile>& files,
                 const std::string& what, const std::string& program = "gnuplot");

}  // namespace harpe::eval

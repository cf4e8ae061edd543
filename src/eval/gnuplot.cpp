#include "eval/gnuplot.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>  // mkdtemp
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/error.h"

extern char** environ;

namespace harpe::eval {

namespace fs = std::filesystem;

std::string gp_quote(std::string_view s, std::string_view what) {
  std::string out = "'";
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    check(u >= 0x20 && u != 0x7f, what, ": a control character (byte ", static_cast<int>(u),
          ") is not allowed here, it would reach a gnuplot script");
    if (c == '\'') out += '\'';
    out += c;
  }
  out += '\'';
  return out;
}

TempDir::TempDir(const std::string& prefix) {
  std::string templ = (fs::temp_directory_path() / prefix).string();
  templ += "-XXXXXX";
  if (!mkdtemp(templ.data()))
    fail("cannot create a temporary directory ", templ, ": ", std::strerror(errno));
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

namespace {

void write_file(const fs::path& p, const std::string& text, const std::string& what) {
  std::ofstream f(p, std::ios::binary);
  f << text;
  f.close();
  check(f.good(), what, ": cannot write ", p.string());
}

// The last non-empty line of the log, trimmed to a sane length (gnuplot ends with the message).
std::string last_line(const fs::path& log) {
  std::ifstream in(log);
  std::string line, last;
  while (std::getline(in, line))
    if (line.find_first_not_of(" \t\r^") != std::string::npos) last = line;
  for (char& c : last)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  if (last.size() > 300) last = last.substr(0, 300) + "...";
  return last;
}

struct FileActions {
  posix_spawn_file_actions_t a;
  FileActions() { posix_spawn_file_actions_init(&a); }
  ~FileActions() { posix_spawn_file_actions_destroy(&a); }
};

}  // namespace

void run_gnuplot(const std::string& script, const std::vector<GnuplotFile>& files,
                 const std::string& what, const std::string& program) {
  TempDir dir("harpe-gnuplot");
  for (const GnuplotFile& f : files) {
    check(!f.name.empty() && f.name.find('/') == std::string::npos && f.name != "." &&
              f.name != ".." && f.name != "plot.gp" && f.name != "gnuplot.log",
          what, ": bad gnuplot data file name '", f.name, "'");
    write_file(dir.path() / f.name, f.contents, what);
  }
  write_file(dir.path() / "plot.gp", script, what);

  const std::string dir_s = dir.path().string(), log = (dir.path() / "gnuplot.log").string();
  FileActions fa;
  int rc = posix_spawn_file_actions_addchdir_np(&fa.a, dir_s.c_str());
  if (rc == 0) rc = posix_spawn_file_actions_addopen(&fa.a, 0, "/dev/null", O_RDONLY, 0);
  if (rc == 0)
    rc =
        posix_spawn_file_actions_addopen(&fa.a, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (rc == 0) rc = posix_spawn_file_actions_adddup2(&fa.a, 1, 2);
  check(rc == 0, what, ": cannot prepare to run gnuplot: ", std::strerror(rc));
  std::string arg0 = program, arg1 = "plot.gp";
  char* argv[] = {arg0.data(), arg1.data(), nullptr};
  pid_t pid = 0;
  // posix_spawnp searches PATH for a bare name, like a shell would, but runs no shell.
  rc = posix_spawnp(&pid, program.c_str(), &fa.a, nullptr, argv, environ);
  if (rc == ENOENT && program.find('/') == std::string::npos)
    fail(what, ": gnuplot not found in PATH (install the gnuplot-nox package)");
  if (rc == ENOENT) fail(what, ": gnuplot not found at ", program);
  check(rc == 0, what, ": cannot run ", program, ": ", std::strerror(rc));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) fail(what, ": waiting for gnuplot failed: ", std::strerror(errno));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  std::ostringstream how;
  if (WIFEXITED(status))
    how << "exit " << WEXITSTATUS(status);
  else if (WIFSIGNALED(status))
    how << "signal " << WTERMSIG(status);
  fail(what, ": gnuplot failed (", how.str(), "): ", last_line(log));
}

}  // namespace harpe::eval

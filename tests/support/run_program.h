// Running the `harpe` program (or any shell command) from a test: exit status and the combined
// stdout + stderr. Header-only; test programs get HARPE_BINARY from tests/CMakeLists.txt.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace harpe::testing {

struct ProgramResult {
  int code = -1;    // exit status; -1 when the program did not exit normally (signal, no shell)
  std::string out;  // stdout and stderr, interleaved as written
};

inline ProgramResult run_shell(const std::string& command_line) {
  ProgramResult r;
  FILE* p = popen((command_line + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

#ifdef HARPE_BINARY
// `harpe ARGS`.
inline ProgramResult run_harpe(const std::string& args) {
  return run_shell(std::string(HARPE_BINARY) + " " + args);
}
#endif

}  // namespace harpe::testing

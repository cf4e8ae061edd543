// One error type for the whole library: a message a user can act on, naming the file, tensor or
// flag at fault. The CLI prints it on one line and exits non-zero.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace harpe {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// fail("tensor ", name, ": expected ", n, " bytes") throws Error with the pieces concatenated.
template <typename... Args>
[[noreturn]] void fail(Args&&... args) {
  std::ostringstream out;
  (out << ... << std::forward<Args>(args));
  throw Error(out.str());
}

// check(cond, pieces...) fails with the message when cond is false (user input, not invariants).
template <typename... Args>
void check(bool cond, Args&&... args) {
  if (!cond) fail(std::forward<Args>(args)...);
}

}  // namespace harpe

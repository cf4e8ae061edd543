// One way to declare a flag whose text becomes a typed value: the parser runs once, while the
// command line is parsed, so a bad value is a one-line harpe::Error naming the flag and the library
// only ever sees the typed value.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace harpe::cli {

// Adds option `name`; on the command line its text is passed to `parse` (text -> T) and the result
// stored in `target`. `shown` is the default --help prints (none when empty). `target` must outlive
// the parse (a field of the command's argument struct).
template <class T, class Parse>
CLI::Option* add_parsed_flag(CLI::App* cmd, const std::string& name, T& target, Parse parse,
                             const std::string& help, const std::string& shown = "") {
  CLI::Option* o = cmd->add_option_function<std::string>(
      name, [&target, parse](const std::string& text) { target = parse(text); }, help);
  if (!shown.empty()) o->default_str(shown);
  return o;
}

}  // namespace harpe::cli

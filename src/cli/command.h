// Subcommand registration. Each src/cli/cmd_*.cpp adds its subcommand with
//
//   static void setup(CLI::App& parent) {
//     CLI::App* cmd = parent.add_subcommand("bases", "Choose per-head RoPE bases");
//     ... options ...
//     cmd->callback([=] { ... });
//   }
//   HARPE_COMMAND("", setup);          // top level: `harpe bases`
//   HARPE_COMMAND("bench", setup);     // grouped: `harpe bench attention`
//
// so that no central file lists the commands. Callbacks throw harpe::Error on bad input; main
// prints it on one line and exits 1.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace harpe::cli {

using Setup = std::function<void(CLI::App& parent)>;

struct CommandEntry {
  std::string group;  // "" for a top-level command, else the group's name ("bench", "eval", "data")
  Setup setup;
};

std::vector<CommandEntry>& command_registry();

struct Registration {
  Registration(const char* group, Setup setup) {
    command_registry().push_back({group, std::move(setup)});
  }
};

}  // namespace harpe::cli

#define HARPE_CLI_CONCAT2(a, b) a##b
#define HARPE_CLI_CONCAT(a, b) HARPE_CLI_CONCAT2(a, b)
#define HARPE_COMMAND(group, setup) \
  static ::harpe::cli::Registration HARPE_CLI_CONCAT(harpe_command_, __LINE__)(group, setup)

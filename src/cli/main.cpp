// harpe: the command-line program. Subcommands register themselves (see command.h).
#include <cstdio>
#include <exception>
#include <map>
#include <string>

#include "cli/command.h"
#include "core/error.h"
#include "core/version.h"
#include "train/stop.h"

namespace harpe::cli {

std::vector<CommandEntry>& command_registry() {
  static std::vector<CommandEntry> entries;
  return entries;
}

}  // namespace harpe::cli

namespace {

const std::map<std::string, std::string> kGroups = {
    {"bench", "Benchmarks: training throughput, attention, vs the same-process sgemm"},
    {"data", "Data pipeline: corpora, tokenizer, token shards, statistics"},
    {"eval", "Evaluation: sliding-window perplexity, NIAH tasks, needle heatmap"},
    {"export", "Export a checkpoint to other engines' formats (GGUF for llama.cpp)"},
};

}  // namespace

int main(int argc, char** argv) {
  // Before any other thread exists: stop signals go to one waiting thread (train/stop.h).
  harpe::train::take_stop_signals_on_a_thread();
  using namespace harpe::cli;
  CLI::App app{
      "harpe: Head-Adaptive Rotary Position Encoding toolkit.\n"
      "Per-head RoPE bases, a CPU training and inference engine for Llama-style models,\n"
      "the usual context-extension baselines (PI, ABF, NTK, YaRN, Llama 3, Self-Extend) and\n"
      "their evaluations.",
      "harpe"};
  app.set_version_flag("--version", std::string(harpe::version()));
  app.require_subcommand(1);
  app.fallthrough();

  std::map<std::string, CLI::App*> groups;
  for (const CommandEntry& entry : command_registry()) {
    CLI::App* parent = &app;
    if (!entry.group.empty()) {
      auto it = groups.find(entry.group);
      if (it == groups.end()) {
        auto desc = kGroups.find(entry.group);
        CLI::App* g =
            app.add_subcommand(entry.group, desc == kGroups.end() ? entry.group : desc->second);
        g->require_subcommand(1);
        it = groups.emplace(entry.group, g).first;
      }
      parent = it->second;
    }
    entry.setup(*parent);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // Usage errors: one line, like every other error, and exit code 2.
    std::fprintf(stderr, "harpe: error: %s (see --help)\n", e.what());
    return 2;
  } catch (const harpe::Error& e) {
    std::fprintf(stderr, "harpe: error: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "harpe: error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "harpe: error: %s\n", e.what());
    return 1;
  }
  return 0;
}

// `harpe info`: version and the build's compute configuration.
#include <omp.h>

#include <cstdio>

#include "cli/command.h"
#include "core/version.h"

namespace {

void setup(CLI::App& parent) {
  CLI::App* cmd = parent.add_subcommand("info", "Print version and compute configuration");
  cmd->callback([] {
    std::printf("harpe %s\nopenmp_threads=%d\n", harpe::version(), omp_get_max_threads());
  });
}

}  // namespace

HARPE_COMMAND("", setup);

// What the MPI end-to-end tests share: the program on one rank and under mpirun on N ranks, and a
// run's metrics.jsonl read back.
#pragma once

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/run_program.h"

namespace harpe::testing {

using CliResult = ProgramResult;
inline CliResult run(const std::string& cmd) { return run_shell(cmd); }

// One thread per rank; as root OpenMPI needs --allow-run-as-root; more ranks than cores need
// --oversubscribe. OpenMPI's own allocations at exit would fail a sanitizer build's leak check
// (ours are checked by the other tests), and -x passes the variables to the ranks.
inline std::string on_ranks(int n) {
  if (n == 1) return "OMP_NUM_THREADS=1 " + std::string(HARPE_BINARY);
  return "OMP_NUM_THREADS=1 OMPI_MCA_rmaps_base_oversubscribe=1 ASAN_OPTIONS=detect_leaks=0 " +
         std::string(HARPE_MPIEXEC) +
         " --allow-run-as-root --oversubscribe -x OMP_NUM_THREADS -x ASAN_OPTIONS -np " +
         std::to_string(n) + " " + std::string(HARPE_BINARY);
}

struct Line {
  long step;
  double loss, grad_norm;
  unsigned long long tokens_seen;
};

inline std::vector<Line> read_metrics(const std::filesystem::path& p) {
  std::vector<Line> out;
  std::ifstream in(p);
  std::string s;
  while (std::getline(in, s)) {
    const auto j = nlohmann::json::parse(s);
    out.push_back({j["step"].get<long>(), j["loss"].get<double>(), j["grad_norm"].get<double>(),
                   j["tokens_seen"].get<unsigned long long>()});
  }
  return out;
}

}  // namespace harpe::testing

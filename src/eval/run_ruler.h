// Running RULER tasks (src/eval/ruler.h) through a generator (`harpe eval niah` / `harpe eval
// ruler`): samples per (task, length), optionally several samples at once on worker threads,
// scored with string_match_all (eval/scoring.h).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "eval/ruler.h"
#include "eval/scoring.h"

namespace harpe::eval {

// The eight NIAH tasks, in RULER's order (the default of `harpe eval niah`).
std::vector<std::string> niah_task_names();
// "all" -> the eight NIAH tasks; "ruler" -> all eleven; else comma-separated names, each checked
// (unknown names throw Error listing the valid ones). `allow_other` false rejects vt/cwe/fwe.
std::vector<std::string> parse_task_list(const std::string& text, bool allow_other);
// Each name a task (RULER's or passkey), none other than NIAH unless `allow_other`; not empty.
void check_task_list(const std::vector<std::string>& tasks, bool allow_other);

struct RulerRunOptions {
  std::vector<std::string> tasks;
  std::vector<int64_t> lengths;
  int samples = 10;
  int jobs = 1;    // samples generated at once (each worker's kernels then run single-threaded)
  GenOptions gen;  // token counter, essay, seed
  // Called after each sample: task, length, sample index, samples, its prediction, elapsed s.
  std::function<void(const std::string&, int64_t, int, int, const Prediction&, double)> progress;
};

// A factory so that each worker thread gets its own generator (and stats).
using GeneratorFactory = std::function<Generator(int worker)>;

// One TaskResult per (task, length), in (task, length) order.
std::vector<TaskResult> run_ruler(const RulerRunOptions& opts,
                                  const GeneratorFactory& make_generator);

// Runs the generator on each prompt, `jobs` at a time (OpenMP threads; jobs = 1: in order on the
// calling thread). Exceptions from any worker are rethrown.
std::vector<std::string> generate_all(const std::vector<const TaskSample*>& samples, int jobs,
                                      const GeneratorFactory& make_generator,
                                      const std::function<void(size_t, const std::string&)>& done);

}  // namespace harpe::eval

#include "eval/run_ruler.h"

#include <cstdio>
#include <exception>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <map>
#include <mutex>
#include <sstream>

#include "core/error.h"
#include "core/timer.h"

namespace harpe::eval {

std::vector<std::string> niah_task_names() {
  std::vector<std::string> out;
  for (const std::string& t : ruler_task_names())
    if (is_niah_task(t)) out.push_back(t);
  return out;
}

std::vector<std::string> parse_task_list(const std::string& text, bool allow_other) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item == "all" || item == "niah") {
      for (const auto& t : niah_task_names()) out.push_back(t);
      continue;
    }
    if (item == "ruler") {
      check(allow_other, "--tasks: 'ruler' (vt, cwe, fwe) is for `harpe eval ruler`");
      for (const auto& t : ruler_task_names()) out.push_back(t);
      continue;
    }
    if (item == "passkey") {  // not RULER's, but a retrieval task both commands run
      out.push_back(item);
      continue;
    }
    check_task_list({item}, allow_other);
    out.push_back(item);
  }
  check(!out.empty(), "--tasks: no task given");
  return out;
}

void check_task_list(const std::vector<std::string>& tasks, bool allow_other) {
  check(!tasks.empty(), "--tasks: no task given");
  for (const std::string& item : tasks) {
    if (item == "passkey") continue;
    bool known = false;
    for (const auto& t : ruler_task_names()) known = known || t == item;
    if (!known) {
      std::string names;
      for (const auto& t : ruler_task_names()) names += (names.empty() ? "" : ", ") + t;
      fail("--tasks: unknown task '", item, "' (tasks: ", names, ", passkey, or all)");
    }
    check(allow_other || is_niah_task(item), "--tasks: '", item,
          "' is not a NIAH task; run it with `harpe eval ruler --tasks ", item, "`");
  }
}

std::vector<std::string> generate_all(const std::vector<const TaskSample*>& samples, int jobs,
                                      const GeneratorFactory& make_generator,
                                      const std::function<void(size_t, const std::string&)>& done) {
  std::vector<std::string> outputs(samples.size());
  const int n = static_cast<int>(samples.size());
  if (jobs <= 1 || n <= 1) {
    Generator g = make_generator(0);
    for (int i = 0; i < n; ++i) {
      outputs[i] = g(samples[i]->input, samples[i]->tokens_to_generate);
      if (done) done(static_cast<size_t>(i), outputs[i]);
    }
    return outputs;
  }
  std::exception_ptr error;
  std::mutex mu;
#pragma omp parallel num_threads(jobs)
  {
    Generator g;
    int worker = 0;
#ifdef _OPENMP
    worker = omp_get_thread_num();
#endif
    try {
      std::lock_guard<std::mutex> lock(mu);
      g = make_generator(worker);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu);
      if (!error) error = std::current_exception();
    }
#pragma omp for schedule(dynamic, 1)
    for (int i = 0; i < n; ++i) {
      bool skip;
      {
        std::lock_guard<std::mutex> lock(mu);
        skip = static_cast<bool>(error);
      }
      if (skip) continue;
      try {
        std::string out = g(samples[i]->input, samples[i]->tokens_to_generate);
        std::lock_guard<std::mutex> lock(mu);
        outputs[i] = std::move(out);
        if (done) done(static_cast<size_t>(i), outputs[i]);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!error) error = std::current_exception();
      }
    }
  }
  if (error) std::rethrow_exception(error);
  return outputs;
}

std::vector<TaskResult> run_ruler(const RulerRunOptions& opts,
                                  const GeneratorFactory& make_generator) {
  check(!opts.tasks.empty(), "no task to run");
  check(!opts.lengths.empty(), "no length to run");
  check(opts.samples >= 1, "--samples must be >= 1, got ", opts.samples);
  check(opts.jobs >= 1, "--jobs must be >= 1, got ", opts.jobs);
  for (const auto& t : opts.tasks)
    check(!task_needs_essay(t) || !opts.gen.essay.empty(), "task ", t,
          " uses the essay haystack: give held-out prose (--haystack-corpus DIR or --essay FILE)");
  std::vector<TaskResult> results;
  for (const std::string& task : opts.tasks) {
    for (int64_t length : opts.lengths) {
      std::vector<TaskSample> samples;
      try {
        samples = generate_samples(task, length, opts.samples, opts.gen);
      } catch (const LengthTooSmall& e) {
        // A short length may hold no prompt of a verbose task (several UUID needles): that cell is
        // left out, not scored 0, and said so.
        std::fprintf(stderr, "note: %s: skipped\n", e.what());
        continue;
      }
      std::vector<const TaskSample*> ptrs;
      for (const auto& s : samples) ptrs.push_back(&s);
      Timer timer;
      const std::vector<std::string> outputs =
          generate_all(ptrs, opts.jobs, make_generator, [&](size_t i, const std::string& out) {
            if (!opts.progress) return;
            Prediction p;
            p.index = samples[i].index;
            p.length = length;
            p.expected = samples[i].outputs;
            p.output = out;
            p.score = string_match_all(out, samples[i].outputs);
            p.word_score = word_match(out, samples[i].outputs);
            p.prompt_tokens = samples[i].prompt_tokens;
            opts.progress(task, length, static_cast<int>(i), static_cast<int>(samples.size()), p,
                          timer.seconds());
          });
      // Score through the library's runner: it sees each sample's precomputed output.
      std::map<std::string, std::string> by_prompt;
      for (size_t i = 0; i < samples.size(); ++i) by_prompt[samples[i].input] = outputs[i];
      results.push_back(run_task(samples, [&](const std::string& prompt, int) {
        auto it = by_prompt.find(prompt);
        check(it != by_prompt.end(), "internal: no output for a prompt");
        return it->second;
      }));
    }
  }
  return results;
}

}  // namespace harpe::eval

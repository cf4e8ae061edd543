#include "eval/run_needle.h"

#include <map>

#include "core/error.h"
#include "core/timer.h"

namespace harpe::eval {

NeedleGrid run_needle(const NeedleGridSpec& spec, const GenOptions& options, int jobs,
                      const GeneratorFactory& make_generator, std::vector<Prediction>* predictions,
                      const std::function<void(size_t, size_t, double)>& progress) {
  check(spec.haystack != Haystack::essay || !options.essay.empty(),
        "the essay haystack needs held-out prose (--haystack-corpus DIR or --essay FILE)");
  const std::vector<NeedleCell> cells = generate_needle_grid(spec, options);
  std::vector<const TaskSample*> samples;
  for (const NeedleCell& c : cells)
    for (const TaskSample& s : c.samples) samples.push_back(&s);
  Timer timer;
  size_t done = 0;
  const std::vector<std::string> outputs =
      generate_all(samples, jobs, make_generator, [&](size_t, const std::string&) {
        ++done;  // generate_all calls this under its lock (or on one thread)
        if (progress) progress(done, samples.size(), timer.seconds());
      });
  std::map<std::string, std::string> by_prompt;
  for (size_t i = 0; i < samples.size(); ++i) by_prompt[samples[i]->input] = outputs[i];
  // run_needle_grid regenerates the same cells (same seed), so each prompt is found.
  return run_needle_grid(
      spec, options,
      [&](const std::string& prompt, int) {
        auto it = by_prompt.find(prompt);
        check(it != by_prompt.end(), "internal: needle prompt not generated");
        return it->second;
      },
      predictions);
}

}  // namespace harpe::eval

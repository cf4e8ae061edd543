#include "eval/scoring.h"

#include <cctype>

#include "core/error.h"

namespace harpe::eval {
namespace {

std::string lower(const std::string& s) {
  std::string out = s;
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

void check_sizes(size_t np, size_t ne) {
  check(np == ne, "scoring: ", np, " predictions but ", ne, " reference lists");
  check(np > 0, "scoring: no predictions");
}

}  // namespace

std::string postprocess_prediction(const std::string& text) {
  std::string s = text;
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20) c = '\n';
  const char* ws = " \t\n\r\f\v";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return {};
  const size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

double string_match_all(const std::string& prediction, const std::vector<std::string>& expected) {
  check(!expected.empty(), "scoring: a sample has no expected answers");
  const std::string p = lower(prediction);
  int found = 0;
  for (const auto& r : expected) found += p.find(lower(r)) != std::string::npos;
  return 100.0 * found / static_cast<double>(expected.size());
}

double string_match_all(const std::vector<std::string>& predictions,
                        const std::vector<std::vector<std::string>>& expected) {
  check_sizes(predictions.size(), expected.size());
  double sum = 0;
  for (size_t i = 0; i < predictions.size(); ++i) sum += string_match_all(predictions[i], expected[i]);
  return sum / static_cast<double>(predictions.size());
}

double string_match_part(const std::vector<std::string>& predictions,
                         const std::vector<std::vector<std::string>>& expected) {
  check_sizes(predictions.size(), expected.size());
  double sum = 0;
  for (size_t i = 0; i < predictions.size(); ++i) {
    const std::string p = lower(predictions[i]);
    bool any = false;
    for (const auto& r : expected[i]) any = any || p.find(lower(r)) != std::string::npos;
    sum += any ? 100.0 : 0.0;
  }
  return sum / static_cast<double>(predictions.size());
}

TaskResult run_task(const std::vector<TaskSample>& samples, const Generator& generate) {
  check(!samples.empty(), "run_task: no samples");
  check(static_cast<bool>(generate), "run_task: no generator given");
  TaskResult r;
  r.task = samples[0].task;
  r.length = samples[0].length;
  double sum = 0;
  for (const TaskSample& s : samples) {
    Prediction p;
    p.index = s.index;
    p.length = s.length;
    p.expected = s.outputs;
    p.output = postprocess_prediction(generate(s.input, s.tokens_to_generate));
    p.score = string_match_all(p.output, s.outputs);
    p.prompt_tokens = s.prompt_tokens;
    sum += p.score;
    r.predictions.push_back(std::move(p));
  }
  r.score = sum / static_cast<double>(samples.size());
  r.samples = static_cast<int>(samples.size());
  return r;
}

}  // namespace harpe::eval

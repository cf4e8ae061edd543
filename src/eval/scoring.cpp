#include "eval/scoring.h"

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <limits>

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

std::vector<std::string> words_of(const std::string& s) {
  std::vector<std::string> out;
  std::string w;
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      w += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (!w.empty()) {
      out.push_back(std::move(w));
      w.clear();
    }
  }
  if (!w.empty()) out.push_back(std::move(w));
  return out;
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
  for (size_t i = 0; i < predictions.size(); ++i)
    sum += string_match_all(predictions[i], expected[i]);
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

double word_match(const std::string& prediction, const std::vector<std::string>& expected) {
  check(!expected.empty(), "scoring: a sample has no expected answers");
  const std::vector<std::string> p = words_of(prediction);
  double sum = 0;
  for (const auto& r : expected) {
    const std::vector<std::string> a = words_of(r);
    if (a.empty()) continue;  // nothing to find: no credit
    size_t best = 0;
    // Offsets from -(|a|-1) to |p|-1: the answer may start before the prediction's first word
    // (an output that begins mid-key still has the rest in place).
    const auto n = static_cast<std::ptrdiff_t>(a.size());
    for (std::ptrdiff_t off = 1 - n; off < static_cast<std::ptrdiff_t>(p.size()); ++off) {
      size_t hit = 0;
      for (std::ptrdiff_t k = 0; k < n; ++k) {
        const std::ptrdiff_t i = off + k;
        if (i >= 0 && i < static_cast<std::ptrdiff_t>(p.size()) &&
            p[static_cast<size_t>(i)] == a[static_cast<size_t>(k)])
          ++hit;
      }
      best = std::max(best, hit);
    }
    sum += static_cast<double>(best) / static_cast<double>(a.size());
  }
  return 100.0 * sum / static_cast<double>(expected.size());
}

double word_baseline(const std::vector<Prediction>& predictions) {
  const size_t n = predictions.size();
  if (n < 2) return std::numeric_limits<double>::quiet_NaN();
  double sum = 0;
  for (size_t i = 0; i < n; ++i) {
    const auto& other = predictions[(i + 1) % n].expected;
    if (!other.empty()) sum += word_match(predictions[i].output, other);
  }
  return sum / static_cast<double>(n);
}

TaskResult run_task(const std::vector<TaskSample>& samples, const Generator& generate) {
  check(!samples.empty(), "run_task: no samples");
  check(static_cast<bool>(generate), "run_task: no generator given");
  TaskResult r;
  r.task = samples[0].task;
  r.length = samples[0].length;
  double sum = 0, word_sum = 0;
  for (const TaskSample& s : samples) {
    Prediction p;
    p.index = s.index;
    p.length = s.length;
    p.expected = s.outputs;
    p.output = postprocess_prediction(generate(s.input, s.tokens_to_generate));
    p.score = string_match_all(p.output, s.outputs);
    p.word_score = word_match(p.output, s.outputs);
    p.prompt_tokens = s.prompt_tokens;
    sum += p.score;
    word_sum += p.word_score;
    r.predictions.push_back(std::move(p));
  }
  r.score = sum / static_cast<double>(samples.size());
  r.word_score = word_sum / static_cast<double>(samples.size());
  r.word_baseline = word_baseline(r.predictions);
  r.samples = static_cast<int>(samples.size());
  return r;
}

}  // namespace harpe::eval

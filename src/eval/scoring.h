// RULER's scoring: string_match_all (share of the expected answers found in the output, x100,
// case-insensitive substring match), the metric of every task here; string_match_part (1 if any
// expected answer is found) for completeness. Plus the model-independent task runner: a sample
// list and a generator callback give a scored TaskResult.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "eval/ruler.h"

namespace harpe::eval {

// RULER's postprocess_pred: control characters become newlines, then surrounding whitespace goes.
std::string postprocess_prediction(const std::string& text);

// Score of one prediction in [0, 100]: 100 * (expected answers found) / (expected answers).
double string_match_all(const std::string& prediction, const std::vector<std::string>& expected);
// Mean over samples, in [0, 100]. Throws when the sizes differ or the list is empty.
double string_match_all(const std::vector<std::string>& predictions,
                        const std::vector<std::vector<std::string>>& expected);
double string_match_part(const std::vector<std::string>& predictions,
                         const std::vector<std::vector<std::string>>& expected);

// Partial credit in [0, 100], beside string_match_all: for each expected answer, the largest share
// of its words that the prediction has in place at one offset (words: runs of letters and digits,
// case-insensitive); the mean over the answers. A passkey output with four of the key's five words
// in order scores 80 here and 0 in string_match_all: small models lose long-range retrieval
// gradually, and this shows how far before the exact match drops to 0.
double word_match(const std::string& prediction, const std::vector<std::string>& expected);

// Greedy continuation of `prompt` with at most max_new_tokens tokens (the model's job).
using Generator = std::function<std::string(const std::string& prompt, int max_new_tokens)>;

struct Prediction {
  int index = 0;
  int64_t length = 0;  // the sample's target length
  std::vector<std::string> expected;
  std::string output;
  double score = 0;       // string_match_all of this sample, 0..100
  double word_score = 0;  // word_match of this sample, 0..100
  double depth = -1;      // needle grid only: the depth percent; -1 otherwise
  int64_t prompt_tokens = 0;
};

struct TaskResult {
  std::string task;
  int64_t length = 0;
  double score = 0;       // mean of the predictions' scores, 0..100
  double word_score = 0;  // mean of the predictions' word_match, 0..100
  double word_baseline =
      0;            // word_baseline(predictions): what the outputs get against the wrong key
  int samples = 0;  // number of samples scored
  std::vector<Prediction> predictions;
};

// word_match's reference level: each output scored against the next sample's answers (i against
// i+1, cyclically), so words a model emits regardless of the prompt (the common code words, the
// key's format) get their credit without any retrieval. NaN for fewer than two predictions.
double word_baseline(const std::vector<Prediction>& predictions);

// Runs the generator on every sample (one task, one length) and scores it.
TaskResult run_task(const std::vector<TaskSample>& samples, const Generator& generate);

}  // namespace harpe::eval

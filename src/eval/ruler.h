// RULER-style synthetic long-context tasks (Hsieh et al. 2024, "RULER: What's the Real Context Size
// of Your Long-Context Language Models?"), model independent: each sample is a prompt that ends in
// the task's answer prefix plus the list of expected answers, sized with the caller's token counter
// so that prompt + answers + the task's generation budget fit the target length.
//
// Tasks (names as in RULER): niah_single_{1,2,3}, niah_multikey_{1,2,3}, niah_multivalue,
// niah_multiquery, vt (variable tracking), cwe (common words extraction), fwe (frequent words
// extraction). Beyond RULER: passkey, the passkey retrieval test (Mohtashami & Jaggi 2023) with a
// five-word key from the NATO spelling alphabet, small-model friendly. The classic single needle at
// a chosen depth (the needle heatmap) is generate_needle_sample(). docs/eval.md describes each task
// with an example prompt.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "eval/tokenizer.h"

namespace harpe::eval {

enum class Haystack { noise, essay, needle };
enum class NeedleKind { words, numbers, uuids };

// One NIAH task's definition (RULER's synthetic.yaml: type_haystack, type_needle_k/v,
// num_needle_k/v/q). As in RULER, the number of keys with needles is max(num_keys, num_queries).
struct NiahSpec {
  Haystack haystack = Haystack::essay;
  NeedleKind key = NeedleKind::words;
  NeedleKind value = NeedleKind::numbers;
  int num_keys = 1;
  int num_values = 1;
  int num_queries = 1;
};

// The repeated filler of the "noise" haystack (RULER's "repeat") and of variable tracking.
extern const char* const kNoiseFiller;

// All task names, in RULER's order: the eight NIAH tasks, then vt, cwe, fwe.
const std::vector<std::string>& ruler_task_names();
bool is_niah_task(const std::string& task);
// Throws Error naming the task when it is not a NIAH task.
NiahSpec niah_spec(const std::string& task);
// RULER's tokens_to_generate: niah 128, vt 30, cwe 120, fwe 50; passkey 16.
int default_tokens_to_generate(const std::string& task);
// True when the task's haystack is essay text (passkey's is) (then GenOptions::essay must be
// non-empty).
bool task_needs_essay(const std::string& task);

// Thrown when even the smallest sample of a task does not fit the requested length.
struct LengthTooSmall : Error {
  using Error::Error;
};

struct GenOptions {
  TokenCounter count_tokens;  // required
  std::string essay;          // held-out prose for the essay haystack (cycled when too short)
  uint64_t seed = 42;
  int tokens_to_generate = -1;  // < 0: the task's default
};

struct TaskSample {
  std::string task;
  int64_t length = 0;  // the target length: prompt + answers + tokens_to_generate <= length
  int index = 0;
  std::string input;                 // the whole prompt, ending in the answer prefix
  std::vector<std::string> outputs;  // expected answers (string_match_all references)
  int tokens_to_generate = 0;
  int64_t prompt_tokens = 0;  // count_tokens(input)
  int64_t budget_tokens =
      0;  // count_tokens(input + " " + outputs joined by " ") + tokens_to_generate
  int64_t haystack_units =
      0;  // essay words / filler paragraphs / distractor lines / cwe words / fwe words
  // NIAH only: every key that has needles (queried and distractor keys), the queried keys, and the
  // relative position in the context (0 = start, 1 = end) of each inserted needle.
  std::vector<std::string> keys;
  std::vector<std::string> queries;
  std::vector<double> depths;
};

TaskSample generate_sample(const std::string& task, int64_t length, int index,
                           const GenOptions& options);
std::vector<TaskSample> generate_samples(const std::string& task, int64_t length, int num_samples,
                                         const GenOptions& options);

// The classic single needle (niah_single_2's definition on the chosen haystack: word key, 7-digit
// number) inserted at depth_percent of the haystack, for the length x depth heatmap.
TaskSample generate_needle_sample(int64_t length, double depth_percent, int index,
                                  Haystack haystack, const GenOptions& options);

// Pieces, exposed for tests and for the docs.
std::string niah_needle(NeedleKind value_kind, const std::string& key, const std::string& value);
std::string passkey_needle(const std::string& key);
const std::vector<std::string>&
passkey_words();  // the 26 NATO code words, alpha .. zulu  // "The pass key is KEY. Remember it.
                  // KEY is the pass key."
bool is_uuid4(const std::string& s);
bool is_word_key(const std::string& s);  // "adjective-noun" from our lists

}  // namespace harpe::eval

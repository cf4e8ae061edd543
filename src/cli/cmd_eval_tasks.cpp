// `harpe eval tasks`: generate RULER task samples (no model needed) to inspect the prompts, their
// expected answers and their token budgets.
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli/command.h"
#include "core/error.h"
#include "eval/ruler.h"
#include "eval/tokenizer.h"
#include "io/read_limits.h"

namespace {

struct Args {
  std::vector<std::string> tasks;
  std::vector<int64_t> lengths{4096};
  int samples = 1;
  uint64_t seed = 42;
  int tokens_to_generate = -1;
  std::string tokenizer;
  std::string essay;
  bool json = false;
};

std::string clip(const std::string& s, size_t head, size_t tail) {
  if (s.size() <= head + tail + 5) return s;
  return s.substr(0, head) + " [...] " + s.substr(s.size() - tail);
}

void run(const Args& a) {
  using namespace harpe::eval;
  std::vector<std::string> tasks;
  for (const auto& t : a.tasks) {
    if (t == "all") {
      tasks.insert(tasks.end(), ruler_task_names().begin(), ruler_task_names().end());
    } else {
      default_tokens_to_generate(t);  // validates the name
      tasks.push_back(t);
    }
  }
  harpe::check(a.samples >= 1, "--samples must be >= 1, got ", a.samples);
  GenOptions opt;
  opt.count_tokens =
      a.tokenizer.empty() ? whitespace_word_counter() : sentencepiece_counter(a.tokenizer);
  opt.seed = a.seed;
  opt.tokens_to_generate = a.tokens_to_generate;
  if (!a.essay.empty())
    opt.essay = harpe::io::read_regular_file(a.essay, harpe::io::kTextFileLimit, "--essay");
  for (const auto& t : tasks)
    harpe::check(!task_needs_essay(t) || !opt.essay.empty(), "task ", t,
                 " uses the essay haystack: give held-out prose with --essay FILE");

  nlohmann::json out = nlohmann::json::array();
  for (const auto& t : tasks) {
    for (int64_t len : a.lengths) {
      for (const TaskSample& s : generate_samples(t, len, a.samples, opt)) {
        if (a.json) {
          out.push_back({{"task", s.task},
                         {"length", s.length},
                         {"index", s.index},
                         {"input", s.input},
                         {"outputs", s.outputs},
                         {"tokens_to_generate", s.tokens_to_generate},
                         {"prompt_tokens", s.prompt_tokens},
                         {"budget_tokens", s.budget_tokens},
                         {"haystack_units", s.haystack_units},
                         {"keys", s.keys},
                         {"queries", s.queries},
                         {"depths", s.depths}});
        } else {
          std::printf("== %s  length %lld  sample %d\n", s.task.c_str(),
                      static_cast<long long>(s.length), s.index);
          std::printf("prompt tokens %lld, with answers + %d to generate: %lld (of %lld)\n",
                      static_cast<long long>(s.prompt_tokens), s.tokens_to_generate,
                      static_cast<long long>(s.budget_tokens), static_cast<long long>(s.length));
          std::string answers;
          for (const auto& o : s.outputs) answers += (answers.empty() ? "" : ", ") + o;
          std::printf("expected: %s\n", answers.c_str());
          std::printf("prompt: %s\n\n", clip(s.input, 400, 400).c_str());
        }
      }
    }
  }
  if (a.json) std::printf("%s\n", out.dump(2).c_str());
}

void setup(CLI::App& parent) {
  auto args = std::make_shared<Args>();
  CLI::App* cmd = parent.add_subcommand(
      "tasks", "Generate RULER task samples (prompts + expected answers) without a model");
  cmd->add_option("--task", args->tasks,
                  "Task name(s): niah_single_1..3, niah_multikey_1..3, niah_multivalue, "
                  "niah_multiquery, vt, cwe, fwe, or all")
      ->required();
  cmd->add_option("--length", args->lengths,
                  "Target length(s) in tokens: prompt + answers + tokens to generate fit in it")
      ->capture_default_str();
  cmd->add_option("--samples,-n", args->samples, "Samples per task and length")
      ->capture_default_str();
  cmd->add_option("--seed", args->seed, "Random seed (same seed, same samples)")
      ->capture_default_str();
  cmd->add_option("--tokens-to-generate", args->tokens_to_generate,
                  "Generation budget per sample (default: RULER's per task: niah 128, vt 30, "
                  "cwe 120, fwe 50)");
  cmd->add_option("--tokenizer", args->tokenizer,
                  "SentencePiece .model file that counts tokens (default: whitespace words)");
  cmd->add_option("--essay", args->essay,
                  "Held-out prose (text file) for the essay haystack of niah_single_2/3, "
                  "niah_multikey_1, niah_multivalue, niah_multiquery");
  cmd->add_flag("--json", args->json, "Print the samples as a JSON array (full prompts)");
  cmd->callback([args] { run(*args); });
}

}  // namespace

HARPE_COMMAND("eval", setup);

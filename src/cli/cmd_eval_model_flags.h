// Flags shared by the model-backed `harpe eval` subcommands (ppl, niah, ruler, needle, short).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "cli/parsed_flag.h"
#include "cli/precision_flag.h"
#include "eval/model_commands.h"
#include "eval/model_eval.h"
#include "eval/run_ruler.h"
#include "rope/rope_table.h"

namespace harpe::cli {

// Flags that are lists or pairs are parsed here, once, into the typed values of eval::*Args; a bad
// value is a one-line harpe::Error naming the flag, raised while the command line is parsed.

inline CLI::Option* add_self_extend_flag(CLI::App* cmd, rope::PositionMap& position,
                                         const std::string& help) {
  return add_parsed_flag(
      cmd, "--self-extend", position,
      [](const std::string& text) { return rope::parse_position_map(text, "--self-extend"); },
      help);
}

inline CLI::Option* add_lengths_flag(CLI::App* cmd, std::vector<int64_t>& lengths,
                                     const std::string& help) {
  std::string shown;
  for (int64_t l : lengths) shown += (shown.empty() ? "" : ",") + std::to_string(l);
  return add_parsed_flag(
      cmd, "--lengths", lengths,
      [](const std::string& text) { return harpe::eval::parse_lengths(text, "--lengths"); }, help,
      shown);
}

// --tasks: "all", "ruler" or names, expanded and checked by eval::parse_task_list.
inline CLI::Option* add_tasks_flag(CLI::App* cmd, std::vector<std::string>& tasks, bool allow_other,
                                   const std::string& shown, const std::string& help) {
  return add_parsed_flag(
      cmd, "--tasks", tasks,
      [allow_other](const std::string& text) {
        return harpe::eval::parse_task_list(text, allow_other);
      },
      help, shown);
}

inline void add_model_flags(CLI::App* cmd, harpe::eval::ModelArgs& m) {
  cmd->add_option("--model", m.model_dir, "Checkpoint directory (config.json + model.safetensors)")
      ->required();
  cmd->add_option("--tokenizer", m.tokenizer,
                  "SentencePiece model (default: MODEL/tokenizer.model)");
  add_self_extend_flag(cmd, m.position,
                       "Training-free Self-Extend on any checkpoint: W,G = neighbour window, group "
                       "size (e.g. 1024,8); default none");
  cmd->add_option("--out", m.out_dir, "Write results.json + results.md into this directory");
  cmd->add_option("--name", m.name, "Run name in reports (default: the --out directory's name)");
  cmd->add_flag("--quiet,-q", m.quiet, "No progress lines");
  add_weights_precision_flag(cmd, m.precision);
}

inline void add_haystack_flags(CLI::App* cmd, std::string& corpus, std::string& split,
                               std::string& essay) {
  cmd->add_option("--haystack-corpus", corpus,
                  "Corpus directory (harpe data corpus) whose held-out split is the essay haystack "
                  "(default: data/corpus when it exists)");
  cmd->add_option("--haystack-split", split, "Split of --haystack-corpus: test|validation|train")
      ->capture_default_str();
  cmd->add_option("--essay", essay, "Text file used as the essay haystack instead of a corpus");
}

inline void add_tokens_to_generate_flag(CLI::App* cmd, int& ttg) {
  cmd->add_option(
         "--tokens-to-generate", ttg,
         "Generated tokens per prompt, reserved inside each length (default: RULER's, 128 for "
         "NIAH; smaller lets short lengths hold a prompt)")
      ->check(CLI::PositiveNumber);
}

// The flags of the RULER-task commands (`harpe eval niah` and `harpe eval ruler`).
inline void add_ruler_flags(CLI::App* cmd, harpe::eval::RulerArgs& r, bool allow_other,
                            const std::string& tasks_shown, const std::string& tasks_help) {
  add_tasks_flag(cmd, r.tasks, allow_other, tasks_shown, tasks_help);
  add_lengths_flag(cmd, r.lengths, "Context lengths, comma-separated (4096 or 4k)");
  cmd->add_option("--samples,-n", r.samples, "Samples per task and length")->capture_default_str();
  cmd->add_option("--jobs,-j", r.jobs,
                  "Samples decoded at once (each then single-threaded); 1 = one at a time, "
                  "kernels on all cores")
      ->capture_default_str();
  cmd->add_option("--seed", r.seed, "Sample seed (same seed, same prompts)")->capture_default_str();
  add_tokens_to_generate_flag(cmd, r.tokens_to_generate);
  add_haystack_flags(cmd, r.haystack_corpus, r.haystack_split, r.essay);
  cmd->add_flag("!--no-predictions", r.keep_predictions,
                "Leave the per-sample predictions out of results.json");
}

}  // namespace harpe::cli

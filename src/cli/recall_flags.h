// The task flags `harpe data recall` and `harpe eval recall` share (eval/recall.h), declared once
// so training and evaluation sequences are described alike.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace harpe::cli {

struct RecallTaskFlags {
  int vocab = 0, filler = 0, pairs = 4, values = 4, queries = 0, far = 0, span = 16;
  std::string copy = "uniform";
};

inline void add_recall_task_flags(CLI::App* cmd, RecallTaskFlags& f, const char* vocab_help) {
  cmd->add_option("--vocab", f.vocab, vocab_help);
  cmd->add_option("--filler-tokens", f.filler,
                  "Filler tokens [0, F) of the vocabulary (0: a quarter of it); keys and values "
                  "split the rest in halves");
  cmd->add_option("--pairs", f.pairs,
                  "Key-value pairs per sequence (multikey: 1 queried + distractors; multiquery: "
                  "queried ones; single: always 1)")
      ->capture_default_str();
  cmd->add_option("--values", f.values, "multivalue: values of the queried key")
      ->capture_default_str();
  cmd->add_option("--queries", f.queries, "multiquery: queried keys (0: every pair)")
      ->capture_default_str();
  cmd->add_option("--far", f.far,
                  "Put every queried pair at least this many tokens before its query (0: "
                  "distances uniform over the window)")
      ->capture_default_str();
  cmd->add_option("--span", f.span, "copy: the repeated span is 4..SPAN tokens long")
      ->capture_default_str();
  cmd->add_option("--copy", f.copy,
                  "copy: uniform (the span anywhere before its repeat) or adjacent (right before "
                  "it: the short-range case that makes the recall circuit form in training)")
      ->check(CLI::IsMember({"uniform", "adjacent"}))
      ->capture_default_str();
}

}  // namespace harpe::cli

// Shared plumbing of the model-backed evaluations (`harpe eval ppl|niah|ruler|needle|short`): a
// checkpoint with its tokenizer, the Self-Extend flag, the model's original context, the greedy
// generator over the KV cache, and the run directory (results.json + results.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/precision.h"
#include "data/tokenizer.h"
#include "eval/report.h"
#include "eval/scoring.h"
#include "eval/tokenizer.h"
#include "infer/inference_model.h"
#include "model/model.h"
#include "model/original_context.h"
#include "rope/rope_table.h"

namespace harpe::eval {

struct LoadedModel {
  std::string dir;
  std::string tokenizer_path;
  infer::InferenceModel model;  // weights in the precision asked for
  data::Tokenizer tokenizer;
};

// Loads DIR (config.json + model.safetensors) and the tokenizer (default DIR/tokenizer.model),
// the weights held in `precision`. Throws Error naming the file when either is missing or they
// disagree on the vocabulary.
LoadedModel load_model_and_tokenizer(const std::string& dir, const std::string& tokenizer,
                                     Precision precision);

// Self-Extend's "W,G" is parsed by rope::parse_position_map (rope/rope_table.h).
std::string self_extend_label(const rope::PositionMap& p);  // "none" or "W,G"

// "512,1024" or "4k,8K" -> lengths (each > 0); errors name `flag`. With c0 > 0, "2x" means
// 2 * c0 (a multiple of the model's original context).
std::vector<int64_t> parse_lengths(const std::string& text, const std::string& flag,
                                   int64_t c0 = 0);
// "0,50,100" -> needle depth percents (each in [0, 100]); errors name --depths.
std::vector<double> parse_depths(const std::string& text);

// The model's original context C0: model/original_context.h.
using model::original_context;
using model::OriginalContext;

// Token counter from the model's tokenizer (text tokens only, no BOS/EOS).
TokenCounter model_token_counter(const data::Tokenizer& tok);

// Timing and token counts of a model generator (for progress lines and the wall-time report).
struct GenerationStats {
  int64_t prompts = 0, prompt_tokens = 0, new_tokens = 0;
  double prefill_s = 0, decode_s = 0;
};

// Greedy decoding with the KV cache: BOS + prompt, then up to max_new_tokens (stops at EOS), the
// new tokens decoded to text. A fresh cache per call sized prompt + max_new_tokens, so calls are
// independent and may run on several threads at once (each then gets its own stats, or none).
Generator model_generator(const infer::InferenceModel& m, const data::Tokenizer& tok,
                          const rope::PositionMap& position, GenerationStats* stats = nullptr);

// Run directory output: DIR/results.json (schema harpe.eval.v1) and DIR/results.md (the task
// table, the needle grid, the perplexity table). Creates DIR.
std::string ppl_markdown(const std::vector<PplResult>& ppl);
std::string run_markdown(const RunResults& run);
void write_run_dir(const RunResults& run, const std::string& dir, bool keep_predictions = true);

// meta entries every model run records: model, tokenizer, rope method, self_extend, weights.
void fill_model_meta(RunResults& run, const LoadedModel& lm, const rope::PositionMap& position);

}  // namespace harpe::eval

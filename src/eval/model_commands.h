// The model-backed `harpe eval` commands as library calls (the CLI files only parse flags):
// ppl, niah / ruler, needle, short. Each prints progress lines to stderr, writes DIR/results.json +
// DIR/results.md when an output directory is given, and returns the run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/precision.h"
#include "eval/report.h"
#include "eval/ruler.h"
#include "eval/run_ruler.h"
#include "rope/rope_table.h"

namespace harpe::eval {

struct ModelArgs {
  std::string model_dir;
  std::string tokenizer;       // default MODEL/tokenizer.model
  rope::PositionMap position;  // Self-Extend's grouped positions, or the identity (the default)
  std::string out_dir;         // "" = do not write
  std::string name;            // run name; default: the output directory's name
  bool quiet = false;          // no progress lines
  // Weights held in memory (infer/inference_model.h); activations are fp32 either way.
  Precision precision = default_precision();
};

struct PplArgs {
  std::vector<int64_t> lengths = {512, 1024, 2048, 4096};  // window lengths, each > 0
  int64_t stride = 256;
  std::string corpus, split = "test", source;  // a corpus split ...
  std::string shard;                           // ... or a token shard
  int documents = 0;                           // 0 = all long enough
};

struct RulerArgs {
  std::vector<std::string> tasks = niah_task_names();  // parse_task_list expands "all", "ruler"
  std::vector<int64_t> lengths = {4096};               // each > 0
  int samples = 10;
  int jobs = 1;
  uint64_t seed = 42;
  int tokens_to_generate = -1;  // < 0: each task's RULER default (NIAH 128)
  std::string haystack_corpus, haystack_split = "test", essay;
  bool keep_predictions = true;
};

struct NeedleArgs {
  std::vector<int64_t> lengths = {1024, 2048, 4096};  // each > 0
  std::vector<double> depths;  // percents in [0, 100]; empty = `depth_count` evenly spaced
  int depth_count = 11;
  int samples = 1;
  int jobs = 1;
  uint64_t seed = 42;
  int tokens_to_generate = -1;          // < 0: RULER's NIAH default (128)
  Haystack haystack = Haystack::noise;  // noise (RULER's repeated filler) or essay
  std::string haystack_corpus, haystack_split = "test", essay;
  bool png = true;
};

// `harpe eval recall` (eval/recall.h): generated held-out sequences, or a JSONL file.
struct RecallArgs {
  // Kept as text: "Nx" (N times the model's original context) resolves only once the model is read.
  std::string lengths = "1x,2x,4x,8x,16x,32x";
  std::string variants = "all";  // comma-separated, or all
  int samples = 100;             // sequences per (variant, length)
  uint64_t seed = 7;
  int vocab = 0;  // 0: the model's vocabulary
  int filler = 0, pairs = 4, values = 4, queries = 0, far = 0, span = 16;
  bool adjacent = false;  // copy variant: repeat right after the span
  std::string input;      // JSONL file instead of generated sequences
  std::string group;      // label that groups runs (e.g. the seeds of one method) in reports
  bool heatmaps = true;   // DIR/recall_<variant>.svg
};

RunResults eval_ppl(const ModelArgs& m, const PplArgs& a);
RunResults eval_recall(const ModelArgs& m, const RecallArgs& a);
// allow_other: vt / cwe / fwe allowed too (`harpe eval ruler`).
RunResults eval_ruler(const ModelArgs& m, const RulerArgs& a, bool allow_other);
RunResults eval_needle(const ModelArgs& m, const NeedleArgs& a);
// Perplexity and the eight NIAH tasks at the model's original context (or `context` when > 0).
RunResults eval_short(const ModelArgs& m, PplArgs ppl, RulerArgs niah, int64_t context);

// The essay haystack: FILE's text, else the corpus split's texts joined (up to max_bytes), else "".
std::string load_essay(const std::string& essay_file, const std::string& corpus_dir,
                       const std::string& split, size_t max_bytes = 8u << 20);

}  // namespace harpe::eval

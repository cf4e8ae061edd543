// `harpe generate`: run a checkpoint: prefill the prompt into a KV cache, then decode.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <sstream>
#include <string>

#include "cli/command.h"
#include "cli/precision_flag.h"
#include "core/error.h"
#include "core/timer.h"
#include "data/tokenizer.h"
#include "infer/session.h"
#include "io/read_limits.h"
#include "model/weights_io.h"

namespace {

struct Options {
  std::string model_dir, prompt, prompt_file, tokenizer, self_extend;
  int max_new = 64, top_k = 0, capacity = 0;
  float temperature = 0.f, top_p = 1.f;
  uint64_t seed = 1;
  bool no_bos = false, quiet = false;
  harpe::Precision precision = harpe::Precision::fp32;
};

// Every number is checked before anything is loaded; CLI11's range checks let NaN through (every
// comparison with NaN is false), and a NaN temperature would sample from garbage.
void check_flags(const Options& o) {
  using harpe::check;
  check(std::isfinite(o.temperature) && o.temperature >= 0,
        "--temperature must be a finite number >= 0, got ", o.temperature);
  check(std::isfinite(o.top_p) && o.top_p >= 0 && o.top_p <= 1, "--top-p must be in [0, 1], got ",
        o.top_p);
  check(o.top_k >= 0, "--top-k must be >= 0, got ", o.top_k);
  check(o.max_new >= 1, "--max-new-tokens must be >= 1, got ", o.max_new);
  check(o.capacity >= 0, "--capacity must be >= 0 (0: prompt + max-new-tokens), got ", o.capacity);
  check(o.prompt.empty() || o.prompt_file.empty(), "give --prompt or --prompt-file, not both");
}

void run(const Options& o) {
  using namespace harpe;
  check_flags(o);
  // The prompt before the model: a bad --prompt-file fails fast.
  const std::string text =
      o.prompt_file.empty()
          ? o.prompt
          : io::read_regular_file(o.prompt_file, io::kTextFileLimit, "--prompt-file");
  Timer load_timer;
  const infer::InferenceModel m(model::load_model_dir(o.model_dir), o.precision);
  const std::string tok_path = o.tokenizer.empty() ? o.model_dir + "/tokenizer.model" : o.tokenizer;
  data::Tokenizer tok = data::Tokenizer::load(tok_path);
  check(tok.vocab_size() <= m.config().vocab_size, "tokenizer ", tok_path, " has ",
        tok.vocab_size(), " pieces but the model's vocabulary is ", m.config().vocab_size);

  std::vector<int32_t> prompt;
  if (!o.no_bos && tok.bos_id() >= 0) prompt.push_back(tok.bos_id());
  for (int32_t t : tok.encode(text)) prompt.push_back(t);
  check(!prompt.empty(), "the prompt is empty (give --prompt or --prompt-file)");

  infer::SessionOptions so;
  const int64_t needed = static_cast<int64_t>(prompt.size()) + o.max_new;
  check(o.capacity > 0 || needed <= std::numeric_limits<int>::max(), "prompt (", prompt.size(),
        " tokens) + --max-new-tokens (", o.max_new, ") is more than a KV cache can hold");
  so.capacity = o.capacity > 0 ? o.capacity : static_cast<int>(needed);
  so.position = harpe::rope::parse_position_map(o.self_extend);
  infer::Session session(m, so);
  infer::SamplingOptions sampling;
  sampling.max_new_tokens = o.max_new;
  sampling.temperature = o.temperature;
  sampling.top_k = o.top_k;
  sampling.top_p = o.top_p;
  sampling.seed = o.seed;
  if (tok.eos_id() >= 0) sampling.stop_tokens.push_back(tok.eos_id());

  if (!o.quiet)
    std::fprintf(stderr, "model %s (%s), weights %s, prompt %zu tokens, loaded in %.2f s\n",
                 o.model_dir.c_str(), model::describe(m.config()).c_str(), m.describe().c_str(),
                 prompt.size(), load_timer.seconds());
  Timer timer;
  double prefill_s = -1;
  std::vector<int32_t> produced;
  std::string printed;
  auto out = infer::generate(session, prompt, sampling, [&](int32_t t) {
    if (prefill_s < 0) prefill_s = timer.seconds();
    produced.push_back(t);
    if (t == tok.eos_id()) return true;
    // Print the text as it grows (decode the whole tail so multi-byte pieces come out whole).
    std::string now = tok.decode(produced);
    if (now.size() > printed.size() && now.compare(0, printed.size(), printed) == 0) {
      std::fputs(now.c_str() + printed.size(), stdout);
      std::fflush(stdout);
      printed = now;
    }
    return true;
  });
  std::fputs("\n", stdout);
  const double total = timer.seconds();
  if (!o.quiet && !out.empty()) {
    const double decode_s = total - prefill_s;
    std::fprintf(
        stderr,
        "prefill %zu tokens in %.3f s (%.1f tok/s); decoded %zu tokens in %.3f s (%.1f tok/s)\n",
        prompt.size(), prefill_s, prompt.size() / prefill_s, out.size() - 1, decode_s,
        out.size() > 1 ? (out.size() - 1) / decode_s : 0.0);
  }
}

void setup(CLI::App& parent) {
  auto o = std::make_shared<Options>();
  CLI::App* cmd = parent.add_subcommand(
      "generate",
      "Generate text from a checkpoint (KV-cache prefill + incremental decoding).\n"
      "The RoPE table is rebuilt from the checkpoint's config.json, whatever the method.");
  cmd->add_option("--model", o->model_dir, "Checkpoint directory (config.json + model.safetensors)")
      ->required();
  cmd->add_option("--prompt", o->prompt, "Prompt text");
  cmd->add_option("--prompt-file", o->prompt_file,
                  "Read the prompt from this file instead (a regular file, at most 256 MiB)");
  cmd->add_option("--tokenizer", o->tokenizer,
                  "SentencePiece model (default: MODEL/tokenizer.model)");
  cmd->add_option("--max-new-tokens,-n", o->max_new, "Tokens to generate (stops early at EOS)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  // Float ranges are checked in check_flags (CLI11's checks pass NaN and print huge bounds).
  cmd->add_option("--temperature", o->temperature, "Sampling temperature; 0 = greedy")
      ->capture_default_str();
  cmd->add_option("--top-k", o->top_k, "Sample among the k most likely tokens (0 = all)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--top-p", o->top_p, "Nucleus sampling mass in [0, 1]")->capture_default_str();
  cmd->add_option("--seed", o->seed, "Sampling seed")->capture_default_str();
  cmd->add_option("--self-extend", o->self_extend,
                  "Training-free Self-Extend: W,G = neighbour window, group size (e.g. 1024,32)");
  cmd->add_option("--capacity", o->capacity, "KV-cache length (default: prompt + max-new-tokens)");
  cmd->add_flag("--no-bos", o->no_bos, "Do not prepend the BOS token");
  cmd->add_flag("--quiet,-q", o->quiet, "Print only the generated text");
  harpe::cli::add_weights_precision_flag(cmd, o->precision);
  cmd->callback([o] { run(*o); });
}

}  // namespace

HARPE_COMMAND("", setup);

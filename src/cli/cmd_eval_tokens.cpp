// `harpe eval tokens`: the loss of every token of a text under a checkpoint, and whether tokens
// seen earlier in the text cost less than first occurrences (the in-context copy gain) — the
// quickest look at whether a model uses its context at all.
#include <algorithm>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/precision_flag.h"
#include "core/error.h"
#include "data/tokenizer.h"
#include "eval/run_ppl.h"
#include "infer/inference_model.h"
#include "io/read_limits.h"
#include "model/model.h"
#include "model/weights_io.h"

namespace {

struct Options {
  std::string model_dir, text, text_file, tokenizer;
  bool no_bos = false, summary_only = false;
  harpe::Precision precision = harpe::Precision::fp32;
};

void run(const Options& o) {
  using namespace harpe;
  check(o.text.empty() != o.text_file.empty(), "give exactly one of --text and --text-file");
  const std::string text =
      o.text_file.empty() ? o.text
                          : io::read_regular_file(o.text_file, io::kTextFileLimit, "--text-file");
  const infer::InferenceModel im(model::load_model_dir(o.model_dir), o.precision);
  const model::ModelConfig& cfg = im.config();
  const std::string tok_path = o.tokenizer.empty() ? o.model_dir + "/tokenizer.model" : o.tokenizer;
  data::Tokenizer tok = data::Tokenizer::load(tok_path);
  check(tok.vocab_size() <= cfg.vocab_size, "tokenizer ", tok_path, " has ", tok.vocab_size(),
        " pieces but the model's vocabulary is ", cfg.vocab_size);
  std::vector<int32_t> ids;
  if (!o.no_bos && tok.bos_id() >= 0) ids.push_back(tok.bos_id());
  for (int32_t t : tok.encode(text)) ids.push_back(t);
  check(ids.size() >= 2, "the text has fewer than two tokens; nothing to score");
  const int T = static_cast<int>(ids.size()) - 1;
  std::vector<int32_t> in(ids.begin(), ids.end() - 1), target(ids.begin() + 1, ids.end());
  std::vector<double> loss(static_cast<size_t>(T));
  if (const model::Model* m = im.fp32_model()) {
    model::Workspace ws(cfg, 1, T, model::Mode::infer);
    std::vector<float> l(static_cast<size_t>(T));
    model::forward_loss(*m, ws, in.data(), target.data(), l.data());
    std::copy(l.begin(), l.end(), loss.begin());
  } else {  // bf16 weights: the training forward reads fp32 only; the session scores them
    eval::session_token_nll(im, {}, ids.data(), T + 1, 1,
                            [&loss](int64_t t, double nll) { loss[t - 1] = nll; });
  }

  // A target "seen before" occurred among the tokens before it (the model could copy it).
  std::set<int32_t> seen(in.begin(), in.begin() + 1);
  double sum = 0, sum_seen = 0, sum_new = 0;
  int n_seen = 0, n_new = 0;
  if (!o.summary_only) std::printf("%6s  %-16s %8s  %s\n", "pos", "token", "loss", "seen before");
  for (int t = 0; t < T; ++t) {
    const bool before = seen.count(target[static_cast<size_t>(t)]) > 0;
    const double l = loss[static_cast<size_t>(t)];
    sum += l;
    (before ? sum_seen : sum_new) += l;
    ++(before ? n_seen : n_new);
    if (!o.summary_only)
      std::printf("%6d  %-16s %8.3f  %s\n", t + 1,
                  tok.piece(target[static_cast<size_t>(t)]).c_str(), l, before ? "yes" : "");
    seen.insert(target[static_cast<size_t>(t)]);
  }
  std::printf("tokens %d, mean loss %.4f nats\n", T, sum / T);
  std::printf(
      "seen before: %d tokens, mean loss %.4f; first occurrences: %d tokens, mean loss %.4f\n",
      n_seen, n_seen ? sum_seen / n_seen : 0.0, n_new, n_new ? sum_new / n_new : 0.0);
}

void setup(CLI::App& parent) {
  auto o = std::make_shared<Options>();
  CLI::App* cmd = parent.add_subcommand(
      "tokens",
      "The loss (nats) of every token of a text under a checkpoint, marking tokens that occurred\n"
      "earlier in the text, and the mean loss of those vs first occurrences: a model that uses "
      "its\n"
      "context (copies) predicts repeated tokens far better than their first occurrence.");
  cmd->add_option("--model", o->model_dir, "Checkpoint directory (config.json + model.safetensors)")
      ->required();
  cmd->add_option("--text", o->text, "Text to score");
  cmd->add_option("--text-file", o->text_file, "Read the text from this file instead");
  cmd->add_option("--tokenizer", o->tokenizer,
                  "SentencePiece model (default: MODEL/tokenizer.model)");
  cmd->add_flag("--no-bos", o->no_bos, "Do not prepend the BOS token");
  cmd->add_flag("--summary", o->summary_only, "Print only the two summary lines");
  harpe::cli::add_weights_precision_flag(cmd, o->precision);
  cmd->callback([o] { run(*o); });
}

}  // namespace

HARPE_COMMAND("eval", setup);

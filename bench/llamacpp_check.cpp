// harpe against llama.cpp on the same model (opt-in: built only when CMake is given
// HARPE_LLAMACPP_DIR, the folder scripts/llamacpp_setup.sh prints; scripts/llamacpp_check.sh and
// scripts/bench_llamacpp.sh drive it). llama.cpp is linked through its own llama.h.
//
//   llamacpp_check init --preset NAME --out DIR [--seed S] [--untied] [--context N]
//                       [--qk-scale S]
//       writes a randomly initialised checkpoint (config.json + model.safetensors); --qk-scale
//       multiplies q_proj and k_proj, so that attention depends on positions
//   llamacpp_check logits --model DIR --gguf FILE [--tokens 256] [--seed 1] [--f16]
//                         [--tol 1e-3] [--threads 2]
//       feeds the same random token ids to harpe (infer::Session, all logits) and to llama.cpp
//       (one batch, every position's logits; F32 KV cache) and prints the largest difference of
//       logits and of per-token log-probabilities. --f16: harpe's matrices are rounded to F16
//       first, as in a GGUF written with --type f16. Exit 1 when the log-prob difference is above
//       --tol.
//   llamacpp_check tokens --gguf FILE --tokenizer SPM.model --text FILE
//       tokenizes each line of the text with harpe's SentencePiece model and with the GGUF's
//       vocabulary in llama.cpp; exit 1 unless every line gives the same ids
//   llamacpp_check speed --model DIR --gguf FILE [--contexts 512,4096,16384] [--decode 64]
//                        [--threads 2] [--precision fp32|bf16|auto]
//       prefill tokens/s (the whole context in one call, llama.cpp in n_batch chunks) and decode
//       tokens/s (one token at a time, logits each time) of both engines, in one process.
//       harpe's threads: OMP_NUM_THREADS (its decode is serial); llama.cpp's: --threads, and its
//       decode once more with one thread.
#include <ggml-backend.h>
#include <llama.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/half.h"
#include "core/precision.h"
#include "core/timer.h"
#include "data/tokenizer.h"
#include "eval/model_eval.h"
#include "infer/inference_model.h"
#include "infer/session.h"
#include "io/gguf.h"
#include "model/config.h"
#include "model/model.h"
#include "model/weights_io.h"

#ifndef HARPE_LLAMACPP_LIBDIR
#error "HARPE_LLAMACPP_LIBDIR (the folder of libllama.so and the ggml CPU backends) must be defined"
#endif

namespace {

using namespace harpe;

using Args = std::map<std::string, std::string>;

Args parse_args(int argc, char** argv, int first) {
  Args a;
  for (int i = first; i < argc; ++i) {
    const std::string_view arg = argv[i];
    check(arg.size() > 2 && arg.substr(0, 2) == "--", "unexpected argument ", arg);
    const std::string k(arg.substr(2));
    if (k == "f16" || k == "untied") {
      a[k] = "1";
      continue;
    }
    check(i + 1 < argc, "--", k, " needs a value");
    a[k] = argv[++i];
  }
  return a;
}

std::string get(const Args& a, const std::string& k, const std::string& dflt = "") {
  auto it = a.find(k);
  if (it != a.end()) return it->second;
  check(!dflt.empty(), "--", k, " is required");
  return dflt;
}

std::vector<int32_t> random_tokens(int n, int vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> t(static_cast<std::size_t>(n));
  for (int32_t& x : t) x = static_cast<int32_t>(rng() % static_cast<uint64_t>(vocab));
  return t;
}

void quiet_log(ggml_log_level level, const char* text, void*) {
  if (level >= GGML_LOG_LEVEL_WARN) std::fputs(text, stderr);
}

struct Llama {
  llama_model* model = nullptr;
  llama_context* ctx = nullptr;
  Llama(const std::string& gguf, int n_ctx, int n_batch, int threads, bool f32_cache) {
    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    model = llama_model_load_from_file(gguf.c_str(), mp);
    check(model != nullptr, gguf, ": llama.cpp could not load it (see its log above)");
    llama_context_params cp = llama_context_default_params();
    cp.n_ctx = static_cast<uint32_t>(n_ctx);
    cp.n_batch = static_cast<uint32_t>(n_batch);
    cp.n_ubatch = static_cast<uint32_t>(std::min(n_batch, 512));
    cp.n_threads = threads;
    cp.n_threads_batch = threads;
    cp.no_perf = true;
    if (f32_cache) {  // the accuracy check: F32 cache, plain attention (no F16 flash attention)
      cp.type_k = GGML_TYPE_F32;
      cp.type_v = GGML_TYPE_F32;
      cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    }
    ctx = llama_init_from_model(model, cp);
    check(ctx != nullptr, gguf, ": llama.cpp could not create a context");
  }
  ~Llama() {
    if (ctx) llama_free(ctx);
    if (model) llama_model_free(model);
  }
  int vocab() const { return llama_vocab_n_tokens(llama_model_get_vocab(model)); }
  // Appends tokens at positions [pos, pos + n); logits for every token when all_logits, else only
  // the last.
  void decode(const int32_t* tokens, int n, int pos, bool all_logits) {
    llama_batch b = llama_batch_init(n, 0, 1);
    for (int i = 0; i < n; ++i) {
      b.token[i] = tokens[i];
      b.pos[i] = pos + i;
      b.n_seq_id[i] = 1;
      b.seq_id[i][0] = 0;
      b.logits[i] = all_logits || i == n - 1;
    }
    b.n_tokens = n;
    const int rc = llama_decode(ctx, b);
    llama_batch_free(b);
    check(rc == 0, "llama_decode failed with ", rc);
  }
};

void log_softmax(const float* x, int n, std::vector<double>& out) {
  out.resize(static_cast<std::size_t>(n));
  double mx = x[0];
  for (int i = 1; i < n; ++i) mx = std::max(mx, static_cast<double>(x[i]));
  double s = 0;
  for (int i = 0; i < n; ++i) s += std::exp(x[i] - mx);
  const double lse = mx + std::log(s);
  for (int i = 0; i < n; ++i) out[static_cast<std::size_t>(i)] = x[i] - lse;
}

// Rounds every matrix (2-D tensor) of the model through F16, as `harpe export gguf --type f16`
// stores it; norms stay F32 there and here.
void round_matrices_to_f16(model::Model& m) {
  for (const model::TensorInfo& t : m.layout.tensors) {
    if (t.shape.size() != 2) continue;
    float* p = m.params.data() + t.offset;
    for (std::size_t i = 0; i < t.numel; ++i) p[i] = f16_to_f32(f32_to_f16(p[i]));
  }
}

int cmd_init(const Args& a) {
  model::ModelConfig cfg = model::preset(get(a, "preset"));
  if (a.count("untied")) cfg.tie_word_embeddings = false;
  cfg.max_position_embeddings = std::stoi(get(a, "context", "2048"));
  model::Model m(cfg);
  model::init_params(m, std::stoull(get(a, "seed", "1")));
  // Init's 0.02 weights make attention almost uniform, blind to positions; larger q/k weights make
  // it peaked, so a wrong rotation or permutation shows in the logits.
  const float qk = std::stof(get(a, "qk-scale", "1"));
  for (const model::LayerWeights& lw : m.w.layers)
    for (float* w : {lw.wq, lw.wk})
      for (int i = 0; i < cfg.hidden_size * (w == lw.wq ? cfg.q_dim() : cfg.kv_dim()); ++i)
        w[i] *= qk;
  model::save_model_dir(m, get(a, "out"));
  std::printf("wrote %s (%s)\n", get(a, "out").c_str(), model::describe(cfg).c_str());
  return 0;
}

int cmd_logits(const Args& a) {
  model::Model m = model::load_model_dir(get(a, "model"));
  const bool f16 = a.count("f16") > 0;
  if (f16) round_matrices_to_f16(m);
  const int n = std::stoi(get(a, "tokens", "256"));
  const double tol = std::stod(get(a, "tol", "1e-3"));
  const int V = m.config.vocab_size;
  const std::vector<int32_t> tokens = random_tokens(n, V, std::stoull(get(a, "seed", "1")));

  infer::SessionOptions so;
  so.capacity = n;
  infer::Session session(m, so);
  std::vector<float> ours(static_cast<std::size_t>(n) * V);
  session.append(tokens.data(), n, nullptr, ours.data());

  Llama ll(get(a, "gguf"), n, n, std::stoi(get(a, "threads", "2")), /*f32_cache=*/true);
  check(ll.vocab() == V, "llama.cpp's vocabulary has ", ll.vocab(), " tokens, harpe's ", V);
  ll.decode(tokens.data(), n, 0, true);

  double max_logit = 0, max_abs = 0, max_lp = 0, max_rel = 0;
  int worst_pos = 0;
  std::vector<double> lp_ours, lp_theirs;
  for (int t = 0; t < n; ++t) {
    const float* x = ours.data() + static_cast<std::size_t>(t) * V;
    const float* y = llama_get_logits_ith(ll.ctx, t);
    check(y != nullptr, "llama.cpp returned no logits for position ", t);
    double row_max = 0, row_diff = 0;
    for (int i = 0; i < V; ++i) {
      row_max = std::max(row_max, std::fabs(static_cast<double>(x[i])));
      row_diff = std::max(row_diff, std::fabs(static_cast<double>(x[i]) - y[i]));
    }
    max_logit = std::max(max_logit, row_max);
    max_abs = std::max(max_abs, row_diff);
    max_rel = std::max(max_rel, row_diff / std::max(row_max, 1e-30));
    log_softmax(x, V, lp_ours);
    log_softmax(y, V, lp_theirs);
    // The log-probability of the next token actually fed (the scored quantity), and of every
    // token: both reported through the max over the row.
    for (int i = 0; i < V; ++i) {
      const double d =
          std::fabs(lp_ours[static_cast<std::size_t>(i)] - lp_theirs[static_cast<std::size_t>(i)]);
      if (d > max_lp) {
        max_lp = d;
        worst_pos = t;
      }
    }
  }
  std::printf(
      "%s %s: %d tokens, vocab %d: max |logit| %.4g, max |logit diff| %.3g (relative to the "
      "row's max |logit|: %.3g), max |log-prob diff| %.3g (position %d) -> %s (tol %.3g)\n",
      get(a, "gguf").c_str(), f16 ? "F16" : "F32", n, V, max_logit, max_abs, max_rel, max_lp,
      worst_pos, max_lp <= tol ? "PASS" : "FAIL", tol);
  return max_lp <= tol ? 0 : 1;
}

int cmd_speed(const Args& a) {
  const Precision precision = parse_precision(get(a, "precision", "fp32"), "--precision");
  const infer::InferenceModel im(model::load_model_dir(get(a, "model")), precision);
  const std::vector<int64_t> contexts =
      eval::parse_lengths(get(a, "contexts", "512,4096,16384"), "--contexts");
  const int n_dec = std::stoi(get(a, "decode", "64"));
  const int threads = std::stoi(get(a, "threads", "2"));
  const int V = im.config().vocab_size;
  std::printf(
      "model %s (%s); harpe weights %s, OMP_NUM_THREADS=%s; llama.cpp "
      "--threads %d, default context (F16 KV cache)\n",
      get(a, "model").c_str(), model::describe(im.config()).c_str(), im.describe().c_str(),
      std::getenv("OMP_NUM_THREADS") ? std::getenv("OMP_NUM_THREADS") : "(unset)", threads);
  std::printf(
      "| context | harpe prefill tok/s | llama.cpp prefill tok/s | ratio | harpe decode tok/s "
      "(serial) | llama.cpp decode tok/s, %d threads | llama.cpp decode tok/s, 1 thread | ratio "
      "| ratio (1 thread) |\n|---|---|---|---|---|---|---|---|---|\n",
      threads);
  for (int T : contexts) {
    const std::vector<int32_t> prompt = random_tokens(T, V, 7);
    const std::vector<int32_t> next = random_tokens(n_dec, V, 8);
    std::vector<float> logits(static_cast<std::size_t>(V));

    infer::SessionOptions so;
    so.capacity = T + n_dec;
    double h_pre = 0, h_dec = 0;
    {
      infer::Session s(im, so);
      Timer t;
      s.append(prompt.data(), T, logits.data());
      h_pre = T / t.seconds();
      Timer d;
      for (int i = 0; i < n_dec; ++i)
        s.append(&next[static_cast<std::size_t>(i)], 1, logits.data());
      h_dec = n_dec / d.seconds();
    }
    double l_pre = 0, l_dec = 0, l_dec1 = 0;
    {
      const int n_batch = 2048;
      Llama ll(get(a, "gguf"), T + 2 * n_dec, n_batch, threads, /*f32_cache=*/false);
      Timer t;
      for (int p = 0; p < T; p += n_batch) {
        const int n = std::min(n_batch, T - p);
        ll.decode(prompt.data() + p, n, p, false);
      }
      llama_synchronize(ll.ctx);
      l_pre = T / t.seconds();
      auto decode = [&](int first) {
        Timer d;
        for (int i = 0; i < n_dec; ++i) {
          ll.decode(&next[static_cast<std::size_t>(i)], 1, first + i, false);
          std::memcpy(logits.data(), llama_get_logits_ith(ll.ctx, -1), sizeof(float) * V);
        }
        return n_dec / d.seconds();
      };
      l_dec = decode(T);
      // llama.cpp decodes (batches of one token) with n_threads; harpe's lean decode is serial,
      // so llama.cpp with one thread is measured too.
      llama_set_n_threads(ll.ctx, 1, threads);
      l_dec1 = decode(T + n_dec);
    }
    std::printf("| %d | %.1f | %.1f | %.2f | %.1f | %.1f | %.1f | %.2f | %.2f |\n", T, h_pre, l_pre,
                h_pre / l_pre, h_dec, l_dec, l_dec1, h_dec / l_dec, h_dec / l_dec1);
    std::fflush(stdout);
  }
  return 0;
}

// The GGUF's tokenizer metadata against the SentencePiece model it came from: every line of a
// text file tokenized by both (no BOS/EOS), compared id by id.
int cmd_tokens(const Args& a) {
  const data::Tokenizer tok = data::Tokenizer::load(get(a, "tokenizer"));
  llama_model_params mp = llama_model_default_params();
  mp.vocab_only = true;
  llama_model* model = llama_model_load_from_file(get(a, "gguf").c_str(), mp);
  check(model != nullptr, get(a, "gguf"), ": llama.cpp could not load it");
  const llama_vocab* vocab = llama_model_get_vocab(model);
  std::ifstream in(get(a, "text"));
  check(static_cast<bool>(in), get(a, "text"), ": cannot open");
  std::string line;
  long lines = 0, same = 0, tokens = 0;
  std::string first_diff;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    ++lines;
    const std::vector<int32_t> ours = tok.encode(line);
    std::vector<llama_token> theirs(line.size() * 2 + 8);
    const int n = llama_tokenize(vocab, line.data(), static_cast<int32_t>(line.size()),
                                 theirs.data(), static_cast<int32_t>(theirs.size()), false, false);
    check(n >= 0, "llama_tokenize needs ", -n, " tokens for line ", lines);
    theirs.resize(static_cast<std::size_t>(n));
    tokens += static_cast<long>(ours.size());
    if (std::equal(ours.begin(), ours.end(), theirs.begin(), theirs.end()))
      ++same;
    else if (first_diff.empty())
      first_diff = line.substr(0, 80);
  }
  llama_model_free(model);
  std::printf(
      "%s: %ld of %ld lines (%ld tokens) tokenized identically by harpe and llama.cpp%s%s\n",
      get(a, "gguf").c_str(), same, lines, tokens,
      first_diff.empty() ? "" : "; first difference in: ", first_diff.c_str());
  return same == lines && lines > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    check(argc >= 2,
          "usage: llamacpp_check init|logits|speed|tokens --flags (see the file's header)");
    const std::string mode = argv[1];
    const Args a = parse_args(argc, argv, 2);
    if (mode == "init") return cmd_init(a);
    llama_log_set(quiet_log, nullptr);
    ggml_backend_load_all_from_path(HARPE_LLAMACPP_LIBDIR);
    llama_backend_init();
    int rc = 1;
    if (mode == "logits")
      rc = cmd_logits(a);
    else if (mode == "speed")
      rc = cmd_speed(a);
    else if (mode == "tokens")
      rc = cmd_tokens(a);
    else
      fail("unknown mode ", mode, " (init, logits, speed, tokens)");
    llama_backend_free();
    return rc;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "llamacpp_check: error: %s\n", e.what());
    return 2;
  }
}

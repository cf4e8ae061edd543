#include "infer/session.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "core/error.h"
#include "core/rng.h"
#include "core/system.h"
#include "infer/huge_pages.h"
#include "kernels/attention.h"
#include "kernels/cached_attention.h"
#include "kernels/decode.h"
#include "kernels/gemm.h"
#include "kernels/ops.h"
#include "model/layer.h"

namespace harpe::infer {

using model::linear;

namespace {

// y = W x through the row kernel of W's precision.
void gemv(float* y, const float* x, const WeightMatrix& W, int out, int in,
          bool accumulate = false) {
  if (W.bf16)
    kernels::gemv_bf16(y, x, W.bf16, out, in, accumulate);
  else
    kernels::gemv(y, x, W.f32, out, in, accumulate);
}

// dst = src widened to fp32, n values, in parallel over large ranges.
void widen(float* dst, const uint16_t* src, std::size_t n) {
  const std::size_t chunk = 1 << 16;
  const long chunks = static_cast<long>((n + chunk - 1) / chunk);
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (long i = 0; i < chunks; ++i) {
    const std::size_t b = static_cast<std::size_t>(i) * chunk;
    kernels::widen_bf16(dst + b, src + b, std::min(chunk, n - b));
  }
}

// Floats of one layer's weights: two norms and seven matrices.
std::size_t layer_floats(const model::ModelConfig& c) {
  const std::size_t C = static_cast<std::size_t>(c.hidden_size), HD = c.q_dim(), KVD = c.kv_dim(),
                    F = static_cast<std::size_t>(c.intermediate_size);
  return 2 * C + 2 * HD * C + 2 * KVD * C + 3 * F * C;
}

// A bf16 layer widened into `wide` (layer_floats(c) floats) as an fp32 LayerWeights, for the
// shared layer steps of model/layer.h.
model::LayerWeights widen_layer(float* wide, const InferenceLayer& l, const model::ModelConfig& c) {
  const std::size_t C = static_cast<std::size_t>(c.hidden_size), HD = c.q_dim(), KVD = c.kv_dim(),
                    F = static_cast<std::size_t>(c.intermediate_size);
  float* p = wide;
  const auto norm = [&](const float* w) {
    std::memcpy(p, w, C * sizeof(float));
    p += C;
    return p - C;
  };
  const auto matrix = [&](const WeightMatrix& w, std::size_t n) {
    widen(p, w.bf16, n);
    p += n;
    return p - n;
  };
  model::LayerWeights w{};
  w.ln1 = norm(l.ln1);
  w.wq = matrix(l.wq, HD * C);
  w.wk = matrix(l.wk, KVD * C);
  w.wv = matrix(l.wv, KVD * C);
  w.wo = matrix(l.wo, C * HD);
  w.ln2 = norm(l.ln2);
  w.wg = matrix(l.wg, F * C);
  w.wu = matrix(l.wu, F * C);
  w.wd = matrix(l.wd, C * F);
  return w;
}

// y[N, out] = x[N, in] W^T for either precision. bf16: W is widened `block` rows at a time into
// `wide` (block * in floats) and each block goes through the fp32 GEMM. (The bf16 GEMM of
// kernels/gemm.h can take this over once it exists.)
void linear_any(float* y, const float* x, const WeightMatrix& W, int N, int out, int in,
                float* wide, int block) {
  if (!W.bf16) {
    linear(y, x, W.f32, N, out, in);
    return;
  }
  const std::size_t ld = static_cast<std::size_t>(in);
  for (int o0 = 0; o0 < out; o0 += block) {
    const int rows = std::min(block, out - o0);
    widen(wide, W.bf16 + static_cast<std::size_t>(o0) * ld, static_cast<std::size_t>(rows) * ld);
    kernels::gemm(false, true, N, rows, in, 1.0f, x, in, wide, in, 0.0f, y + o0, out);
  }
}

}  // namespace

Session::Session(const model::Model& m, const SessionOptions& opts)
    : view_(std::make_unique<InferenceModel>(InferenceModel::view(m))) {
  m_ = view_.get();
  init(opts);
}

Session::Session(const InferenceModel& m, const SessionOptions& opts) : m_(&m) { init(opts); }

void Session::init(const SessionOptions& opts) {
  capacity_ = opts.capacity;
  pos_map_ = opts.position;
  const model::ModelConfig& c = m_->config();
  check(capacity_ > 0, "inference capacity must be positive");
  check(pos_map_.window >= 0 && pos_map_.group >= 1,
        "Self-Extend needs window >= 0 and group >= 1 (got ", pos_map_.window, ", ", pos_map_.group,
        ")");
  check(!pos_map_.self_extend() || pos_map_.window >= pos_map_.group, "Self-Extend window (",
        pos_map_.window, ") must be at least the group size (", pos_map_.group, ")");
  // dynamic NTK recomputes its base from the sequence length: the cache's length is used.
  table_ = rope::build_table(c.rope, c.table_shape(), capacity_);
  kv_ = opts.kv_cache.value_or(m_->precision());
  const bool bf16 = kv_ == Precision::bf16;
  const long double caches = pos_map_.self_extend() ? 3 : 2;  // K, V (and grouped K)
  check_fits_in_memory(
      static_cast<long double>(capacity_) * c.kv_dim() * c.num_hidden_layers *
          (bf16 ? sizeof(uint16_t) : sizeof(float)) * caches,
      std::string("the KV cache (capacity ").append(std::to_string(capacity_)).append(" tokens)"));
  layer_kv_ = static_cast<std::size_t>(capacity_) * c.kv_dim();
  const std::size_t total = layer_kv_ * static_cast<std::size_t>(c.num_hidden_layers);
  const std::size_t grouped = pos_map_.self_extend() ? total : 0;
  if (bf16) {
    k16_ = Buffer<uint16_t>(total);
    v16_ = Buffer<uint16_t>(total);
    kg16_ = Buffer<uint16_t>(grouped);
  } else {
    k_ = Buffer<float>(total);
    v_ = Buffer<float>(total);
    kg_ = Buffer<float>(grouped);
  }
  rope::validate_table(table_);  // rope_row relies on equal rows within each KV group

  lean_ = opts.lean_decode;
  if (lean_) {
    // Each decoded token streams all weights and the whole cache: ask for 2 MiB pages.
    m_->advise_huge_pages();
    for (const Buffer<float>* b : {&k_, &v_, &kg_})
      advise_huge_pages(b->data(), b->size() * sizeof(float));
    for (const Buffer<uint16_t>* b : {&k16_, &v16_, &kg16_})
      advise_huge_pages(b->data(), b->size() * sizeof(uint16_t));
    const std::size_t C = static_cast<std::size_t>(c.hidden_size), HD = c.q_dim(),
                      F = static_cast<std::size_t>(c.intermediate_size), KVD = c.kv_dim();
    const std::size_t S = static_cast<std::size_t>(c.num_attention_heads) * (capacity_ + 1);
    const std::size_t CS = 2 * static_cast<std::size_t>(table_.n_kv_heads) * table_.pairs();
    // Each piece starts on a 64-byte boundary (16 floats).
    const auto round16 = [](std::size_t n) { return (n + 15) / 16 * 16; };
    const std::size_t sizes[] = {C, C, HD, HD, HD, F, F, S, 3 * CS, KVD, KVD, KVD};
    std::size_t sum = 0;
    for (std::size_t n : sizes) sum += round16(n);
    scratch_ = Buffer<float>(sum);
    float* p = scratch_.data();
    float** views[] = {&x_,  &ln_,     &q_,  &qg_, &att_, &gate_,
                       &up_, &scores_, &cs_, &kn_, &vn_,  &kgn_};
    for (int i = 0; i < 12; ++i) {
      *views[i] = p;
      p += round16(sizes[i]);
    }
  }
}

void Session::store(Buffer<float>& c32, Buffer<uint16_t>& c16, int l, int pos, const float* src,
                    int n) {
  const std::size_t KVD = m_->config().kv_dim();
  const std::size_t at =
      static_cast<std::size_t>(l) * layer_kv_ + static_cast<std::size_t>(pos) * KVD;
  const std::size_t count = static_cast<std::size_t>(n) * KVD;
  if (kv_ == Precision::bf16)
    kernels::to_bf16(src, c16.data() + at, count);
  else
    std::memcpy(c32.data() + at, src, count * sizeof(float));
}

void Session::attend(float* out, const float* q, const float* qg, int l, int Tq, int p0,
                     float* scratch) {
  const model::ModelConfig& c = m_->config();
  const kernels::CachedAttentionShape shape{
      Tq, p0, c.num_attention_heads, c.kv_heads(), c.head_size(), 0.f, pos_map_.window};
  const std::size_t at = static_cast<std::size_t>(l) * layer_kv_;
  const auto run = [&](const auto* k, const auto* v, const auto* kg) {
    if (!pos_map_.self_extend()) kg = nullptr;
    if (scratch)
      kernels::cached_attention_row(out, q, k + at, v + at, qg, kg ? kg + at : nullptr, shape,
                                    scratch);
    else
      kernels::cached_attention(out, q, k + at, v + at, qg, kg ? kg + at : nullptr, shape);
  };
  if (kv_ == Precision::bf16)
    run(k16_.data(), v16_.data(), kg16_.data());
  else
    run(k_.data(), v_.data(), kg_.data());
}

void Session::append(const int32_t* tokens, int n, float* logits, float* all_logits) {
  check(n > 0, "append needs at least one token");
  check(length_ + n <= capacity_, "sequence of ", length_ + n,
        " tokens exceeds the inference capacity of ", capacity_);
  for (int i = 0; i < n; ++i)
    check(tokens[i] >= 0 && tokens[i] < vocab(), "token id ", tokens[i],
          " is outside the vocabulary [0, ", vocab(), ")");
  if (lean_ && n <= kLeanTokens) {
    const std::size_t V = static_cast<std::size_t>(vocab());
    for (int i = 0; i < n; ++i) {
      float* row = all_logits ? all_logits + i * V : (i == n - 1 ? logits : nullptr);
      decode_token(tokens[i], row);
    }
    if (all_logits && logits) std::memcpy(logits, all_logits + (n - 1) * V, V * sizeof(float));
    return;
  }
  run_chunk(tokens, n, logits, all_logits);
}

void Session::decode_token(int32_t token, float* logits) {
  const InferenceModel& im = *m_;
  const model::ModelConfig& c = im.config();
  const int C = c.hidden_size;
  const int HD = c.q_dim(), KVD = c.kv_dim(), F = c.intermediate_size, V = c.vocab_size;
  const float eps = static_cast<float>(c.rms_norm_eps);
  const bool se = pos_map_.self_extend();
  const int p = length_;
  const std::size_t CS = 2 * static_cast<std::size_t>(table_.n_kv_heads) * table_.pairs();
  float* cs = cs_;             // cos/sin at p (shared by every layer)
  float* cs_q = cs_ + CS;      // at the grouped query position (Self-Extend)
  float* cs_k = cs_ + 2 * CS;  // at the grouped key position
  kernels::rope_cos_sin(cs, table_, p);
  if (se) {
    kernels::rope_cos_sin(cs_q, table_, pos_map_.grouped_query(p));
    kernels::rope_cos_sin(cs_k, table_, pos_map_.grouped_key(p));
  }

  const std::size_t row = static_cast<std::size_t>(token) * C;
  if (im.embed.bf16)
    kernels::widen_bf16(x_, im.embed.bf16 + row, static_cast<std::size_t>(C));
  else
    std::memcpy(x_, im.embed.f32 + row, C * sizeof(float));
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    const InferenceLayer& w = im.layers[static_cast<std::size_t>(l)];
    kernels::rmsnorm_row(ln_, x_, w.ln1, C, eps);
    gemv(q_, ln_, w.wq, HD, C);
    gemv(kn_, ln_, w.wk, KVD, C);
    gemv(vn_, ln_, w.wv, KVD, C);
    if (se) {
      std::memcpy(qg_, q_, static_cast<std::size_t>(HD) * sizeof(float));
      std::memcpy(kgn_, kn_, static_cast<std::size_t>(KVD) * sizeof(float));
      kernels::rope_row(qg_, cs_q, table_, false);
      kernels::rope_row(kgn_, cs_k, table_, true);
      store(kg_, kg16_, l, p, kgn_, 1);
    }
    kernels::rope_row(q_, cs, table_, false);
    kernels::rope_row(kn_, cs, table_, true);
    store(k_, k16_, l, p, kn_, 1);
    store(v_, v16_, l, p, vn_, 1);
    attend(att_, q_, se ? qg_ : nullptr, l, 1, p, scores_);
    gemv(x_, att_, w.wo, C, HD, true);
    kernels::rmsnorm_row(ln_, x_, w.ln2, C, eps);
    gemv(gate_, ln_, w.wg, F, C);
    gemv(up_, ln_, w.wu, F, C);
    kernels::swiglu_row(gate_, up_, F);
    gemv(x_, gate_, w.wd, C, F, true);
  }
  if (logits) {
    kernels::rmsnorm_row(ln_, x_, im.norm, C, eps);
    gemv(logits, ln_, im.lm_head, V, C);
  }
  length_ += 1;
}

void Session::run_chunk(const int32_t* tokens, int n, float* logits, float* all_logits) {
  const InferenceModel& im = *m_;
  const model::ModelConfig& c = im.config();
  const int C = c.hidden_size, H = c.num_attention_heads, KV = c.kv_heads(), D = c.head_size();
  const int HD = c.q_dim(), KVD = c.kv_dim(), F = c.intermediate_size, V = c.vocab_size;
  const float eps = static_cast<float>(c.rms_norm_eps);
  const std::size_t N = static_cast<std::size_t>(n);
  const bool se = pos_map_.self_extend();

  Buffer<float> x(N * C), ln(N * C), rstd(N), q(N * HD), att(N * HD), gate(N * F), up(N * F);
  Buffer<float> qg(se ? N * HD : 0), lse(static_cast<std::size_t>(H) * N);
  std::vector<int32_t> pos(N), qpos(se ? N : 0), kpos(se ? N : 0);
  for (int i = 0; i < n; ++i) {
    pos[i] = length_ + i;
    if (se) {
      qpos[i] = pos_map_.grouped_query(length_ + i);
      kpos[i] = pos_map_.grouped_key(length_ + i);
    }
  }

  // bf16 weights: each layer in turn is widened into one layer's worth of fp32 scratch and runs
  // through the fp32 GEMM (widening is O(weights) per chunk against 2 * n * weights FLOPs), so
  // memory stays at the bf16 weights plus one fp32 layer.
  const model::Model* fm = im.fp32_model();
  Buffer<float> wide(fm ? 0 : layer_floats(c));
  const model::LayerShape shape{n, C, HD, KVD, F, eps};
  if (fm) {
    kernels::embedding_forward(x.data(), tokens, fm->w.embed, n, C);
  } else {
    for (int i = 0; i < n; ++i)
      kernels::widen_bf16(x.data() + static_cast<std::size_t>(i) * C,
                          im.embed.bf16 + static_cast<std::size_t>(tokens[i]) * C,
                          static_cast<std::size_t>(C));
  }
  // New keys and values: written straight into an fp32 cache; for a bf16 cache into fp32
  // scratch first, then rounded into the cache (store).
  const bool bf16_kv = kv_ == Precision::bf16;
  Buffer<float> kn(bf16_kv ? N * KVD : 0), vn(bf16_kv ? N * KVD : 0),
      kgn(bf16_kv && se ? N * KVD : 0);
  const std::size_t at = static_cast<std::size_t>(length_) * KVD;
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    const model::LayerWeights w =
        fm ? fm->w.layers[static_cast<std::size_t>(l)]
           : widen_layer(wide.data(), im.layers[static_cast<std::size_t>(l)], c);
    const std::size_t lk = static_cast<std::size_t>(l) * layer_kv_;
    float* knew = bf16_kv ? kn.data() : k_.data() + lk + at;
    float* vnew = bf16_kv ? vn.data() : v_.data() + lk + at;
    model::attention_inputs(ln.data(), rstd.data(), q.data(), knew, vnew, x.data(), w, shape);
    if (se) {
      float* kgnew = bf16_kv ? kgn.data() : kg_.data() + lk + at;
      std::memcpy(qg.data(), q.data(), N * HD * sizeof(float));
      std::memcpy(kgnew, knew, N * KVD * sizeof(float));
      kernels::rope_apply(qg.data(), qpos.data(), table_, n, false);
      kernels::rope_apply(kgnew, kpos.data(), table_, n, true);
      if (bf16_kv) store(kg_, kg16_, l, length_, kgnew, n);
    }
    kernels::rope_apply(q.data(), pos.data(), table_, n, false);
    kernels::rope_apply(knew, pos.data(), table_, n, true);
    if (bf16_kv) {
      store(k_, k16_, l, length_, knew, n);
      store(v_, v16_, l, length_, vnew, n);
    }
    if (!se && length_ == 0) {
      // Prefill into an empty cache is plain causal attention over the new keys alone: the tiled
      // kernel. A bf16 cache's keys and values are read back widened, so the prefill attends to
      // exactly what later tokens will find in the cache.
      if (bf16_kv) {
        widen(knew, k16_.data() + lk, N * KVD);
        widen(vnew, v16_.data() + lk, N * KVD);
      }
      kernels::attention_forward(att.data(), lse.data(), q.data(), knew, vnew,
                                 {1, n, H, KV, D, 0.f});
    } else {
      attend(att.data(), q.data(), se ? qg.data() : nullptr, l, n, length_, nullptr);
    }
    model::attention_output(x.data(), x.data(), att.data(), w, shape);
    // In place: the residual stream x and h in gate (the MLP input is read before x is written).
    model::mlp(x.data(), ln.data(), rstd.data(), gate.data(), up.data(), gate.data(), x.data(), w,
               shape);
  }
  kernels::rmsnorm_forward(ln.data(), rstd.data(), x.data(), im.norm, n, C, eps);
  const int block = static_cast<int>(std::min<std::size_t>(V, wide.size() / C));
  if (all_logits) linear_any(all_logits, ln.data(), im.lm_head, n, V, C, wide.data(), block);
  if (logits) {
    if (all_logits)
      std::memcpy(logits, all_logits + (N - 1) * V, static_cast<std::size_t>(V) * sizeof(float));
    else
      linear_any(logits, ln.data() + (N - 1) * C, im.lm_head, 1, V, C, wide.data(), block);
  }
  length_ += n;
}

namespace {

uint64_t next_random(uint64_t& s) { return splitmix64(s); }

}  // namespace

int32_t sample_token(const float* logits, int vocab, const SamplingOptions& opts, uint64_t& state) {
  if (opts.temperature <= 0.f)
    return static_cast<int32_t>(std::max_element(logits, logits + vocab) - logits);
  std::vector<int32_t> ids(static_cast<std::size_t>(vocab));
  std::iota(ids.begin(), ids.end(), 0);
  std::sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return logits[a] > logits[b]; });
  std::size_t keep = opts.top_k > 0 ? std::min<std::size_t>(opts.top_k, ids.size()) : ids.size();
  std::vector<double> p(keep);
  const double mx = logits[ids[0]];
  double sum = 0;
  for (std::size_t i = 0; i < keep; ++i)
    sum += (p[i] = std::exp((logits[ids[i]] - mx) / opts.temperature));
  if (opts.top_p < 1.f) {  // smallest prefix whose mass reaches top_p
    double mass = 0;
    std::size_t cut = keep;
    for (std::size_t i = 0; i < keep; ++i) {
      mass += p[i] / sum;
      if (mass >= opts.top_p) {
        cut = i + 1;
        break;
      }
    }
    keep = cut;
    sum = std::accumulate(p.begin(), p.begin() + static_cast<long>(keep), 0.0);
  }
  const double u = static_cast<double>(next_random(state) >> 11) * 0x1.0p-53 * sum;
  double acc = 0;
  for (std::size_t i = 0; i < keep; ++i) {
    acc += p[i];
    if (u < acc) return ids[i];
  }
  return ids[keep - 1];
}

std::vector<int32_t> generate(Session& s, const std::vector<int32_t>& prompt,
                              const SamplingOptions& opts,
                              const std::function<bool(int32_t)>& on_token) {
  check(!prompt.empty(), "generation needs a non-empty prompt");
  check(s.length() + static_cast<int>(prompt.size()) + opts.max_new_tokens <= s.capacity(),
        "prompt (", prompt.size(), " tokens) + max_new_tokens (", opts.max_new_tokens,
        ") exceeds the session capacity of ", s.capacity());
  std::vector<float> logits(static_cast<std::size_t>(s.vocab()));
  s.append(prompt.data(), static_cast<int>(prompt.size()), logits.data());
  std::vector<int32_t> out;
  uint64_t state = opts.seed;
  for (int i = 0; i < opts.max_new_tokens; ++i) {
    const int32_t t = sample_token(logits.data(), s.vocab(), opts, state);
    out.push_back(t);
    if (on_token && !on_token(t)) break;
    if (std::find(opts.stop_tokens.begin(), opts.stop_tokens.end(), t) != opts.stop_tokens.end())
      break;
    if (i + 1 < opts.max_new_tokens) s.append(&t, 1, logits.data());
  }
  return out;
}

}  // namespace harpe::infer

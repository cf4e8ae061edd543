#include "model/model.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>

#include "core/error.h"
#include "core/rng.h"
#include "core/system.h"
#include "kernels/attention.h"
#include "kernels/gemm.h"
#include "kernels/ops.h"
#include "model/layer.h"

namespace harpe::model {

namespace {

constexpr std::size_t kAlign = 16;  // floats: 64 bytes

std::size_t align_up(std::size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

// `floats`, once checked to fit in the memory available now (before the arena is allocated);
// the pieces name the arena in the error.
template <typename... Args>
std::size_t fitting_floats(std::size_t floats, const Args&... what) {
  std::ostringstream name;
  (name << ... << what);
  check_fits_in_memory(static_cast<long double>(floats) * sizeof(float), name.str());
  return floats;
}

// splitmix64 (core/rng.h) seeds the per-tensor generators and is the generator itself (tiny and
// good enough for weight initialisation).
double uniform01(uint64_t& state) {  // in (0, 1]
  return (static_cast<double>(splitmix64(state) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
}

// Fills x with Normal(0, std) by Box-Muller.
void fill_normal(float* x, std::size_t n, double std, uint64_t seed) {
  uint64_t state = seed;
  for (std::size_t i = 0; i < n; i += 2) {
    double r = std::sqrt(-2.0 * std::log(uniform01(state)));
    double a = 2.0 * M_PI * uniform01(state);
    x[i] = static_cast<float>(std * r * std::cos(a));
    if (i + 1 < n) x[i + 1] = static_cast<float>(std * r * std::sin(a));
  }
}

// dx[N, in] (=, or += with beta 1) dy[N, out] W[out, in]
void linear_dx(float* dx, const float* dy, const float* W, int N, int out, int in, float beta) {
  kernels::gemm(false, false, N, in, out, 1.0f, dy, out, W, in, beta, dx, in);
}
// dW[out, in] += dy[N, out]^T x[N, in]
void linear_dw(float* dW, const float* dy, const float* x, int N, int out, int in) {
  kernels::gemm(true, false, out, in, N, 1.0f, dy, out, x, in, 1.0f, dW, in);
}

struct Dims {
  int B, T, N, C, H, KV, D, HD, KVD, F, V, L;
  float eps;
};

Dims dims_of(const ModelConfig& c, int B, int T) {
  Dims d{};
  d.B = B;
  d.T = T;
  check(static_cast<long long>(B) * T <= 2147483647LL,
        "batch x context = ", static_cast<long long>(B) * T,
        " tokens per step is more than the engine supports (2^31 - 1)");
  d.N = B * T;
  d.C = c.hidden_size;
  d.H = c.num_attention_heads;
  d.KV = c.kv_heads();
  d.D = c.head_size();
  d.HD = c.q_dim();
  d.KVD = c.kv_dim();
  d.F = c.intermediate_size;
  d.V = c.vocab_size;
  d.L = c.num_hidden_layers;
  d.eps = static_cast<float>(c.rms_norm_eps);
  return d;
}

// Sizes of one layer's saved activations, in the order of LayerActs.
std::vector<std::size_t> layer_sizes(const Dims& d) {
  const std::size_t N = static_cast<std::size_t>(d.N);
  return {N * d.C, N,       N * d.HD, N * d.KVD, N * d.KVD, N * d.HD, N * d.H,
          N * d.C, N * d.C, N,        N * d.F,   N * d.F,   N * d.F};
}

// Backward scratch: dres [N,C], dln [N,C], then a region shared by the MLP part (dh, dgate, dup)
// and the attention part (datt, dq, dk, dv), which are never live at the same time.
struct ScratchLayout {
  std::size_t dres, dln, shared, total;
  std::size_t dh, dgate, dup;    // offsets inside shared
  std::size_t datt, dq, dk, dv;  // offsets inside shared
};

ScratchLayout scratch_layout(const Dims& d) {
  const std::size_t N = static_cast<std::size_t>(d.N);
  ScratchLayout s{};
  s.dres = 0;
  s.dln = align_up(N * d.C);
  s.shared = s.dln + align_up(N * d.C);
  s.dh = 0;
  s.dgate = align_up(N * d.F);
  s.dup = s.dgate + align_up(N * d.F);
  std::size_t mlp = s.dup + align_up(N * d.F);
  s.datt = 0;
  s.dq = align_up(N * d.HD);
  s.dk = s.dq + align_up(N * d.HD);
  s.dv = s.dk + align_up(N * d.KVD);
  std::size_t att = s.dv + align_up(N * d.KVD);
  s.total = s.shared + std::max(mlp, att);
  return s;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Parameters

const TensorInfo* ParamLayout::find(const std::string& name) const {
  for (const TensorInfo& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

ParamLayout param_layout(const ModelConfig& cfg) {
  cfg.validate();
  ParamLayout p;
  auto add = [&](std::string name, std::vector<int64_t> shape, bool matrix) {
    TensorInfo t;
    t.name = std::move(name);
    t.shape = std::move(shape);
    t.numel = 1;
    for (int64_t s : t.shape) t.numel *= static_cast<std::size_t>(s);
    t.offset = p.total;
    t.decay = matrix;
    t.matmul = matrix;
    p.total += align_up(t.numel);
    p.count += t.numel;
    p.tensors.push_back(std::move(t));
  };
  const int64_t C = cfg.hidden_size, F = cfg.intermediate_size, V = cfg.vocab_size;
  const int64_t HD = cfg.q_dim(), KVD = cfg.kv_dim();
  add("model.embed_tokens.weight", {V, C}, true);
  p.tensors.back().matmul = cfg.tie_word_embeddings;  // a lookup, unless it is also the lm head
  for (int l = 0; l < cfg.num_hidden_layers; ++l) {
    const std::string pre = "model.layers." + std::to_string(l) + ".";
    add(pre + "input_layernorm.weight", {C}, false);
    add(pre + "self_attn.q_proj.weight", {HD, C}, true);
    add(pre + "self_attn.k_proj.weight", {KVD, C}, true);
    add(pre + "self_attn.v_proj.weight", {KVD, C}, true);
    add(pre + "self_attn.o_proj.weight", {C, HD}, true);
    add(pre + "post_attention_layernorm.weight", {C}, false);
    add(pre + "mlp.gate_proj.weight", {F, C}, true);
    add(pre + "mlp.up_proj.weight", {F, C}, true);
    add(pre + "mlp.down_proj.weight", {C, F}, true);
  }
  add("model.norm.weight", {C}, false);
  if (!cfg.tie_word_embeddings) add("lm_head.weight", {V, C}, true);
  for (const TensorInfo& t : p.tensors)
    if (t.matmul) p.matmul_count += t.numel;
  return p;
}

Weights bind_weights(const ModelConfig& cfg, const ParamLayout& layout, float* base) {
  Weights w;
  std::size_t i = 0;
  auto next = [&] { return base + layout.tensors[i++].offset; };
  w.embed = next();
  w.layers.resize(static_cast<std::size_t>(cfg.num_hidden_layers));
  for (LayerWeights& l : w.layers) {
    l.ln1 = next();
    l.wq = next();
    l.wk = next();
    l.wv = next();
    l.wo = next();
    l.ln2 = next();
    l.wg = next();
    l.wu = next();
    l.wd = next();
  }
  w.norm = next();
  w.lm_head = cfg.tie_word_embeddings ? w.embed : next();
  return w;
}

Model::Model(const ModelConfig& cfg)
    : config(cfg),
      layout(param_layout(cfg)),
      params(fitting_floats(layout.total, "the parameters (", layout.count, " floats)")) {
  w = bind_weights(config, layout, params.data());
}

void Model::enable_grads() {
  if (has_grads()) return;
  grads = Buffer<float>(fitting_floats(layout.total, "the gradients"));
  g = bind_weights(config, layout, grads.data());
}

void init_params(Model& m, uint64_t seed) {
  const double out_scale = 1.0 / std::sqrt(2.0 * m.config.num_hidden_layers);
  uint64_t state = seed;
  for (const TensorInfo& t : m.layout.tensors) {
    float* x = m.params.data() + t.offset;
    const uint64_t tensor_seed = splitmix64(state);  // drawn for every tensor: order-stable
    if (t.shape.size() == 1) {
      std::fill(x, x + t.numel, 1.0f);
      continue;
    }
    const bool output = t.name.ends_with("o_proj.weight") || t.name.ends_with("down_proj.weight");
    fill_normal(x, t.numel, 0.02 * (output ? out_scale : 1.0), tensor_seed);
  }
}

// ---------------------------------------------------------------------------------------------
// Activations

ActivationPlan plan_activations(const ModelConfig& cfg, int B, int T, Mode mode) {
  check(B > 0 && T > 0, "batch and context must be positive (got batch ", B, ", context ", T, ")");
  const Dims d = dims_of(cfg, B, T);
  const std::size_t N = static_cast<std::size_t>(d.N);
  ActivationPlan p;
  p.mode = mode;
  p.B = B;
  p.T = T;
  for (std::size_t s : layer_sizes(d)) p.layer_floats += align_up(s);
  p.layer_blocks = mode == Mode::train ? static_cast<std::size_t>(d.L) : 1;
  p.resid_floats =
      (mode == Mode::infer ? 2 : static_cast<std::size_t>(d.L) + 1) * align_up(N * d.C);
  p.final_floats = align_up(N * d.C) + align_up(N);
  p.scratch_floats = mode == Mode::infer ? 0 : scratch_layout(d).total;
  p.total_floats =
      p.layer_floats * p.layer_blocks + p.resid_floats + p.final_floats + p.scratch_floats;
  // The sizes above are products of a validated config and B x T < 2^31; their sum cannot wrap
  // around unless it is far beyond any memory, which this bound (in long double) catches first.
  const long double approx = static_cast<long double>(p.layer_floats) * p.layer_blocks +
                             static_cast<long double>(p.resid_floats) + p.final_floats +
                             p.scratch_floats;
  check(approx * sizeof(float) <= 4611686018427387904.0L, "activations for batch ", B,
        " x context ", T, " would need ", format_bytes(static_cast<double>(approx * sizeof(float))),
        ", more than any machine can address");
  p.int_count = N;
  // lmhead_xent holds [chunk, V] logits per thread; 256-row chunks is a generous bound.
  p.xent_bytes = static_cast<std::size_t>(omp_get_max_threads()) * 256 * d.V * sizeof(float);
  return p;
}

MemoryEstimate estimate_training_memory(const ModelConfig& cfg, int B, int T, bool recompute) {
  const ParamLayout layout = param_layout(cfg);
  MemoryEstimate e;
  e.params = layout.total * sizeof(float);
  e.grads = e.params;
  e.optimizer = 2 * e.params;
  e.activations =
      plan_activations(cfg, B, T, recompute ? Mode::train_recompute : Mode::train).bytes();
  return e;
}

Workspace::Workspace(const ModelConfig& cfg, int B, int T, Mode mode, int rope_seq_len)
    : plan(plan_activations(cfg, B, T, mode)),
      arena(fitting_floats(plan.total_floats + plan.int_count, "the activations (batch ", B,
                           " x context ", T, ")") -
            plan.int_count),
      default_positions(plan.int_count),
      rope(rope::build_table(cfg.rope, cfg.table_shape(), rope_seq_len > 0 ? rope_seq_len : T)),
      hidden_(cfg.hidden_size),
      layers_(cfg.num_hidden_layers) {
  const Dims d = dims_of(cfg, B, T);
  std::size_t off = 0;
  for (std::size_t s : layer_sizes(d)) {
    layer_offsets_.push_back(off);
    off += align_up(s);
  }
  layers_off_ = plan.resid_floats;
  final_off_ = layers_off_ + plan.layer_floats * plan.layer_blocks;
  scratch_off_ = final_off_ + plan.final_floats;
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t) default_positions[static_cast<std::size_t>(b) * T + t] = t;
}

float* Workspace::resid(int l) {
  const std::size_t stride = align_up(n() * hidden_);
  const std::size_t slot =
      plan.mode == Mode::infer ? static_cast<std::size_t>(l % 2) : static_cast<std::size_t>(l);
  return arena.data() + slot * stride;
}

LayerActs Workspace::layer(int l) {
  const std::size_t block = plan.mode == Mode::train ? static_cast<std::size_t>(l) : 0;
  float* base = arena.data() + layers_off_ + block * plan.layer_floats;
  const std::vector<std::size_t>& o = layer_offsets_;
  return LayerActs{base + o[0],  base + o[1],  base + o[2], base + o[3], base + o[4],
                   base + o[5],  base + o[6],  base + o[7], base + o[8], base + o[9],
                   base + o[10], base + o[11], base + o[12]};
}

// ---------------------------------------------------------------------------------------------
// Passes

namespace {

kernels::AttentionShape attention_shape(const Dims& d) {
  kernels::AttentionShape s;
  s.B = d.B;
  s.T = d.T;
  s.H = d.H;
  s.KV = d.KV;
  s.D = d.D;
  return s;
}

// One layer forward from x_in; writes x_out unless it is null (recomputation needs only the saved
// activations, not the layer output, which is already kept).
void layer_forward(const Dims& d, const LayerWeights& w, const LayerActs& a, const float* x_in,
                   float* x_out, const int32_t* pos, const rope::RopeTable& rope,
                   AttentionOverride* att) {
  const LayerShape s{d.N, d.C, d.HD, d.KVD, d.F, d.eps};
  attention_inputs(a.ln1, a.rstd1, a.q, a.k, a.v, x_in, w, s);
  kernels::rope_apply(a.q, pos, rope, d.N, false);
  kernels::rope_apply(a.k, pos, rope, d.N, true);
  if (att)
    att->forward(a.att, a.lse, a.q, a.k, a.v, attention_shape(d));
  else
    kernels::attention_forward(a.att, a.lse, a.q, a.k, a.v, attention_shape(d));
  attention_output(a.xmid, x_in, a.att, w, s);
  mlp(x_out, a.ln2, a.rstd2, a.gate, a.up, a.h, a.xmid, w, s);
}

// dres holds dL/d(layer output) on entry and dL/d(layer input) on return.
void layer_backward(const Dims& d, const LayerWeights& w, const LayerWeights& g, const LayerActs& a,
                    const float* x_in, float* dres, float* scratch, const ScratchLayout& sl,
                    const int32_t* pos, const rope::RopeTable& rope, AttentionOverride* att) {
  const std::size_t N = static_cast<std::size_t>(d.N);
  float* dln = scratch + sl.dln;
  float* shared = scratch + sl.shared;
  // MLP: out = xmid + h Wd^T, h = silu(gate) * up, gate/up = ln2 Wg^T / Wu^T, ln2 = norm(xmid).
  float* dh = shared + sl.dh;
  float* dgate = shared + sl.dgate;
  float* dup = shared + sl.dup;
  linear_dx(dh, dres, w.wd, d.N, d.C, d.F, 0.0f);
  linear_dw(g.wd, dres, a.h, d.N, d.C, d.F);
  kernels::swiglu_backward(dgate, dup, dh, a.gate, a.up, N * d.F);
  linear_dw(g.wg, dgate, a.ln2, d.N, d.F, d.C);
  linear_dw(g.wu, dup, a.ln2, d.N, d.F, d.C);
  linear_dx(dln, dgate, w.wg, d.N, d.F, d.C, 0.0f);
  linear_dx(dln, dup, w.wu, d.N, d.F, d.C, 1.0f);
  kernels::rmsnorm_backward(dres, g.ln2, dln, a.xmid, w.ln2, a.rstd2, d.N, d.C);
  // Attention: xmid = x_in + att Wo^T.
  float* datt = shared + sl.datt;
  float* dq = shared + sl.dq;
  float* dk = shared + sl.dk;
  float* dv = shared + sl.dv;
  linear_dx(datt, dres, w.wo, d.N, d.C, d.HD, 0.0f);
  linear_dw(g.wo, dres, a.att, d.N, d.C, d.HD);
  if (att)
    att->backward(dq, dk, dv, datt, a.q, a.k, a.v, a.att, a.lse, attention_shape(d));
  else
    kernels::attention_backward(dq, dk, dv, datt, a.q, a.k, a.v, a.att, a.lse, attention_shape(d));
  // q and k were rotated in place; the gradient w.r.t. the unrotated ones is the inverse rotation.
  kernels::rope_apply(dq, pos, rope, d.N, false, true);
  kernels::rope_apply(dk, pos, rope, d.N, true, true);
  linear_dw(g.wq, dq, a.ln1, d.N, d.HD, d.C);
  linear_dw(g.wk, dk, a.ln1, d.N, d.KVD, d.C);
  linear_dw(g.wv, dv, a.ln1, d.N, d.KVD, d.C);
  linear_dx(dln, dq, w.wq, d.N, d.HD, d.C, 0.0f);
  linear_dx(dln, dk, w.wk, d.N, d.KVD, d.C, 1.0f);
  linear_dx(dln, dv, w.wv, d.N, d.KVD, d.C, 1.0f);
  kernels::rmsnorm_backward(dres, g.ln1, dln, x_in, w.ln1, a.rstd1, d.N, d.C);
}

void check_tokens(const int32_t* tokens, std::size_t n, int V, const char* what) {
  for (std::size_t i = 0; i < n; ++i)
    check(tokens[i] >= 0 && tokens[i] < V, what, " id ", tokens[i], " at index ", i,
          " is outside the vocabulary [0, ", V, ")");
}

// Embedding and all layers forward; leaves the final norm's input in ws.resid(L).
void forward_layers(const Model& m, Workspace& ws, const Dims& d, const int32_t* tokens,
                    const int32_t* pos) {
  check_tokens(tokens, static_cast<std::size_t>(d.N), d.V, "token");
  kernels::embedding_forward(ws.resid(0), tokens, m.w.embed, d.N, d.C);
  for (int l = 0; l < d.L; ++l)
    layer_forward(d, m.w.layers[static_cast<std::size_t>(l)], ws.layer(l), ws.resid(l),
                  ws.resid(l + 1), pos, ws.rope, ws.attention);
}

long count_scored(const int32_t* targets, std::size_t n, int V) {
  long c = 0;
  for (std::size_t i = 0; i < n; ++i) {
    check(targets[i] < V, "target id ", targets[i], " at index ", i,
          " is outside the vocabulary [0, ", V, ")");
    c += targets[i] >= 0;
  }
  return c;
}

}  // namespace

LossSum forward_backward(Model& m, Workspace& ws, const int32_t* tokens, const int32_t* targets,
                         float loss_scale, const int32_t* positions) {
  check(ws.plan.mode != Mode::infer, "forward_backward needs a training workspace");
  m.enable_grads();
  const Dims d = dims_of(m.config, ws.plan.B, ws.plan.T);
  const std::size_t N = static_cast<std::size_t>(d.N);
  const int32_t* pos = positions ? positions : ws.default_positions.data();
  LossSum loss;
  loss.count = count_scored(targets, N, d.V);
  forward_layers(m, ws, d, tokens, pos);

  const ScratchLayout sl = scratch_layout(d);
  float* scratch = ws.scratch();
  float* dres = scratch + sl.dres;
  float* dln = scratch + sl.dln;
  kernels::rmsnorm_forward(ws.final_ln(), ws.final_rstd(), ws.resid(d.L), m.w.norm, d.N, d.C,
                           d.eps);
  loss.sum = kernels::lmhead_xent(ws.final_ln(), m.w.lm_head, targets, d.N, d.C, d.V, dln,
                                  m.g.lm_head, loss_scale);
  std::memset(dres, 0, N * d.C * sizeof(float));
  kernels::rmsnorm_backward(dres, m.g.norm, dln, ws.resid(d.L), m.w.norm, ws.final_rstd(), d.N,
                            d.C);

  for (int l = d.L - 1; l >= 0; --l) {
    const std::size_t li = static_cast<std::size_t>(l);
    if (ws.plan.mode == Mode::train_recompute)
      layer_forward(d, m.w.layers[li], ws.layer(l), ws.resid(l), nullptr, pos, ws.rope,
                    ws.attention);
    layer_backward(d, m.w.layers[li], m.g.layers[li], ws.layer(l), ws.resid(l), dres, scratch, sl,
                   pos, ws.rope, ws.attention);
  }
  kernels::embedding_backward(m.g.embed, dres, tokens, d.N, d.C);
  return loss;
}

LossSum forward_loss(const Model& m, Workspace& ws, const int32_t* tokens, const int32_t* targets,
                     float* per_token, const int32_t* positions) {
  const Dims d = dims_of(m.config, ws.plan.B, ws.plan.T);
  const std::size_t N = static_cast<std::size_t>(d.N);
  const int32_t* pos = positions ? positions : ws.default_positions.data();
  LossSum loss;
  loss.count = count_scored(targets, N, d.V);
  forward_layers(m, ws, d, tokens, pos);
  kernels::rmsnorm_forward(ws.final_ln(), ws.final_rstd(), ws.resid(d.L), m.w.norm, d.N, d.C,
                           d.eps);
  loss.sum = kernels::lmhead_xent(ws.final_ln(), m.w.lm_head, targets, d.N, d.C, d.V, nullptr,
                                  nullptr, 1.0f, per_token);
  return loss;
}

void forward_last_hidden(const Model& m, Workspace& ws, const int32_t* tokens, float* out,
                         const int32_t* positions) {
  const Dims d = dims_of(m.config, ws.plan.B, ws.plan.T);
  const int32_t* pos = positions ? positions : ws.default_positions.data();
  forward_layers(m, ws, d, tokens, pos);
  const float* x = ws.resid(d.L);
  std::vector<float> rstd(1);
  for (int b = 0; b < d.B; ++b) {
    const std::size_t row = static_cast<std::size_t>(b) * d.T + (d.T - 1);
    kernels::rmsnorm_forward(out + static_cast<std::size_t>(b) * d.C, rstd.data(), x + row * d.C,
                             m.w.norm, 1, d.C, d.eps);
  }
}

void logits_last(const Model& m, Workspace& ws, const int32_t* tokens, float* out,
                 const int32_t* positions) {
  const Dims d = dims_of(m.config, ws.plan.B, ws.plan.T);
  std::vector<float> hidden(static_cast<std::size_t>(d.B) * d.C);
  forward_last_hidden(m, ws, tokens, hidden.data(), positions);
  linear(out, hidden.data(), m.w.lm_head, d.B, d.V, d.C);
}

double flops_per_token(const ModelConfig& cfg, int T) {
  const double n = static_cast<double>(param_layout(cfg).matmul_count);
  return 6.0 * n + 6.0 * cfg.num_hidden_layers * static_cast<double>(T) * cfg.q_dim();
}

}  // namespace harpe::model

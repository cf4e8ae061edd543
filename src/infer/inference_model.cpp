#include "infer/inference_model.h"

#include <algorithm>
#include <utility>

#include "core/system.h"
#include "infer/huge_pages.h"
#include "io/safetensors.h"

namespace harpe::infer {

namespace {

InferenceLayer fp32_layer(const model::LayerWeights& w) {
  InferenceLayer l;
  l.ln1 = w.ln1;
  l.ln2 = w.ln2;
  l.wq.f32 = w.wq;
  l.wk.f32 = w.wk;
  l.wv.f32 = w.wv;
  l.wo.f32 = w.wo;
  l.wg.f32 = w.wg;
  l.wu.f32 = w.wu;
  l.wd.f32 = w.wd;
  return l;
}

}  // namespace

void InferenceModel::bind_fp32(const model::Model& m) {
  model_ = &m;
  embed.f32 = m.w.embed;
  lm_head.f32 = m.w.lm_head;
  norm = m.w.norm;
  for (const model::LayerWeights& w : m.w.layers) layers.push_back(fp32_layer(w));
}

InferenceModel InferenceModel::view(const model::Model& m) {
  InferenceModel im;
  im.bind_fp32(m);
  return im;
}

InferenceModel::InferenceModel(model::Model&& m, Precision p) {
  owned_ = std::make_unique<model::Model>(std::move(m));
  if (p == Precision::fp32) {
    bind_fp32(*owned_);
    return;
  }
  model::Model& mm = *owned_;
  model_ = &mm;
  precision_ = Precision::bf16;
  const std::size_t total = mm.params.size();
  const float* src = mm.params.data();
  bf16_ = Buffer<uint16_t>(total);
  uint16_t* dst = bf16_.data();
#pragma omp parallel for schedule(static)
  for (std::size_t i = 0; i < total; ++i) dst[i] = io::f32_to_bf16(src[i]);
  const auto at = [&](const float* w) { return dst + (w - src); };

  const std::size_t C = static_cast<std::size_t>(mm.config.hidden_size);
  norms_ = Buffer<float>((2 * mm.w.layers.size() + 1) * C);
  float* nf = norms_.data();
  const auto keep = [&](const float* w) {
    std::copy(w, w + C, nf);
    nf += C;
    return nf - C;
  };
  embed.bf16 = at(mm.w.embed);
  lm_head.bf16 = at(mm.w.lm_head);
  for (const model::LayerWeights& w : mm.w.layers) {
    InferenceLayer l;
    l.ln1 = keep(w.ln1);
    l.ln2 = keep(w.ln2);
    l.wq.bf16 = at(w.wq);
    l.wk.bf16 = at(w.wk);
    l.wv.bf16 = at(w.wv);
    l.wo.bf16 = at(w.wo);
    l.wg.bf16 = at(w.wg);
    l.wu.bf16 = at(w.wu);
    l.wd.bf16 = at(w.wd);
    layers.push_back(l);
  }
  norm = keep(mm.w.norm);
  // The fp32 arena goes: config and layout stay, the views into the arena are cleared.
  mm.params = Buffer<float>();
  mm.w = model::Weights{};
}

std::size_t InferenceModel::weight_bytes() const {
  if (precision_ == Precision::fp32) return model_->params.size() * sizeof(float);
  return bf16_.size() * sizeof(uint16_t) + norms_.size() * sizeof(float);
}

std::string InferenceModel::describe() const {
  return std::string(precision_name(precision_)) + ", " +
         format_bytes(static_cast<double>(weight_bytes())) + ", KV cache " +
         precision_name(precision_) + " (CPU bf16 support: " + cpu_bf16_features() + ")";
}

void InferenceModel::advise_huge_pages() const {
  if (precision_ == Precision::fp32)
    infer::advise_huge_pages(model_->params.data(), model_->params.size() * sizeof(float));
  else
    infer::advise_huge_pages(bf16_.data(), bf16_.size() * sizeof(uint16_t));
}

}  // namespace harpe::infer

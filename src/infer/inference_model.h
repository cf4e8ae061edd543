// The weights inference multiplies by, held in the precision chosen for it: fp32 (the Model's own
// arena) or bf16 (every matrix and the embedding rounded to bf16 in one arena of half the bytes,
// the Model's fp32 arena freed). Decoding one token streams every weight once, so it is memory-
// bandwidth bound and reads half the weight bytes with bf16; activations and all sums stay fp32
// (kernels::gemv_bf16 widens each weight exactly). Sessions hold their KV cache in the same
// precision by default (infer/session.h). Built once per loaded model; any number of Sessions read
// it at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/buffer.h"
#include "core/precision.h"
#include "model/model.h"

namespace harpe::infer {

// One weight matrix [out, in] (HF layout) as held: exactly one of f32 / bf16 is set.
struct WeightMatrix {
  const float* f32 = nullptr;
  const uint16_t* bf16 = nullptr;  // bf16 bit patterns (the high half of an fp32)
};

struct InferenceLayer {
  const float* ln1 = nullptr;  // RMSNorm weights: fp32 in both precisions (C floats each)
  const float* ln2 = nullptr;
  WeightMatrix wq, wk, wv, wo, wg, wu, wd;
};

class InferenceModel {
 public:
  // Takes the model. fp32: its arena is used as it is. bf16: the matrices and the embedding are
  // rounded to bf16 (nearest even) and the fp32 arena is freed, so the weights take half the
  // bytes; the RMSNorm weights stay fp32. (Loading still peaks at 1.5x: fp32 + bf16.)
  InferenceModel(model::Model&& m, Precision p);
  // An fp32 view of a model the caller keeps alive (tests, benchmarks, library callers).
  static InferenceModel view(const model::Model& m);

  InferenceModel(InferenceModel&&) = default;
  InferenceModel& operator=(InferenceModel&&) = default;

  const model::ModelConfig& config() const { return model_->config; }
  Precision precision() const { return precision_; }
  // The fp32 model (its arena intact) in fp32; null in bf16, whose fp32 arena is gone.
  const model::Model* fp32_model() const {
    return precision_ == Precision::fp32 ? model_ : nullptr;
  }
  // Bytes of weights held (the arena(s) above, padding included).
  std::size_t weight_bytes() const;
  // "bf16, 56.3 MiB, KV cache bf16 (CPU bf16 support: avx512f avx512_bf16)" for the lines
  // commands print (sessions hold their KV cache in the weights' precision unless told otherwise).
  std::string describe() const;
  // Transparent huge pages for the weights (infer/huge_pages.h): decoding streams them per token.
  void advise_huge_pages() const;

  WeightMatrix embed;    // [V, C]
  WeightMatrix lm_head;  // [V, C]; the same as embed when tied
  const float* norm = nullptr;
  std::vector<InferenceLayer> layers;

 private:
  InferenceModel() = default;
  void bind_fp32(const model::Model& m);

  Precision precision_ = Precision::fp32;
  std::unique_ptr<model::Model> owned_;  // null for a view
  const model::Model* model_ = nullptr;  // owned_ or the viewed model
  Buffer<uint16_t> bf16_;                // bf16: the arena, same offsets as the fp32 layout
  Buffer<float> norms_;                  // bf16: ln1, ln2 per layer, then the final norm
};

}  // namespace harpe::infer

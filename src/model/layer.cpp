#include "model/layer.h"

#include <algorithm>
#include <cstring>

#include "kernels/gemm.h"
#include "kernels/ops.h"

namespace harpe::model {

void linear(float* y, const float* x, const float* W, int N, int out, int in, float beta) {
  kernels::gemm(false, true, N, out, in, 1.0f, x, in, W, in, beta, y, out);
}

void copy_floats(float* dst, const float* src, std::size_t n) {
  const std::size_t chunk = 1 << 16;
  const long chunks = static_cast<long>((n + chunk - 1) / chunk);
#pragma omp parallel for schedule(static)
  for (long c = 0; c < chunks; ++c) {
    std::size_t b = static_cast<std::size_t>(c) * chunk;
    std::memcpy(dst + b, src + b, std::min(chunk, n - b) * sizeof(float));
  }
}

void attention_inputs(float* ln, float* rstd, float* q, float* k, float* v, const float* x,
                      const LayerWeights& w, const LayerShape& s) {
  kernels::rmsnorm_forward(ln, rstd, x, w.ln1, s.n, s.C, s.eps);
  linear(q, ln, w.wq, s.n, s.HD, s.C);
  linear(k, ln, w.wk, s.n, s.KVD, s.C);
  linear(v, ln, w.wv, s.n, s.KVD, s.C);
}

void attention_output(float* x_mid, const float* x_in, const float* att, const LayerWeights& w,
                      const LayerShape& s) {
  if (x_mid != x_in) copy_floats(x_mid, x_in, static_cast<std::size_t>(s.n) * s.C);
  linear(x_mid, att, w.wo, s.n, s.C, s.HD, 1.0f);
}

void mlp(float* x_out, float* ln, float* rstd, float* gate, float* up, float* h, const float* x_mid,
         const LayerWeights& w, const LayerShape& s) {
  const std::size_t N = static_cast<std::size_t>(s.n);
  kernels::rmsnorm_forward(ln, rstd, x_mid, w.ln2, s.n, s.C, s.eps);
  linear(gate, ln, w.wg, s.n, s.F, s.C);
  linear(up, ln, w.wu, s.n, s.F, s.C);
  kernels::swiglu_forward(h, gate, up, N * s.F);
  if (!x_out) return;
  if (x_out != x_mid) copy_floats(x_out, x_mid, N * s.C);
  linear(x_out, h, w.wd, s.n, s.C, s.F, 1.0f);
}

}  // namespace harpe::model

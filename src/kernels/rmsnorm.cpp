// RMSNorm forward/backward (Llama: no mean subtraction, no bias).
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "kernels/ops.h"

namespace harpe::kernels {

void rmsnorm_forward(float* out, float* rstd, const float* x, const float* w, int N, int C,
                     float eps) {
#pragma omp parallel for schedule(static) if (static_cast <long>(N) * C > 32768)
  for (int n = 0; n < N; ++n) {
    const float* xr = x + static_cast<std::size_t>(n) * C;
    float* o = out + static_cast<std::size_t>(n) * C;
    float ss = 0.0f;
#pragma omp simd reduction(+ : ss)
    for (int c = 0; c < C; ++c) ss += xr[c] * xr[c];
    const float r = 1.0f / std::sqrt(ss / static_cast<float>(C) + eps);
    rstd[n] = r;
#pragma omp simd
    for (int c = 0; c < C; ++c) o[c] = xr[c] * r * w[c];
  }
}

// y_k = w_k x_k r with r = (mean(x^2) + eps)^(-1/2), dr/dx_k = -r^3 x_k / C, so
//   dx_k = r w_k g_k - x_k (r^3 / C) sum_i g_i w_i x_i,     dw_k = sum_n g_nk x_nk r_n.
// dx: threads split rows. dw: threads split channels and walk rows in order (no reduction
// buffers, same summation order for any thread count).
void rmsnorm_backward(float* dx, float* dw, const float* dout, const float* x, const float* w,
                      const float* rstd, int N, int C) {
#pragma omp parallel if (static_cast <long>(N) * C > 32768)
  {
#pragma omp for schedule(static)
    for (int n = 0; n < N; ++n) {
      const float* xr = x + static_cast<std::size_t>(n) * C;
      const float* g = dout + static_cast<std::size_t>(n) * C;
      float* d = dx + static_cast<std::size_t>(n) * C;
      const float r = rstd[n];
      float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
      for (int c = 0; c < C; ++c) dot += g[c] * w[c] * xr[c];
      const float k = dot * r * r * r / static_cast<float>(C);
#pragma omp simd
      for (int c = 0; c < C; ++c) d[c] += r * w[c] * g[c] - k * xr[c];
    }  // implicit barrier; dw below reads nothing written above, it only shares the team
    const int nt = omp_get_num_threads(), t = omp_get_thread_num();
    const int per = (C + nt - 1) / nt;
    const int c0 = std::min(C, t * per), c1 = std::min(C, c0 + per);
    for (int n = 0; n < N; ++n) {
      const float* xr = x + static_cast<std::size_t>(n) * C;
      const float* g = dout + static_cast<std::size_t>(n) * C;
      const float r = rstd[n];
#pragma omp simd
      for (int c = c0; c < c1; ++c) dw[c] += g[c] * xr[c] * r;
    }
  }
}

}  // namespace harpe::kernels

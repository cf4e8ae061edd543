// Token embedding lookup and its backward (scatter-add into the table).
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "kernels/ops.h"

namespace harpe::kernels {

void embedding_forward(float* out, const int32_t* tokens, const float* wte, int N, int C) {
  for (int n = 0; n < N; ++n) check(tokens[n] >= 0, "embedding: negative token id ", tokens[n]);
#pragma omp parallel for schedule(static) if (static_cast <long>(N) * C > 32768)
  for (int n = 0; n < N; ++n)
    std::memcpy(out + static_cast<std::size_t>(n) * C,
                wte + static_cast<std::size_t>(tokens[n]) * C, sizeof(float) * C);
}

// Each thread owns a contiguous range of channels and walks all tokens in order, so equal tokens
// never race and every element is summed in the same order whatever the thread count
// (bitwise reproducible).
void embedding_backward(float* dwte, const float* dout, const int32_t* tokens, int N, int C) {
  for (int n = 0; n < N; ++n) check(tokens[n] >= 0, "embedding: negative token id ", tokens[n]);
#pragma omp parallel if (static_cast <long>(N) * C > 32768)
  {
    const int nt = omp_get_num_threads(), t = omp_get_thread_num();
    const int per = (C + nt - 1) / nt;
    const int c0 = std::min(C, t * per), c1 = std::min(C, c0 + per);
    for (int n = 0; n < N; ++n) {
      float* d = dwte + static_cast<std::size_t>(tokens[n]) * C;
      const float* g = dout + static_cast<std::size_t>(n) * C;
#pragma omp simd
      for (int c = c0; c < c1; ++c) d[c] += g[c];
    }
  }
}

}  // namespace harpe::kernels

// LM head + softmax cross-entropy, fused and chunked over tokens so an [N, V] logits matrix is
// never materialised: per chunk of scored tokens, logits [rows, V] = x W^T, a stable log-softmax,
// then the logits buffer is reused in place for dlogits = scale * (softmax - onehot), and
// dx = dlogits W, dW += dlogits^T x.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "kernels/gemm.h"
#include "kernels/ops.h"
#include "kernels/vec_math.h"

namespace harpe::kernels {

namespace {

// Rows per chunk: 256 keeps the three GEMMs at full speed (M = 256 is past the point where
// oneDNN's blocking saturates, see docs/gemm.md) while [256, V] stays small (8 MiB for V = 8192);
// for large vocabularies the buffer is capped at 4M floats (16 MiB).
int chunk_rows(int V) { return std::clamp((1 << 22) / V, 16, 256); }

}  // namespace

double lmhead_xent(const float* x, const float* W, const int32_t* targets, int N, int C, int V,
                   float* dx, float* dW, float loss_scale, float* losses) {
  check(N >= 0 && C > 0 && V > 0, "lmhead_xent: bad sizes N=", N, " C=", C, " V=", V);
  // Gather the scored tokens; targets come from data files, so check them here.
  std::vector<int> scored;
  scored.reserve(static_cast<std::size_t>(N));
  for (int n = 0; n < N; ++n) {
    check(targets[n] < V, "lmhead_xent: target ", targets[n], " at token ", n,
          " is outside the vocabulary (size ", V, ")");
    if (targets[n] >= 0) scored.push_back(n);
  }
  if (dx && N > 0) std::memset(dx, 0, sizeof(float) * static_cast<std::size_t>(N) * C);
  if (losses && N > 0) std::memset(losses, 0, sizeof(float) * static_cast<std::size_t>(N));
  const bool grad = dx || dW;
  const int S = static_cast<int>(scored.size());
  const int chunk = chunk_rows(V);
  // Reused across calls: the training loop calls this every step with the same shapes.
  thread_local std::vector<float> logits, xs, dxs;
  logits.resize(static_cast<std::size_t>(chunk) * V);
  xs.resize(static_cast<std::size_t>(chunk) * C);
  if (dx) dxs.resize(static_cast<std::size_t>(chunk) * C);
  std::vector<double> row_loss(static_cast<std::size_t>(chunk));

  double total = 0.0;
  for (int s0 = 0; s0 < S; s0 += chunk) {
    const int rows = std::min(chunk, S - s0);
    const int* idx = scored.data() + s0;
    for (int r = 0; r < rows; ++r)
      std::memcpy(xs.data() + static_cast<std::size_t>(r) * C,
                  x + static_cast<std::size_t>(idx[r]) * C, sizeof(float) * C);
    float* L = logits.data();
    gemm(false, true, rows, V, C, 1.0f, xs.data(), C, W, C, 0.0f, L, V);

#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; ++r) {
      float* l = L + static_cast<std::size_t>(r) * V;
      const int t = targets[idx[r]];
      float mx = l[0];
#pragma omp simd reduction(max : mx)
      for (int v = 0; v < V; ++v) mx = std::max(mx, l[v]);
      const float lt = l[t];
      float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
      for (int v = 0; v < V; ++v) {
        const float e = detail::fast_exp(l[v] - mx);  // in (0, 1]: no overflow
        l[v] = e;
        sum += e;
      }
      // loss = logsumexp(l) - l[t] = mx + log(sum) - l[t]
      row_loss[static_cast<std::size_t>(r)] =
          static_cast<double>(mx) + std::log(static_cast<double>(sum)) - lt;
      if (grad) {
        const float k = loss_scale / sum;
#pragma omp simd
        for (int v = 0; v < V; ++v) l[v] *= k;
        l[t] -= loss_scale;
      }
    }
    for (int r = 0; r < rows; ++r) {  // serial, in token order: reproducible sum
      total += row_loss[static_cast<std::size_t>(r)];
      if (losses) losses[idx[r]] = static_cast<float>(row_loss[static_cast<std::size_t>(r)]);
    }
    if (dx) {
      gemm(false, false, rows, C, V, 1.0f, L, V, W, C, 0.0f, dxs.data(), C);
      for (int r = 0; r < rows; ++r)
        std::memcpy(dx + static_cast<std::size_t>(idx[r]) * C,
                    dxs.data() + static_cast<std::size_t>(r) * C, sizeof(float) * C);
    }
    if (dW) gemm(true, false, V, C, rows, 1.0f, L, V, xs.data(), C, 1.0f, dW, C);
  }
  return total;
}

}  // namespace harpe::kernels

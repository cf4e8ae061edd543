// The single place that decides which library multiplies matrices (see docs/gemm.md for the
// measurement behind the choice): oneDNN's dnnl_sgemm, row-major, OpenMP threads.
#include "kernels/gemm.h"

#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/timer.h"

namespace harpe::kernels {

void gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
          const float* B, int ldb, float beta, float* C, int ldc) {
  check(M >= 0 && N >= 0 && K >= 0, "gemm: negative size M=", M, " N=", N, " K=", K);
  if (M == 0 || N == 0) return;
  check(lda >= std::max(1, trans_a ? M : K), "gemm: lda=", lda, " too small");
  check(ldb >= std::max(1, trans_b ? K : N), "gemm: ldb=", ldb, " too small");
  check(ldc >= std::max(1, N), "gemm: ldc=", ldc, " too small");
  if (K == 0) {  // C = beta * C; BLAS semantics: beta == 0 overwrites (even NaN)
    for (int i = 0; i < M; ++i) {
      float* c = C + static_cast<std::size_t>(i) * ldc;
      for (int j = 0; j < N; ++j) c[j] = beta == 0.0f ? 0.0f : beta * c[j];
    }
    return;
  }
  dnnl_status_t st = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', M, N, K, alpha, A, lda, B,
                                ldb, beta, C, ldc);
  check(st == dnnl_success, "gemm: dnnl_sgemm failed with status ", static_cast<int>(st), " (M=", M,
        " N=", N, " K=", K, ")");
}

double measure_sgemm_gflops(int n) {
  check(n > 0, "measure_sgemm_gflops: n must be positive, got ", n);
  std::size_t nn = static_cast<std::size_t>(n) * n;
  std::vector<float> a(nn), b(nn), c(nn, 0.0f);
  for (std::size_t i = 0; i < nn; ++i) {  // deterministic, non-trivial values
    a[i] = static_cast<float>((i * 37 % 101)) * 0.01f - 0.5f;
    b[i] = static_cast<float>((i * 53 % 97)) * 0.01f - 0.5f;
  }
  gemm(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);  // warm-up
  double best = 1e30;
  for (int rep = 0; rep < 3; ++rep) {
    Timer t;
    gemm(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    best = std::min(best, t.seconds());
  }
  return 2.0 * n * static_cast<double>(n) * n / best * 1e-9;
}

const char* gemm_backend() {
  static const std::string name = [] {  // magic static: thread-safe one-time init
    const dnnl_version_t* v = dnnl_version();
    return "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
           std::to_string(v->patch);
  }();
  return name.c_str();
}

}  // namespace harpe::kernels

// The one GEMM wrapper every layer goes through (row-major, BLAS-like), so the library behind it
// can be swapped and measured in one place.
#pragma once

namespace harpe::kernels {

// C[M,N] = alpha * op(A) op(B) + beta * C, row-major; op(X) = X or X^T.
// op(A) is M x K (A is M x K with lda >= K, or K x M with lda >= M when trans_a).
// op(B) is K x N (B is K x N with ldb >= N, or N x K with ldb >= K when trans_b).
void gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
          const float* B, int ldb, float beta, float* C, int ldc);

// GFLOP/s of an n x n x n sgemm through the wrapper, measured now in this process (best of a few
// runs after a warm-up). Benchmarks print achieved FLOP/s as a ratio to this.
double measure_sgemm_gflops(int n = 2048);

// Name of the library behind gemm(), for reports ("oneDNN 2.6.3" etc.).
const char* gemm_backend();

}  // namespace harpe::kernels

// The one GEMM wrapper every layer goes through (row-major, BLAS-like), so the library behind it
// and the arithmetic it multiplies in can be swapped and measured in one place.
#pragma once

#include <string>

#include "core/precision.h"

namespace harpe::kernels {

// C[M,N] = alpha * op(A) op(B) + beta * C, row-major; op(X) = X or X^T.
// op(A) is M x K (A is M x K with lda >= K, or K x M with lda >= M when trans_a).
// op(B) is K x N (B is K x N with ldb >= N, or N x K with ldb >= K when trans_b).
// beta == 0 overwrites C (NaN in C included). Multiplies in gemm_precision():
//   fp32: oneDNN's dnnl_sgemm.
//   bf16: A and B rounded to bf16 (nearest even) into per-thread scratch, products accumulated
//         in fp32 by oneDNN's matmul primitive, C fp32. A and B are read only, never rounded in
//         place: callers keep fp32 data (master weights, activations) and fp32 everywhere else.
void gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
          const float* B, int ldb, float beta, float* C, int ldc);
// The same in an explicit precision, for callers that must not follow the setting (e.g. small
// tiles where bf16 does not pay, or fp32-only measurements).
void gemm(Precision p, bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A,
          int lda, const float* B, int ldb, float beta, float* C, int ldc);

// The precision gemm() multiplies in: one process-wide setting (read by every thread, OpenMP
// workers included), fp32 unless set. Training sets it for the run; set it outside parallel
// regions, not while other threads multiply.
Precision gemm_precision();
void set_gemm_precision(Precision p);

// Sets the precision for a scope and restores the previous one when it ends.
class GemmPrecisionScope {
 public:
  explicit GemmPrecisionScope(Precision p) : previous_(gemm_precision()) { set_gemm_precision(p); }
  ~GemmPrecisionScope() { set_gemm_precision(previous_); }
  GemmPrecisionScope(const GemmPrecisionScope&) = delete;
  GemmPrecisionScope& operator=(const GemmPrecisionScope&) = delete;

 private:
  Precision previous_;
};

// fp32 -> bf16 (round to nearest even, NaN stays NaN), n values; AVX512_BF16 instructions where
// the CPU has them, else a scalar path with the same rounding. bf16 is the top 16 bits of a float.
void to_bf16(const float* src, unsigned short* dst, std::size_t n);
// The scalar path alone (what CPUs without AVX512_BF16 run), for tests on every CPU.
void to_bf16_portable(const float* src, unsigned short* dst, std::size_t n);
float bf16_to_float(unsigned short h);
// True when the CPU has the AVX512_BF16 instructions (vcvtne2ps2bf16, vdpbf16ps) that to_bf16 and
// the bf16 attention tiles use.
bool cpu_has_avx512_bf16();

// GFLOP/s of an n x n x n product through the wrapper in precision p (fp32: "sgemm", bf16:
// "bgemm", conversions of A and B included), measured now in this process (best of a few runs
// after a warm-up). Benchmarks print achieved FLOP/s as a ratio to this.
double measure_gemm_gflops(Precision p, int n = 2048);
inline double measure_sgemm_gflops(int n = 2048) { return measure_gemm_gflops(Precision::fp32, n); }

// Name of the library behind gemm(), for reports ("oneDNN 2.6.3" etc.).
const char* gemm_backend();
// What oneDNN dispatches in precision p for an M x N x K product (alpha 1, beta 0), for reports:
// bf16: the matmul primitive's implementation string (e.g. "brg:avx512_core_bf16"); fp32:
// "dnnl_sgemm" and the highest ISA oneDNN dispatches to here (dnnl_sgemm names no kernel).
std::string gemm_isa(Precision p, int M = 2048, int N = 2048, int K = 2048, bool trans_a = false,
                     bool trans_b = false);

}  // namespace harpe::kernels

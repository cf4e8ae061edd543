// The single place that decides which library multiplies matrices and in which arithmetic (see
// docs/gemm.md for the measurements behind the choices): fp32 through oneDNN's dnnl_sgemm; bf16
// through oneDNN's matmul primitive on bf16 copies of A and B with fp32 accumulation and output.
// Row-major, OpenMP threads.
#include "kernels/gemm.h"

#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <tuple>
#include <vector>

#include "core/error.h"
#include "core/half.h"
#include "core/timer.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace harpe::kernels {

namespace {

std::atomic<Precision> g_precision{Precision::fp32};

// ---- fp32 -> bf16 ---------------------------------------------------------------------------

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HARPE_HAVE_BF16_CVT 1
// vcvtne2ps2bf16: 32 floats -> 32 bf16 per instruction, nearest even (the instruction also
// treats denormal inputs as zero, which the scalar path does not: both are within bf16 rounding).
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) void to_bf16_avx512(
    const float* src, uint16_t* dst, std::size_t n) {
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512 lo = _mm512_loadu_ps(src + i), hi = _mm512_loadu_ps(src + i + 16);
    _mm512_storeu_si512(dst + i, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
  }
  for (; i < n; i += 16) {
    const std::size_t left = std::min<std::size_t>(16, n - i);
    const __mmask16 m = static_cast<__mmask16>((1u << left) - 1u);
    const __m512 v = _mm512_maskz_loadu_ps(m, src + i);
    _mm256_mask_storeu_epi16(dst + i, m, (__m256i)_mm512_cvtneps_pbh(v));
  }
}

#endif

// rows x cols of src (leading dimension ld) -> dst compact (leading dimension cols); splits the
// rows over OpenMP threads unless already inside a parallel region.
void rows_to_bf16(const float* src, int ld, int rows, int cols, uint16_t* dst) {
  const std::size_t total = static_cast<std::size_t>(rows) * cols;
  if (ld == cols) {  // one contiguous run: split it evenly
    const int nt = omp_in_parallel() || total < (1u << 16) ? 1 : omp_get_max_threads();
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int t = 0; t < nt; ++t) {
      const std::size_t b = total * t / nt, e = total * (t + 1) / nt;
      to_bf16(src + b, dst + b, e - b);
    }
    return;
  }
  const bool par = !omp_in_parallel() && total >= (1u << 16);
#pragma omp parallel for schedule(static) if (par)
  for (int r = 0; r < rows; ++r)
    to_bf16(src + static_cast<std::size_t>(r) * ld, dst + static_cast<std::size_t>(r) * cols,
            static_cast<std::size_t>(cols));
}

// ---- oneDNN matmul primitives, cached by shape -----------------------------------------------

// bf16 A and B are compact after conversion, so lda/ldb are not part of the key.
using Key = std::tuple<bool, bool, int, int, int, float, float, int>;  // ta tb M N K alpha beta ldc

struct Matmul {
  dnnl::matmul prim;
  dnnl::memory::desc a, b, c;
  std::size_t scratch_bytes = 0;
  std::string impl;
};

dnnl::engine& engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

std::shared_ptr<const Matmul> make_matmul(const Key& k) {
  const auto [ta, tb, M, N, K, alpha, beta, ldc] = k;
  using dims = dnnl::memory::dims;
  using dt = dnnl::memory::data_type;
  auto m = std::make_shared<Matmul>();
  // op(A) [M,K]: A stored [M,K] (strides K,1) or [K,M] (strides 1,M); likewise op(B) [K,N].
  m->a = dnnl::memory::desc(dims{M, K}, dt::bf16, ta ? dims{1, M} : dims{K, 1});
  m->b = dnnl::memory::desc(dims{K, N}, dt::bf16, tb ? dims{1, K} : dims{N, 1});
  m->c = dnnl::memory::desc(dims{M, N}, dt::f32, dims{ldc, 1});
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);  // per-thread scratch: concurrent calls
  if (alpha != 1.0f) attr.set_output_scales(0, {alpha});
  if (beta != 0.0f) {  // dst = alpha * A B + beta * dst; without the post-op dst is overwritten
    dnnl::post_ops po;
    po.append_sum(beta);
    attr.set_post_ops(po);
  }
  try {
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(m->a, m->b, m->c), attr, engine());
    m->scratch_bytes = pd.scratchpad_desc().get_size();
    m->impl = pd.impl_info_str();
    m->prim = dnnl::matmul(pd);
  } catch (const dnnl::error& e) {
    fail("gemm: oneDNN has no bf16 matmul for M=", M, " N=", N, " K=", K, " on this CPU (",
         cpu_bf16_features(), "): ", e.what(), "; use --precision fp32");
  }
  return m;
}

std::shared_ptr<const Matmul> matmul_for(const Key& k) {
  static std::mutex mu;
  static std::map<Key, std::shared_ptr<const Matmul>> cache;
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(k);
    if (it != cache.end()) return it->second;
  }
  auto m = make_matmul(k);  // outside the lock: creation takes milliseconds
  std::lock_guard<std::mutex> lock(mu);
  if (cache.size() >= 4096) cache.clear();  // shapes repeat every step; bound odd workloads
  return cache.emplace(k, std::move(m)).first->second;
}

struct Scratch {
  std::vector<uint16_t> a, b;
  std::vector<unsigned char> pad;
};

void gemm_bf16(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda,
               const float* B, int ldb, float beta, float* C, int ldc) {
  thread_local Scratch s;
  const auto m = matmul_for(Key{ta, tb, M, N, K, alpha, beta, ldc});
  s.a.resize(static_cast<std::size_t>(M) * K);
  s.b.resize(static_cast<std::size_t>(K) * N);
  if (m->scratch_bytes > s.pad.size()) s.pad.resize(m->scratch_bytes);
  // Stored shapes: A is [M,K] or [K,M]; B is [K,N] or [N,K].
  rows_to_bf16(A, lda, ta ? K : M, ta ? M : K, s.a.data());
  rows_to_bf16(B, ldb, tb ? N : K, tb ? K : N, s.b.data());
  thread_local dnnl::stream stream(engine());
  dnnl::memory am(m->a, engine(), s.a.data()), bm(m->b, engine(), s.b.data()),
      cm(m->c, engine(), C);
  dnnl::memory pm(dnnl::memory::desc({static_cast<dnnl::memory::dim>(m->scratch_bytes)},
                                     dnnl::memory::data_type::u8, dnnl::memory::dims{1}),
                  engine(), s.pad.data());
  m->prim.execute(
      stream,
      {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}, {DNNL_ARG_SCRATCHPAD, pm}});
  stream.wait();
}

}  // namespace

void to_bf16(const float* src, unsigned short* dst, std::size_t n) {
#if defined(HARPE_HAVE_BF16_CVT)
  if (cpu_has_avx512_bf16()) return to_bf16_avx512(src, dst, n);
#endif
  to_bf16_portable(src, dst, n);
}

void to_bf16_portable(const float* src, unsigned short* dst, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dst[i] = f32_to_bf16(src[i]);
}

Precision gemm_precision() { return g_precision.load(std::memory_order_relaxed); }
void set_gemm_precision(Precision p) { g_precision.store(p, std::memory_order_relaxed); }

void gemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
          const float* B, int ldb, float beta, float* C, int ldc) {
  gemm(gemm_precision(), trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void gemm(Precision p, bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A,
          int lda, const float* B, int ldb, float beta, float* C, int ldc) {
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
  if (p == Precision::bf16) {
    gemm_bf16(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  dnnl_status_t st = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', M, N, K, alpha, A, lda, B,
                                ldb, beta, C, ldc);
  check(st == dnnl_success, "gemm: dnnl_sgemm failed with status ", static_cast<int>(st), " (M=", M,
        " N=", N, " K=", K, ")");
}

double measure_gemm_gflops(Precision p, int n) {
  check(n > 0, "measure_gemm_gflops: n must be positive, got ", n);
  std::size_t nn = static_cast<std::size_t>(n) * n;
  std::vector<float> a(nn), b(nn), c(nn, 0.0f);
  for (std::size_t i = 0; i < nn; ++i) {  // deterministic, non-trivial values
    a[i] = static_cast<float>((i * 37 % 101)) * 0.01f - 0.5f;
    b[i] = static_cast<float>((i * 53 % 97)) * 0.01f - 0.5f;
  }
  gemm(p, false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);  // warm-up
  double best = 1e30;
  for (int rep = 0; rep < 3; ++rep) {
    Timer t;
    gemm(p, false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
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

std::string gemm_isa(Precision p, int M, int N, int K, bool trans_a, bool trans_b) {
  check(M > 0 && N > 0 && K > 0, "gemm_isa: sizes must be positive, got ", M, "x", N, "x", K);
  if (p == Precision::bf16) return matmul_for(Key{trans_a, trans_b, M, N, K, 1.0f, 0.0f, N})->impl;
  const char* isa = "other";
  switch (dnnl_get_effective_cpu_isa()) {
    case dnnl_cpu_isa_avx512_core_amx:
      isa = "avx512_core_amx";
      break;
    case dnnl_cpu_isa_avx512_core_bf16:
      isa = "avx512_core_bf16";
      break;
    case dnnl_cpu_isa_avx512_core_vnni:
      isa = "avx512_core_vnni";
      break;
    case dnnl_cpu_isa_avx512_core:
      isa = "avx512_core";
      break;
    case dnnl_cpu_isa_avx2_vnni:
      isa = "avx2_vnni";
      break;
    case dnnl_cpu_isa_avx2:
      isa = "avx2";
      break;
    default:
      break;
  }
  return std::string("dnnl_sgemm (jit; oneDNN cpu isa ") + isa + ")";
}

}  // namespace harpe::kernels

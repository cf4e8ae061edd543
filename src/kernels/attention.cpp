// Causal attention, forward and backward, tiled with an online softmax (FlashAttention-2 style).
// See docs/attention.md for the algorithm, the tile layouts and the measured speed.
//
// AVX-512 path: 64 x 64 tiles. Every tile product is one of two register-blocked micro-kernels
// (6 rows x 4 vectors of 16 = 24 zmm accumulators), chosen so that the softmax bookkeeping is
// always lane-wise (never a horizontal reduction):
//   ab:  C[m, 0:64] (+)= sum_k A[m, k] * B[k, 0:64]     (A broadcast, B rows loaded)
//   atb: C[m, 0:64] (+)= sum_k A[k, m] * B[k, 0:64]     (A^T broadcast, B rows loaded)
// Forward keeps scores transposed, S^T[key, query], so the row max / row sum of the softmax run
// over the rows of the tile with queries in the lanes. Backward keeps S[query, key] so that
// dV^T and dK^T (keys in the lanes) accumulate in place for a key tile while it sweeps the query
// tiles; dQ goes to a per-thread partial buffer that is summed at the end of each K/V head.
#include "kernels/attention.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "core/buffer.h"
#include "core/error.h"
#include "kernels/attention_internal.h"
#include "kernels/gemm.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace harpe::kernels {
namespace {

std::atomic<std::size_t> g_last_scratch_bytes{0};

// Allocates the scratch of one call and records its size for the memory test.
Buffer<float> scratch_floats(std::size_t n_floats) {
  g_last_scratch_bytes.store(n_floats * sizeof(float));
  return Buffer<float>(n_floats);
}

void check_shape(const AttentionShape& s, const char* who) {
  check(s.B >= 1, who, ": batch B must be >= 1, got ", s.B);
  check(s.T >= 0, who, ": sequence length T must be >= 0, got ", s.T);
  check(s.H >= 1, who, ": query heads H must be >= 1, got ", s.H);
  check(s.KV >= 1 && s.KV <= s.H && s.H % s.KV == 0, who, ": kv heads KV=", s.KV,
        " must divide query heads H=", s.H);
  check(s.D >= 1, who, ": head dim D must be >= 1, got ", s.D);
  check(std::isfinite(s.scale), who, ": scale must be finite");
}

// Threads for a call: one when the work is too small to pay for waking a team (a T = 64 head is
// ~1 MFLOP), never more than there are independent tiles.
int threads_for(const AttentionShape& s, long independent_tasks) {
  const double flops = 2.0 * s.B * s.H * static_cast<double>(s.T) * s.T * s.D;
  if (flops < 4e6) return 1;
  return static_cast<int>(std::max(1L, std::min<long>(omp_get_max_threads(), independent_tasks)));
}

float scale_of(const AttentionShape& s) {
  return s.scale != 0 ? s.scale : 1.0f / std::sqrt(static_cast<float>(s.D));
}

// delta[b, h, t] = sum_d dout[b, t, h, d] * out[b, t, h, d]   (the D of FlashAttention-2)
void row_dot(float* delta, const float* dout, const float* out, const AttentionShape& s) {
  const long rows = static_cast<long>(s.B) * s.T;
#pragma omp parallel for schedule(static) if (rows * s.H * s.D > (1L << 16))
  for (long row = 0; row < rows; ++row) {
    const long b = row / s.T, t = row % s.T;
    for (int h = 0; h < s.H; ++h) {
      const float* a = dout + (row * s.H + h) * s.D;
      const float* o = out + (row * s.H + h) * s.D;
      float acc = 0;
#pragma omp simd reduction(+ : acc)
      for (int d = 0; d < s.D; ++d) acc += a[d] * o[d];
      delta[(b * s.H + h) * s.T + t] = acc;
    }
  }
}

#if defined(__AVX512F__)

constexpr int kTile = 64;  // query rows and key columns of a tile
constexpr int kRows = 6;   // rows of a micro-kernel block

// exp(x) for x <= 88: n = round(x / ln2), r = x - n ln2 (Cody-Waite, |r| <= ln2/2), Taylor
// polynomial of degree 7 in r (truncation < 6e-9 relative), times 2^n by vscalefps. x is clamped
// below at -104 where exp underflows to exactly 0 in float, so -inf (a masked score) gives 0.
inline __m512 exp_ps(__m512 x) {
  // (maskz forms with a full mask: the plain ones trip gcc 12's -Wmaybe-uninitialized)
  constexpr __mmask16 all = 0xFFFF;
  x = _mm512_maskz_max_ps(all, x, _mm512_set1_ps(-104.0f));
  x = _mm512_maskz_min_ps(all, x, _mm512_set1_ps(88.0f));
  const __m512 n =
      _mm512_maskz_roundscale_ps(all, _mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187e-06f), r);
  __m512 p = _mm512_set1_ps(1.0f / 5040);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_maskz_scalef_ps(all, p, n);
}

// Lanes l with l < c set (the causal mask of row/column c on a diagonal tile, 16 lanes from v*16).
inline __mmask16 lanes_below(int c, int v) {
  const int n = std::clamp(c - v * 16, 0, 16);
  return static_cast<__mmask16>((1u << n) - 1u);
}
inline __mmask16 lanes_above(int r, int v) {  // lanes l with v*16 + l > r
  return static_cast<__mmask16>(~lanes_below(r + 1, v));
}

// Calls f.template operator()<n>() for the run-time n in 1..N (nothing for other n): the
// micro-kernels take their row and vector counts as template arguments. Always inlined, so that
// in a caller with the bf16 target attribute the kernel is inlined too.
template <int N, typename F>
[[gnu::always_inline]] inline void with_count(int n, F&& f) {
  if constexpr (N >= 1) {
    if (n == N)
      f.template operator()<N>();
    else
      with_count<N - 1>(n, f);
  }
}

// C[0:M, 0:16*NV] (+)= A[0:M, 0:K] B[0:K, 0:16*NV]; the last vector of B and C uses `tail`.
template <int M, int NV>
inline void ab_block(int K, const float* A, long lda, const float* B, long ldb, float* C, long ldc,
                     __mmask16 tail, bool accumulate) {
  __m512 c[M][NV];
#pragma GCC unroll 8
  for (int i = 0; i < M; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v)
      c[i][v] = accumulate
                    ? _mm512_maskz_loadu_ps(v == NV - 1 ? tail : 0xFFFF, C + i * ldc + v * 16)
                    : _mm512_setzero_ps();
  for (int k = 0; k < K; ++k) {
    __m512 b[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v)
      b[v] = v == NV - 1 ? _mm512_maskz_loadu_ps(tail, B + k * ldb + v * 16)
                         : _mm512_loadu_ps(B + k * ldb + v * 16);
#pragma GCC unroll 8
    for (int i = 0; i < M; ++i) {
      const __m512 a = _mm512_set1_ps(A[i * lda + k]);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) c[i][v] = _mm512_fmadd_ps(a, b[v], c[i][v]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < M; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v)
      _mm512_mask_storeu_ps(C + i * ldc + v * 16, v == NV - 1 ? tail : 0xFFFF, c[i][v]);
}

template <int NV>
void ab_rows(int M, int K, const float* A, long lda, const float* B, long ldb, float* C, long ldc,
             __mmask16 tail, bool accumulate) {
  int m = 0;
  for (; m + kRows <= M; m += kRows)
    ab_block<kRows, NV>(K, A + m * lda, lda, B, ldb, C + m * ldc, ldc, tail, accumulate);
  const float* a = A + m * lda;
  float* c = C + m * ldc;
  with_count<kRows - 1>(
      M - m, [&]<int R>() { ab_block<R, NV>(K, a, lda, B, ldb, c, ldc, tail, accumulate); });
}

// C[0:M, 0:N] (+)= A[0:M, 0:K] B[0:K, 0:N] for any N (in column chunks of 64).
void ab(int M, int N, int K, const float* A, long lda, const float* B, long ldb, float* C, long ldc,
        bool accumulate) {
  for (int n0 = 0; n0 < N; n0 += kTile) {
    const int n = std::min(kTile, N - n0);
    const int nv = (n + 15) / 16;
    const __mmask16 tail = n % 16 ? static_cast<__mmask16>((1u << (n % 16)) - 1u) : 0xFFFF;
    const float* b = B + n0;
    float* c = C + n0;
    with_count<kTile / 16>(
        nv, [&]<int NV>() { ab_rows<NV>(M, K, A, lda, b, ldb, c, ldc, tail, accumulate); });
  }
}

// C[0:M, 0:64] = C * colscale + A[0:K, 0:M]^T B[0:K, 0:64]   (colscale null: no rescaling)
template <int M>
inline void atb_block(int K, const float* A, long lda, const float* B, float* C,
                      const float* colscale) {
  __m512 c[M][4];
#pragma GCC unroll 8
  for (int i = 0; i < M; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < 4; ++v) {
      c[i][v] = _mm512_loadu_ps(C + i * kTile + v * 16);
      if (colscale) c[i][v] = _mm512_mul_ps(c[i][v], _mm512_loadu_ps(colscale + v * 16));
    }
  for (int k = 0; k < K; ++k) {
    __m512 b[4];
#pragma GCC unroll 8
    for (int v = 0; v < 4; ++v) b[v] = _mm512_loadu_ps(B + k * kTile + v * 16);
#pragma GCC unroll 8
    for (int i = 0; i < M; ++i) {
      const __m512 a = _mm512_set1_ps(A[k * lda + i]);
#pragma GCC unroll 8
      for (int v = 0; v < 4; ++v) c[i][v] = _mm512_fmadd_ps(a, b[v], c[i][v]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < M; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < 4; ++v) _mm512_storeu_ps(C + i * kTile + v * 16, c[i][v]);
}

// B and C are 64-wide tile buffers (row stride kTile).
void atb(int M, int K, const float* A, long lda, const float* B, float* C, const float* colscale) {
  int m = 0;
  for (; m + kRows <= M; m += kRows) atb_block<kRows>(K, A + m, lda, B, C + m * kTile, colscale);
  const float* a = A + m;
  float* c = C + m * kTile;
  with_count<kRows - 1>(M - m, [&]<int R>() { atb_block<R>(K, a, lda, B, c, colscale); });
}

// Online softmax of one forward tile S^T[key c][query lane] (nc keys): masks the diagonal tile
// (query lanes r < c), updates the running max m and sum l, overwrites S^T with P^T and leaves
// in alpha the factor the O^T accumulator is rescaled by.
inline void forward_softmax_tile(float* st, int nc, bool diagonal, float* mrow, float* lrow,
                                 float* alpha) {
  for (int vv = 0; vv < 4; ++vv) {
    __m512 mx = _mm512_loadu_ps(mrow + vv * 16);
    for (int c = 0; c < nc; ++c) {
      __m512 x = _mm512_loadu_ps(st + c * kTile + vv * 16);
      if (diagonal) {
        x = _mm512_mask_mov_ps(x, lanes_below(c, vv),
                               _mm512_set1_ps(-std::numeric_limits<float>::infinity()));
        _mm512_storeu_ps(st + c * kTile + vv * 16, x);
      }
      mx = _mm512_maskz_max_ps(0xFFFF, mx, x);
    }
    const __m512 mold = _mm512_loadu_ps(mrow + vv * 16);
    const __m512 a = exp_ps(_mm512_sub_ps(mold, mx));
    __m512 sum = _mm512_setzero_ps();
    for (int c = 0; c < nc; ++c) {
      float* p = st + c * kTile + vv * 16;
      const __m512 e = exp_ps(_mm512_sub_ps(_mm512_loadu_ps(p), mx));
      _mm512_storeu_ps(p, e);
      sum = _mm512_add_ps(sum, e);
    }
    _mm512_storeu_ps(mrow + vv * 16, mx);
    _mm512_storeu_ps(alpha + vv * 16, a);
    _mm512_storeu_ps(lrow + vv * 16, _mm512_fmadd_ps(_mm512_loadu_ps(lrow + vv * 16), a, sum));
  }
}

// Backward of one tile S[query r][key lane] (nr queries): P = exp(S - L) with the diagonal tile
// masked (key lanes c > r), dS = P (dP - delta); p holds S in and P out, ds holds dP in and dS
// out. lrow / drow: L and delta of the tile's first query.
inline void backward_softmax_tile(float* p, float* ds, int nr, bool diagonal, const float* lrow,
                                  const float* drow) {
  for (int r = 0; r < nr; ++r) {
    const __m512 L = _mm512_set1_ps(lrow[r]);
    const __m512 Dr = _mm512_set1_ps(drow[r]);
    for (int vv = 0; vv < 4; ++vv) {
      __m512 x = _mm512_sub_ps(_mm512_loadu_ps(p + r * kTile + vv * 16), L);
      if (diagonal)
        x = _mm512_mask_mov_ps(x, lanes_above(r, vv),
                               _mm512_set1_ps(-std::numeric_limits<float>::infinity()));
      const __m512 pr = exp_ps(x);
      _mm512_storeu_ps(p + r * kTile + vv * 16, pr);
      float* dsp = ds + r * kTile + vv * 16;
      _mm512_storeu_ps(dsp, _mm512_mul_ps(pr, _mm512_sub_ps(_mm512_loadu_ps(dsp), Dr)));
    }
  }
}

// Scratch of one forward thread: Q^T tile (scaled), O^T accumulator, S^T tile, m, l, alpha.
std::size_t forward_thread_floats(int D) {
  return 2 * static_cast<std::size_t>(D) * kTile + kTile * kTile + 3 * kTile;
}

void forward_tiled(float* out, float* lse, const float* q, const float* k, const float* v,
                   const AttentionShape& s) {
  const int T = s.T, H = s.H, D = s.D, G = s.H / s.KV;
  const long ldq = static_cast<long>(H) * D, ldk = static_cast<long>(s.KV) * D;
  const float scale = scale_of(s);
  const int nt = (T + kTile - 1) / kTile;
  const long heads = static_cast<long>(s.B) * H;
  const long ntasks = heads * nt;
  const int nthreads = threads_for(s, ntasks);
  const std::size_t per_thread = forward_thread_floats(D);
  Buffer<float> scratch = scratch_floats(per_thread * nthreads);

#pragma omp parallel num_threads(nthreads)
  {
    float* qt = scratch.data() + per_thread * omp_get_thread_num();  // [D][64]
    float* ot = qt + static_cast<std::size_t>(D) * kTile;            // [D][64]
    float* st = ot + static_cast<std::size_t>(D) * kTile;            // [64 keys][64 queries]
    float* mrow = st + kTile * kTile;
    float* lrow = mrow + kTile;
    float* alpha = lrow + kTile;

    // Largest query tiles (most key tiles to sweep) first, for the dynamic schedule.
#pragma omp for schedule(dynamic, 1)
    for (long task = 0; task < ntasks; ++task) {
      const int i = nt - 1 - static_cast<int>(task / heads);
      const long bh = task % heads;
      const long b = bh / H;
      const int h = static_cast<int>(bh % H), kvh = h / G;
      const int r0 = i * kTile, nr = std::min(kTile, T - r0);
      const float* qi = q + (b * T + r0) * ldq + static_cast<long>(h) * D;
      const float* kb = k + b * T * ldk + static_cast<long>(kvh) * D;
      const float* vb = v + b * T * ldk + static_cast<long>(kvh) * D;

      for (int d = 0; d < D; ++d)
        for (int r = 0; r < kTile; ++r) qt[d * kTile + r] = r < nr ? qi[r * ldq + d] * scale : 0.0f;
      std::fill(ot, ot + static_cast<std::size_t>(D) * kTile, 0.0f);
      std::fill(mrow, mrow + kTile, -std::numeric_limits<float>::infinity());
      std::fill(lrow, lrow + kTile, 0.0f);

      for (int j = 0; j <= i; ++j) {
        const int c0 = j * kTile, nc = std::min(kTile, T - c0);
        ab(nc, kTile, D, kb + c0 * ldk, ldk, qt, kTile, st, kTile, false);  // S^T = K Q^T
        forward_softmax_tile(st, nc, j == i, mrow, lrow, alpha);            // j == i: c0 == r0
        atb(D, nc, vb + c0 * ldk, ldk, st, ot, alpha);  // O^T = O^T alpha + V^T P^T
      }

      float* oi = out + (b * T + r0) * ldq + static_cast<long>(h) * D;
      float* li = lse + bh * T + r0;
      for (int r = 0; r < nr; ++r) {
        const float inv = 1.0f / lrow[r];
        for (int d = 0; d < D; ++d) oi[r * ldq + d] = ot[d * kTile + r] * inv;
        li[r] = mrow[r] + std::log(lrow[r]);
      }
    }
  }
}

// ---- bf16 tiles ----------------------------------------------------------------------------
// When gemm_precision() is bf16 and the CPU has AVX512_BF16, every tile product multiplies bf16
// operands (rounded to nearest even) with vdpbf16ps, accumulating in fp32; the softmax (max, exp,
// row sums, log-sum-exp, rescaling) stays fp32. vdpbf16ps adds to each fp32 lane the two products
// of a pair of bf16 values, so both operands are packed in pairs along the contraction:
//   A: row-major with the contraction contiguous (one pair = one 32-bit broadcast),
//   B: [pair p][n][2], a pair-interleaved tile (pack_pairs), 16 lanes = one zmm.
// Whole-tensor operands (K, and in the backward Q, dO and their transposes) are converted once per
// call, tile operands (P, dS, Q^T, K^T, V^T tiles) once per tile, so the conversion is amortised
// over the tile's products. On CPUs without AVX512_BF16 (and for D not a multiple of 16) bf16
// precision runs the fp32 tiles.
#define HARPE_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

bool bf16_tiles(const AttentionShape& s) {
  return gemm_precision() == Precision::bf16 && s.D % 16 == 0 && cpu_has_avx512_bf16();
}

inline int32_t bf16_pair(const uint16_t* p) {
  int32_t x;
  std::memcpy(&x, p, sizeof x);
  return x;
}

// C[0:M, 0:16*NV] = (accumulate ? C (* colscale) : 0) + sum_p A[i, 2p:2p+2] . Bp[p, 0:16*NV, :]
template <int M, int NV>
HARPE_BF16_TARGET inline void ab_bf16_block(int KP, const uint16_t* A, long lda, const uint16_t* Bp,
                                            long ldb, float* C, long ldc, bool accumulate,
                                            const float* colscale) {
  __m512 c[M][NV];
#pragma GCC unroll 8
  for (int i = 0; i < M; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      c[i][v] = accumulate ? _mm512_loadu_ps(C + i * ldc + v * 16) : _mm512_setzero_ps();
      if (colscale) c[i][v] = _mm512_mul_ps(c[i][v], _mm512_loadu_ps(colscale + v * 16));
    }
  for (int p = 0; p < KP; ++p) {
    __m512bh b[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) b[v] = (__m512bh)_mm512_loadu_si512(Bp + p * ldb + v * 32);
#pragma GCC unroll 8
    for (int i = 0; i < M; ++i) {
      const __m512bh a = (__m512bh)_mm512_set1_epi32(bf16_pair(A + i * lda + 2 * p));
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) c[i][v] = _mm512_dpbf16_ps(c[i][v], a, b[v]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < M; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) _mm512_storeu_ps(C + i * ldc + v * 16, c[i][v]);
}

template <int NV>
HARPE_BF16_TARGET void ab_bf16_rows(int M, int KP, const uint16_t* A, long lda, const uint16_t* Bp,
                                    long ldb, float* C, long ldc, bool accumulate,
                                    const float* colscale) {
  int m = 0;
  for (; m + kRows <= M; m += kRows)
    ab_bf16_block<kRows, NV>(KP, A + m * lda, lda, Bp, ldb, C + m * ldc, ldc, accumulate, colscale);
  const uint16_t* a = A + m * lda;
  float* c = C + m * ldc;
  with_count<kRows - 1>(M - m, [&]<int R>() HARPE_BF16_TARGET {
    ab_bf16_block<R, NV>(KP, a, lda, Bp, ldb, c, ldc, accumulate, colscale);
  });
}

// C[0:M, 0:N] (+)= A[0:M, 0:2 KP] Bp (bf16, see above), N a multiple of 16, in chunks of 64
// columns; Bp has ldb bf16 per pair row (2 N for a compact tile). colscale: as in atb.
HARPE_BF16_TARGET void ab_bf16(int M, int N, int KP, const uint16_t* A, long lda,
                               const uint16_t* Bp, long ldb, float* C, long ldc, bool accumulate,
                               const float* colscale) {
  for (int n0 = 0; n0 < N; n0 += kTile) {
    const uint16_t* b = Bp + 2 * n0;
    float* c = C + n0;
    const float* cs = colscale ? colscale + n0 : nullptr;
    with_count<kTile / 16>(std::min(kTile, N - n0) / 16, [&]<int NV>() HARPE_BF16_TARGET {
      ab_bf16_rows<NV>(M, KP, A, lda, b, ldb, c, ldc, accumulate, cs);
    });
  }
}

// dst[p][0:n][2] = bf16(rows 2p and 2p+1 of src[0:rows][0:n]) for p < pairs, rows at or past
// `rows` as zeros; n a multiple of 16. (vpermt2ps interleaves two rows, vcvtne2ps2bf16 rounds.)
HARPE_BF16_TARGET void pack_pairs(const float* src, long ld, int rows, int pairs, int n,
                                  uint16_t* dst) {
  alignas(64) static constexpr int kLo[16] = {0, 16, 1, 17, 2, 18, 3, 19,
                                              4, 20, 5, 21, 6, 22, 7, 23};
  alignas(64) static constexpr int kHi[16] = {8,  24, 9,  25, 10, 26, 11, 27,
                                              12, 28, 13, 29, 14, 30, 15, 31};
  const __m512i lo = _mm512_load_si512(kLo), hi = _mm512_load_si512(kHi);
  for (int p = 0; p < pairs; ++p) {
    const float* r0 = 2 * p < rows ? src + 2 * p * ld : nullptr;
    const float* r1 = 2 * p + 1 < rows ? src + (2 * p + 1) * ld : nullptr;
    uint16_t* d = dst + static_cast<std::size_t>(p) * 2 * n;
    for (int x = 0; x < n; x += 16) {
      const __m512 a = r0 ? _mm512_loadu_ps(r0 + x) : _mm512_setzero_ps();
      const __m512 b = r1 ? _mm512_loadu_ps(r1 + x) : _mm512_setzero_ps();
      const __m512 first = _mm512_permutex2var_ps(a, lo, b);
      const __m512 second = _mm512_permutex2var_ps(a, hi, b);
      _mm512_storeu_si512(d + 2 * x, (__m512i)_mm512_cvtne2ps_pbh(second, first));
    }
  }
}

// dst (rows x ld_dst bf16) = bf16 of rows x cols of src (leading dimension ld), over threads.
void rows_bf16(const float* src, long ld, long rows, int cols, uint16_t* dst, long ld_dst) {
#pragma omp parallel for schedule(static) if (rows * cols > (1L << 16))
  for (long r = 0; r < rows; ++r) to_bf16(src + r * ld, dst + r * ld_dst, cols);
}

// dst[b][head][d][0:Tp] = bf16(src[b][t][head][d]) (t < T, zeros up to Tp): the transposed
// operand whose pairs run along t.
void transposed_bf16(const float* src, const AttentionShape& s, int heads, int Tp, uint16_t* dst) {
  const long rows = static_cast<long>(s.B) * heads * s.D, ld = static_cast<long>(heads) * s.D;
#pragma omp parallel if (rows * Tp > (1L << 16))
  {
    std::vector<float> col(Tp, 0.0f);
#pragma omp for schedule(static)
    for (long row = 0; row < rows; ++row) {
      const long b = row / (static_cast<long>(heads) * s.D),
                 hd = row % (static_cast<long>(heads) * s.D);
      const float* x = src + b * s.T * ld + hd;
      for (int t = 0; t < s.T; ++t) col[t] = x[t * ld];
      to_bf16(col.data(), dst + row * Tp, Tp);
    }
  }
}

HARPE_BF16_TARGET void forward_tiled_bf16(float* out, float* lse, const float* q, const float* k,
                                          const float* v, const AttentionShape& s) {
  const int T = s.T, H = s.H, D = s.D, G = s.H / s.KV;
  const long ldq = static_cast<long>(H) * D, ldk = static_cast<long>(s.KV) * D;
  const float scale = scale_of(s);
  const int nt = (T + kTile - 1) / kTile, Tp = nt * kTile;
  const long heads = static_cast<long>(s.B) * H;
  const long ntasks = heads * nt;
  const int nthreads = threads_for(s, ntasks);
  const std::size_t per_thread = forward_thread_floats(D);
  Buffer<float> scratch = scratch_floats(per_thread * nthreads);
  // K rows [B][T][KV][D] and V^T [B][KV][D][Tp] in bf16; per thread the packed Q^T and P^T tiles.
  const std::size_t k_n = static_cast<std::size_t>(s.B) * T * ldk;
  const std::size_t per_thread16 = static_cast<std::size_t>(D) * kTile + kTile * kTile;
  const std::size_t vt_n = static_cast<std::size_t>(s.B) * s.KV * D * Tp;
  Buffer<uint16_t> b16(k_n + vt_n + per_thread16 * nthreads);
  uint16_t* k16 = b16.data();
  uint16_t* vt16 = k16 + k_n;
  uint16_t* tiles16 = vt16 + vt_n;
  rows_bf16(k, ldk, static_cast<long>(s.B) * T, static_cast<int>(ldk), k16, ldk);
  transposed_bf16(v, s, s.KV, Tp, vt16);

#pragma omp parallel num_threads(nthreads)
  {
    float* qt = scratch.data() + per_thread * omp_get_thread_num();  // [D][64]
    float* ot = qt + static_cast<std::size_t>(D) * kTile;            // [D][64]
    float* st = ot + static_cast<std::size_t>(D) * kTile;            // [64 keys][64 queries]
    float* mrow = st + kTile * kTile;
    float* lrow = mrow + kTile;
    float* alpha = lrow + kTile;
    uint16_t* qp = tiles16 + per_thread16 * omp_get_thread_num();  // [D/2][64][2]
    uint16_t* pp = qp + static_cast<std::size_t>(D) * kTile;       // [32][64][2]

#pragma omp for schedule(dynamic, 1)
    for (long task = 0; task < ntasks; ++task) {
      const int i = nt - 1 - static_cast<int>(task / heads);
      const long bh = task % heads;
      const long b = bh / H;
      const int h = static_cast<int>(bh % H), kvh = h / G;
      const int r0 = i * kTile, nr = std::min(kTile, T - r0);
      const float* qi = q + (b * T + r0) * ldq + static_cast<long>(h) * D;
      const uint16_t* kb = k16 + b * T * ldk + static_cast<long>(kvh) * D;
      const uint16_t* vtb = vt16 + (b * s.KV + kvh) * static_cast<long>(D) * Tp;

      for (int d = 0; d < D; ++d)
        for (int r = 0; r < kTile; ++r) qt[d * kTile + r] = r < nr ? qi[r * ldq + d] * scale : 0.0f;
      pack_pairs(qt, kTile, D, D / 2, kTile, qp);
      std::fill(ot, ot + static_cast<std::size_t>(D) * kTile, 0.0f);
      std::fill(mrow, mrow + kTile, -std::numeric_limits<float>::infinity());
      std::fill(lrow, lrow + kTile, 0.0f);

      for (int j = 0; j <= i; ++j) {
        const int c0 = j * kTile, nc = std::min(kTile, T - c0), ncp = (nc + 1) / 2;
        ab_bf16(nc, kTile, D / 2, kb + c0 * ldk, ldk, qp, 2 * kTile, st, kTile, false,
                nullptr);  // S^T = K Q^T
        forward_softmax_tile(st, nc, j == i, mrow, lrow, alpha);
        pack_pairs(st, kTile, nc, ncp, kTile, pp);
        ab_bf16(D, kTile, ncp, vtb + c0, Tp, pp, 2 * kTile, ot, kTile, true,
                alpha);  // O^T = O^T alpha + V^T P^T
      }

      float* oi = out + (b * T + r0) * ldq + static_cast<long>(h) * D;
      float* li = lse + bh * T + r0;
      for (int r = 0; r < nr; ++r) {
        const float inv = 1.0f / lrow[r];
        for (int d = 0; d < D; ++d) oi[r * ldq + d] = ot[d * kTile + r] * inv;
        li[r] = mrow[r] + std::log(lrow[r]);
      }
    }
  }
}

// Scratch of one backward thread: K^T and V^T tiles, dK^T and dV^T accumulators, P and dS tiles,
// and (when key tiles of one head are split over threads) a partial dQ for the query heads of
// one K/V head, [G][T][D].
std::size_t backward_tile_floats(int D) {
  return 4 * static_cast<std::size_t>(D) * kTile + 2 * kTile * kTile;
}
std::size_t backward_thread_floats(int T, int D, int G, bool partial_dq) {
  return backward_tile_floats(D) + (partial_dq ? static_cast<std::size_t>(G) * T * D : 0);
}

// bf16 operands of a backward call (see "bf16 tiles"): Q and dO rows as q/dout, their transposes
// [B][H][D][Tp], and per thread `per_thread` bf16 of tile scratch.
struct BackwardBf16 {
  const uint16_t *q, *dout, *qt, *doutt;
  uint16_t* tiles;
  std::size_t per_thread;
  int Tp;
};
std::size_t backward_bf16_tile_elems(int D) {
  return 3 * static_cast<std::size_t>(D) * kTile + 3 * kTile * kTile;
}

struct BackwardArgs {
  float *dk, *dv;
  const float *dout, *q, *k, *v, *lse, *delta;
  int T, H, KV, D, G, nt;
  long ldq, ldk;
  float scale;
  const BackwardBf16* bf16;  // null: fp32 tiles
};

// The query sweep of backward_key_tile in bf16: kt, vt (fp32 [D][64]) are packed once for the
// sweep; dkt, dvt, p and ds are its fp32 accumulators and tiles.
template <typename DqHead>
HARPE_BF16_TARGET void backward_sweep_bf16(const BackwardArgs& a, long b, int kvh, int j,
                                           const float* kt, const float* vt, float* dkt, float* dvt,
                                           float* p, float* ds, DqHead dq_g, long ld_dq) {
  const int T = a.T, D = a.D, Tp = a.bf16->Tp;
  const long ldq = a.ldq, ldk = a.ldk;
  const int c0 = j * kTile, nc = std::min(kTile, T - c0), ncp = (nc + 1) / 2;
  uint16_t* ktp = a.bf16->tiles + a.bf16->per_thread * omp_get_thread_num();  // [D/2][64][2]
  uint16_t* vtp = ktp + static_cast<std::size_t>(D) * kTile;                  // [D/2][64][2]
  uint16_t* kp = vtp + static_cast<std::size_t>(D) * kTile;                   // [32][D][2]
  uint16_t* pp = kp + static_cast<std::size_t>(D) * kTile;                    // [32][64][2]
  uint16_t* dsp = pp + kTile * kTile;                                         // [32][64][2]
  uint16_t* ds16 = dsp + kTile * kTile;                                       // [64][64]
  pack_pairs(kt, kTile, D, D / 2, kTile, ktp);
  pack_pairs(vt, kTile, D, D / 2, kTile, vtp);
  pack_pairs(a.k + (b * T + c0) * ldk + static_cast<long>(kvh) * D, ldk, nc, ncp, D, kp);
  for (int g = 0; g < a.G; ++g) {
    const int h = kvh * a.G + g;
    const float* lrow = a.lse + (b * a.H + h) * T;
    const float* drow = a.delta + (b * a.H + h) * T;
    const uint16_t* qth = a.bf16->qt + (b * a.H + h) * static_cast<long>(D) * Tp;
    const uint16_t* doth = a.bf16->doutt + (b * a.H + h) * static_cast<long>(D) * Tp;
    float* dqh = dq_g(g);
    for (int i = j; i < a.nt; ++i) {
      const int r0 = i * kTile, nr = std::min(kTile, T - r0), nrp = (nr + 1) / 2;
      const long row = (b * T + r0) * ldq + static_cast<long>(h) * D;
      ab_bf16(nr, kTile, D / 2, a.bf16->q + row, ldq, ktp, 2 * kTile, p, kTile, false,
              nullptr);  // S = Q K^T scale
      ab_bf16(nr, kTile, D / 2, a.bf16->dout + row, ldq, vtp, 2 * kTile, ds, kTile, false,
              nullptr);                                                // dP = dO V^T
      backward_softmax_tile(p, ds, nr, i == j, lrow + r0, drow + r0);  // i == j: r0 == c0
      pack_pairs(p, kTile, nr, nrp, kTile, pp);
      pack_pairs(ds, kTile, nr, nrp, kTile, dsp);
      to_bf16(ds, ds16, static_cast<std::size_t>(nr) * kTile);
      ab_bf16(D, kTile, nrp, doth + r0, Tp, pp, 2 * kTile, dvt, kTile, true,
              nullptr);  // dV^T += dO^T P
      ab_bf16(D, kTile, nrp, qth + r0, Tp, dsp, 2 * kTile, dkt, kTile, true,
              nullptr);  // dK^T += Q^T dS
      ab_bf16(nr, D, ncp, ds16, kTile, kp, 2L * D, dqh + r0 * ld_dq, ld_dq, true,
              nullptr);  // dQ += dS K
    }
  }
}

// Key tile j of K/V head kvh in batch b: dK_j, dV_j (written) and dQ += dS K_j (unscaled) into
// dq_g(g) + r * ld_dq for query head kvh * G + g and query row r.
template <typename DqHead>
void backward_key_tile(const BackwardArgs& a, long b, int kvh, int j, float* tiles, DqHead dq_g,
                       long ld_dq) {
  const int T = a.T, D = a.D;
  const long ldq = a.ldq, ldk = a.ldk;
  const std::size_t dtile = static_cast<std::size_t>(D) * kTile;
  float* kt = tiles;              // [D][64], scaled
  float* vt = kt + dtile;         // [D][64]
  float* dkt = vt + dtile;        // [D][64]
  float* dvt = dkt + dtile;       // [D][64]
  float* p = dvt + dtile;         // [64 q][64 k]
  float* ds = p + kTile * kTile;  // [64 q][64 k]
  const float* kb = a.k + b * T * ldk + static_cast<long>(kvh) * D;
  const float* vb = a.v + b * T * ldk + static_cast<long>(kvh) * D;
  const int c0 = j * kTile, nc = std::min(kTile, T - c0);
  for (int d = 0; d < D; ++d)
    for (int c = 0; c < kTile; ++c) {
      kt[d * kTile + c] = c < nc ? kb[(c0 + c) * ldk + d] * a.scale : 0.0f;
      vt[d * kTile + c] = c < nc ? vb[(c0 + c) * ldk + d] : 0.0f;
    }
  std::fill(dkt, dkt + 2 * dtile, 0.0f);  // dK^T and dV^T

  if (a.bf16)
    backward_sweep_bf16(a, b, kvh, j, kt, vt, dkt, dvt, p, ds, dq_g, ld_dq);
  else
    for (int g = 0; g < a.G; ++g) {
      const int h = kvh * a.G + g;
      const float* lrow = a.lse + (b * a.H + h) * T;
      const float* drow = a.delta + (b * a.H + h) * T;
      float* dqh = dq_g(g);
      for (int i = j; i < a.nt; ++i) {
        const int r0 = i * kTile, nr = std::min(kTile, T - r0);
        const float* qi = a.q + (b * T + r0) * ldq + static_cast<long>(h) * D;
        const float* doi = a.dout + (b * T + r0) * ldq + static_cast<long>(h) * D;
        ab(nr, kTile, D, qi, ldq, kt, kTile, p, kTile, false);           // S = Q K^T scale
        ab(nr, kTile, D, doi, ldq, vt, kTile, ds, kTile, false);         // dP = dO V^T
        backward_softmax_tile(p, ds, nr, i == j, lrow + r0, drow + r0);  // i == j: r0 == c0
        atb(D, nr, doi, ldq, p, dvt, nullptr);                           // dV^T += dO^T P
        atb(D, nr, qi, ldq, ds, dkt, nullptr);                           // dK^T += Q^T dS
        ab(nr, D, nc, ds, kTile, kb + c0 * ldk, ldk, dqh + r0 * ld_dq, ld_dq, true);  // dQ += dS K
      }
    }
  float* dkj = a.dk + (b * T + c0) * ldk + static_cast<long>(kvh) * D;
  float* dvj = a.dv + (b * T + c0) * ldk + static_cast<long>(kvh) * D;
  for (int c = 0; c < nc; ++c)
    for (int d = 0; d < D; ++d) {
      dkj[c * ldk + d] = dkt[d * kTile + c] * a.scale;
      dvj[c * ldk + d] = dvt[d * kTile + c];
    }
}

// Two schedules. With at least two (batch, K/V head) pairs per thread (or an exact multiple),
// each thread owns whole K/V heads: dQ of the group is accumulated in place, no partials and a
// single barrier. Otherwise the key tiles of one head are shared out and each thread sums dQ
// into its own partial, reduced at the end of that head.
bool backward_heads_parallel(const AttentionShape& s, int nthreads) {
  const long pairs = static_cast<long>(s.B) * s.KV;
  return nthreads == 1 || pairs % nthreads == 0 || pairs >= 4L * nthreads;
}

void backward_tiled(float* dq, const BackwardArgs& a, long B, float* scratch_base, int nthreads,
                    bool heads_parallel) {
  const int T = a.T, D = a.D, G = a.G;
  const long ldq = a.ldq;
  const std::size_t per_thread = backward_thread_floats(T, D, G, !heads_parallel);

  if (heads_parallel) {
    const long pairs = B * a.KV;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads)
    for (long pair = 0; pair < pairs; ++pair) {
      const long b = pair / a.KV;
      const int kvh = static_cast<int>(pair % a.KV);
      float* tiles = scratch_base + per_thread * omp_get_thread_num();
      float* dq0 = dq + b * T * ldq + static_cast<long>(kvh) * G * D;  // head kvh*G, row 0
      for (int t = 0; t < T; ++t) std::fill(dq0 + t * ldq, dq0 + t * ldq + G * D, 0.0f);
      for (int j = 0; j < a.nt; ++j)
        backward_key_tile(
            a, b, kvh, j, tiles, [&](int g) { return dq0 + g * D; }, ldq);
      for (int t = 0; t < T; ++t)
        for (int e = 0; e < G * D; ++e) dq0[t * ldq + e] *= a.scale;
    }
    return;
  }

  const std::size_t dq_floats = static_cast<std::size_t>(G) * T * D;
  for (long b = 0; b < B; ++b) {
    for (int kvh = 0; kvh < a.KV; ++kvh) {
#pragma omp parallel num_threads(nthreads)
      {
        float* tiles = scratch_base + per_thread * omp_get_thread_num();
        float* dqp = tiles + backward_tile_floats(D);  // [G][T][D]
        std::fill(dqp, dqp + dq_floats, 0.0f);
        // Key tile 0 sweeps the most query tiles: ascending j is largest first.
#pragma omp for schedule(dynamic, 1)
        for (int j = 0; j < a.nt; ++j)
          backward_key_tile(
              a, b, kvh, j, tiles, [&](int g) { return dqp + static_cast<std::size_t>(g) * T * D; },
              D);
          // (implicit barrier) dq = scale * sum over threads of the partials
#pragma omp for schedule(static)
        for (int t = 0; t < T; ++t)
          for (int g = 0; g < G; ++g) {
            float* dst = dq + (b * T + t) * ldq + static_cast<long>(kvh * G + g) * D;
            const std::size_t off = (static_cast<std::size_t>(g) * T + t) * D;
            for (int d = 0; d < D; ++d) {
              float acc = 0;
              for (int th = 0; th < nthreads; ++th)
                acc += scratch_base[per_thread * th + backward_tile_floats(D) + off + d];
              dst[d] = acc * a.scale;
            }
          }
      }
    }
  }
}

#endif  // __AVX512F__

}  // namespace

namespace attention_detail {

bool vectorised() {
#if defined(__AVX512F__)
  return true;
#else
  return false;
#endif
}

void exp_approx(const float* x, float* y, int n) {
#if defined(__AVX512F__)
  int i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, exp_ps(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1u);
    _mm512_mask_storeu_ps(y + i, m, exp_ps(_mm512_maskz_loadu_ps(m, x + i)));
  }
#else
  for (int i = 0; i < n; ++i) y[i] = std::exp(x[i]);
#endif
}

std::size_t last_scratch_bytes() { return g_last_scratch_bytes.load(); }

bool bf16_active(const AttentionShape& s) {
#if defined(__AVX512F__)
  return bf16_tiles(s);
#else
  (void)s;
  return false;
#endif
}

double flops_forward(const AttentionShape& s) {
  return 2.0 * s.B * s.H * static_cast<double>(s.T) * s.T * s.D;  // 2 matmuls, causal half
}
double flops_forward_backward(const AttentionShape& s) {
  return 7.0 * s.B * s.H * static_cast<double>(s.T) * s.T * s.D;  // 7 matmuls, causal half
}

// Untiled: each query row in two passes over its keys (max, then exp-sum and P V).
void forward_generic(float* out, float* lse, const float* q, const float* k, const float* v,
                     const AttentionShape& s) {
  check_shape(s, "attention_forward");
  const int T = s.T, H = s.H, D = s.D, G = s.H / s.KV;
  const long ldq = static_cast<long>(H) * D, ldk = static_cast<long>(s.KV) * D;
  const float scale = scale_of(s);
  const long rows = static_cast<long>(s.B) * H * T;
  const int nthreads = threads_for(s, rows);
  Buffer<float> scratch = scratch_floats(static_cast<std::size_t>(nthreads) * (T + D));
#pragma omp parallel for schedule(dynamic, 16) num_threads(nthreads)
  for (long row = 0; row < rows; ++row) {
    const long b = row / (static_cast<long>(H) * T);
    const int h = static_cast<int>(row / T % H), t = static_cast<int>(row % T);
    float* sc = scratch.data() + static_cast<std::size_t>(omp_get_thread_num()) * (T + D);
    float* acc = sc + T;
    const float* qr = q + (b * T + t) * ldq + static_cast<long>(h) * D;
    const float* kb = k + b * T * ldk + static_cast<long>(h / G) * D;
    const float* vb = v + b * T * ldk + static_cast<long>(h / G) * D;
    float m = -std::numeric_limits<float>::infinity();
    for (int c = 0; c <= t; ++c) {
      float dot = 0;
      for (int d = 0; d < D; ++d) dot += qr[d] * kb[c * ldk + d];
      sc[c] = dot * scale;
      m = std::max(m, sc[c]);
    }
    float l = 0;
    std::fill(acc, acc + D, 0.0f);
    for (int c = 0; c <= t; ++c) {
      const float pc = std::exp(sc[c] - m);
      l += pc;
      for (int d = 0; d < D; ++d) acc[d] += pc * vb[c * ldk + d];
    }
    float* orow = out + (b * T + t) * ldq + static_cast<long>(h) * D;
    for (int d = 0; d < D; ++d) orow[d] = acc[d] / l;
    lse[(b * H + h) * T + t] = m + std::log(l);
  }
}

// Untiled: one thread per (batch, K/V head) owns dK/dV of that head and dQ of its group.
void backward_generic(float* dq, float* dk, float* dv, const float* dout, const float* q,
                      const float* k, const float* v, const float* out, const float* lse,
                      const AttentionShape& s) {
  check_shape(s, "attention_backward");
  const int T = s.T, H = s.H, D = s.D, G = s.H / s.KV;
  const long ldq = static_cast<long>(H) * D, ldk = static_cast<long>(s.KV) * D;
  const float scale = scale_of(s);
  Buffer<float> delta = scratch_floats(static_cast<std::size_t>(s.B) * H * T);
  row_dot(delta.data(), dout, out, s);
  const long groups = static_cast<long>(s.B) * s.KV;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads_for(s, groups))
  for (long bk = 0; bk < groups; ++bk) {
    const long b = bk / s.KV;
    const int kvh = static_cast<int>(bk % s.KV);
    float* dkb = dk + b * T * ldk + static_cast<long>(kvh) * D;
    float* dvb = dv + b * T * ldk + static_cast<long>(kvh) * D;
    const float* kb = k + b * T * ldk + static_cast<long>(kvh) * D;
    const float* vb = v + b * T * ldk + static_cast<long>(kvh) * D;
    for (int t = 0; t < T; ++t)
      for (int d = 0; d < D; ++d) dkb[t * ldk + d] = dvb[t * ldk + d] = 0.0f;
    for (int g = 0; g < G; ++g) {
      const int h = kvh * G + g;
      for (int t = 0; t < T; ++t) {
        const float* qr = q + (b * T + t) * ldq + static_cast<long>(h) * D;
        const float* dor = dout + (b * T + t) * ldq + static_cast<long>(h) * D;
        float* dqr = dq + (b * T + t) * ldq + static_cast<long>(h) * D;
        const float L = lse[(b * H + h) * T + t], Dr = delta[(b * H + h) * T + t];
        for (int d = 0; d < D; ++d) dqr[d] = 0.0f;
        for (int c = 0; c <= t; ++c) {
          float sdot = 0, pdot = 0;
          for (int d = 0; d < D; ++d) {
            sdot += qr[d] * kb[c * ldk + d];
            pdot += dor[d] * vb[c * ldk + d];
          }
          const float pc = std::exp(sdot * scale - L);
          const float dsc = pc * (pdot - Dr) * scale;
          for (int d = 0; d < D; ++d) {
            dqr[d] += dsc * kb[c * ldk + d];
            dkb[c * ldk + d] += dsc * qr[d];
            dvb[c * ldk + d] += pc * dor[d];
          }
        }
      }
    }
  }
}

}  // namespace attention_detail

void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                       const AttentionShape& s) {
  check_shape(s, "attention_forward");
  if (s.T == 0) return;
#if defined(__AVX512F__)
  if (bf16_tiles(s))
    forward_tiled_bf16(out, lse, q, k, v, s);
  else
    forward_tiled(out, lse, q, k, v, s);
#else
  attention_detail::forward_generic(out, lse, q, k, v, s);
#endif
}

void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* q,
                        const float* k, const float* v, const float* out, const float* lse,
                        const AttentionShape& s) {
  check_shape(s, "attention_backward");
  if (s.T == 0) return;
#if defined(__AVX512F__)
  const int nt = (s.T + kTile - 1) / kTile;
  const long pairs = static_cast<long>(s.B) * s.KV;
  const int nthreads = threads_for(s, std::max<long>(pairs, nt));
  const bool heads_parallel = backward_heads_parallel(s, nthreads);
  const int G = s.H / s.KV;
  const std::size_t delta_floats = static_cast<std::size_t>(s.B) * s.H * s.T;
  const std::size_t per_thread = backward_thread_floats(s.T, s.D, G, !heads_parallel);
  Buffer<float> scratch = scratch_floats(delta_floats + per_thread * nthreads);
  row_dot(scratch.data(), dout, out, s);
  BackwardArgs a{dk,
                 dv,
                 dout,
                 q,
                 k,
                 v,
                 lse,
                 scratch.data(),
                 s.T,
                 s.H,
                 s.KV,
                 s.D,
                 G,
                 nt,
                 static_cast<long>(s.H) * s.D,
                 static_cast<long>(s.KV) * s.D,
                 scale_of(s),
                 nullptr};
  // bf16: Q and dO rows and transposes converted once for the call (see "bf16 tiles").
  Buffer<uint16_t> b16;
  BackwardBf16 bf;
  if (bf16_tiles(s)) {
    const int Tp = nt * kTile;
    const std::size_t rows_n = static_cast<std::size_t>(s.B) * s.T * s.H * s.D;
    const std::size_t t_n = static_cast<std::size_t>(s.B) * s.H * s.D * Tp;
    bf.per_thread = backward_bf16_tile_elems(s.D);
    bf.Tp = Tp;
    b16 = Buffer<uint16_t>(2 * rows_n + 2 * t_n + bf.per_thread * nthreads);
    uint16_t* q16 = b16.data();
    uint16_t* do16 = q16 + rows_n;
    uint16_t* qt16 = do16 + rows_n;
    uint16_t* dot16 = qt16 + t_n;
    const long ldq = static_cast<long>(s.H) * s.D;
    rows_bf16(q, ldq, static_cast<long>(s.B) * s.T, static_cast<int>(ldq), q16, ldq);
    rows_bf16(dout, ldq, static_cast<long>(s.B) * s.T, static_cast<int>(ldq), do16, ldq);
    transposed_bf16(q, s, s.H, Tp, qt16);
    transposed_bf16(dout, s, s.H, Tp, dot16);
    bf.q = q16;
    bf.dout = do16;
    bf.qt = qt16;
    bf.doutt = dot16;
    bf.tiles = dot16 + t_n;
    a.bf16 = &bf;
  }
  backward_tiled(dq, a, s.B, scratch.data() + delta_floats, nthreads, heads_parallel);
#else
  attention_detail::backward_generic(dq, dk, dv, dout, q, k, v, out, lse, s);
#endif
}

}  // namespace harpe::kernels

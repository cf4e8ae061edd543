// Block attention for ring (context-parallel) attention. Tiles of 128 query rows x 128 keys;
// the five tile products (S = Q K^T, O += P V; backward dP = dO V^T, dV += P^T dO,
// dK += dS^T Q, dQ += dS K) go through kernels::gemm (single-threaded inside the OpenMP tasks),
// the softmax bookkeeping runs row by row with keys in the vector lanes. The causal mask of a tile
// is a per-row prefix: row r sees the first `visible(r)` keys of the tile; the rest of its P and
// dS row is set to exactly 0, so the products need no mask.
#include "kernels/attention_block.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/buffer.h"
#include "core/error.h"
#include "kernels/gemm.h"
#include "kernels/vec_math.h"

namespace harpe::kernels {
namespace {

constexpr int kTile = 128;
// The tile products stay fp32 whatever gemm_precision() says: a 128 x 128 x 64 product is too
// small for bf16 to pay through the wrapper (per-call conversion and primitive overhead; `harpe
// bench gemm`: bf16 0.85x of fp32 at these shapes), and the softmax around them is fp32.
constexpr Precision kTilePrecision = Precision::fp32;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

struct Dims {
  int B, Tq, Tk, H, KV, D, G, qr, kr;
  long ldq, ldk;
  float scale;
};

Dims dims_of(const BlockShape& s, const char* who) {
  check(s.B >= 1 && s.Tq >= 0 && s.Tk >= 0, who, ": bad block B=", s.B, " Tq=", s.Tq, " Tk=", s.Tk);
  check(s.H >= 1 && s.KV >= 1 && s.H % s.KV == 0, who, ": kv heads KV=", s.KV,
        " must divide query heads H=", s.H);
  check(s.D >= 1, who, ": head dim D must be >= 1, got ", s.D);
  check(s.q_rows == 0 || s.q_rows >= s.Tq, who, ": q_rows ", s.q_rows, " < Tq ", s.Tq);
  check(s.k_rows == 0 || s.k_rows >= s.Tk, who, ": k_rows ", s.k_rows, " < Tk ", s.Tk);
  check(std::isfinite(s.scale), who, ": scale must be finite");
  Dims d{};
  d.B = s.B;
  d.Tq = s.Tq;
  d.Tk = s.Tk;
  d.H = s.H;
  d.KV = s.KV;
  d.D = s.D;
  d.G = s.H / s.KV;
  d.qr = s.q_rows ? s.q_rows : s.Tq;
  d.kr = s.k_rows ? s.k_rows : s.Tk;
  d.ldq = static_cast<long>(s.H) * s.D;
  d.ldk = static_cast<long>(s.KV) * s.D;
  d.scale = s.scale != 0 ? s.scale : 1.0f / std::sqrt(static_cast<float>(s.D));
  return d;
}

// Keys of the tile [kfirst, kfirst + nc) visible to the query at global position qpos.
inline int visible(long qpos, long kfirst, int nc) {
  return static_cast<int>(std::clamp<long>(qpos - kfirst + 1, 0, nc));
}

int threads_for(double work, long tasks) {
  if (work < 4e6) return 1;
  return static_cast<int>(std::max(1L, std::min<long>(omp_get_max_threads(), tasks)));
}

}  // namespace

BlockMask block_mask(const BlockShape& s) {
  if (s.Tq == 0 || s.Tk == 0 || s.k0 > s.q0 + s.Tq - 1) return BlockMask::none_visible;
  if (s.k0 + s.Tk - 1 <= s.q0) return BlockMask::all_visible;
  return BlockMask::partial;
}

void attention_block_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                             const BlockShape& s) {
  const Dims d = dims_of(s, "attention_block_forward");
  const int D = d.D;
  const int nt = (d.Tq + kTile - 1) / kTile;
  const long tasks = static_cast<long>(d.B) * d.H * nt;
  const std::size_t per_thread = static_cast<std::size_t>(D) * kTile + kTile * kTile + 2 * kTile;
  const int nthreads = threads_for(2.0 * d.B * d.H * d.Tq * static_cast<double>(d.Tk) * D, tasks);
  Buffer<float> scratch(per_thread * nthreads);

#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads)
  for (long task = 0; task < tasks; ++task) {
    const int i = static_cast<int>(task % nt);
    const long bh = task / nt;
    const long b = bh / d.H;
    const int h = static_cast<int>(bh % d.H), kvh = h / d.G;
    float* acc = scratch.data() + per_thread * omp_get_thread_num();  // [128][D], unnormalised O
    float* st = acc + static_cast<std::size_t>(D) * kTile;            // [128 q][128 k]: S, then P
    float* m = st + kTile * kTile;
    float* l = m + kTile;
    const int r0 = i * kTile, nr = std::min(kTile, d.Tq - r0);
    const float* qi = q + (b * d.qr + r0) * d.ldq + static_cast<long>(h) * D;
    const float* kb = k + b * d.kr * d.ldk + static_cast<long>(kvh) * D;
    const float* vb = v + b * d.kr * d.ldk + static_cast<long>(kvh) * D;
    const long qfirst = s.q0 + r0, qlast = qfirst + nr - 1;
    std::fill(acc, acc + static_cast<std::size_t>(nr) * D, 0.0f);
    std::fill(m, m + kTile, kNegInf);
    std::fill(l, l + kTile, 0.0f);

    for (int c0 = 0; c0 < d.Tk; c0 += kTile) {
      const int nc = std::min(kTile, d.Tk - c0);
      const long kfirst = s.k0 + c0;
      if (kfirst > qlast) break;  // this and every later key tile is masked for the whole tile
      gemm(kTilePrecision, false, true, nr, nc, D, d.scale, qi, static_cast<int>(d.ldq),
           kb + c0 * d.ldk, static_cast<int>(d.ldk), 0.0f, st, kTile);  // S = scale Q K^T
      for (int r = 0; r < nr; ++r) {
        const int lim = visible(qfirst + r, kfirst, nc);
        float* sr = st + static_cast<std::size_t>(r) * kTile;
        std::fill(sr + lim, sr + nc, 0.0f);  // masked keys: P = 0
        if (lim == 0) continue;
        float mx = m[r];
        for (int c = 0; c < lim; ++c) mx = std::max(mx, sr[c]);
        // m[r] = -inf (nothing seen yet): alpha only multiplies zeros.
        const float alpha = m[r] == kNegInf ? 0.0f : detail::fast_exp(m[r] - mx);
        float sum = 0;
#pragma omp simd reduction(+ : sum)
        for (int c = 0; c < lim; ++c) {
          sr[c] = detail::fast_exp(sr[c] - mx);
          sum += sr[c];
        }
        m[r] = mx;
        l[r] = l[r] * alpha + sum;
        float* ar = acc + static_cast<std::size_t>(r) * D;
#pragma omp simd
        for (int e = 0; e < D; ++e) ar[e] *= alpha;
      }
      gemm(kTilePrecision, false, false, nr, D, nc, 1.0f, st, kTile, vb + c0 * d.ldk,
           static_cast<int>(d.ldk), 1.0f, acc, D);  // O += P V
    }
    float* oi = out + (b * d.qr + r0) * d.ldq + static_cast<long>(h) * D;
    float* li = lse + bh * d.qr + r0;
    for (int r = 0; r < nr; ++r) {
      const float inv = l[r] > 0 ? 1.0f / l[r] : 0.0f;
      for (int e = 0; e < D; ++e)
        oi[r * d.ldq + e] = acc[static_cast<std::size_t>(r) * D + e] * inv;
      li[r] = l[r] > 0 ? m[r] + std::log(l[r]) : kNegInf;
    }
  }
}

void attention_merge(float* out, float* lse, const float* out_b, const float* lse_b,
                     const BlockShape& s) {
  const Dims d = dims_of(s, "attention_merge");
  const long rows = static_cast<long>(d.B) * d.Tq;
#pragma omp parallel for schedule(static) if (rows * d.H * d.D > (1L << 16))
  for (long row = 0; row < rows; ++row) {
    const long b = row / d.Tq, t = row % d.Tq;
    for (int h = 0; h < d.H; ++h) {
      const long li = (b * d.H + h) * d.qr + t;
      const float la = lse[li], lb = lse_b[li];
      if (lb == kNegInf) continue;  // b saw nothing: a stays
      const long oi = (b * d.qr + t) * d.ldq + static_cast<long>(h) * d.D;
      if (la == kNegInf) {
        lse[li] = lb;
        for (int e = 0; e < d.D; ++e) out[oi + e] = out_b[oi + e];
        continue;
      }
      const float mx = std::max(la, lb);
      const float ea = std::exp(la - mx), eb = std::exp(lb - mx);
      const float sum = ea + eb;
      lse[li] = mx + std::log(sum);
      const float wa = ea / sum, wb = eb / sum;
      for (int e = 0; e < d.D; ++e) out[oi + e] = wa * out[oi + e] + wb * out_b[oi + e];
    }
  }
}

void attention_row_dot(float* delta, const float* dout, const float* out, const BlockShape& s) {
  const Dims d = dims_of(s, "attention_row_dot");
  const long rows = static_cast<long>(d.B) * d.Tq;
#pragma omp parallel for schedule(static) if (rows * d.H * d.D > (1L << 16))
  for (long row = 0; row < rows; ++row) {
    const long b = row / d.Tq, t = row % d.Tq;
    for (int h = 0; h < d.H; ++h) {
      const long oi = (b * d.qr + t) * d.ldq + static_cast<long>(h) * d.D;
      float acc = 0;
#pragma omp simd reduction(+ : acc)
      for (int e = 0; e < d.D; ++e) acc += dout[oi + e] * out[oi + e];
      delta[(b * d.H + h) * d.qr + t] = acc;
    }
  }
}

void attention_block_backward(float* dq, float* dk, float* dv, const float* dout, const float* q,
                              const float* k, const float* v, const float* lse, const float* delta,
                              const BlockShape& s) {
  const Dims d = dims_of(s, "attention_block_backward");
  if (block_mask(s) == BlockMask::none_visible) return;
  const int D = d.D;
  const int ldq = static_cast<int>(d.ldq), ldk = static_cast<int>(d.ldk);
  // One task per (batch, K/V head): it owns dK/dV of that head and dQ of its G query heads.
  const long pairs = static_cast<long>(d.B) * d.KV;
  const std::size_t tile = static_cast<std::size_t>(D) * kTile;
  const std::size_t per_thread = 2 * tile + 2 * kTile * kTile;
  const int nthreads = threads_for(5.0 * d.B * d.H * d.Tq * static_cast<double>(d.Tk) * D, pairs);
  Buffer<float> scratch(per_thread * nthreads);

#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads)
  for (long pair = 0; pair < pairs; ++pair) {
    const long b = pair / d.KV;
    const int kvh = static_cast<int>(pair % d.KV);
    float* dkt = scratch.data() + per_thread * omp_get_thread_num();  // [128][D] dK tile / scale
    float* dvt = dkt + tile;                                          // [128][D] dV tile
    float* p = dvt + tile;                                            // [128 q][128 k]
    float* ds = p + kTile * kTile;                                    // [128 q][128 k]
    const float* kb = k + b * d.kr * d.ldk + static_cast<long>(kvh) * D;
    const float* vb = v + b * d.kr * d.ldk + static_cast<long>(kvh) * D;
    for (int c0 = 0; c0 < d.Tk; c0 += kTile) {
      const int nc = std::min(kTile, d.Tk - c0);
      const long kfirst = s.k0 + c0;
      if (kfirst > s.q0 + d.Tq - 1) break;
      const float* kc = kb + c0 * d.ldk;
      const float* vc = vb + c0 * d.ldk;
      std::fill(dkt, dkt + 2 * tile, 0.0f);
      for (int g = 0; g < d.G; ++g) {
        const int h = kvh * d.G + g;
        const float* lrow = lse + (b * d.H + h) * d.qr;
        const float* drow = delta + (b * d.H + h) * d.qr;
        // First query tile that sees any key of this key tile: query position >= kfirst.
        const long first_row = std::max(0L, kfirst - s.q0);
        for (int r0 = static_cast<int>(first_row / kTile) * kTile; r0 < d.Tq; r0 += kTile) {
          const int nr = std::min(kTile, d.Tq - r0);
          const float* qi = q + (b * d.qr + r0) * d.ldq + static_cast<long>(h) * D;
          const float* doi = dout + (b * d.qr + r0) * d.ldq + static_cast<long>(h) * D;
          float* dqi = dq + (b * d.qr + r0) * d.ldq + static_cast<long>(h) * D;
          gemm(kTilePrecision, false, true, nr, nc, D, d.scale, qi, ldq, kc, ldk, 0.0f, p,
               kTile);  // S
          gemm(kTilePrecision, false, true, nr, nc, D, 1.0f, doi, ldq, vc, ldk, 0.0f, ds,
               kTile);  // dP = dO V^T
          for (int r = 0; r < nr; ++r) {
            const float L = lrow[r0 + r];
            const int lim = L == kNegInf ? 0 : visible(s.q0 + r0 + r, kfirst, nc);
            const float Dr = drow[r0 + r];
            float* pr = p + static_cast<std::size_t>(r) * kTile;
            float* dsr = ds + static_cast<std::size_t>(r) * kTile;
#pragma omp simd
            for (int c = 0; c < lim; ++c) {
              pr[c] = detail::fast_exp(pr[c] - L);
              dsr[c] = pr[c] * (dsr[c] - Dr);
            }
            std::fill(pr + lim, pr + nc, 0.0f);
            std::fill(dsr + lim, dsr + nc, 0.0f);
          }
          gemm(kTilePrecision, true, false, nc, D, nr, 1.0f, p, kTile, doi, ldq, 1.0f, dvt,
               D);  // dV += P^T dO
          gemm(kTilePrecision, true, false, nc, D, nr, 1.0f, ds, kTile, qi, ldq, 1.0f, dkt,
               D);  // dK += dS^T Q
          gemm(kTilePrecision, false, false, nr, D, nc, d.scale, ds, kTile, kc, ldk, 1.0f, dqi,
               ldq);  // dQ += dS K
        }
      }
      float* dkj = dk + (b * d.kr + c0) * d.ldk + static_cast<long>(kvh) * D;
      float* dvj = dv + (b * d.kr + c0) * d.ldk + static_cast<long>(kvh) * D;
      for (int c = 0; c < nc; ++c)
        for (int e = 0; e < D; ++e) {
          dkj[c * d.ldk + e] += dkt[static_cast<std::size_t>(c) * D + e] * d.scale;
          dvj[c * d.ldk + e] += dvt[static_cast<std::size_t>(c) * D + e];
        }
    }
  }
}

}  // namespace harpe::kernels

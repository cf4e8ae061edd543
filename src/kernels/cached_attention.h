// Attention of a block of new queries against a key/value cache, for inference: incremental
// decoding (one query at a time) and Self-Extend (Jin et al. 2024) prefill and decoding.
// Training and plain prefill use the tiled attention_forward (attention.h) instead.
//
// Queries are the Tq tokens at absolute positions p0 .. p0+Tq-1; the cache holds keys and values
// for positions 0 .. p0+Tq-1 (the new tokens already appended). Causal.
// Layouts: q, qg, out: [Tq, H, D]; k, kg, v: [Tk, KV, D] with Tk = p0 + Tq. GQA as in attention.h.
//
// Self-Extend: with window W > 0, a pair (i, j) with i - j < W scores q[i].k[j] (both rotated at
// their own positions); a pair with i - j >= W scores qg[i].kg[j], where qg is the query rotated at
// i / G + W - W / G and kg the key rotated at j / G (rope::PositionMap). The caller rotates; this
// kernel only chooses which pair of vectors to use, so it never knows the RoPE scheme.
//
// The cache (k, v, kg) is fp32, or bf16 (uint16 bit patterns, the high half of an fp32: half the
// bytes a decoded token reads); bf16 elements are widened exactly, so the bf16 overloads equal the
// fp32 kernels run on the widened cache up to float round-off. Queries, scores, sums and outputs
// are fp32 in both.
#pragma once

#include <cstdint>

namespace harpe::kernels {

struct CachedAttentionShape {
  int Tq = 0;  // new queries
  int p0 = 0;  // absolute position of the first new query; keys cover [0, p0 + Tq)
  int H = 0, KV = 0, D = 0;
  float scale = 0;  // 0 means 1/sqrt(D)
  int window = 0;   // Self-Extend neighbour window; 0 = off (qg, kg unused and may be null)
};

// Threads (OpenMP) split the queries; each query is cached_attention_row's computation.
void cached_attention(float* out, const float* q, const float* k, const float* v, const float* qg,
                      const float* kg, const CachedAttentionShape& s);
void cached_attention(float* out, const float* q, const uint16_t* k, const uint16_t* v,
                      const float* qg, const uint16_t* kg, const CachedAttentionShape& s);

// The same for ONE query (s.Tq == 1) at position s.p0, for token-by-token decoding: serial, no
// allocation (scratch: at least H * (p0 + 1) + H floats). Keys, then values, are read once, row
// after row in address order, every head served from each row; AVX-512 when compiled for it and
// D % 16 == 0. Exact softmax (all scores, then one exponential each), so it equals
// cached_attention up to float round-off.
void cached_attention_row(float* out, const float* q, const float* k, const float* v,
                          const float* qg, const float* kg, const CachedAttentionShape& s,
                          float* scratch);
void cached_attention_row(float* out, const float* q, const uint16_t* k, const uint16_t* v,
                          const float* qg, const uint16_t* kg, const CachedAttentionShape& s,
                          float* scratch);

}  // namespace harpe::kernels

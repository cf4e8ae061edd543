// Attention waveforms of RoPE bases (HARPE, Lian et al. 2025, Sec. 3): for base b and head dim d,
//   f_b(m) = (2 / sqrt(d)) * sum_{j=0}^{d/2-1} cos(m * b^(-2j/d))
// is the attention score between a query and a key m positions apart when both are all-ones
// vectors, i.e. the pure positional part of RoPE attention. Its peaks and troughs drive the
// peak-valley base search (bases.h). Double precision throughout: float changes the extrema.
#pragma once

#include <vector>

namespace harpe::rope {

// theta_j = b^(-2j/d) for j = 0..d/2-1 (the rotary inverse frequencies, in double).
std::vector<double> inverse_frequencies_f64(double base, int head_dim);

// f_b(m) for m = m_lo..m_hi inclusive; element i is m = m_lo + i. Fast path: exact std::cos/sin
// seeds every 8192 positions, complex rotation by an exact e^{i 512 theta} between 512-position
// blocks, and inside a block the Chebyshev step cos((m+8)t) = 2cos(8t)cos(mt) - cos((m-8)t) on
// 8 positions at a time for 8 frequencies at once. Parallel over 8192-position chunks; the result
// does not depend on the thread count. Agrees with waveform_naive to ~1e-11 (the naive path itself
// rounds m * theta, an error of up to m * 1.1e-16).
std::vector<double> waveform(double base, int head_dim, int m_lo, int m_hi);

// Reference: std::cos at every (m, j), summed in j order. ~150x slower.
std::vector<double> waveform_naive(double base, int head_dim, int m_lo, int m_hi);

// The same into `out` (resized; its capacity is reused across calls).
void waveform(double base, int head_dim, int m_lo, int m_hi, std::vector<double>& out);
void waveform_naive(double base, int head_dim, int m_lo, int m_hi, std::vector<double>& out);

}  // namespace harpe::rope

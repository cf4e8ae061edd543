#include "rope/waveform.h"

#include <omp.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace harpe::rope {

namespace {

void check_args(double base, int head_dim, int m_lo, int m_hi) {
  check(std::isfinite(base) && base > 1.0, "waveform: base must be > 1, got ", base);
  check(head_dim > 0 && head_dim % 2 == 0, "waveform: head dim must be positive and even, got ",
        head_dim);
  check(m_lo >= 0 && m_hi >= m_lo, "waveform: need 0 <= m_lo <= m_hi, got ", m_lo, "..", m_hi);
}

}  // namespace

std::vector<double> inverse_frequencies_f64(double base, int head_dim) {
  std::vector<double> theta(static_cast<size_t>(head_dim / 2));
  for (int j = 0; j < head_dim / 2; ++j) theta[j] = std::pow(base, -2.0 * j / head_dim);
  return theta;
}

std::vector<double> waveform_naive(double base, int head_dim, int m_lo, int m_hi) {
  std::vector<double> f;
  waveform_naive(base, head_dim, m_lo, m_hi, f);
  return f;
}

std::vector<double> waveform(double base, int head_dim, int m_lo, int m_hi) {
  std::vector<double> f;
  waveform(base, head_dim, m_lo, m_hi, f);
  return f;
}

void waveform_naive(double base, int head_dim, int m_lo, int m_hi, std::vector<double>& f) {
  check_args(base, head_dim, m_lo, m_hi);
  const std::vector<double> theta = inverse_frequencies_f64(base, head_dim);
  const double scale = 2.0 / std::sqrt(static_cast<double>(head_dim));
  const long n = static_cast<long>(m_hi) - m_lo + 1;
  f.resize(static_cast<size_t>(n));
#pragma omp parallel for schedule(static) if (!omp_in_parallel())
  for (long i = 0; i < n; ++i) {
    const double m = static_cast<double>(m_lo + i);
    double sum = 0.0;
    for (double t : theta) sum += std::cos(m * t);
    f[i] = scale * sum;
  }
}

namespace {

// Eight doubles: one AVX-512 register (two AVX2 ones elsewhere); GCC/Clang vector extension.
typedef double V8 __attribute__((vector_size(64)));
constexpr int kLanes = 8;
constexpr int kBlock = 512;               // positions per block: acc[] stays in L1
constexpr int kSuperBlock = 16 * kBlock;  // exact std::cos/std::sin seed at each superblock start

// Per-frequency constants of the fast path.
struct FreqSteps {
  std::vector<double> cos_k, sin_k;          // [j][16]: cos/sin(k * theta_j), k = 0..15
  std::vector<double> cos_block, sin_block;  // cos/sin(kBlock * theta_j) (kBlock * theta exact)
  std::vector<double> two_cos8;              // 2 cos(8 theta_j): Chebyshev step of 8 positions
};

// Adds f'(m) = sum_{j in [j0, j0+G)} cos(m theta_j) for the kBlock positions m0 + 0..kBlock-1 to
// acc, the lanes of acc[s] being m0 + 8s + 0..7. (zc, zs)[j] = cos/sin(m0 theta_j) on entry and
// are advanced to m0 + kBlock on exit. Within the block cos((m + 8) t) = 2 cos(8t) cos(m t) -
// cos((m - 8) t): one FMA per 8 positions and frequency; 64 steps keep its error ~1e-13.
template <int G>
void add_block(const FreqSteps& fs, int j0, double* zc, double* zs, V8* acc) {
  V8 x0[G], x1[G], c2[G];
  for (int g = 0; g < G; ++g) {
    const int j = j0 + g;
    const double* ck = &fs.cos_k[16 * j];
    const double* sk = &fs.sin_k[16 * j];
    for (int k = 0; k < kLanes; ++k) {  // cos((m0 + k) t) and cos((m0 + 8 + k) t)
      x0[g][k] = zc[j] * ck[k] - zs[j] * sk[k];
      x1[g][k] = zc[j] * ck[k + 8] - zs[j] * sk[k + 8];
      c2[g][k] = fs.two_cos8[j];
    }
    const double c = zc[j] * fs.cos_block[j] - zs[j] * fs.sin_block[j];
    zs[j] = zs[j] * fs.cos_block[j] + zc[j] * fs.sin_block[j];
    zc[j] = c;
  }
  for (int s = 0; s < kBlock / kLanes; ++s) {
    V8 sum = x0[0];
    for (int g = 1; g < G; ++g) sum += x0[g];
    acc[s] += sum;
    for (int g = 0; g < G; ++g) {
      const V8 next = c2[g] * x1[g] - x0[g];
      x0[g] = x1[g];
      x1[g] = next;
    }
  }
}

}  // namespace

void waveform(double base, int head_dim, int m_lo, int m_hi, std::vector<double>& f) {
  check_args(base, head_dim, m_lo, m_hi);
  const std::vector<double> theta = inverse_frequencies_f64(base, head_dim);
  const int half = head_dim / 2;
  const double scale = 2.0 / std::sqrt(static_cast<double>(head_dim));
  FreqSteps fs;
  fs.cos_k.resize(16 * half);
  fs.sin_k.resize(16 * half);
  fs.cos_block.resize(half);
  fs.sin_block.resize(half);
  fs.two_cos8.resize(half);
  for (int j = 0; j < half; ++j) {
    for (int k = 0; k < 16; ++k) {
      fs.cos_k[16 * j + k] = std::cos(k * theta[j]);
      fs.sin_k[16 * j + k] = std::sin(k * theta[j]);
    }
    fs.cos_block[j] = std::cos(kBlock * theta[j]);
    fs.sin_block[j] = std::sin(kBlock * theta[j]);
    fs.two_cos8[j] = 2.0 * std::cos(8.0 * theta[j]);
  }
  const long n = static_cast<long>(m_hi) - m_lo + 1;
  const long n_super = (n + kSuperBlock - 1) / kSuperBlock;
  f.resize(static_cast<size_t>(n));
  // Superblocks are independent (own exact seed), so the result does not depend on threads.
#pragma omp parallel for schedule(static) if (!omp_in_parallel() && n_super > 1)
  for (long sb = 0; sb < n_super; ++sb) {
    std::vector<double> zc(half), zs(half);
    const long i_begin = sb * kSuperBlock;
    const double m0 = static_cast<double>(m_lo + i_begin);
    for (int j = 0; j < half; ++j) {  // the same argument m * theta_j as the naive path
      zc[j] = std::cos(m0 * theta[j]);
      zs[j] = std::sin(m0 * theta[j]);
    }
    const long i_end = std::min(n, i_begin + kSuperBlock);
    for (long i0 = i_begin; i0 < i_end; i0 += kBlock) {
      V8 acc[kBlock / kLanes] = {};
      int j0 = 0;
      for (; j0 + 8 <= half; j0 += 8) add_block<8>(fs, j0, zc.data(), zs.data(), acc);
      for (; j0 < half; ++j0) add_block<1>(fs, j0, zc.data(), zs.data(), acc);
      const long count = std::min<long>(kBlock, i_end - i0);
      for (long k = 0; k < count; ++k) f[i0 + k] = scale * acc[k / kLanes][k % kLanes];
    }
  }
}

}  // namespace harpe::rope

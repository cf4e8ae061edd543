// AdamW and the elementwise helpers the optimizer step needs (add, global-norm pieces).
#include <omp.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/error.h"
#include "kernels/ops.h"

namespace harpe::kernels {

namespace {
constexpr long kParallelMin = 65536;  // below this OpenMP start-up costs more than it saves
}

void add_inplace(float* y, const float* x, std::size_t n) {
  const long len = static_cast<long>(n);
#pragma omp parallel for simd schedule(static) if (len > kParallelMin)
  for (long i = 0; i < len; ++i) y[i] += x[i];
}

// m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  mhat = m / (1 - b1^t);  vhat = v / (1 - b2^t)
// p -= lr (mhat / (sqrt(vhat) + eps) + wd p)   (decoupled weight decay, Loshchilov & Hutter).
void adamw_step(float* params, const float* grads, float* m, float* v, std::size_t n, float lr,
                float beta1, float beta2, float eps, float weight_decay, long step) {
  check(step >= 1, "adamw: step counts from 1, got ", step);
  check(beta1 >= 0.0f && beta1 < 1.0f && beta2 >= 0.0f && beta2 < 1.0f,
        "adamw: betas must lie in [0, 1), got ", beta1, ", ", beta2);
  const float c1 = static_cast<float>(1.0 / (1.0 - std::pow(static_cast<double>(beta1), step)));
  const float c2 = static_cast<float>(1.0 / (1.0 - std::pow(static_cast<double>(beta2), step)));
  const long len = static_cast<long>(n);
#pragma omp parallel for simd schedule(static) if (len > kParallelMin)
  for (long i = 0; i < len; ++i) {
    const float g = grads[i];
    const float mi = beta1 * m[i] + (1.0f - beta1) * g;
    const float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    params[i] -= lr * ((mi * c1) / (std::sqrt(vi * c2) + eps) + weight_decay * params[i]);
  }
}

// Per-thread partial sums added in thread order: the same result on every run with the same
// thread count (an OpenMP reduction clause leaves the combination order unspecified).
double sum_squares(const float* x, std::size_t n) {
  const long len = static_cast<long>(n);
  std::vector<double> part(static_cast<std::size_t>(omp_get_max_threads()), 0.0);
#pragma omp parallel if (len > kParallelMin)
  {
    const long nt = omp_get_num_threads(), t = omp_get_thread_num();
    const long per = (len + nt - 1) / nt;
    const long i0 = std::min(len, t * per), i1 = std::min(len, i0 + per);
    double s = 0.0;
#pragma omp simd reduction(+ : s)
    for (long i = i0; i < i1; ++i) s += static_cast<double>(x[i]) * x[i];
    part[static_cast<std::size_t>(t)] = s;
  }
  double total = 0.0;
  for (double p : part) total += p;
  return total;
}

void scale_inplace(float* x, float s, std::size_t n) {
  const long len = static_cast<long>(n);
#pragma omp parallel for simd schedule(static) if (len > kParallelMin)
  for (long i = 0; i < len; ++i) x[i] *= s;
}

// Exponent bits all ones <=> inf or NaN; a bit test vectorises where std::isfinite may not.
bool all_finite(const float* x, std::size_t n) {
  const long len = static_cast<long>(n);
  long bad = 0;
#pragma omp parallel for simd schedule(static) reduction(+ : bad) if (len > kParallelMin)
  for (long i = 0; i < len; ++i)
    bad += (std::bit_cast<std::uint32_t>(x[i]) & 0x7f800000u) == 0x7f800000u;
  return bad == 0;
}

}  // namespace harpe::kernels

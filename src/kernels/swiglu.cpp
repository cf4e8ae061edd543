// SwiGLU gating: out = silu(gate) * up, silu(g) = g * sigmoid(g).
#include "kernels/ops.h"
#include "kernels/vec_math.h"

namespace harpe::kernels {

using detail::fast_exp;

void swiglu_forward(float* out, const float* gate, const float* up, std::size_t n) {
  const long len = static_cast<long>(n);
#pragma omp parallel for simd schedule(static) if (len > 65536)
  for (long i = 0; i < len; ++i) {
    const float g = gate[i];
    const float s = 1.0f / (1.0f + fast_exp(-g));
    out[i] = g * s * up[i];
  }
}

// d silu(g)/dg = s + g s (1 - s) = s (1 + g (1 - s)).
void swiglu_backward(float* dgate, float* dup, const float* dout, const float* gate,
                     const float* up, std::size_t n) {
  const long len = static_cast<long>(n);
#pragma omp parallel for simd schedule(static) if (len > 65536)
  for (long i = 0; i < len; ++i) {
    const float g = gate[i], u = up[i], d = dout[i];
    const float s = 1.0f / (1.0f + fast_exp(-g));
    dgate[i] = d * u * s * (1.0f + g * (1.0f - s));
    dup[i] = d * g * s;
  }
}

}  // namespace harpe::kernels

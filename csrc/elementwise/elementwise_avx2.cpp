// Activations, float32, AVX2/FMA: 8 lanes per step, a scalar-free tail via a masked
// load/store. The transcendental pieces come from simd/simd_avx2.h (errors there):
//   exp(x)   = 2^n · p6(r), x = n·ln2 + r, |r| ≤ ln2/2    rel err 2e-8 (+ rounding)
//   tanh(x)  = sign(x) · -u/(u+2), u = expm1(-2|x|)       ≤ 4 ulp
//   erfc(z)  = t · exp(-z² + P9(t)), t = 2/(2+z), z ≥ 0  rel err 6e-8 (1.5e-6 at z≈4 in f32)
//   sigmoid  = 1/(1+e) or e/(1+e) with e = exp(-|x|), never overflowing
//   gelu     = x · Φ(x), Φ(x) = ½ erfc(-x/√2) (accurate in both tails)
//   gelu_tanh= x · σ(2u), u = √(2/π)(x + 0.044715 x³)  (= ½x(1+tanh u), no cancellation)
// Measured (float32, 4M elements, best of 60, loaded shared 2-core Zen3, torch 2.13, 1 thread):
//   relu ≈ copy speed (1.2–1.5× torch, memory-bound), sigmoid 1.5–1.9×, tanh 4×,
//   gelu(tanh) 4.3×, gelu(erf) 0.66–0.73× (the erfc fit costs a divide + exp + 10 FMAs per
//   8 lanes; in exchange it keeps ≤ 6e-6 relative error down to x = -9, where torch's
//   ½x(1+erf) has none left), bias_act relu 64×32×26×26 2.6–3.6×. python benchmarks/pool_softmax_act_min.py 1 2;
//   python -m nnkernels --only activations
#include <immintrin.h>

#include <cstdint>

#include "elementwise/elementwise.h"
#include "simd/simd_avx2.h"

namespace nk {
namespace {

using namespace simd256;

constexpr float kSqrt2OverPi = 0.79788456080286536f, kGeluC = 0.044715f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;

template <Act A>
inline __m256 act8(__m256 x, __m256 slope) {
  if constexpr (A == Act::identity) return x;
  if constexpr (A == Act::relu) return _mm256_andnot_ps(_mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ), x);
  if constexpr (A == Act::leaky_relu)
    return _mm256_blendv_ps(x, _mm256_mul_ps(x, slope), _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ));
  if constexpr (A == Act::sigmoid) return sigmoid_ps(x);
  if constexpr (A == Act::tanh) return tanh_ps(x);
  if constexpr (A == Act::gelu) return _mm256_mul_ps(x, phi_ps(x));
  if constexpr (A == Act::gelu_tanh) {
    __m256 x2 = _mm256_mul_ps(x, x);
    __m256 u = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(2.0f * kSqrt2OverPi), x),
                             _mm256_fmadd_ps(_mm256_set1_ps(kGeluC), x2, _mm256_set1_ps(1.0f)));
    return _mm256_mul_ps(x, sigmoid_ps(u));
  }
  if constexpr (A == Act::silu) return _mm256_mul_ps(x, sigmoid_ps(x));
  return x;
}

// g · act'(v) (v = x or y, see elementwise.h).
template <Act A>
inline __m256 dact8(__m256 g, __m256 v, __m256 slope) {
  const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
  if constexpr (A == Act::identity) return g;
  if constexpr (A == Act::relu) return _mm256_andnot_ps(_mm256_cmp_ps(v, zero, _CMP_LE_OQ), g);  // NaN x keeps g, as torch
  if constexpr (A == Act::leaky_relu)
    return _mm256_blendv_ps(_mm256_mul_ps(g, slope), g, _mm256_cmp_ps(v, zero, _CMP_GT_OQ));
  if constexpr (A == Act::sigmoid) return _mm256_mul_ps(g, _mm256_mul_ps(v, _mm256_sub_ps(one, v)));
  if constexpr (A == Act::tanh) return _mm256_mul_ps(g, _mm256_fnmadd_ps(v, v, one));
  if constexpr (A == Act::gelu) {
    __m256 pdf = _mm256_mul_ps(_mm256_set1_ps(kInvSqrt2Pi),
                               exp_ps(_mm256_mul_ps(_mm256_set1_ps(-0.5f), _mm256_mul_ps(v, v))));
    return _mm256_mul_ps(g, _mm256_fmadd_ps(v, pdf, phi_ps(v)));
  }
  if constexpr (A == Act::gelu_tanh) {
    __m256 x2 = _mm256_mul_ps(v, v);
    __m256 u2 = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(2.0f * kSqrt2OverPi), v),
                              _mm256_fmadd_ps(_mm256_set1_ps(kGeluC), x2, one));
    __m256 du2 = _mm256_mul_ps(_mm256_set1_ps(2.0f * kSqrt2OverPi),
                               _mm256_fmadd_ps(_mm256_set1_ps(3.0f * kGeluC), x2, one));
    // σ(u2) and 1-σ(u2) both from e = exp(-|u2|): no cancellation in either tail
    __m256 e = exp_ps(_mm256_sub_ps(zero, abs_ps(u2)));
    __m256 r = _mm256_div_ps(one, _mm256_add_ps(one, e)), er = _mm256_mul_ps(e, r);
    __m256 neg = _mm256_cmp_ps(u2, zero, _CMP_LT_OQ);
    __m256 s = _mm256_blendv_ps(r, er, neg);
    __m256 ds = _mm256_mul_ps(s, _mm256_blendv_ps(er, r, neg));
    return _mm256_mul_ps(g, _mm256_fmadd_ps(_mm256_mul_ps(v, ds), du2, s));
  }
  if constexpr (A == Act::silu) {  // σ(v)(1 + v(1 − σ(v))), σ and 1-σ from e = exp(-|v|)
    __m256 e = exp_ps(_mm256_sub_ps(zero, abs_ps(v)));
    __m256 r = _mm256_div_ps(one, _mm256_add_ps(one, e)), er = _mm256_mul_ps(e, r);
    __m256 neg = _mm256_cmp_ps(v, zero, _CMP_LT_OQ);
    __m256 s = _mm256_blendv_ps(r, er, neg), sc = _mm256_blendv_ps(er, r, neg);
    return _mm256_mul_ps(_mm256_mul_ps(g, s), _mm256_fmadd_ps(v, sc, one));
  }
  return g;
}

// y = act(x + bias): BIAS 0 none, 1 per-element vector, 2 one scalar.
template <Act A, int BIAS>
void span(float* y, const float* x, int64_t n, float slope_s, const float* bvec, float bscalar) {
  const __m256 slope = _mm256_set1_ps(slope_s), bs = _mm256_set1_ps(bscalar);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    if constexpr (BIAS == 1) v = _mm256_add_ps(v, _mm256_loadu_ps(bvec + i));
    if constexpr (BIAS == 2) v = _mm256_add_ps(v, bs);
    _mm256_storeu_ps(y + i, act8<A>(v, slope));
  }
  if (i < n) {
    const __m256i m = mask8(n - i);
    __m256 v = _mm256_maskload_ps(x + i, m);
    if constexpr (BIAS == 1) v = _mm256_add_ps(v, _mm256_maskload_ps(bvec + i, m));
    if constexpr (BIAS == 2) v = _mm256_add_ps(v, bs);
    _mm256_maskstore_ps(y + i, m, act8<A>(v, slope));
  }
}

template <Act A>
void span_bias(float* y, const float* x, int64_t n, float slope, const float* bvec, float bscalar,
               bool has_scalar) {
  if (bvec) span<A, 1>(y, x, n, slope, bvec, bscalar);
  else if (has_scalar) span<A, 2>(y, x, n, slope, bvec, bscalar);
  else span<A, 0>(y, x, n, slope, bvec, bscalar);
}

template <Act A>
void dspan(float* gx, const float* g, const float* v, int64_t n, float slope_s) {
  const __m256 slope = _mm256_set1_ps(slope_s);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(gx + i, dact8<A>(_mm256_loadu_ps(g + i), _mm256_loadu_ps(v + i), slope));
  if (i < n) {
    const __m256i m = mask8(n - i);
    _mm256_maskstore_ps(gx + i, m, dact8<A>(_mm256_maskload_ps(g + i, m), _mm256_maskload_ps(v + i, m), slope));
  }
}

}  // namespace

void act_span_avx2(float* y, const float* x, int64_t n, Act act, float slope, const float* bvec,
                   float bscalar, bool has_scalar) {
  switch (act) {
    case Act::identity: return span_bias<Act::identity>(y, x, n, slope, bvec, bscalar, has_scalar);
    case Act::relu: return span_bias<Act::relu>(y, x, n, slope, bvec, bscalar, has_scalar);
    case Act::leaky_relu: return span_bias<Act::leaky_relu>(y, x, n, slope, bvec, bscalar, has_scalar);
    case Act::sigmoid: return span_bias<Act::sigmoid>(y, x, n, slope, bvec, bscalar, has_scalar);
    case Act::tanh: return span_bias<Act::tanh>(y, x, n, slope, bvec, bscalar, has_scalar);
    case Act::gelu: return span_bias<Act::gelu>(y, x, n, slope, bvec, bscalar, has_scalar);
    case Act::gelu_tanh: return span_bias<Act::gelu_tanh>(y, x, n, slope, bvec, bscalar, has_scalar);
    case Act::silu: return span_bias<Act::silu>(y, x, n, slope, bvec, bscalar, has_scalar);
  }
}

void act_backward_span_avx2(float* gx, const float* g, const float* v, int64_t n, Act act, float slope) {
  switch (act) {
    case Act::identity: return dspan<Act::identity>(gx, g, v, n, slope);
    case Act::relu: return dspan<Act::relu>(gx, g, v, n, slope);
    case Act::leaky_relu: return dspan<Act::leaky_relu>(gx, g, v, n, slope);
    case Act::sigmoid: return dspan<Act::sigmoid>(gx, g, v, n, slope);
    case Act::tanh: return dspan<Act::tanh>(gx, g, v, n, slope);
    case Act::gelu: return dspan<Act::gelu>(gx, g, v, n, slope);
    case Act::gelu_tanh: return dspan<Act::gelu_tanh>(gx, g, v, n, slope);
    case Act::silu: return dspan<Act::silu>(gx, g, v, n, slope);
  }
}

}  // namespace nk

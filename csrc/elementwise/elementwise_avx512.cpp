// Activations, float32, AVX-512F/DQ: the AVX2 kernels' contracts and formulas
// (elementwise_avx2.cpp) on 16 lanes, two independent vectors per step; a masked head
// aligns the output to 64 bytes and one masked load/store does the tail (no scalar loop). The transcendental pieces come from
// simd/simd_avx512.h, with the AVX2 ones' polynomials and accuracy (exp 2e-8 + rounding,
// sigmoid/tanh ≤ 4 ulp, ½erfc 6e-8).
// Measured (float32, 4M elements, 1 thread, best of 30 interleaved rounds, shared 2-core
//   Intel Xeon (Sapphire Rapids class), torch 2.13; avx512 path vs avx2 path / vs torch):
//   sigmoid 1.53× / 1.24×, tanh 1.42× / 1.02×, gelu(erf) 1.88× / 0.73×, gelu(tanh) 1.37× /
//   3.57×, gelu_backward 1.71× / 1.00×; relu 0.86× / 1.03× and bias_act relu 0.99× / 1.94×
//   (memory-bound). Command: set nk.set_cpu_path("avx512" / "avx2") around
//   benchmarks/pool_softmax_act_min.py's cases; python -m nnkernels --only activations
#include "simd/simd_avx512.h"  // first: see its note on GCC 12

#include <cstdint>

#include "elementwise/elementwise.h"

namespace nk {
namespace {

using namespace simd512;

constexpr float kSqrt2OverPi = 0.79788456080286536f, kGeluC = 0.044715f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;

inline __mmask16 lt0(__m512 x) { return _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ); }

template <Act A>
inline __m512 act16(__m512 x, __m512 slope) {
  if constexpr (A == Act::identity) return x;
  if constexpr (A == Act::relu) return _mm512_maskz_mov_ps(static_cast<__mmask16>(~lt0(x)), x);  // NaN, −0 kept
  if constexpr (A == Act::leaky_relu) return _mm512_mask_mul_ps(x, lt0(x), x, slope);
  if constexpr (A == Act::sigmoid) return sigmoid_ps(x);
  if constexpr (A == Act::tanh) return tanh_ps(x);
  if constexpr (A == Act::gelu) return _mm512_mul_ps(x, phi_ps(x));
  if constexpr (A == Act::gelu_tanh) {
    const __m512 x2 = _mm512_mul_ps(x, x);
    const __m512 u = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(2.0f * kSqrt2OverPi), x),
                                   _mm512_fmadd_ps(_mm512_set1_ps(kGeluC), x2, _mm512_set1_ps(1.0f)));
    return _mm512_mul_ps(x, sigmoid_ps(u));
  }
  if constexpr (A == Act::silu) return _mm512_mul_ps(x, sigmoid_ps(x));
  return x;
}

// g · act'(v) (v = x or y, see elementwise.h).
template <Act A>
inline __m512 dact16(__m512 g, __m512 v, __m512 slope) {
  const __m512 one = _mm512_set1_ps(1.0f), zero = _mm512_setzero_ps();
  if constexpr (A == Act::identity) return g;
  if constexpr (A == Act::relu)  // NaN x keeps g, as torch
    return _mm512_maskz_mov_ps(static_cast<__mmask16>(~_mm512_cmp_ps_mask(v, zero, _CMP_LE_OQ)), g);
  if constexpr (A == Act::leaky_relu)
    return _mm512_mask_mul_ps(g, static_cast<__mmask16>(~_mm512_cmp_ps_mask(v, zero, _CMP_GT_OQ)), g, slope);
  if constexpr (A == Act::sigmoid) return _mm512_mul_ps(g, _mm512_mul_ps(v, _mm512_sub_ps(one, v)));
  if constexpr (A == Act::tanh) return _mm512_mul_ps(g, _mm512_fnmadd_ps(v, v, one));
  if constexpr (A == Act::gelu) {
    const __m512 pdf = _mm512_mul_ps(_mm512_set1_ps(kInvSqrt2Pi),
                                     exp_ps(_mm512_mul_ps(_mm512_set1_ps(-0.5f), _mm512_mul_ps(v, v))));
    return _mm512_mul_ps(g, _mm512_fmadd_ps(v, pdf, phi_ps(v)));
  }
  if constexpr (A == Act::gelu_tanh) {
    const __m512 x2 = _mm512_mul_ps(v, v);
    const __m512 u2 = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(2.0f * kSqrt2OverPi), v),
                                    _mm512_fmadd_ps(_mm512_set1_ps(kGeluC), x2, one));
    const __m512 du2 = _mm512_mul_ps(_mm512_set1_ps(2.0f * kSqrt2OverPi),
                                     _mm512_fmadd_ps(_mm512_set1_ps(3.0f * kGeluC), x2, one));
    // σ(u2) and 1-σ(u2) both from e = exp(-|u2|): no cancellation in either tail
    const __m512 e = exp_ps(_mm512_sub_ps(zero, abs_ps(u2)));
    const __m512 r = _mm512_div_ps(one, _mm512_add_ps(one, e)), er = _mm512_mul_ps(e, r);
    const __mmask16 neg = lt0(u2);
    const __m512 s = _mm512_mask_blend_ps(neg, r, er);
    const __m512 ds = _mm512_mul_ps(s, _mm512_mask_blend_ps(neg, er, r));
    return _mm512_mul_ps(g, _mm512_fmadd_ps(_mm512_mul_ps(v, ds), du2, s));
  }
  if constexpr (A == Act::silu) {  // σ(v)(1 + v(1 − σ(v))), σ and 1-σ from e = exp(-|v|)
    const __m512 e = exp_ps(_mm512_sub_ps(zero, abs_ps(v)));
    const __m512 r = _mm512_div_ps(one, _mm512_add_ps(one, e)), er = _mm512_mul_ps(e, r);
    const __mmask16 neg = lt0(v);
    const __m512 s = _mm512_mask_blend_ps(neg, r, er), sc = _mm512_mask_blend_ps(neg, er, r);
    return _mm512_mul_ps(_mm512_mul_ps(g, s), _mm512_fmadd_ps(v, sc, one));
  }
  return g;
}

// y = act(x + bias): BIAS 0 none, 1 per-element vector, 2 one scalar.
template <Act A, int BIAS>
void span(float* y, const float* x, int64_t n, float slope_s, const float* bvec, float bscalar) {
  const __m512 slope = _mm512_set1_ps(slope_s), bs = _mm512_set1_ps(bscalar);
  auto in = [&](int64_t i, __mmask16 m) {
    __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    if constexpr (BIAS == 1) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, bvec + i));
    if constexpr (BIAS == 2) v = _mm512_add_ps(v, bs);
    return v;
  };
  const __mmask16 all = 0xFFFF;
  int64_t i = head16(y, n);  // a masked head aligns the stores
  if (i) _mm512_mask_storeu_ps(y, mask16(i), act16<A>(in(0, mask16(i)), slope));
  for (; i + 32 <= n; i += 32) {
    const __m512 a = act16<A>(in(i, all), slope), b = act16<A>(in(i + 16, all), slope);
    _mm512_storeu_ps(y + i, a);
    _mm512_storeu_ps(y + i + 16, b);
  }
  for (; i < n; i += 16) {
    const __mmask16 m = mask16(n - i);
    _mm512_mask_storeu_ps(y + i, m, act16<A>(in(i, m), slope));
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
  const __m512 slope = _mm512_set1_ps(slope_s);
  int64_t i = head16(gx, n);  // a masked head aligns the stores
  if (i) {
    const __mmask16 m = mask16(i);
    _mm512_mask_storeu_ps(gx, m, dact16<A>(_mm512_maskz_loadu_ps(m, g), _mm512_maskz_loadu_ps(m, v), slope));
  }
  for (; i + 32 <= n; i += 32) {
    const __m512 a = dact16<A>(_mm512_loadu_ps(g + i), _mm512_loadu_ps(v + i), slope);
    const __m512 b = dact16<A>(_mm512_loadu_ps(g + i + 16), _mm512_loadu_ps(v + i + 16), slope);
    _mm512_storeu_ps(gx + i, a);
    _mm512_storeu_ps(gx + i + 16, b);
  }
  for (; i < n; i += 16) {
    const __mmask16 m = mask16(n - i);
    _mm512_mask_storeu_ps(gx + i, m, dact16<A>(_mm512_maskz_loadu_ps(m, g + i), _mm512_maskz_loadu_ps(m, v + i), slope));
  }
}

}  // namespace

void act_span_avx512(float* y, const float* x, int64_t n, Act act, float slope, const float* bvec,
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

void act_backward_span_avx512(float* gx, const float* g, const float* v, int64_t n, Act act, float slope) {
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

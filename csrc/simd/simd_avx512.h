// AVX-512 vector math shared by the *_avx512.cpp kernels: include ONLY from *_avx512.cpp
// files. Everything is `static inline` (internal linkage), so no AVX-512 copy of a helper
// can become the one a generic or AVX2 caller links to (tests/test_isa_isolation.py).
//
// Accuracy (float32): exp2 / exp relative error < 2e-7 over their range.
#pragma once
#include <immintrin.h>
#include <cstdint>

namespace nk {
namespace simd512 {

// Lanes [0, n) set, for n in [0, 16] (float32 masked loads/stores).
static inline __mmask16 mask16(int64_t n) {
  return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}
// Lanes [0, n) set, for n in [0, 8] (float64).
static inline __mmask8 mask8(int64_t n) {
  return n >= 8 ? __mmask8(0xFF) : n <= 0 ? __mmask8(0) : __mmask8((1u << n) - 1);
}

// 2^t: t = n + r with n = round(t), |r| <= 1/2; 2^r by its degree-6 Taylor polynomial;
// 2^n by _mm512_scalef_ps (exact, handles the exponent range). t < -126 gives exactly 0,
// so masked (−inf) scores contribute nothing; NaN stays NaN.
static inline __m512 exp2_ps(__m512 t) {
  const __m512 lo = _mm512_set1_ps(-126.0f);
  const __mmask16 under = _mm512_cmp_ps_mask(t, lo, _CMP_LT_OQ);
  t = _mm512_min_ps(_mm512_set1_ps(128.0f), t);  // t second: NaN passes through
  const __m512 fx = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 r = _mm512_sub_ps(t, fx);
  __m512 y = _mm512_set1_ps(1.5403530393e-4f);
  y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.3333558146e-3f));
  y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(9.6181291076e-3f));
  y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(5.5504108665e-2f));
  y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(2.4022650696e-1f));
  y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(6.9314718056e-1f));
  y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.0f));
  y = _mm512_scalef_ps(y, fx);
  return _mm512_maskz_mov_ps(static_cast<__mmask16>(~under), y);
}

// e^x = 2^(x·log2 e); x < −87.3 gives exactly 0.
static inline __m512 exp_ps(__m512 x) { return exp2_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f))); }

}  // namespace simd512
}  // namespace nk

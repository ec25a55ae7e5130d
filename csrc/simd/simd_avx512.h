// AVX-512 vector math shared by the *_avx512.cpp kernels: include ONLY from *_avx512.cpp
// files. Everything is `static inline` or in an unnamed namespace (internal linkage), so no
// AVX-512 copy of a helper can become the one a generic or AVX2 caller links to
// (tests/test_isa_isolation.py).
//
// Accuracy: the AVX2 helpers' (simd/simd_avx2.h), most of them bit for bit: exp2 rel err
// < 2e-7; exp 2e-8 + rounding; sigmoid / tanh (float and double) ≤ 4 ulp; ½erfc 6e-8.
#pragma once
// GCC 12 warns falsely inside its own AVX-512 intrinsics (the _mm512_undefined_* pass-through
// of max/roundscale/cvt/shift/reduce: GCC bug 105593, fixed in GCC 13). The warning is placed in
// avx512fintrin.h, so this must come before that header's first inclusion: the
// *_avx512.cpp files include this header first.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#include <immintrin.h>
#include <cstdint>

namespace nk {
namespace simd512 {

// Lanes [0, n) set, for n in [0, 16] (float32 masked loads/stores).
static inline __mmask16 mask16(int64_t n) {
  return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}
// Floats before p reaches a 64-byte boundary, at most n: a masked head of that many lanes
// makes the following full-vector accesses aligned (an unaligned zmm access splits a cache
// line every time; NumPy's large buffers are typically 16 bytes off a line).
static inline int64_t head16(const void* p, int64_t n) {
  const int64_t h = int64_t((0 - reinterpret_cast<uintptr_t>(p)) & 63) >> 2;
  return h < n ? h : n;
}
// Lanes [0, n) set, for n in [0, 8] (float64).
static inline __mmask8 mask8(int64_t n) {
  return n >= 8 ? __mmask8(0xFF) : n <= 0 ? __mmask8(0) : __mmask8((1u << n) - 1);
}

// 2^t: t = n + r with n = round(t), |r| <= 1/2; 2^r by a degree-5 fit on [-1/2, 1/2]
// (relative-error weighted, fitted here; max relative error 1.6e-7 in float32 Horner form);
// 2^n by _mm512_scalef_ps, which is exact and saturates to +inf. Lanes with t < -126
// (−inf included) are exactly 0 inside the final scalef, so masked scores contribute
// nothing; NaN stays NaN.
static inline __m512 exp2_ps(__m512 t) {
  const __mmask16 keep = _mm512_cmp_ps_mask(t, _mm512_set1_ps(-126.0f), _CMP_NLT_UQ);
  const __m512 fx = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 r = _mm512_sub_ps(t, fx);
  __m512 y = _mm512_set1_ps(1.3264728477e-3f);
  y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(9.6715129912e-3f));
  y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(5.5507335812e-2f));
  y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(2.4022242427e-1f));
  y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(6.9314700365e-1f));
  y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.0f));
  return _mm512_maskz_scalef_ps(keep, y, fx);
}

// ---- small pieces ---------------------------------------------------------------------
static inline __m512 abs_ps(__m512 x) { return _mm512_abs_ps(x); }
static inline __m512d abs_pd(__m512d x) { return _mm512_abs_pd(x); }
// Lanes whose sign bit is set (−0 and negative NaNs included), as blendv on the AVX2 side.
static inline __mmask16 signs(__m512 x) { return _mm512_movepi32_mask(_mm512_castps_si512(x)); }
static inline __mmask8 signs(__m512d x) { return _mm512_movepi64_mask(_mm512_castpd_si512(x)); }
// max that returns NaN when either operand is NaN
static inline __m512 nanmax_ps(__m512 a, __m512 b) {
  return _mm512_mask_add_ps(_mm512_max_ps(a, b), _mm512_cmp_ps_mask(a, b, _CMP_UNORD_Q), a, b);
}

// e^x: x = n·ln2 + r (Cody–Waite split of ln2), |r| ≤ ln2/2, degree-6 polynomial fitted on
// Chebyshev nodes (rel err 2e-8 before rounding: the AVX2 path's exp_ps, bit for bit on
// [−87.3, 88]), 2^n by _mm512_scalef_ps. x < −87.33 gives exactly 0, x > 88.5 is taken as
// 88.5; NaN stays NaN.
static inline __m512 exp_ps(__m512 x) {
  const __m512 lo = _mm512_set1_ps(-87.33654f);
  const __mmask16 under = _mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ);
  const __m512 xc = _mm512_min_ps(_mm512_set1_ps(88.5f), _mm512_max_ps(lo, x));  // x second: NaN passes
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), xc);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(0.00139485808239629f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.00837512889049723f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.04166621827432464f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.16666415477234783f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5000000107749407f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0000000377274487f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_maskz_mov_ps(static_cast<__mmask16>(~under), _mm512_scalef_ps(p, n));
}

// log(x) for finite x > 0: x = m·2^e with m ∈ [√½, √2), log m = 2·atanh(s),
// s = (m−1)/(m+1), |s| ≤ 0.172, 2·atanh(s) = 2s(1 + s²/3 + … + s¹⁰/11) (as the AVX2 log_ps).
static inline __m512 log_ps(__m512 x) {
  const __m512i bits = _mm512_castps_si512(x);
  const __m512i e = _mm512_srai_epi32(_mm512_sub_epi32(bits, _mm512_set1_epi32(0x3f3504f3)), 23);
  const __m512 m = _mm512_castsi512_ps(_mm512_sub_epi32(bits, _mm512_slli_epi32(e, 23)));
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 sv = _mm512_div_ps(_mm512_sub_ps(m, one), _mm512_add_ps(m, one));
  const __m512 s2 = _mm512_mul_ps(sv, sv);
  __m512 p = _mm512_set1_ps(1.0f / 11);
  p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(1.0f / 9));
  p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(1.0f / 7));
  p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(1.0f / 5));
  p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(1.0f / 3));
  p = _mm512_mul_ps(p, s2);
  const __m512 two_s = _mm512_add_ps(sv, sv);
  const __m512 logm = _mm512_fmadd_ps(two_s, p, two_s);
  const __m512 ef = _mm512_cvtepi32_ps(e);
  return _mm512_fmadd_ps(ef, _mm512_set1_ps(0.693359375f),
                         _mm512_fmadd_ps(ef, _mm512_set1_ps(-2.12194440e-4f), logm));
}

// ---- the expm1 core of sigmoid / tanh (the AVX2 path's, bit for bit) --------------------
// e^y = scale · (1 + p) for y in [−87, 0] (float) / [−708, 0] (double); expm1(r) by its
// Taylor polynomial, degree 7 (float) / 13 (double): truncation below half an ulp.
static inline void exp_parts_ps(__m512 y, __m512& scale, __m512& p) {
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(y, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), y);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 q = _mm512_set1_ps(1.0f / 5040);
  q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(1.0f / 720));
  q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(1.0f / 120));
  q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(1.0f / 24));
  q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(1.0f / 6));
  q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(_mm512_mul_ps(q, r), r, r);
  const __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
  scale = _mm512_castsi512_ps(e);
}

static inline void exp_parts_pd(__m512d y, __m512d& scale, __m512d& p) {
  const __m512d n = _mm512_roundscale_pd(_mm512_mul_pd(y, _mm512_set1_pd(1.4426950408889634074)),
                                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512d r = _mm512_fnmadd_pd(n, _mm512_set1_pd(6.93147180369123816490e-01), y);
  r = _mm512_fnmadd_pd(n, _mm512_set1_pd(1.90821492927058770002e-10), r);
  __m512d q = _mm512_set1_pd(1.0 / 6227020800.0);
  q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(1.0 / 479001600.0));
  q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(1.0 / 39916800.0));
  q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(1.0 / 3628800.0));
  q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(1.0 / 362880.0));
  q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(1.0 / 40320.0));
  q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(1.0 / 5040.0));
  q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(1.0 / 720.0));
  q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(1.0 / 120.0));
  q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(1.0 / 24.0));
  q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(1.0 / 6.0));
  q = _mm512_fmadd_pd(q, r, _mm512_set1_pd(0.5));
  p = _mm512_fmadd_pd(_mm512_mul_pd(q, r), r, r);
  const __m512i e = _mm512_slli_epi64(_mm512_add_epi64(_mm512_cvtpd_epi64(n), _mm512_set1_epi64(1023)), 52);
  scale = _mm512_castsi512_pd(e);
}

// ---- sigmoid, tanh: ≤ 4 ulp (tests/test_rnn.py::test_simd_activations) ------------------
// sigmoid = 1/(1+e) (x ≥ 0) or e/(1+e) (x < 0), e = e^−|x|, exactly 0 below −87 / −708.
static inline __m512 sigmoid_ps(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.0f), lo = _mm512_set1_ps(-87.0f);
  const __m512 y = _mm512_sub_ps(_mm512_setzero_ps(), abs_ps(x));
  __m512 scale, p;
  exp_parts_ps(_mm512_max_ps(lo, y), scale, p);
  const __m512 e = _mm512_maskz_fmadd_ps(static_cast<__mmask16>(~_mm512_cmp_ps_mask(y, lo, _CMP_LT_OQ)), scale, p, scale);
  const __m512 d = _mm512_div_ps(one, _mm512_add_ps(one, e));
  return _mm512_mask_mul_ps(d, signs(x), e, d);
}

static inline __m512d sigmoid_pd(__m512d x) {
  const __m512d one = _mm512_set1_pd(1.0), lo = _mm512_set1_pd(-708.0);
  const __m512d y = _mm512_sub_pd(_mm512_setzero_pd(), abs_pd(x));
  __m512d scale, p;
  exp_parts_pd(_mm512_max_pd(lo, y), scale, p);
  const __m512d e = _mm512_maskz_fmadd_pd(static_cast<__mmask8>(~_mm512_cmp_pd_mask(y, lo, _CMP_LT_OQ)), scale, p, scale);
  const __m512d d = _mm512_div_pd(one, _mm512_add_pd(one, e));
  return _mm512_mask_mul_pd(d, signs(x), e, d);
}

// tanh = sign(x) · −u/(u+2), u = expm1(−2|x|) (accurate near 0 too).
static inline __m512 tanh_ps(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.0f);
  __m512 scale, p;
  exp_parts_ps(_mm512_max_ps(_mm512_set1_ps(-40.0f), _mm512_mul_ps(_mm512_set1_ps(-2.0f), abs_ps(x))), scale, p);
  const __m512 u = _mm512_fmadd_ps(scale, p, _mm512_sub_ps(scale, one));
  const __m512 t = _mm512_div_ps(_mm512_sub_ps(_mm512_setzero_ps(), u), _mm512_add_ps(u, _mm512_set1_ps(2.0f)));
  return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(_mm512_castps_si512(t), _mm512_castps_si512(x),
                                                       _mm512_set1_epi32(int32_t(0x80000000u)), 0x78));  // t ^ (x & sign)
}

static inline __m512d tanh_pd(__m512d x) {
  const __m512d one = _mm512_set1_pd(1.0);
  __m512d scale, p;
  exp_parts_pd(_mm512_max_pd(_mm512_set1_pd(-40.0), _mm512_mul_pd(_mm512_set1_pd(-2.0), abs_pd(x))), scale, p);
  const __m512d u = _mm512_fmadd_pd(scale, p, _mm512_sub_pd(scale, one));
  const __m512d t = _mm512_div_pd(_mm512_sub_pd(_mm512_setzero_pd(), u), _mm512_add_pd(u, _mm512_set1_pd(2.0)));
  return _mm512_castsi512_pd(_mm512_ternarylogic_epi64(_mm512_castpd_si512(t), _mm512_castpd_si512(x),
                                                       _mm512_set1_epi64(int64_t(0x8000000000000000ull)), 0x78));
}

// ---- erfc / Φ (the gelu's) --------------------------------------------------------------
// ½·erfc(z) for z ≥ 0: t·exp(−z² + P9(t)), t = 2/(2+z): rel err 6e-8 (1.5e-6 at z≈4 in f32).
static inline __m512 half_erfc_ps(__m512 z) {
  const __m512 two = _mm512_set1_ps(2.0f);
  const __m512 t = _mm512_div_ps(two, _mm512_add_ps(two, z));
  __m512 p = _mm512_set1_ps(0.1429243179335899f);
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.6698640630945442f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.130835619334948f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.6616400122818744f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.10903463630739925f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.01661692415527437f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.02935567571981584f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.38774431260939385f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.9985034988774035f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.26544159147179f));
  const __m512 e = exp_ps(_mm512_fnmadd_ps(z, z, p));
  return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), t), e);
}

// Φ(x) = P(N(0,1) ≤ x), accurate in both tails.
static inline __m512 phi_ps(__m512 x) {
  const __m512 q = half_erfc_ps(_mm512_mul_ps(abs_ps(x), _mm512_set1_ps(0.70710678118654752f)));
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ),
                              _mm512_sub_ps(_mm512_set1_ps(1.0f), q), q);
}

// ---- the float vector, for loops written once over the ISA (conv/conv_direct_gw_tile.h) ----
// In an unnamed namespace: its inline members must not be weak symbols either.
namespace {
struct VecF {
  using V = __m512;
  static constexpr int L = 16;  // float lanes
  static V zero() { return _mm512_setzero_ps(); }
  static V load(const float* p) { return _mm512_load_ps(p); }  // aligned
  static V bcast(const float* p) { return _mm512_set1_ps(*p); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static void store(float* p, V v) { _mm512_store_ps(p, v); }  // aligned
};
}  // namespace

}  // namespace simd512
}  // namespace nk

// AVX2/FMA vector math shared by the *_avx2.cpp kernels: include ONLY from *_avx2.cpp
// files. Everything is `static inline` or in an unnamed namespace (internal linkage), so no
// AVX2 copy of a helper can become the one a generic caller links to
// (tests/test_isa_isolation.py).
//
// Accuracy (float32 unless said; measured against float64 references in the tests):
//   exp_ps      x = n·ln2 + r (Cody–Waite), |r| ≤ ln2/2, degree-6 fit on Chebyshev nodes
//               (rel err 2e-8 before rounding), 2^n by exponent arithmetic; x < −87.34 → 0
//   exp2_ps     2^t, degree-6 Taylor of 2^r, |r| ≤ ½: rel err < 2e-7; t < −126 → 0
//   log_ps      finite x > 0: 2·atanh((m−1)/(m+1)) series, truncation < 1e-9
//   sigmoid, tanh (ps and pd): one expm1 core (Taylor, degree 7 float / 13 double, below
//               half an ulp), sigmoid = 1/(1+e) or e/(1+e), e = e^−|x| (0 below −87 /
//               −708); tanh = −u/(u+2),
//               u = expm1(−2|x|): ≤ 4 ulp everywhere (tests/test_rnn.py::test_simd_activations)
//   half_erfc_ps ½·erfc(z), z ≥ 0: t·exp(−z² + P9(t)), t = 2/(2+z): rel err 6e-8 (1.5e-6 at
//               z≈4 in float32); phi_ps(x) = Φ(x) from it, accurate in both tails
// NaN passes through every function.
#pragma once
#include <immintrin.h>
#include <cstdint>

namespace nk {
namespace simd256 {

// ---- tail masks -----------------------------------------------------------------------
// Lanes [0, n) set (float32 / int32 lanes), any n (≤ 0: none, ≥ 8: all).
static inline __m256i mask8(int64_t n) {
  const int32_t c = n <= 0 ? 0 : n >= 8 ? 8 : int32_t(n);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(c), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
// Lanes [0, n) set (float64 lanes), any n.
static inline __m256i mask4(int64_t n) {
  const int64_t c = n <= 0 ? 0 : n >= 4 ? 4 : n;
  return _mm256_cmpgt_epi64(_mm256_set1_epi64x(c), _mm256_setr_epi64x(0, 1, 2, 3));
}

// ---- small pieces ---------------------------------------------------------------------
static inline __m256 abs_ps(__m256 x) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x); }
static inline __m256d abs_pd(__m256d x) { return _mm256_andnot_pd(_mm256_set1_pd(-0.0), x); }
// max that returns NaN when either operand is NaN (all-ones bits are a NaN)
static inline __m256 nanmax_ps(__m256 a, __m256 b) {
  return _mm256_or_ps(_mm256_max_ps(a, b), _mm256_cmp_ps(a, b, _CMP_UNORD_Q));
}

// ---- exp, exp2, log -------------------------------------------------------------------
static inline __m256 exp_ps(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-87.33654f), hi = _mm256_set1_ps(88.0f);
  __m256 xc = _mm256_min_ps(hi, _mm256_max_ps(lo, x));  // x second: NaN passes through
  __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                             _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(0.00139485808239629f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.00837512889049723f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.04166621827432464f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.16666415477234783f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5000000107749407f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0000000377274487f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  __m256 y = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
  return _mm256_andnot_ps(_mm256_cmp_ps(x, lo, _CMP_LT_OQ), y);  // underflow → 0
}

// 2^t: t = n + r with n = round(t), |r| ≤ ½; 2^n added to the exponent bits. t < −126
// gives exactly 0, so masked (−inf) scores contribute nothing.
static inline __m256 exp2_ps(__m256 t) {
  const __m256 lo = _mm256_set1_ps(-126.0f);
  const __m256 zero_mask = _mm256_cmp_ps(t, lo, _CMP_LT_OQ);
  t = _mm256_max_ps(lo, _mm256_min_ps(_mm256_set1_ps(127.0f), t));  // t second: NaN passes
  const __m256 fx = _mm256_round_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256 r = _mm256_sub_ps(t, fx);
  __m256 y = _mm256_set1_ps(1.5403530393e-4f);
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.3333558146e-3f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(9.6181291076e-3f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(5.5504108665e-2f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(2.4022650696e-1f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(6.9314718056e-1f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.0f));
  const __m256i e = _mm256_slli_epi32(_mm256_cvtps_epi32(fx), 23);
  y = _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(y), e));
  return _mm256_andnot_ps(zero_mask, y);
}

// log(x) for finite x > 0: x = m·2^e with m ∈ [√½, √2), log m = 2·atanh(s),
// s = (m−1)/(m+1), |s| ≤ 0.172, 2·atanh(s) = 2s(1 + s²/3 + … + s¹⁰/11).
static inline __m256 log_ps(__m256 x) {
  const __m256i bits = _mm256_castps_si256(x);
  // exponent of x / √½ so the mantissa lands in [√½, √2)
  const __m256i adj = _mm256_sub_epi32(bits, _mm256_set1_epi32(0x3f3504f3));
  const __m256i e = _mm256_srai_epi32(adj, 23);
  const __m256 m = _mm256_castsi256_ps(_mm256_sub_epi32(bits, _mm256_slli_epi32(e, 23)));
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 sv = _mm256_div_ps(_mm256_sub_ps(m, one), _mm256_add_ps(m, one));
  const __m256 s2 = _mm256_mul_ps(sv, sv);
  __m256 p = _mm256_set1_ps(1.0f / 11);
  p = _mm256_fmadd_ps(p, s2, _mm256_set1_ps(1.0f / 9));
  p = _mm256_fmadd_ps(p, s2, _mm256_set1_ps(1.0f / 7));
  p = _mm256_fmadd_ps(p, s2, _mm256_set1_ps(1.0f / 5));
  p = _mm256_fmadd_ps(p, s2, _mm256_set1_ps(1.0f / 3));
  p = _mm256_mul_ps(p, s2);
  const __m256 two_s = _mm256_add_ps(sv, sv);
  const __m256 logm = _mm256_fmadd_ps(two_s, p, two_s);
  const __m256 ef = _mm256_cvtepi32_ps(e);
  // e·ln2 with ln2 split in two so e·ln2_hi is exact
  return _mm256_fmadd_ps(ef, _mm256_set1_ps(0.693359375f),
                         _mm256_fmadd_ps(ef, _mm256_set1_ps(-2.12194440e-4f), logm));
}

// ---- the expm1 core of sigmoid / tanh ---------------------------------------------------
// e^y = scale · (1 + p) for y in [−87, 0] (float) / [−708, 0] (double).
static inline void exp_parts_ps(__m256 y, __m256& scale, __m256& p) {
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(y, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), y);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 q = _mm256_set1_ps(1.0f / 5040);
  q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(1.0f / 720));
  q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(1.0f / 120));
  q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(1.0f / 24));
  q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(1.0f / 6));
  q = _mm256_fmadd_ps(q, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(_mm256_mul_ps(q, r), r, r);
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  scale = _mm256_castsi256_ps(e);
}

static inline void exp_parts_pd(__m256d y, __m256d& scale, __m256d& p) {
  const __m256d n = _mm256_round_pd(_mm256_mul_pd(y, _mm256_set1_pd(1.4426950408889634074)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256d r = _mm256_fnmadd_pd(n, _mm256_set1_pd(6.93147180369123816490e-01), y);
  r = _mm256_fnmadd_pd(n, _mm256_set1_pd(1.90821492927058770002e-10), r);
  // expm1(r) = r + r^2 (1/2! + r/3! + ... + r^11/13!)
  __m256d q = _mm256_set1_pd(1.0 / 6227020800.0);
  q = _mm256_fmadd_pd(q, r, _mm256_set1_pd(1.0 / 479001600.0));
  q = _mm256_fmadd_pd(q, r, _mm256_set1_pd(1.0 / 39916800.0));
  q = _mm256_fmadd_pd(q, r, _mm256_set1_pd(1.0 / 3628800.0));
  q = _mm256_fmadd_pd(q, r, _mm256_set1_pd(1.0 / 362880.0));
  q = _mm256_fmadd_pd(q, r, _mm256_set1_pd(1.0 / 40320.0));
  q = _mm256_fmadd_pd(q, r, _mm256_set1_pd(1.0 / 5040.0));
  q = _mm256_fmadd_pd(q, r, _mm256_set1_pd(1.0 / 720.0));
  q = _mm256_fmadd_pd(q, r, _mm256_set1_pd(1.0 / 120.0));
  q = _mm256_fmadd_pd(q, r, _mm256_set1_pd(1.0 / 24.0));
  q = _mm256_fmadd_pd(q, r, _mm256_set1_pd(1.0 / 6.0));
  q = _mm256_fmadd_pd(q, r, _mm256_set1_pd(0.5));
  p = _mm256_fmadd_pd(_mm256_mul_pd(q, r), r, r);
  const __m128i n32 = _mm256_cvtpd_epi32(n);
  const __m256i e = _mm256_slli_epi64(_mm256_add_epi64(_mm256_cvtepi32_epi64(n32), _mm256_set1_epi64x(1023)), 52);
  scale = _mm256_castsi256_pd(e);
}

// ---- sigmoid, tanh ----------------------------------------------------------------------
static inline __m256 sigmoid_ps(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 lo = _mm256_set1_ps(-87.0f), y = _mm256_sub_ps(_mm256_setzero_ps(), abs_ps(x));
  __m256 scale, p;
  exp_parts_ps(_mm256_max_ps(lo, y), scale, p);
  // e^−|x| in [0, 1]: exactly 0 below −87, so sigmoid(−inf) = 0 and x·sigmoid(x) → −0
  const __m256 e = _mm256_andnot_ps(_mm256_cmp_ps(y, lo, _CMP_LT_OQ), _mm256_fmadd_ps(scale, p, scale));
  const __m256 d = _mm256_div_ps(one, _mm256_add_ps(one, e));   // sigmoid(|x|)
  return _mm256_blendv_ps(d, _mm256_mul_ps(e, d), x);            // by the sign of x
}

static inline __m256d sigmoid_pd(__m256d x) {
  const __m256d one = _mm256_set1_pd(1.0);
  const __m256d lo = _mm256_set1_pd(-708.0), y = _mm256_sub_pd(_mm256_setzero_pd(), abs_pd(x));
  __m256d scale, p;
  exp_parts_pd(_mm256_max_pd(lo, y), scale, p);
  const __m256d e = _mm256_andnot_pd(_mm256_cmp_pd(y, lo, _CMP_LT_OQ), _mm256_fmadd_pd(scale, p, scale));
  const __m256d d = _mm256_div_pd(one, _mm256_add_pd(one, e));
  return _mm256_blendv_pd(d, _mm256_mul_pd(e, d), x);
}

static inline __m256 tanh_ps(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  __m256 scale, p;
  exp_parts_ps(_mm256_max_ps(_mm256_set1_ps(-40.0f), _mm256_mul_ps(_mm256_set1_ps(-2.0f), abs_ps(x))), scale, p);
  const __m256 u = _mm256_fmadd_ps(scale, p, _mm256_sub_ps(scale, one));  // expm1(−2|x|) in (−1, 0]
  const __m256 t = _mm256_div_ps(_mm256_sub_ps(_mm256_setzero_ps(), u), _mm256_add_ps(u, _mm256_set1_ps(2.0f)));
  return _mm256_xor_ps(t, _mm256_and_ps(_mm256_set1_ps(-0.0f), x));
}

static inline __m256d tanh_pd(__m256d x) {
  const __m256d one = _mm256_set1_pd(1.0);
  __m256d scale, p;
  exp_parts_pd(_mm256_max_pd(_mm256_set1_pd(-40.0), _mm256_mul_pd(_mm256_set1_pd(-2.0), abs_pd(x))), scale, p);
  const __m256d u = _mm256_fmadd_pd(scale, p, _mm256_sub_pd(scale, one));
  const __m256d t = _mm256_div_pd(_mm256_sub_pd(_mm256_setzero_pd(), u), _mm256_add_pd(u, _mm256_set1_pd(2.0)));
  return _mm256_xor_pd(t, _mm256_and_pd(_mm256_set1_pd(-0.0), x));
}

// ---- erfc / Φ (the gelu's) --------------------------------------------------------------
// ½·erfc(z) for z ≥ 0.
static inline __m256 half_erfc_ps(__m256 z) {
  const __m256 two = _mm256_set1_ps(2.0f);
  __m256 t = _mm256_div_ps(two, _mm256_add_ps(two, z));
  __m256 p = _mm256_set1_ps(0.1429243179335899f);
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.6698640630945442f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.130835619334948f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.6616400122818744f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.10903463630739925f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.01661692415527437f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.02935567571981584f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.38774431260939385f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.9985034988774035f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.26544159147179f));
  __m256 e = exp_ps(_mm256_fnmadd_ps(z, z, p));
  return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), t), e);
}

// Φ(x) = P(N(0,1) ≤ x).
static inline __m256 phi_ps(__m256 x) {
  __m256 q = half_erfc_ps(_mm256_mul_ps(abs_ps(x), _mm256_set1_ps(0.70710678118654752f)));
  return _mm256_blendv_ps(_mm256_sub_ps(_mm256_set1_ps(1.0f), q), q,
                          _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ));
}

// In-register 8×8 transpose: r[i] lane j := r[j] lane i (unpack, shuffle, permute2f128).
static inline void transpose8x8_regs(__m256 r[8]) {
  const __m256 u0 = _mm256_unpacklo_ps(r[0], r[1]), u1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 u2 = _mm256_unpacklo_ps(r[2], r[3]), u3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 u4 = _mm256_unpacklo_ps(r[4], r[5]), u5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 u6 = _mm256_unpacklo_ps(r[6], r[7]), u7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 v0 = _mm256_shuffle_ps(u0, u2, 0x44), v1 = _mm256_shuffle_ps(u0, u2, 0xEE);
  const __m256 v2 = _mm256_shuffle_ps(u1, u3, 0x44), v3 = _mm256_shuffle_ps(u1, u3, 0xEE);
  const __m256 v4 = _mm256_shuffle_ps(u4, u6, 0x44), v5 = _mm256_shuffle_ps(u4, u6, 0xEE);
  const __m256 v6 = _mm256_shuffle_ps(u5, u7, 0x44), v7 = _mm256_shuffle_ps(u5, u7, 0xEE);
  r[0] = _mm256_permute2f128_ps(v0, v4, 0x20);
  r[1] = _mm256_permute2f128_ps(v1, v5, 0x20);
  r[2] = _mm256_permute2f128_ps(v2, v6, 0x20);
  r[3] = _mm256_permute2f128_ps(v3, v7, 0x20);
  r[4] = _mm256_permute2f128_ps(v0, v4, 0x31);
  r[5] = _mm256_permute2f128_ps(v1, v5, 0x31);
  r[6] = _mm256_permute2f128_ps(v2, v6, 0x31);
  r[7] = _mm256_permute2f128_ps(v3, v7, 0x31);
}

// dst[i·ld + j] = src[j][t + i] for i, j < 8: an 8×8 block through registers.
static inline void transpose8x8_ps(const float* const* src, int64_t t, float* dst, int64_t ld) {
  __m256 r[8];
  for (int j = 0; j < 8; ++j) r[j] = _mm256_loadu_ps(src[j] + t);
  transpose8x8_regs(r);
  for (int i = 0; i < 8; ++i) _mm256_storeu_ps(dst + i * ld, r[i]);
}

// ---- the float vector, for loops written once over the ISA (conv/conv_direct_gw_tile.h) ----
// In an unnamed namespace: its inline members must not be weak symbols either.
namespace {
struct VecF {
  using V = __m256;
  static constexpr int L = 8;  // float lanes
  static V zero() { return _mm256_setzero_ps(); }
  static V load(const float* p) { return _mm256_load_ps(p); }  // aligned
  static V bcast(const float* p) { return _mm256_broadcast_ss(p); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static void store(float* p, V v) { _mm256_store_ps(p, v); }  // aligned
};
}  // namespace

}  // namespace simd256
}  // namespace nk

// Softmax / log-softmax / cross-entropy pieces, float32, AVX2/FMA (twins in softmax.cpp).
// Rows (softmax along the last axis): 4 independent 8-lane accumulators per pass, a
// masked tail; passes: max (NaN-propagating), Σexp(x - max) (storing exp for softmax),
// then a scale (softmax) or shift (log-softmax) pass over the row while it sits in L1/L2.
// Slabs (any other axis, x viewed as (C, inner)): 32 lanes of `inner` at a time, looping
// over C with a stride of `inner`; the running max and sum live in registers, so no
// transpose copy is made.
// Sums of exp are kept in float lanes and flushed to double every 2048 elements.
// exp(x): x = n·ln2 + r, |r| ≤ ln2/2, degree-6 polynomial fitted on Chebyshev nodes
// (rel err 2e-8 before rounding), 2^n by exponent arithmetic, x < -87.34 → 0.
// Measured (float32, best of 60, loaded shared 2-core Zen3, torch 2.13, 1 thread / 2 threads):
//   softmax 256×1000 last axis 0.15 / 0.076 ms (13 / 27 GB/s) 2.1× / 1.8×; log_softmax
//   64×10×28×28 axis=1 1.5× / 1.6×; cross_entropy 256×1000 1.9× / 1.8×; softmax_backward
//   0.85–1.0× (two passes, memory-bound, same as torch). Max rel err vs float64 7e-8 (torch 3e-6
//   on 64×32768). python benchmarks/pool_softmax_act_min.py 1 2; python -m nnkernels --only softmax
#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "softmax/softmax.h"

namespace nk {
namespace {

inline __m256 exp8(__m256 x) {
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

// log(x) for finite x > 0 (here x ≥ 1: a sum of exps that includes exp(0)):
// x = m·2^e with m ∈ [√½, √2), log m = 2·atanh(s), s = (m-1)/(m+1), |s| ≤ 0.172,
// 2·atanh(s) = 2s(1 + s²/3 + s⁴/5 + … + s¹⁰/11) (series truncation < 1e-9).
inline __m256 log8(__m256 x) {
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
  return _mm256_fmadd_ps(ef, _mm256_set1_ps(0.693359375f), _mm256_fmadd_ps(ef, _mm256_set1_ps(-2.12194440e-4f), logm));
}

// max that returns NaN when either operand is NaN (all-ones bits are a NaN)
inline __m256 nanmax8(__m256 a, __m256 b) {
  return _mm256_or_ps(_mm256_max_ps(a, b), _mm256_cmp_ps(a, b, _CMP_UNORD_Q));
}

inline __m256i tail_mask(int64_t r) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(r)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

inline double hsum_d(__m256 v) {
  __m256d d = _mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(d), _mm256_extractf128_pd(d, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

inline float hmax_nan(__m256 v) {
  __m128 a = _mm256_castps256_ps128(v), b = _mm256_extractf128_ps(v, 1);
  __m128 m = _mm_or_ps(_mm_max_ps(a, b), _mm_cmpunord_ps(a, b));
  __m128 s = _mm_movehl_ps(m, m);
  m = _mm_or_ps(_mm_max_ps(m, s), _mm_cmpunord_ps(m, s));
  s = _mm_shuffle_ps(m, m, 1);
  m = _mm_or_ps(_mm_max_ss(m, s), _mm_cmpunord_ss(m, s));
  return _mm_cvtss_f32(m);
}

constexpr int64_t kFlush = 2048;  // elements per lane-sum flush into double

}  // namespace

float sm_row_max_avx2(const float* x, int64_t n) {
  const __m256 ninf = _mm256_set1_ps(-INFINITY);
  __m256 m0 = ninf, m1 = ninf, m2 = ninf, m3 = ninf;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    m0 = nanmax8(m0, _mm256_loadu_ps(x + i));
    m1 = nanmax8(m1, _mm256_loadu_ps(x + i + 8));
    m2 = nanmax8(m2, _mm256_loadu_ps(x + i + 16));
    m3 = nanmax8(m3, _mm256_loadu_ps(x + i + 24));
  }
  for (; i + 8 <= n; i += 8) m0 = nanmax8(m0, _mm256_loadu_ps(x + i));
  if (i < n) {
    const __m256i k = tail_mask(n - i);
    m1 = nanmax8(m1, _mm256_blendv_ps(ninf, _mm256_maskload_ps(x + i, k), _mm256_castsi256_ps(k)));
  }
  return hmax_nan(nanmax8(nanmax8(m0, m1), nanmax8(m2, m3)));
}

double sm_row_sumexp_avx2(const float* x, int64_t n, float m_s, float* y, double* sumx) {
  const __m256 m = _mm256_set1_ps(m_s), z = _mm256_setzero_ps();
  __m256 s0 = z, s1 = z, s2 = z, s3 = z, t0 = z, t1 = z;
  double total = 0.0, totalx = 0.0;
  int64_t i = 0;
  while (i + 32 <= n) {
    const int64_t stop = i + kFlush < n ? i + kFlush : n;
    for (; i + 32 <= stop; i += 32) {
      __m256 x0 = _mm256_loadu_ps(x + i), x1 = _mm256_loadu_ps(x + i + 8);
      __m256 x2 = _mm256_loadu_ps(x + i + 16), x3 = _mm256_loadu_ps(x + i + 24);
      __m256 e0 = exp8(_mm256_sub_ps(x0, m)), e1 = exp8(_mm256_sub_ps(x1, m));
      __m256 e2 = exp8(_mm256_sub_ps(x2, m)), e3 = exp8(_mm256_sub_ps(x3, m));
      if (y) {
        _mm256_storeu_ps(y + i, e0);
        _mm256_storeu_ps(y + i + 8, e1);
        _mm256_storeu_ps(y + i + 16, e2);
        _mm256_storeu_ps(y + i + 24, e3);
      }
      s0 = _mm256_add_ps(s0, e0);
      s1 = _mm256_add_ps(s1, e1);
      s2 = _mm256_add_ps(s2, e2);
      s3 = _mm256_add_ps(s3, e3);
      if (sumx) {
        t0 = _mm256_add_ps(t0, _mm256_add_ps(x0, x1));
        t1 = _mm256_add_ps(t1, _mm256_add_ps(x2, x3));
      }
    }
    total += hsum_d(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    s0 = s1 = s2 = s3 = z;
    if (sumx) {
      totalx += hsum_d(t0) + hsum_d(t1);
      t0 = t1 = z;
    }
  }
  for (; i < n; i += 8) {
    const __m256i k = tail_mask(n - i);
    const __m256 kf = _mm256_castsi256_ps(k);
    __m256 xv = _mm256_maskload_ps(x + i, k);
    __m256 e = _mm256_and_ps(exp8(_mm256_sub_ps(xv, m)), kf);
    if (y) _mm256_maskstore_ps(y + i, k, e);
    s0 = _mm256_add_ps(s0, e);
    t0 = _mm256_add_ps(t0, xv);
  }
  total += hsum_d(s0);
  if (sumx) *sumx = totalx + hsum_d(t0);
  return total;
}

void sm_row_scale_avx2(float* y, int64_t n, float a_s) {
  const __m256 a = _mm256_set1_ps(a_s);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(y + i), a));
  if (i < n) {
    const __m256i k = tail_mask(n - i);
    _mm256_maskstore_ps(y + i, k, _mm256_mul_ps(_mm256_maskload_ps(y + i, k), a));
  }
}

void sm_row_shift_avx2(float* y, const float* x, int64_t n, float m_s, float ls_s) {
  const __m256 m = _mm256_set1_ps(m_s), ls = _mm256_set1_ps(ls_s);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), m), ls));
  if (i < n) {
    const __m256i k = tail_mask(n - i);
    _mm256_maskstore_ps(y + i, k, _mm256_sub_ps(_mm256_sub_ps(_mm256_maskload_ps(x + i, k), m), ls));
  }
}

double sm_row_dot_avx2(const float* a, const float* b, int64_t n) {
  const __m256 z = _mm256_setzero_ps();
  __m256 s0 = z, s1 = z;
  double total = 0.0;
  int64_t i = 0;
  while (i + 16 <= n) {
    const int64_t stop = i + kFlush < n ? i + kFlush : n;
    for (; i + 16 <= stop; i += 16) {
      s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
      s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    total += hsum_d(_mm256_add_ps(s0, s1));
    s0 = s1 = z;
  }
  for (; i < n; i += 8) {
    const __m256i k = tail_mask(n - i);
    s0 = _mm256_fmadd_ps(_mm256_maskload_ps(a + i, k), _mm256_maskload_ps(b + i, k), s0);
  }
  return total + hsum_d(s0);
}

double sm_row_sum_avx2(const float* a, int64_t n) {
  const __m256 z = _mm256_setzero_ps();
  __m256 s0 = z, s1 = z;
  double total = 0.0;
  int64_t i = 0;
  while (i + 16 <= n) {
    const int64_t stop = i + kFlush < n ? i + kFlush : n;
    for (; i + 16 <= stop; i += 16) {
      s0 = _mm256_add_ps(_mm256_loadu_ps(a + i), s0);
      s1 = _mm256_add_ps(_mm256_loadu_ps(a + i + 8), s1);
    }
    total += hsum_d(_mm256_add_ps(s0, s1));
    s0 = s1 = z;
  }
  for (; i < n; i += 8) s0 = _mm256_add_ps(_mm256_maskload_ps(a + i, tail_mask(n - i)), s0);
  return total + hsum_d(s0);
}

void sm_row_bwd_avx2(float* gx, const float* g, const float* y, int64_t n, float d_s) {
  const __m256 d = _mm256_set1_ps(d_s);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(gx + i, _mm256_mul_ps(_mm256_loadu_ps(y + i), _mm256_sub_ps(_mm256_loadu_ps(g + i), d)));
  if (i < n) {
    const __m256i k = tail_mask(n - i);
    _mm256_maskstore_ps(gx + i, k, _mm256_mul_ps(_mm256_maskload_ps(y + i, k), _mm256_sub_ps(_mm256_maskload_ps(g + i, k), d)));
  }
}

void lsm_row_bwd_avx2(float* gx, const float* g, const float* y, int64_t n, float s_s) {
  const __m256 s = _mm256_set1_ps(s_s);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(gx + i, _mm256_fnmadd_ps(exp8(_mm256_loadu_ps(y + i)), s, _mm256_loadu_ps(g + i)));
  if (i < n) {
    const __m256i k = tail_mask(n - i);
    _mm256_maskstore_ps(gx + i, k, _mm256_fnmadd_ps(exp8(_mm256_maskload_ps(y + i, k)), s, _mm256_maskload_ps(g + i, k)));
  }
}

void ce_row_grad_avx2(float* gx, const float* x, int64_t n, float m_s, float ls_s, float scale_s, float off_s) {
  const __m256 m = _mm256_set1_ps(m_s), ls = _mm256_set1_ps(ls_s), sc = _mm256_set1_ps(scale_s),
               off = _mm256_set1_ps(off_s);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 p = exp8(_mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), m), ls));
    _mm256_storeu_ps(gx + i, _mm256_fmsub_ps(p, sc, off));
  }
  if (i < n) {
    const __m256i k = tail_mask(n - i);
    __m256 p = exp8(_mm256_sub_ps(_mm256_sub_ps(_mm256_maskload_ps(x + i, k), m), ls));
    _mm256_maskstore_ps(gx + i, k, _mm256_fmsub_ps(p, sc, off));
  }
}

namespace {

// 8 doubles -> 8 floats
inline __m256 tot_ps(const double* t) {
  return _mm256_set_m128(_mm256_cvtpd_ps(_mm256_load_pd(t + 4)), _mm256_cvtpd_ps(_mm256_load_pd(t)));
}

// Lanes [i0, i0 + 32) of a (C, inner) slab, FULL = all 32 in range (else masked by w).
template <bool FULL>
struct Lanes {
  __m256i k[4];
  explicit Lanes(int64_t w) {
    for (int v = 0; v < 4; ++v) k[v] = tail_mask(w - 8 * v < 0 ? 0 : w - 8 * v);
  }
  __m256 ld(const float* p, int v) const { return FULL ? _mm256_loadu_ps(p + 8 * v) : _mm256_maskload_ps(p + 8 * v, k[v]); }
  void st(float* p, int v, __m256 a) const {
    if (FULL) _mm256_storeu_ps(p + 8 * v, a);
    else _mm256_maskstore_ps(p + 8 * v, k[v], a);
  }
};

template <bool FULL>
void cols(float* y, const float* x, int64_t C, int64_t inner, int64_t w, bool log) {
  const Lanes<FULL> L(w);
  __m256 m[4], s[4];
  alignas(32) double tot[32] = {};
  for (int v = 0; v < 4; ++v) m[v] = _mm256_set1_ps(-INFINITY);
  for (int64_t c = 0; c < C; ++c)
    for (int v = 0; v < 4; ++v) m[v] = nanmax8(m[v], L.ld(x + c * inner, v));
  auto flush = [&] {
    for (int v = 0; v < 4; ++v) {
      double* t = tot + 8 * v;
      _mm256_store_pd(t, _mm256_add_pd(_mm256_load_pd(t), _mm256_cvtps_pd(_mm256_castps256_ps128(s[v]))));
      _mm256_store_pd(t + 4, _mm256_add_pd(_mm256_load_pd(t + 4), _mm256_cvtps_pd(_mm256_extractf128_ps(s[v], 1))));
      s[v] = _mm256_setzero_ps();
    }
  };
  for (int v = 0; v < 4; ++v) s[v] = _mm256_setzero_ps();
  for (int64_t c = 0; c < C; ++c) {
    for (int v = 0; v < 4; ++v) {
      __m256 e = exp8(_mm256_sub_ps(L.ld(x + c * inner, v), m[v]));
      if (!log) L.st(y + c * inner, v, e);
      s[v] = _mm256_add_ps(s[v], e);
    }
    if ((c & 255) == 255) flush();
  }
  flush();
  __m256 av[4];
  for (int v = 0; v < 4; ++v) {
    const __m256 t = tot_ps(tot + 8 * v);
    av[v] = log ? log8(t) : _mm256_div_ps(_mm256_set1_ps(1.0f), t);
  }
  for (int64_t c = 0; c < C; ++c)
    for (int v = 0; v < 4; ++v) {
      if (log) L.st(y + c * inner, v, _mm256_sub_ps(_mm256_sub_ps(L.ld(x + c * inner, v), m[v]), av[v]));
      else L.st(y + c * inner, v, _mm256_mul_ps(L.ld(y + c * inner, v), av[v]));
    }
}

template <bool FULL>
void cols_bwd(float* gx, const float* g, const float* y, int64_t C, int64_t inner, int64_t w, bool log) {
  const Lanes<FULL> L(w);
  __m256 s[4];
  alignas(32) double tot[32] = {};
  auto flush = [&] {
    for (int v = 0; v < 4; ++v) {
      double* t = tot + 8 * v;
      _mm256_store_pd(t, _mm256_add_pd(_mm256_load_pd(t), _mm256_cvtps_pd(_mm256_castps256_ps128(s[v]))));
      _mm256_store_pd(t + 4, _mm256_add_pd(_mm256_load_pd(t + 4), _mm256_cvtps_pd(_mm256_extractf128_ps(s[v], 1))));
      s[v] = _mm256_setzero_ps();
    }
  };
  for (int v = 0; v < 4; ++v) s[v] = _mm256_setzero_ps();
  for (int64_t c = 0; c < C; ++c) {
    for (int v = 0; v < 4; ++v) {
      __m256 gv = L.ld(g + c * inner, v);
      s[v] = log ? _mm256_add_ps(s[v], gv) : _mm256_fmadd_ps(gv, L.ld(y + c * inner, v), s[v]);
    }
    if ((c & 255) == 255) flush();
  }
  flush();
  __m256 av[4];
  for (int v = 0; v < 4; ++v) av[v] = tot_ps(tot + 8 * v);
  for (int64_t c = 0; c < C; ++c)
    for (int v = 0; v < 4; ++v) {
      __m256 gv = L.ld(g + c * inner, v), yv = L.ld(y + c * inner, v);
      L.st(gx + c * inner, v, log ? _mm256_fnmadd_ps(exp8(yv), av[v], gv) : _mm256_mul_ps(yv, _mm256_sub_ps(gv, av[v])));
    }
}

}  // namespace

void sm_cols_avx2(float* y, const float* x, int64_t C, int64_t inner, int64_t i0, int64_t i1, bool log) {
  if (i1 - i0 == 32) cols<true>(y + i0, x + i0, C, inner, 32, log);
  else cols<false>(y + i0, x + i0, C, inner, i1 - i0, log);
}

void sm_cols_bwd_avx2(float* gx, const float* g, const float* y, int64_t C, int64_t inner, int64_t i0,
                      int64_t i1, bool log) {
  if (i1 - i0 == 32) cols_bwd<true>(gx + i0, g + i0, y + i0, C, inner, 32, log);
  else cols_bwd<false>(gx + i0, g + i0, y + i0, C, inner, i1 - i0, log);
}

}  // namespace nk

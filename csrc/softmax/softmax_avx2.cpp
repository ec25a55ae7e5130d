// Softmax / log-softmax / cross-entropy pieces, float32, AVX2/FMA (twins in softmax.cpp).
// Rows (softmax along the last axis): 4 independent 8-lane accumulators per pass, a
// masked tail; passes: max (NaN-propagating), Σexp(x - max) (storing exp for softmax),
// then a scale (softmax) or shift (log-softmax) pass over the row while it sits in L1/L2.
// Slabs (any other axis, x viewed as (C, inner)): 32 lanes of `inner` at a time, looping
// over C with a stride of `inner`; the running max and sum live in registers, so no
// transpose copy is made.
// Sums of exp are kept in float lanes and flushed to double every 2048 elements.
// exp(x) and log(x) from simd/simd_avx2.h: x = n·ln2 + r, |r| ≤ ln2/2, degree-6 polynomial
// fitted on Chebyshev nodes (rel err 2e-8 before rounding), 2^n by exponent arithmetic,
// x < -87.34 → 0.
// Measured (float32, best of 60, loaded shared 2-core Zen3, torch 2.13, 1 thread / 2 threads):
//   softmax 256×1000 last axis 0.15 / 0.076 ms (13 / 27 GB/s) 2.1× / 1.8×; log_softmax
//   64×10×28×28 axis=1 1.5× / 1.6×; cross_entropy 256×1000 1.9× / 1.8×; softmax_backward
//   0.85–1.0× (two passes, memory-bound, same as torch). Max rel err vs float64 7e-8 (torch 3e-6
//   on 64×32768). python benchmarks/pool_softmax_act_min.py 1 2; python -m nnkernels --only softmax
#include <immintrin.h>

#include <cmath>
#include <cstdint>

#include "simd/simd_avx2.h"
#include "softmax/softmax.h"

namespace nk {
namespace {

using namespace simd256;

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
    m0 = nanmax_ps(m0, _mm256_loadu_ps(x + i));
    m1 = nanmax_ps(m1, _mm256_loadu_ps(x + i + 8));
    m2 = nanmax_ps(m2, _mm256_loadu_ps(x + i + 16));
    m3 = nanmax_ps(m3, _mm256_loadu_ps(x + i + 24));
  }
  for (; i + 8 <= n; i += 8) m0 = nanmax_ps(m0, _mm256_loadu_ps(x + i));
  if (i < n) {
    const __m256i k = mask8(n - i);
    m1 = nanmax_ps(m1, _mm256_blendv_ps(ninf, _mm256_maskload_ps(x + i, k), _mm256_castsi256_ps(k)));
  }
  return hmax_nan(nanmax_ps(nanmax_ps(m0, m1), nanmax_ps(m2, m3)));
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
      __m256 e0 = exp_ps(_mm256_sub_ps(x0, m)), e1 = exp_ps(_mm256_sub_ps(x1, m));
      __m256 e2 = exp_ps(_mm256_sub_ps(x2, m)), e3 = exp_ps(_mm256_sub_ps(x3, m));
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
    const __m256i k = mask8(n - i);
    const __m256 kf = _mm256_castsi256_ps(k);
    __m256 xv = _mm256_maskload_ps(x + i, k);
    __m256 e = _mm256_and_ps(exp_ps(_mm256_sub_ps(xv, m)), kf);
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
    const __m256i k = mask8(n - i);
    _mm256_maskstore_ps(y + i, k, _mm256_mul_ps(_mm256_maskload_ps(y + i, k), a));
  }
}

void sm_row_shift_avx2(float* y, const float* x, int64_t n, float m_s, float ls_s) {
  const __m256 m = _mm256_set1_ps(m_s), ls = _mm256_set1_ps(ls_s);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), m), ls));
  if (i < n) {
    const __m256i k = mask8(n - i);
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
    const __m256i k = mask8(n - i);
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
  for (; i < n; i += 8) s0 = _mm256_add_ps(_mm256_maskload_ps(a + i, mask8(n - i)), s0);
  return total + hsum_d(s0);
}

void sm_row_bwd_avx2(float* gx, const float* g, const float* y, int64_t n, float d_s) {
  const __m256 d = _mm256_set1_ps(d_s);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(gx + i, _mm256_mul_ps(_mm256_loadu_ps(y + i), _mm256_sub_ps(_mm256_loadu_ps(g + i), d)));
  if (i < n) {
    const __m256i k = mask8(n - i);
    _mm256_maskstore_ps(gx + i, k, _mm256_mul_ps(_mm256_maskload_ps(y + i, k), _mm256_sub_ps(_mm256_maskload_ps(g + i, k), d)));
  }
}

void lsm_row_bwd_avx2(float* gx, const float* g, const float* y, int64_t n, float s_s) {
  const __m256 s = _mm256_set1_ps(s_s);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(gx + i, _mm256_fnmadd_ps(exp_ps(_mm256_loadu_ps(y + i)), s, _mm256_loadu_ps(g + i)));
  if (i < n) {
    const __m256i k = mask8(n - i);
    _mm256_maskstore_ps(gx + i, k, _mm256_fnmadd_ps(exp_ps(_mm256_maskload_ps(y + i, k)), s, _mm256_maskload_ps(g + i, k)));
  }
}

void ce_row_grad_avx2(float* gx, const float* x, int64_t n, float m_s, float ls_s, float scale_s, float off_s) {
  const __m256 m = _mm256_set1_ps(m_s), ls = _mm256_set1_ps(ls_s), sc = _mm256_set1_ps(scale_s),
               off = _mm256_set1_ps(off_s);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 p = exp_ps(_mm256_sub_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), m), ls));
    _mm256_storeu_ps(gx + i, _mm256_fmsub_ps(p, sc, off));
  }
  if (i < n) {
    const __m256i k = mask8(n - i);
    __m256 p = exp_ps(_mm256_sub_ps(_mm256_sub_ps(_mm256_maskload_ps(x + i, k), m), ls));
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
    for (int v = 0; v < 4; ++v) k[v] = mask8(w - 8 * v < 0 ? 0 : w - 8 * v);
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
    for (int v = 0; v < 4; ++v) m[v] = nanmax_ps(m[v], L.ld(x + c * inner, v));
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
      __m256 e = exp_ps(_mm256_sub_ps(L.ld(x + c * inner, v), m[v]));
      if (!log) L.st(y + c * inner, v, e);
      s[v] = _mm256_add_ps(s[v], e);
    }
    if ((c & 255) == 255) flush();
  }
  flush();
  __m256 av[4];
  for (int v = 0; v < 4; ++v) {
    const __m256 t = tot_ps(tot + 8 * v);
    av[v] = log ? log_ps(t) : _mm256_div_ps(_mm256_set1_ps(1.0f), t);
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
      L.st(gx + c * inner, v, log ? _mm256_fnmadd_ps(exp_ps(yv), av[v], gv) : _mm256_mul_ps(yv, _mm256_sub_ps(gv, av[v])));
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

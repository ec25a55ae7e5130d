// Softmax / log-softmax / cross-entropy pieces, float32, AVX-512F/DQ (contracts in
// softmax.h; twins in softmax_avx2.cpp and softmax.cpp). The AVX2 kernels' algorithm on
// 16 lanes: rows use 4 independent zmm accumulators per pass (64 elements a step) and
// masked loads/stores for the tail; the max and the elementwise passes start with a
// masked head that aligns them to 64 bytes (not the sums: their rounding would then
// depend on the address); slabs ((C, inner) views) take 32 lanes of `inner` as
// two zmm, looping over C with stride `inner`. Sums of exp are kept in float lanes and
// flushed to double every 2048 elements (every 256 c for slabs), as on the AVX2 path.
// exp / log: simd/simd_avx512.h (the AVX2 polynomials; exp rel err 2e-8 + rounding).
// Measured (float32, 1 thread, best of 30 interleaved rounds, shared 2-core Intel Xeon
//   (Sapphire Rapids class), torch 2.13; avx512 path vs avx2 path / vs torch): softmax
//   256×1000 last axis 1.52× / 1.43×; log_softmax 64×10×28×28 axis=1 1.47× / 1.29×;
//   cross_entropy 256×1000 1.43× / 1.68×; softmax_backward 0.97× / 0.92× (memory-bound).
//   Command: nk.set_cpu_path("avx512" / "avx2") around benchmarks/pool_softmax_act_min.py's
//   cases; python -m nnkernels --only softmax
#include "simd/simd_avx512.h"  // first: see its note on GCC 12

#include <cmath>
#include <cstdint>

#include "softmax/softmax.h"

namespace nk {
namespace {

using namespace simd512;

inline double hsum_d(__m512 v) {
  return _mm512_reduce_add_pd(_mm512_add_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(v)),
                                            _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1))));
}

// max over the lanes, NaN when any lane is NaN
inline float hmax_nan(__m512 v) {
  const __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
  if (nan) return _mm512_cvtss_f32(_mm512_maskz_compress_ps(nan, v));
  return _mm512_reduce_max_ps(v);
}

constexpr int64_t kFlush = 2048;  // elements per lane-sum flush into double
constexpr __mmask16 kAll = 0xFFFF;

}  // namespace

float sm_row_max_avx512(const float* x, int64_t n) {
  const __m512 ninf = _mm512_set1_ps(-INFINITY);
  __m512 m0 = ninf, m1 = ninf, m2 = ninf, m3 = ninf;
  int64_t i = head16(x, n);  // a masked head aligns the loads
  if (i) m2 = _mm512_mask_loadu_ps(ninf, mask16(i), x);
  for (; i + 64 <= n; i += 64) {
    m0 = nanmax_ps(m0, _mm512_loadu_ps(x + i));
    m1 = nanmax_ps(m1, _mm512_loadu_ps(x + i + 16));
    m2 = nanmax_ps(m2, _mm512_loadu_ps(x + i + 32));
    m3 = nanmax_ps(m3, _mm512_loadu_ps(x + i + 48));
  }
  for (; i < n; i += 16) m1 = nanmax_ps(m1, _mm512_mask_loadu_ps(ninf, mask16(n - i), x + i));
  return hmax_nan(nanmax_ps(nanmax_ps(m0, m1), nanmax_ps(m2, m3)));
}

double sm_row_sumexp_avx512(const float* x, int64_t n, float m_s, float* y, double* sumx) {
  const __m512 m = _mm512_set1_ps(m_s), z = _mm512_setzero_ps();
  __m512 s0 = z, s1 = z, s2 = z, s3 = z, t0 = z, t1 = z;
  double total = 0.0, totalx = 0.0;
  int64_t i = 0;  // no aligning head: the sum would then depend on the address
  while (i + 64 <= n) {
    const int64_t stop = i + kFlush < n ? i + kFlush : n;
    for (; i + 64 <= stop; i += 64) {
      const __m512 x0 = _mm512_loadu_ps(x + i), x1 = _mm512_loadu_ps(x + i + 16);
      const __m512 x2 = _mm512_loadu_ps(x + i + 32), x3 = _mm512_loadu_ps(x + i + 48);
      const __m512 e0 = exp_ps(_mm512_sub_ps(x0, m)), e1 = exp_ps(_mm512_sub_ps(x1, m));
      const __m512 e2 = exp_ps(_mm512_sub_ps(x2, m)), e3 = exp_ps(_mm512_sub_ps(x3, m));
      if (y) {
        _mm512_storeu_ps(y + i, e0);
        _mm512_storeu_ps(y + i + 16, e1);
        _mm512_storeu_ps(y + i + 32, e2);
        _mm512_storeu_ps(y + i + 48, e3);
      }
      s0 = _mm512_add_ps(s0, e0);
      s1 = _mm512_add_ps(s1, e1);
      s2 = _mm512_add_ps(s2, e2);
      s3 = _mm512_add_ps(s3, e3);
      if (sumx) {
        t0 = _mm512_add_ps(t0, _mm512_add_ps(x0, x1));
        t1 = _mm512_add_ps(t1, _mm512_add_ps(x2, x3));
      }
    }
    total += hsum_d(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
    s0 = s1 = s2 = s3 = z;
    if (sumx) {
      totalx += hsum_d(t0) + hsum_d(t1);
      t0 = t1 = z;
    }
  }
  for (; i < n; i += 16) {
    const __mmask16 k = mask16(n - i);
    const __m512 xv = _mm512_maskz_loadu_ps(k, x + i);
    const __m512 e = _mm512_maskz_mov_ps(k, exp_ps(_mm512_sub_ps(xv, m)));
    if (y) _mm512_mask_storeu_ps(y + i, k, e);
    s0 = _mm512_add_ps(s0, e);
    t0 = _mm512_add_ps(t0, xv);
  }
  total += hsum_d(s0);
  if (sumx) *sumx = totalx + hsum_d(t0);
  return total;
}

// Streaming passes: f(i, mask) for 16-lane vectors covering [0, n), the first and last
// ones masked.
namespace {
template <typename F>
inline void stream(const float* out, int64_t n, F&& f) {
  int64_t i = head16(out, n);  // a masked head aligns the stores
  if (i) f(0, mask16(i));
  for (; i + 32 <= n; i += 32) {
    f(i, kAll);
    f(i + 16, kAll);
  }
  for (; i < n; i += 16) f(i, mask16(n - i));
}
}  // namespace

void sm_row_scale_avx512(float* y, int64_t n, float a_s) {
  const __m512 a = _mm512_set1_ps(a_s);
  stream(y, n, [&](int64_t i, __mmask16 k) {
    _mm512_mask_storeu_ps(y + i, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, y + i), a));
  });
}

void sm_row_shift_avx512(float* y, const float* x, int64_t n, float m_s, float ls_s) {
  const __m512 m = _mm512_set1_ps(m_s), ls = _mm512_set1_ps(ls_s);
  stream(y, n, [&](int64_t i, __mmask16 k) {
    _mm512_mask_storeu_ps(y + i, k, _mm512_sub_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), m), ls));
  });
}

double sm_row_dot_avx512(const float* a, const float* b, int64_t n) {
  const __m512 z = _mm512_setzero_ps();
  __m512 s0 = z, s1 = z;
  double total = 0.0;
  int64_t i = 0;  // no aligning head: the sum would then depend on the address
  while (i + 32 <= n) {
    const int64_t stop = i + kFlush < n ? i + kFlush : n;
    for (; i + 32 <= stop; i += 32) {
      s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
      s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    }
    total += hsum_d(_mm512_add_ps(s0, s1));
    s0 = s1 = z;
  }
  for (; i < n; i += 16) {
    const __mmask16 k = mask16(n - i);
    s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, a + i), _mm512_maskz_loadu_ps(k, b + i), s0);
  }
  return total + hsum_d(s0);
}

double sm_row_sum_avx512(const float* a, int64_t n) {
  const __m512 z = _mm512_setzero_ps();
  __m512 s0 = z, s1 = z;
  double total = 0.0;
  int64_t i = 0;  // no aligning head: the sum would then depend on the address
  while (i + 32 <= n) {
    const int64_t stop = i + kFlush < n ? i + kFlush : n;
    for (; i + 32 <= stop; i += 32) {
      s0 = _mm512_add_ps(_mm512_loadu_ps(a + i), s0);
      s1 = _mm512_add_ps(_mm512_loadu_ps(a + i + 16), s1);
    }
    total += hsum_d(_mm512_add_ps(s0, s1));
    s0 = s1 = z;
  }
  for (; i < n; i += 16) s0 = _mm512_add_ps(_mm512_maskz_loadu_ps(mask16(n - i), a + i), s0);
  return total + hsum_d(s0);
}

void sm_row_bwd_avx512(float* gx, const float* g, const float* y, int64_t n, float d_s) {
  const __m512 d = _mm512_set1_ps(d_s);
  stream(gx, n, [&](int64_t i, __mmask16 k) {
    _mm512_mask_storeu_ps(gx + i, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, y + i),
                                                   _mm512_sub_ps(_mm512_maskz_loadu_ps(k, g + i), d)));
  });
}

void lsm_row_bwd_avx512(float* gx, const float* g, const float* y, int64_t n, float s_s) {
  const __m512 s = _mm512_set1_ps(s_s);
  stream(gx, n, [&](int64_t i, __mmask16 k) {
    _mm512_mask_storeu_ps(gx + i, k, _mm512_fnmadd_ps(exp_ps(_mm512_maskz_loadu_ps(k, y + i)), s,
                                                      _mm512_maskz_loadu_ps(k, g + i)));
  });
}

void ce_row_grad_avx512(float* gx, const float* x, int64_t n, float m_s, float ls_s, float scale_s, float off_s) {
  const __m512 m = _mm512_set1_ps(m_s), ls = _mm512_set1_ps(ls_s), sc = _mm512_set1_ps(scale_s),
               off = _mm512_set1_ps(off_s);
  stream(gx, n, [&](int64_t i, __mmask16 k) {
    const __m512 p = exp_ps(_mm512_sub_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), m), ls));
    _mm512_mask_storeu_ps(gx + i, k, _mm512_fmsub_ps(p, sc, off));
  });
}

namespace {

// 16 doubles -> 16 floats
inline __m512 tot_ps(const double* t) {
  return _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(_mm512_loadu_pd(t))),
                            _mm512_cvtpd_ps(_mm512_loadu_pd(t + 8)), 1);
}

// t[0..16) += s (float lanes widened to double)
inline void flush_into(double* t, __m512 s) {
  _mm512_storeu_pd(t, _mm512_add_pd(_mm512_loadu_pd(t), _mm512_cvtps_pd(_mm512_castps512_ps256(s))));
  _mm512_storeu_pd(t + 8, _mm512_add_pd(_mm512_loadu_pd(t + 8), _mm512_cvtps_pd(_mm512_extractf32x8_ps(s, 1))));
}

// Lanes [i0, i0 + 32) of a (C, inner) slab as two zmm, masked to the first w.
struct Lanes {
  __mmask16 k[2];
  explicit Lanes(int64_t w) : k{mask16(w), mask16(w - 16)} {}
  __m512 ld(const float* p, int v) const { return _mm512_maskz_loadu_ps(k[v], p + 16 * v); }
  void st(float* p, int v, __m512 a) const { _mm512_mask_storeu_ps(p + 16 * v, k[v], a); }
};

void cols(float* y, const float* x, int64_t C, int64_t inner, int64_t w, bool log) {
  const Lanes L(w);
  __m512 m[2], s[2];
  alignas(64) double tot[32] = {};
  for (int v = 0; v < 2; ++v) m[v] = _mm512_set1_ps(-INFINITY);
  for (int64_t c = 0; c < C; ++c)
    for (int v = 0; v < 2; ++v) m[v] = nanmax_ps(m[v], L.ld(x + c * inner, v));
  for (int v = 0; v < 2; ++v) s[v] = _mm512_setzero_ps();
  auto flush = [&] {
    for (int v = 0; v < 2; ++v) {
      flush_into(tot + 16 * v, s[v]);
      s[v] = _mm512_setzero_ps();
    }
  };
  for (int64_t c = 0; c < C; ++c) {
    for (int v = 0; v < 2; ++v) {
      const __m512 e = exp_ps(_mm512_sub_ps(L.ld(x + c * inner, v), m[v]));
      if (!log) L.st(y + c * inner, v, e);
      s[v] = _mm512_add_ps(s[v], e);
    }
    if ((c & 255) == 255) flush();
  }
  flush();
  __m512 av[2];
  for (int v = 0; v < 2; ++v) {
    const __m512 t = tot_ps(tot + 16 * v);
    av[v] = log ? log_ps(t) : _mm512_div_ps(_mm512_set1_ps(1.0f), t);
  }
  for (int64_t c = 0; c < C; ++c)
    for (int v = 0; v < 2; ++v) {
      if (log) L.st(y + c * inner, v, _mm512_sub_ps(_mm512_sub_ps(L.ld(x + c * inner, v), m[v]), av[v]));
      else L.st(y + c * inner, v, _mm512_mul_ps(L.ld(y + c * inner, v), av[v]));
    }
}

void cols_bwd(float* gx, const float* g, const float* y, int64_t C, int64_t inner, int64_t w, bool log) {
  const Lanes L(w);
  __m512 s[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
  alignas(64) double tot[32] = {};
  auto flush = [&] {
    for (int v = 0; v < 2; ++v) {
      flush_into(tot + 16 * v, s[v]);
      s[v] = _mm512_setzero_ps();
    }
  };
  for (int64_t c = 0; c < C; ++c) {
    for (int v = 0; v < 2; ++v) {
      const __m512 gv = L.ld(g + c * inner, v);
      s[v] = log ? _mm512_add_ps(s[v], gv) : _mm512_fmadd_ps(gv, L.ld(y + c * inner, v), s[v]);
    }
    if ((c & 255) == 255) flush();
  }
  flush();
  const __m512 av[2] = {tot_ps(tot), tot_ps(tot + 16)};
  for (int64_t c = 0; c < C; ++c)
    for (int v = 0; v < 2; ++v) {
      const __m512 gv = L.ld(g + c * inner, v), yv = L.ld(y + c * inner, v);
      L.st(gx + c * inner, v, log ? _mm512_fnmadd_ps(exp_ps(yv), av[v], gv) : _mm512_mul_ps(yv, _mm512_sub_ps(gv, av[v])));
    }
}

}  // namespace

void sm_cols_avx512(float* y, const float* x, int64_t C, int64_t inner, int64_t i0, int64_t i1, bool log) {
  cols(y + i0, x + i0, C, inner, i1 - i0, log);
}

void sm_cols_bwd_avx512(float* gx, const float* g, const float* y, int64_t C, int64_t inner, int64_t i0,
                        int64_t i1, bool log) {
  cols_bwd(gx + i0, g + i0, y + i0, C, inner, i1 - i0, log);
}

}  // namespace nk

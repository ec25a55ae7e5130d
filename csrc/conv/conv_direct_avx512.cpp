// AVX-512 direct conv2d forward tile (contract in conv/conv_direct.h): 14 output positions
// × 32 output channels in 28 zmm accumulators, the positions broadcast from the image and
// the weights loaded as two zmm per reduction step.
// GCC 12 reports the _mm512_undefined_ps() inside its own cast/unpack intrinsics as "may
// be used uninitialized" (GCC PR 105593, fixed in 12.3/13).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#include <cstdint>

#include "conv/conv_direct.h"

namespace nk {
namespace {

__m512 unpacklo_pd(__m512 a, __m512 b) {
  return _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)));
}
__m512 unpackhi_pd(__m512 a, __m512 b) {
  return _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)));
}

// In-register 16×16 transpose: r[i] lane j := r[j] lane i (64 shuffles).
inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; ++i) {  // t[2i], t[2i+1]: rows 2i, 2i+1 interleaved per 128-bit lane
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {  // r[4i + k], 128-bit lane L: element 4L + k of rows 4i..4i+3
    r[4 * i] = unpacklo_pd(t[4 * i], t[4 * i + 2]);
    r[4 * i + 1] = unpackhi_pd(t[4 * i], t[4 * i + 2]);
    r[4 * i + 2] = unpacklo_pd(t[4 * i + 1], t[4 * i + 3]);
    r[4 * i + 3] = unpackhi_pd(t[4 * i + 1], t[4 * i + 3]);
  }
  for (int i = 0; i < 4; ++i) {  // gather the 128-bit lanes: elements i, 8+i (0x88), 4+i, 12+i (0xdd)
    t[i] = _mm512_shuffle_f32x4(r[i], r[4 + i], 0x88);
    t[4 + i] = _mm512_shuffle_f32x4(r[i], r[4 + i], 0xdd);
    t[8 + i] = _mm512_shuffle_f32x4(r[8 + i], r[12 + i], 0x88);
    t[12 + i] = _mm512_shuffle_f32x4(r[8 + i], r[12 + i], 0xdd);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0x88);
    r[8 + i] = _mm512_shuffle_f32x4(t[i], t[8 + i], 0xdd);
    r[4 + i] = _mm512_shuffle_f32x4(t[4 + i], t[12 + i], 0x88);
    r[12 + i] = _mm512_shuffle_f32x4(t[4 + i], t[12 + i], 0xdd);
  }
}

}  // namespace

void conv_direct_f32_avx512(int64_t depth, const float* wp, const float* x, const int64_t* off,
                            const float* bias, float* y, int64_t ldy, int m, int n) {
  constexpr int MR = kConvDirectMR512;
  __m512 a0[MR], a1[MR];
  const __m512 b0 = bias ? _mm512_loadu_ps(bias) : _mm512_setzero_ps();
  const __m512 b1 = bias ? _mm512_loadu_ps(bias + 16) : _mm512_setzero_ps();
  for (int j = 0; j < MR; ++j) a0[j] = b0, a1[j] = b1;
  for (int64_t t = 0; t < depth; ++t, wp += 32) {
    const float* xb = x + off[t];
    const __m512 w0 = _mm512_load_ps(wp), w1 = _mm512_load_ps(wp + 16);
    for (int j = 0; j < MR; ++j) {
      const __m512 v = _mm512_set1_ps(xb[j]);
      a0[j] = _mm512_fmadd_ps(v, w0, a0[j]);
      a1[j] = _mm512_fmadd_ps(v, w1, a1[j]);
    }
  }
  // Transposed store: channel i is lane i of every position's accumulator.
  const __mmask16 mk = __mmask16((1u << m) - 1);
  __m512 r[16];
  for (int half = 0; half < 2 && 16 * half < n; ++half) {
    for (int j = 0; j < 16; ++j) r[j] = j < MR ? (half ? a1[j] : a0[j]) : _mm512_setzero_ps();
    transpose16(r);
    for (int i = 0; i < 16 && 16 * half + i < n; ++i) _mm512_mask_storeu_ps(y + (16 * half + i) * ldy, mk, r[i]);
  }
}

}  // namespace nk

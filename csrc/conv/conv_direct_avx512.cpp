// AVX-512 direct conv2d forward tile (contract in conv/conv_direct.h): 14 output positions
// × 32 output channels in 28 zmm accumulators, the positions broadcast from the image and
// the weights loaded as two zmm per reduction step.
#include <immintrin.h>
#include <cstdint>

#include "conv/conv_direct.h"

namespace nk {

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
  // Transposed store: channel i is lane i of every position's accumulator pair.
  alignas(64) float t[MR * 32];
  for (int j = 0; j < MR; ++j) {
    _mm512_store_ps(t + j * 32, a0[j]);
    _mm512_store_ps(t + j * 32 + 16, a1[j]);
  }
  const __mmask16 mk = __mmask16((1u << m) - 1);
  const __m512i idx = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                         _mm512_set1_epi32(32));
  for (int i = 0; i < n; ++i) {
    const __m512 v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mk, idx, t + i, 4);
    _mm512_mask_storeu_ps(y + i * ldy, mk, v);
  }
}

}  // namespace nk

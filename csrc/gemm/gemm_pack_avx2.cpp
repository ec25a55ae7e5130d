// AVX2 packing kernels.
//
// interleave_rows_f32_avx2: dst[t·nr + j] = src[j][t] for nr source rows (nr a multiple of
// 8): 8 rows × 8 t at a time through an 8×8 register transpose (unpack / shuffle /
// permute2f128). It packs full A micro-panels of 8k rows for the avx512 path's 8-row tile
// and the im2col^T B panels of the convolution's grad w.
//
// sgemm_pack_a6_avx2: packing of one full 6-row micro-panel of a row-major float A (unit column stride):
// eight k at a time, the 6 rows (plus two zero rows) are loaded as an 8×8 block and
// transposed in registers (unpack, shuffle, permute2f128), so each k's 6 values are
// stored as one vector instead of six scalar stores. Skinny products (K ≈ 64) spend as
// much time packing A as multiplying, which this addresses (see benchmarks/RESULTS.md).
#include <immintrin.h>
#include <cstdint>

#include "gemm/ukernels.h"
#include "simd/simd_avx2.h"

namespace nk {

void interleave_rows_f32_avx2(const float* const* src, int nr, int64_t len, float* dst) {
  int64_t t = 0;
  for (; t + 8 <= len; t += 8)
    for (int j = 0; j < nr; j += 8) simd256::transpose8x8_ps(src + j, t, dst + t * nr + j, nr);
  for (; t < len; ++t)
    for (int j = 0; j < nr; ++j) dst[t * nr + j] = src[j][t];
}

void sgemm_pack_a6_avx2(const float* src, int64_t lda, int64_t kc, float* dst) {
  const float* r[6] = {src, src + lda, src + 2 * lda, src + 3 * lda, src + 4 * lda, src + 5 * lda};
  const __m256i mask6 = _mm256_setr_epi32(-1, -1, -1, -1, -1, -1, 0, 0);
  const __m256 z = _mm256_setzero_ps();
  const int64_t k8 = kc & ~int64_t(7);
  for (int64_t k = 0; k < k8; k += 8) {
    const __m256 t0 = _mm256_unpacklo_ps(_mm256_loadu_ps(r[0] + k), _mm256_loadu_ps(r[1] + k));
    const __m256 t1 = _mm256_unpackhi_ps(_mm256_loadu_ps(r[0] + k), _mm256_loadu_ps(r[1] + k));
    const __m256 t2 = _mm256_unpacklo_ps(_mm256_loadu_ps(r[2] + k), _mm256_loadu_ps(r[3] + k));
    const __m256 t3 = _mm256_unpackhi_ps(_mm256_loadu_ps(r[2] + k), _mm256_loadu_ps(r[3] + k));
    const __m256 t4 = _mm256_unpacklo_ps(_mm256_loadu_ps(r[4] + k), _mm256_loadu_ps(r[5] + k));
    const __m256 t5 = _mm256_unpackhi_ps(_mm256_loadu_ps(r[4] + k), _mm256_loadu_ps(r[5] + k));
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256 u4 = _mm256_shuffle_ps(t4, z, 0x44), u5 = _mm256_shuffle_ps(t4, z, 0xEE);
    const __m256 u6 = _mm256_shuffle_ps(t5, z, 0x44), u7 = _mm256_shuffle_ps(t5, z, 0xEE);
    float* d = dst + k * 6;
    // Column j holds rows 0..5 of k+j in lanes 0..5. Writing 8 lanes spills two zeros into
    // column j+1, which the next store overwrites; the last column of the panel is masked.
    _mm256_storeu_ps(d + 0, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(d + 6, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(d + 12, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(d + 18, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(d + 24, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(d + 30, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(d + 36, _mm256_permute2f128_ps(u2, u6, 0x31));
    if (k + 8 < kc)
      _mm256_storeu_ps(d + 42, _mm256_permute2f128_ps(u3, u7, 0x31));
    else
      _mm256_maskstore_ps(d + 42, mask6, _mm256_permute2f128_ps(u3, u7, 0x31));
  }
  for (int64_t k = k8; k < kc; ++k)
    for (int i = 0; i < 6; ++i) dst[k * 6 + i] = r[i][k];
}

}  // namespace nk

// AVX2 kernels of the convolution packers (compiled with -mavx2 -mfma; reached only via
// the run-time dispatch in conv_pack.cpp). Portable twins in conv_pack.cpp.
//
// transpose_f32_avx2: the im2col^T B panel of grad w: nr source streams (one per
// (c, r, s) column, nr a multiple of 8), read 8 at a time and turned into nr-wide packed
// rows by nr/8 8×8 register transposes (unpack / shuffle / permute2f128) per 8 rows.
#include <immintrin.h>

#include <cstdint>

#include "conv/conv_kernels.h"

namespace nk {
namespace {

inline void transpose8x8_store(const float* const* src, int64_t t, float* dst, int64_t ld) {
  __m256 r0 = _mm256_loadu_ps(src[0] + t), r1 = _mm256_loadu_ps(src[1] + t);
  __m256 r2 = _mm256_loadu_ps(src[2] + t), r3 = _mm256_loadu_ps(src[3] + t);
  __m256 r4 = _mm256_loadu_ps(src[4] + t), r5 = _mm256_loadu_ps(src[5] + t);
  __m256 r6 = _mm256_loadu_ps(src[6] + t), r7 = _mm256_loadu_ps(src[7] + t);
  const __m256 u0 = _mm256_unpacklo_ps(r0, r1), u1 = _mm256_unpackhi_ps(r0, r1);
  const __m256 u2 = _mm256_unpacklo_ps(r2, r3), u3 = _mm256_unpackhi_ps(r2, r3);
  const __m256 u4 = _mm256_unpacklo_ps(r4, r5), u5 = _mm256_unpackhi_ps(r4, r5);
  const __m256 u6 = _mm256_unpacklo_ps(r6, r7), u7 = _mm256_unpackhi_ps(r6, r7);
  const __m256 v0 = _mm256_shuffle_ps(u0, u2, 0x44), v1 = _mm256_shuffle_ps(u0, u2, 0xEE);
  const __m256 v2 = _mm256_shuffle_ps(u1, u3, 0x44), v3 = _mm256_shuffle_ps(u1, u3, 0xEE);
  const __m256 v4 = _mm256_shuffle_ps(u4, u6, 0x44), v5 = _mm256_shuffle_ps(u4, u6, 0xEE);
  const __m256 v6 = _mm256_shuffle_ps(u5, u7, 0x44), v7 = _mm256_shuffle_ps(u5, u7, 0xEE);
  _mm256_storeu_ps(dst + 0 * ld, _mm256_permute2f128_ps(v0, v4, 0x20));
  _mm256_storeu_ps(dst + 1 * ld, _mm256_permute2f128_ps(v1, v5, 0x20));
  _mm256_storeu_ps(dst + 2 * ld, _mm256_permute2f128_ps(v2, v6, 0x20));
  _mm256_storeu_ps(dst + 3 * ld, _mm256_permute2f128_ps(v3, v7, 0x20));
  _mm256_storeu_ps(dst + 4 * ld, _mm256_permute2f128_ps(v0, v4, 0x31));
  _mm256_storeu_ps(dst + 5 * ld, _mm256_permute2f128_ps(v1, v5, 0x31));
  _mm256_storeu_ps(dst + 6 * ld, _mm256_permute2f128_ps(v2, v6, 0x31));
  _mm256_storeu_ps(dst + 7 * ld, _mm256_permute2f128_ps(v3, v7, 0x31));
}

}  // namespace

void transpose_f32_avx2(const float* const* src, int nr, int64_t len, float* dst) {
  int64_t t = 0;
  for (; t + 8 <= len; t += 8)
    for (int j = 0; j < nr; j += 8) transpose8x8_store(src + j, t, dst + t * nr + j, nr);
  for (; t < len; ++t)
    for (int j = 0; j < nr; ++j) dst[t * nr + j] = src[j][t];
}

}  // namespace nk

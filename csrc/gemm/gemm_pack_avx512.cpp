// AVX-512 packing kernels of the avx512 sgemm (8×32 tile), reached through its kernel table.
//
// sgemm_pack_a8_avx512: one full 8-row micro-panel of a row-major float A, dst[t·8 + i] =
// row i [t]. Sixteen k at a time: the 8 rows' 16 values are transposed in three rounds of
// two-source permutes (vpermt2ps: pairs of rows, then fours, then eights), 24 permutes for
// 128 floats where the AVX2 8×8 transposes need 48 shuffles; each row is prefetched 64 k
// ahead; the last k < 16 go through a zero-padded block on the stack.
// sgemm_pack_b32_avx512: one 32-column strip of a B whose rows are contiguous, dst[q·32 + j]
// = row q [j]: two zmm a row, columns past n loaded as zeros (masked loads).
// At n = 256 (everything in L2) the generic loops they replace took 5 % (B, 16-byte copies)
// and 4.6 % (A, AVX2 transposes) of a one-thread GEMM's samples (perf), these 3.2 and 3.9 %;
// one-thread GEMM 1-2 % faster at 256-2048³ (A/B of two builds in alternating processes).
#include <immintrin.h>
#include <cstdint>
#include <cstring>

#include "gemm/ukernels.h"

namespace nk {
namespace {

// Element indices of a two-source permute: i < 16 from the first operand, 16 + i from the second.
inline __m512i idx(int a0, int a1, int a2, int a3, int a4, int a5, int a6, int a7, int a8, int a9, int a10,
                   int a11, int a12, int a13, int a14, int a15) {
  return _mm512_setr_epi32(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15);
}

// r[i] holds row i at k..k+15; writes d[t·8 + i] for t < 16.
inline void transpose8x16(const __m512 r[8], float* d) {
  // Round 1: rows (2p, 2p+1) interleaved: lo = k 0-7, hi = k 8-15, each k a pair.
  const __m512i p_lo = idx(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i p_hi = idx(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  // Round 2: pairs (01, 23) → fours; lo = k 0-3 (of its half), hi = k 4-7.
  const __m512i q_lo = idx(0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
  const __m512i q_hi = idx(8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
  // Round 3: fours (0123, 4567) → eights; lo = k 0-1 (of its quarter), hi = k 2-3.
  const __m512i e_lo = idx(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
  const __m512i e_hi = idx(8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
  __m512 p[8], q[8];
  for (int j = 0; j < 4; ++j) {  // p[2j] / p[2j+1]: rows 2j, 2j+1 at k 0-7 / 8-15
    p[2 * j] = _mm512_permutex2var_ps(r[2 * j], p_lo, r[2 * j + 1]);
    p[2 * j + 1] = _mm512_permutex2var_ps(r[2 * j], p_hi, r[2 * j + 1]);
  }
  // q[4h + 2g + s]: rows 4g..4g+3, k 8h + 4s .. +3
  for (int h = 0; h < 2; ++h)
    for (int g = 0; g < 2; ++g) {
      q[4 * h + 2 * g] = _mm512_permutex2var_ps(p[4 * g + h], q_lo, p[4 * g + 2 + h]);
      q[4 * h + 2 * g + 1] = _mm512_permutex2var_ps(p[4 * g + h], q_hi, p[4 * g + 2 + h]);
    }
  // Output m holds k = 2m, 2m+1, rows 0-7 each: from q of rows 0-3 and 4-7 at that k.
  for (int h = 0; h < 2; ++h)
    for (int s = 0; s < 2; ++s) {
      const __m512 lo = q[4 * h + s], hi = q[4 * h + 2 + s];  // rows 0-3, rows 4-7
      const int m = 4 * h + 2 * s;                             // k = 8h + 4s .. +3
      _mm512_storeu_ps(d + m * 16, _mm512_permutex2var_ps(lo, e_lo, hi));
      _mm512_storeu_ps(d + m * 16 + 16, _mm512_permutex2var_ps(lo, e_hi, hi));
    }
}

}  // namespace

void sgemm_pack_a8_avx512(const float* src, int64_t lda, int64_t kc, float* dst) {
  __m512 r[8];
  int64_t k = 0;
  for (; k + 16 <= kc; k += 16) {
    for (int i = 0; i < 8; ++i) {
      _mm_prefetch(reinterpret_cast<const char*>(src + i * lda + k + 64), _MM_HINT_T0);
      r[i] = _mm512_loadu_ps(src + i * lda + k);
    }
    transpose8x16(r, dst + k * 8);
  }
  if (k < kc) {
    const int n = int(kc - k);
    const __mmask16 m = __mmask16((1u << n) - 1);
    alignas(64) float tail[128];
    for (int i = 0; i < 8; ++i) r[i] = _mm512_maskz_loadu_ps(m, src + i * lda + k);
    transpose8x16(r, tail);
    std::memcpy(dst + k * 8, tail, sizeof(float) * 8 * size_t(n));
  }
}

void sgemm_pack_b32_avx512(const float* src, int64_t ldb, int64_t kc, int n, float* dst) {
  if (n >= 32) {
    for (int64_t q = 0; q < kc; ++q, src += ldb, dst += 32) {
      _mm512_storeu_ps(dst, _mm512_loadu_ps(src));
      _mm512_storeu_ps(dst + 16, _mm512_loadu_ps(src + 16));
    }
    return;
  }
  const __mmask16 m0 = n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1);
  const __mmask16 m1 = n <= 16 ? __mmask16(0) : __mmask16((1u << (n - 16)) - 1);
  for (int64_t q = 0; q < kc; ++q, src += ldb, dst += 32) {
    _mm512_storeu_ps(dst, _mm512_maskz_loadu_ps(m0, src));
    _mm512_storeu_ps(dst + 16, _mm512_maskz_loadu_ps(m1, src + 16));
  }
}

}  // namespace nk

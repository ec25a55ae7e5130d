// Pooling row kernel, float32, AVX2: 8 outputs of one output row per step, vectorised
// along the output width. Horizontal stride 1: one unaligned load per tap. Stride 2:
// two loads per tap and a shuffle that keeps the even (or odd) columns; the lanes stay
// in the shuffled order [0 1 4 5 2 3 6 7] through the whole window and are put back in
// order once, at the store. Any kernel width, any vertical stride/dilation, dilation
// 1 horizontally (2×2/s2 and 3×3/s1,s2 are the common cases). A last partial block
// is done by overlapping the previous one. Max keeps torch's rules: NaN wins, ties keep
// the first index in row-major window order.
// Measured: python -m nnkernels --only pool (64×32×26×26 2×2 vs torch in the same run).
#include <immintrin.h>

#include <cstdint>

#include "pool/pool.h"

namespace nk {
namespace {

template <int SW>
inline __m256 tap(const float* p, int64_t k) {
  if constexpr (SW == 1) {
    return _mm256_loadu_ps(p + k);
  } else {
    const float* q = p + (k & ~int64_t(1));
    __m256 a = _mm256_loadu_ps(q), b = _mm256_loadu_ps(q + 8);
    return (k & 1) ? _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)) : _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
  }
}

template <int SW, int MODE>
void row(float* y, int64_t* idx, const float* x, int64_t W, int64_t row0, int64_t nrows, int64_t row_step,
         int64_t kw, int64_t pw, int64_t qa, int64_t qb, float scale) {
  // lane j holds output q0 + lane_q[j]
  const __m256i lane_col = SW == 1 ? _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)
                                   : _mm256_setr_epi32(0, 2, 8, 10, 4, 6, 12, 14);
  for (int64_t q0 = qa;; q0 += 8) {
    if (q0 + 8 > qb) q0 = qb - 8;
    const int64_t base = q0 * SW - pw;
    __m256 acc = _mm256_setzero_ps();
    __m256i id = _mm256_setzero_si256();
    bool first = true;
    for (int64_t r = 0; r < nrows; ++r) {
      const int64_t ih = row0 + r * row_step;
      const float* p = x + ih * W + base;
      for (int64_t k = 0; k < kw; ++k) {
        const __m256 v = tap<SW>(p, k);
        if constexpr (MODE == 2) {
          acc = _mm256_add_ps(acc, v);
        } else if constexpr (MODE == 0) {
          acc = first ? v : _mm256_or_ps(_mm256_max_ps(acc, v), _mm256_cmp_ps(acc, v, _CMP_UNORD_Q));
        } else {
          const __m256i cand = _mm256_add_epi32(_mm256_set1_epi32(int32_t(ih * W + base + k)), lane_col);
          if (first) {
            acc = v;
            id = cand;
          } else {
            const __m256 take = _mm256_or_ps(_mm256_cmp_ps(v, acc, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
            acc = _mm256_blendv_ps(acc, v, take);
            id = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(id), _mm256_castsi256_ps(cand), take));
          }
        }
        first = false;
      }
    }
    if constexpr (MODE == 2) acc = _mm256_mul_ps(acc, _mm256_set1_ps(scale));
    if constexpr (SW == 2) {
      acc = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(acc), _MM_SHUFFLE(3, 1, 2, 0)));
      if constexpr (MODE == 1) id = _mm256_permute4x64_epi64(id, _MM_SHUFFLE(3, 1, 2, 0));
    }
    _mm256_storeu_ps(y + q0, acc);
    if constexpr (MODE == 1) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(idx + q0), _mm256_cvtepi32_epi64(_mm256_castsi256_si128(id)));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(idx + q0 + 4), _mm256_cvtepi32_epi64(_mm256_extracti128_si256(id, 1)));
    }
    if (q0 + 8 >= qb) break;
  }
}

template <int SW>
void row_mode(float* y, int64_t* idx, const float* x, int64_t W, int64_t row0, int64_t nrows, int64_t row_step,
              int64_t kw, int64_t pw, int64_t qa, int64_t qb, int mode, float scale) {
  if (mode == 0) row<SW, 0>(y, idx, x, W, row0, nrows, row_step, kw, pw, qa, qb, scale);
  else if (mode == 1) row<SW, 1>(y, idx, x, W, row0, nrows, row_step, kw, pw, qa, qb, scale);
  else row<SW, 2>(y, idx, x, W, row0, nrows, row_step, kw, pw, qa, qb, scale);
}

}  // namespace

void pool_row_avx2(float* y, int64_t* idx, const float* x, int64_t W, int64_t row0, int64_t nrows,
                   int64_t row_step, int64_t kw, int64_t sw, int64_t pw, int64_t qa, int64_t qb, int mode,
                   float scale) {
  if (sw == 1) row_mode<1>(y, idx, x, W, row0, nrows, row_step, kw, pw, qa, qb, mode, scale);
  else row_mode<2>(y, idx, x, W, row0, nrows, row_step, kw, pw, qa, qb, mode, scale);
}

}  // namespace nk

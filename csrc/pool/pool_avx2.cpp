// Pooling row kernel, float32, AVX2: 8 outputs of one output row per step, vectorised
// along the output width. Horizontal stride 1: one unaligned load per tap. Stride 2:
// two loads per tap and a shuffle that keeps the even (or odd) columns; the lanes stay
// in the shuffled order [0 1 4 5 2 3 6 7] through the whole window and are put back in
// order once, at the store. Any kernel width, any vertical stride/dilation, dilation
// 1 horizontally (2×2/s2 and 3×3/s1,s2 are the common cases). A last partial block
// is done by overlapping the previous one. Max keeps torch's rules: NaN wins, ties keep
// the first index in row-major window order.
// Measured (float32, 64×32×26×26 2×2, best of 60, loaded shared 2-core Zen3, torch 2.13):
//   1 thread 0.44 ms = 15.6 GB/s vs torch 8.4 ms (18.9×); 2 threads 0.22 ms = 31 GB/s vs
//   4.3 ms (19.5×) (input is L3-resident, hence above the ~17 GB/s DRAM copy roof).
//   3×3/s2 32×64×56×56: 16× at 1 and 2 threads. See benchmarks/RESULTS.md.
//   python benchmarks/pool_softmax_act_min.py 1 2;  python -m nnkernels --only pool
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

// KW > 0: kernel width known at compile time (the tap loop unrolls and, for stride 2,
// the loads shared by taps 2j and 2j+1 are done once); KW == 0: runtime width kw.
template <int SW, int MODE, int KW>
void row(float* y, int64_t* idx, const float* x, int64_t W, int64_t row0, int64_t nrows, int64_t row_step,
         int64_t kw_rt, int64_t pw, int64_t qa, int64_t qb, float scale) {
  const int64_t kw = KW > 0 ? KW : kw_rt;
  // lane j holds output q0 + j (stride 1) or q0 + [0 1 4 5 2 3 6 7][j] (stride 2)
  const __m256i lane_col = SW == 1 ? _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)
                                   : _mm256_setr_epi32(0, 2, 8, 10, 4, 6, 12, 14);
  for (int64_t q0 = qa;; q0 += 8) {
    if (q0 + 8 > qb) q0 = qb - 8;
    const int64_t base = q0 * SW - pw;
    const float* p0 = x + row0 * W + base;
    // first tap initialises the accumulator (and the index)
    __m256 acc = tap<SW>(p0, 0);
    __m256i id = _mm256_setzero_si256();
    if constexpr (MODE == 1) id = _mm256_add_epi32(_mm256_set1_epi32(int32_t(row0 * W + base)), lane_col);
    for (int64_t r = 0; r < nrows; ++r) {
      const int64_t off = (row0 + r * row_step) * W + base;
      const float* p = x + off;
      for (int64_t k = (r == 0 ? 1 : 0); k < kw; ++k) {
        const __m256 v = tap<SW>(p, k);
        if constexpr (MODE == 2) {
          acc = _mm256_add_ps(acc, v);
        } else if constexpr (MODE == 0) {
          acc = _mm256_or_ps(_mm256_max_ps(acc, v), _mm256_cmp_ps(acc, v, _CMP_UNORD_Q));  // NaN wins
        } else {
          const __m256i cand = _mm256_add_epi32(_mm256_set1_epi32(int32_t(off + k)), lane_col);
          const __m256 take = _mm256_or_ps(_mm256_cmp_ps(v, acc, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
          acc = _mm256_blendv_ps(acc, v, take);
          id = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(id), _mm256_castsi256_ps(cand), take));
        }
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

template <int SW, int MODE>
void row_kw(float* y, int64_t* idx, const float* x, int64_t W, int64_t row0, int64_t nrows, int64_t row_step,
            int64_t kw, int64_t pw, int64_t qa, int64_t qb, float scale) {
  if (kw == 2) row<SW, MODE, 2>(y, idx, x, W, row0, nrows, row_step, kw, pw, qa, qb, scale);
  else if (kw == 3) row<SW, MODE, 3>(y, idx, x, W, row0, nrows, row_step, kw, pw, qa, qb, scale);
  else row<SW, MODE, 0>(y, idx, x, W, row0, nrows, row_step, kw, pw, qa, qb, scale);
}

template <int SW>
void row_mode(float* y, int64_t* idx, const float* x, int64_t W, int64_t row0, int64_t nrows, int64_t row_step,
              int64_t kw, int64_t pw, int64_t qa, int64_t qb, int mode, float scale) {
  if (mode == 0) row_kw<SW, 0>(y, idx, x, W, row0, nrows, row_step, kw, pw, qa, qb, scale);
  else if (mode == 1) row_kw<SW, 1>(y, idx, x, W, row0, nrows, row_step, kw, pw, qa, qb, scale);
  else row_kw<SW, 2>(y, idx, x, W, row0, nrows, row_step, kw, pw, qa, qb, scale);
}

}  // namespace

float sum_run_avx2(const float* p, int64_t n) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = _mm256_add_ps(a0, _mm256_loadu_ps(p + i));
    a1 = _mm256_add_ps(a1, _mm256_loadu_ps(p + i + 8));
    a2 = _mm256_add_ps(a2, _mm256_loadu_ps(p + i + 16));
    a3 = _mm256_add_ps(a3, _mm256_loadu_ps(p + i + 24));
  }
  for (; i + 8 <= n; i += 8) a0 = _mm256_add_ps(a0, _mm256_loadu_ps(p + i));
  if (i < n) {
    const __m256i k = _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n - i)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    a1 = _mm256_add_ps(a1, _mm256_maskload_ps(p + i, k));
  }
  __m256 s = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
  __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  h = _mm_add_ps(h, _mm_movehl_ps(h, h));
  h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
  return _mm_cvtss_f32(h);
}

void pool_row_avx2(float* y, int64_t* idx, const float* x, int64_t W, int64_t row0, int64_t nrows,
                   int64_t row_step, int64_t kw, int64_t sw, int64_t pw, int64_t qa, int64_t qb, int mode,
                   float scale) {
  if (sw == 1) row_mode<1>(y, idx, x, W, row0, nrows, row_step, kw, pw, qa, qb, mode, scale);
  else row_mode<2>(y, idx, x, W, row0, nrows, row_step, kw, pw, qa, qb, mode, scale);
}

}  // namespace nk

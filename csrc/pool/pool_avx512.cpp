// Pooling row kernel, float32, AVX-512F/BW/DQ (contract in pool.h; twin pool_avx2.cpp):
// 16 outputs of one output row per step, vectorised along the output width. Horizontal
// stride 1: one load per tap. Stride 2: two loads per tap pair (32 input columns) and one
// vpermt2ps that keeps the even (or odd) columns, already in output order. The last
// partial block uses masked loads and stores (no overlap, no scalar loop), so any block
// width ≥ 1 works. Any kernel width, any vertical stride/dilation, dilation 1
// horizontally. Max keeps torch's rules: NaN wins, ties keep the first index in row-major
// window order (as the AVX2 kernel).
// Measured (float32, 1 thread, best of 30 interleaved rounds, shared 2-core Intel Xeon
//   (Sapphire Rapids class), torch 2.13; avx512 path vs avx2 path / vs torch): max_pool2d
//   64×32×26×26 2×2 0.95× / 13.7×; 3×3/s2/p1 32×64×56×56 0.97× / 12.1×; avg_pool2d 2×2
//   0.94× / 5.4×; adaptive 7×7→1 0.89× / 0.97×: memory-bound, no gain over AVX2 here.
//   Command: nk.set_cpu_path("avx512" / "avx2") around benchmarks/pool_softmax_act_min.py's
//   cases; python -m nnkernels --only pool
#include "simd/simd_avx512.h"  // first: see its note on GCC 12

#include <cstdint>

#include "pool/pool.h"

namespace nk {
namespace {

using namespace simd512;

// Tap k of 16 outputs: columns k + SW·j, j < 16, of p. ka/kb mask the two 16-float loads.
template <int SW>
inline __m512 tap(const float* p, int64_t k, __mmask16 ka, __mmask16 kb) {
  if constexpr (SW == 1) {
    return _mm512_maskz_loadu_ps(ka, p + k);
  } else {
    const float* q = p + (k & ~int64_t(1));
    const __m512 a = _mm512_maskz_loadu_ps(ka, q), b = _mm512_maskz_loadu_ps(kb, q + 16);
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    return _mm512_permutex2var_ps(a, (k & 1) ? odd : even, b);
  }
}

// KW > 0: kernel width known at compile time (the tap loop unrolls and, for stride 2,
// the loads shared by taps 2j and 2j+1 are done once); KW == 0: runtime width kw.
template <int SW, int MODE, int KW>
void row(float* y, int64_t* idx, const float* x, int64_t W, int64_t row0, int64_t nrows, int64_t row_step,
         int64_t kw_rt, int64_t pw, int64_t qa, int64_t qb, float scale) {
  const int64_t kw = KW > 0 ? KW : kw_rt;
  const __m512i lane_col = SW == 1 ? _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
                                   : _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  for (int64_t q0 = qa; q0 < qb; q0 += 16) {
    const int64_t m = qb - q0;  // outputs left (≥ 16: a full block)
    const __mmask16 ko = mask16(m);
    const __mmask16 ka = SW == 1 ? ko : mask16(2 * m), kb = SW == 1 ? 0 : mask16(2 * m - 16);
    const int64_t base = q0 * SW - pw;
    const float* p0 = x + row0 * W + base;
    // first tap initialises the accumulator (and the index)
    __m512 acc = tap<SW>(p0, 0, ka, kb);
    __m512i id = _mm512_setzero_si512();
    if constexpr (MODE == 1) id = _mm512_add_epi32(_mm512_set1_epi32(int32_t(row0 * W + base)), lane_col);
    for (int64_t r = 0; r < nrows; ++r) {
      const int64_t off = (row0 + r * row_step) * W + base;
      const float* p = x + off;
      for (int64_t k = (r == 0 ? 1 : 0); k < kw; ++k) {
        const __m512 v = tap<SW>(p, k, ka, kb);
        if constexpr (MODE == 2) {
          acc = _mm512_add_ps(acc, v);
        } else if constexpr (MODE == 0) {
          acc = nanmax_ps(acc, v);  // NaN wins
        } else {
          const __m512i cand = _mm512_add_epi32(_mm512_set1_epi32(int32_t(off + k)), lane_col);
          const __mmask16 take = _mm512_cmp_ps_mask(v, acc, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
          acc = _mm512_mask_mov_ps(acc, take, v);
          id = _mm512_mask_mov_epi32(id, take, cand);
        }
      }
    }
    if constexpr (MODE == 2) acc = _mm512_mul_ps(acc, _mm512_set1_ps(scale));
    _mm512_mask_storeu_ps(y + q0, ko, acc);
    if constexpr (MODE == 1) {
      _mm512_mask_storeu_epi64(idx + q0, static_cast<__mmask8>(ko), _mm512_cvtepi32_epi64(_mm512_castsi512_si256(id)));
      _mm512_mask_storeu_epi64(idx + q0 + 8, static_cast<__mmask8>(ko >> 8),
                               _mm512_cvtepi32_epi64(_mm512_extracti32x8_epi32(id, 1)));
    }
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

float sum_run_avx512(const float* p, int64_t n) {
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;  // no aligning head: the sum would then depend on the address
  for (; i + 64 <= n; i += 64) {
    a0 = _mm512_add_ps(a0, _mm512_loadu_ps(p + i));
    a1 = _mm512_add_ps(a1, _mm512_loadu_ps(p + i + 16));
    a2 = _mm512_add_ps(a2, _mm512_loadu_ps(p + i + 32));
    a3 = _mm512_add_ps(a3, _mm512_loadu_ps(p + i + 48));
  }
  for (; i < n; i += 16) a1 = _mm512_add_ps(a1, _mm512_maskz_loadu_ps(mask16(n - i), p + i));
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

void pool_row_avx512(float* y, int64_t* idx, const float* x, int64_t W, int64_t row0, int64_t nrows,
                     int64_t row_step, int64_t kw, int64_t sw, int64_t pw, int64_t qa, int64_t qb, int mode,
                     float scale) {
  if (sw == 1) row_mode<1>(y, idx, x, W, row0, nrows, row_step, kw, pw, qa, qb, mode, scale);
  else row_mode<2>(y, idx, x, W, row0, nrows, row_step, kw, pw, qa, qb, mode, scale);
}

}  // namespace nk

// AVX2/FMA attention tile kernels (float), compiled with -mavx2 -mfma and reached only
// through attn_kernels<float>() on CPUs that have both. Contracts: attention_kernels.h.
//
// attn_tile_avx2 (6×16): 12 ymm accumulators; per k step two loads of a B row, six
// broadcasts of single A elements at arbitrary strides (so K, V, Q and the transposed
// score tile are all used in place, unpacked) and 12 FMAs. Column tails (n < 16) use
// masked loads/stores. The softmax/probability kernels work in base 2 (log2(e) folded
// into the scale): 2^t with a degree-6 polynomial for the fraction and 2^n by exponent
// arithmetic; t below −126 gives exactly 0, so masked scores contribute nothing.
#include <immintrin.h>
#include <cstdint>
#include <cmath>

#include "attention/attention_kernels.h"
#include "simd/simd_avx2.h"

namespace nk {
namespace {

using simd256::exp2_ps;

// v, opaque to the optimiser: a product passed through it is rounded as written and
// never fused with a later subtraction into an FMA (GCC contracts intrinsics too).
inline __m256 rounded(__m256 v) {
  asm("" : "+x"(v));
  return v;
}

// Lanes [0, n) set, n in [0, 8].
inline __m256i tail_mask(int n) { return simd256::mask8(n); }

template <bool FULL>
inline void tile_6x16(int64_t K, const float* a, int64_t rsa, int64_t csa, int m,
                      const float* b, int64_t ldb, int n, float* c, int64_t ldc,
                      const float* cscale, bool acc) {
  // Rows past m re-read row 0 of A (always valid) and are never stored.
  const int64_t o1 = (m > 1) * rsa, o2 = (m > 2) * 2 * rsa, o3 = (m > 3) * 3 * rsa;
  const int64_t o4 = (m > 4) * 4 * rsa, o5 = (m > 5) * 5 * rsa;
  __m256i mk0 = _mm256_setzero_si256(), mk1 = _mm256_setzero_si256();
  if (!FULL) {
    mk0 = tail_mask(n < 8 ? n : 8);
    mk1 = tail_mask(n > 8 ? n - 8 : 0);
  }
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  const float* ap = a;
#pragma GCC unroll 4
  for (int64_t k = 0; k < K; ++k) {
    __m256 b0, b1;
    if (FULL) {
      b0 = _mm256_loadu_ps(b);
      b1 = _mm256_loadu_ps(b + 8);
    } else {
      b0 = _mm256_maskload_ps(b, mk0);
      b1 = _mm256_maskload_ps(b + 8, mk1);
    }
    __m256 av = _mm256_broadcast_ss(ap);
    c00 = _mm256_fmadd_ps(av, b0, c00);
    c01 = _mm256_fmadd_ps(av, b1, c01);
    av = _mm256_broadcast_ss(ap + o1);
    c10 = _mm256_fmadd_ps(av, b0, c10);
    c11 = _mm256_fmadd_ps(av, b1, c11);
    av = _mm256_broadcast_ss(ap + o2);
    c20 = _mm256_fmadd_ps(av, b0, c20);
    c21 = _mm256_fmadd_ps(av, b1, c21);
    av = _mm256_broadcast_ss(ap + o3);
    c30 = _mm256_fmadd_ps(av, b0, c30);
    c31 = _mm256_fmadd_ps(av, b1, c31);
    av = _mm256_broadcast_ss(ap + o4);
    c40 = _mm256_fmadd_ps(av, b0, c40);
    c41 = _mm256_fmadd_ps(av, b1, c41);
    av = _mm256_broadcast_ss(ap + o5);
    c50 = _mm256_fmadd_ps(av, b0, c50);
    c51 = _mm256_fmadd_ps(av, b1, c51);
    ap += csa;
    b += ldb;
  }
  auto store = [&](int r, __m256 lo, __m256 hi) {
    float* cr = c + r * ldc;
    if (acc) {
      const __m256 s = _mm256_set1_ps(cscale ? cscale[r] : 1.0f);
      if (FULL) {
        lo = _mm256_fmadd_ps(_mm256_loadu_ps(cr), s, lo);
        hi = _mm256_fmadd_ps(_mm256_loadu_ps(cr + 8), s, hi);
      } else {
        lo = _mm256_fmadd_ps(_mm256_maskload_ps(cr, mk0), s, lo);
        hi = _mm256_fmadd_ps(_mm256_maskload_ps(cr + 8, mk1), s, hi);
      }
    }
    if (FULL) {
      _mm256_storeu_ps(cr, lo);
      _mm256_storeu_ps(cr + 8, hi);
    } else {
      _mm256_maskstore_ps(cr, mk0, lo);
      _mm256_maskstore_ps(cr + 8, mk1, hi);
    }
  };
  store(0, c00, c01);
  if (m > 1) store(1, c10, c11);
  if (m > 2) store(2, c20, c21);
  if (m > 3) store(3, c30, c31);
  if (m > 4) store(4, c40, c41);
  if (m > 5) store(5, c50, c51);
}

}  // namespace

void attn_tile_avx2(int64_t K, const float* a, int64_t rsa, int64_t csa, int m, const float* b,
                    int64_t ldb, int n, float* c, int64_t ldc, const float* cscale, bool acc) {
  if (n <= 0) return;
  for (int r = 0; r < m; r += 6) {
    const int mr = m - r < 6 ? m - r : 6;
    const float* cs = cscale ? cscale + r : nullptr;
    if (n == 16)
      tile_6x16<true>(K, a + r * rsa, rsa, csa, mr, b, ldb, n, c + r * ldc, ldc, cs, acc);
    else
      tile_6x16<false>(K, a + r * rsa, rsa, csa, mr, b, ldb, n, c + r * ldc, ldc, cs, acc);
  }
}

void attn_softmax_update_avx2(int64_t kb, int64_t nq, float* s, int64_t lds, float scale,
                              float* mrow, float* lrow, float* alpha) {
  // Works in base 2: p = 2^((s·scale − m)·log2(e)). The running max is subtracted before
  // the change of base, from the very (rounded, unfused) products the max was taken of, so
  // the largest score gives exactly 2^0 whatever its magnitude (s·scale·log2e − m·log2e,
  // or an FMA of s·scale − m, differ from 0 by tens near 1e9 and gave 0 or inf).
  const float log2e = 1.44269504088896341f;
  const __m256 vsc = _mm256_set1_ps(scale);
  const __m256 vl2e = _mm256_set1_ps(log2e);
  const __m256 ninf = _mm256_set1_ps(-INFINITY);
  const __m256 zero = _mm256_setzero_ps();
  for (int64_t i = 0; i < nq; i += 8) {
    float* col = s + i;
    __m256 mx0 = ninf, mx1 = ninf;
    int64_t j = 0;
    for (; j + 1 < kb; j += 2) {
      mx0 = _mm256_max_ps(mx0, _mm256_mul_ps(_mm256_loadu_ps(col + j * lds), vsc));
      mx1 = _mm256_max_ps(mx1, _mm256_mul_ps(_mm256_loadu_ps(col + (j + 1) * lds), vsc));
    }
    if (j < kb) mx0 = _mm256_max_ps(mx0, _mm256_mul_ps(_mm256_loadu_ps(col + j * lds), vsc));
    const __m256 mold = _mm256_loadu_ps(mrow + i);
    const __m256 mnew = _mm256_max_ps(mold, _mm256_max_ps(mx0, mx1));
    const __m256 mref = _mm256_blendv_ps(mnew, zero, _mm256_cmp_ps(mnew, ninf, _CMP_EQ_OQ));
    const __m256 al = exp2_ps(_mm256_mul_ps(_mm256_sub_ps(mold, mref), vl2e));
    auto prob = [&](const float* x) {
      return exp2_ps(_mm256_mul_ps(_mm256_sub_ps(rounded(_mm256_mul_ps(_mm256_loadu_ps(x), vsc)), mref), vl2e));
    };
    __m256 sum0 = zero, sum1 = zero;
    for (j = 0; j + 1 < kb; j += 2) {
      const __m256 p0 = prob(col + j * lds);
      const __m256 p1 = prob(col + (j + 1) * lds);
      _mm256_storeu_ps(col + j * lds, p0);
      _mm256_storeu_ps(col + (j + 1) * lds, p1);
      sum0 = _mm256_add_ps(sum0, p0);
      sum1 = _mm256_add_ps(sum1, p1);
    }
    if (j < kb) {
      const __m256 p0 = prob(col + j * lds);
      _mm256_storeu_ps(col + j * lds, p0);
      sum0 = _mm256_add_ps(sum0, p0);
    }
    _mm256_storeu_ps(lrow + i, _mm256_fmadd_ps(_mm256_loadu_ps(lrow + i), al, _mm256_add_ps(sum0, sum1)));
    _mm256_storeu_ps(mrow + i, mnew);
    _mm256_storeu_ps(alpha + i, al);
  }
}

void attn_probs_avx2(int64_t kb, int64_t nq, float* s, int64_t lds, float scale, const float* lse) {
  // As in the forward: lse is subtracted before the change of base (any magnitude).
  const float log2e = 1.44269504088896341f;
  const __m256 vsc = _mm256_set1_ps(scale);
  const __m256 vl2e = _mm256_set1_ps(log2e);
  for (int64_t j = 0; j < kb; ++j) {
    float* row = s + j * lds;
    for (int64_t i = 0; i < nq; i += 8)
      _mm256_storeu_ps(row + i, exp2_ps(_mm256_mul_ps(
                                    _mm256_sub_ps(rounded(_mm256_mul_ps(_mm256_loadu_ps(row + i), vsc)),
                                                  _mm256_loadu_ps(lse + i)), vl2e)));
  }
}

void attn_dscores_avx2(int64_t kb, int64_t nq, const float* p, int64_t ldp, float* dp,
                       int64_t lddp, const float* dvec, float scale) {
  const __m256 vsc = _mm256_set1_ps(scale);
  for (int64_t j = 0; j < kb; ++j) {
    const float* pr = p + j * ldp;
    float* dr = dp + j * lddp;
    for (int64_t i = 0; i < nq; i += 8) {
      const __m256 d = _mm256_sub_ps(_mm256_loadu_ps(dr + i), _mm256_loadu_ps(dvec + i));
      _mm256_storeu_ps(dr + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(pr + i), d), vsc));
    }
  }
}

void attn_transpose_avx2(int64_t rows, int64_t cols, const float* src, int64_t lds, float* dst,
                         int64_t ldd) {
  int64_t r0 = 0;
  for (; r0 + 8 <= rows; r0 += 8) {
    int64_t c0 = 0;
    for (; c0 + 8 <= cols; c0 += 8) {
      const float* s = src + r0 * lds;
      const float* rw[8] = {s, s + lds, s + 2 * lds, s + 3 * lds, s + 4 * lds, s + 5 * lds, s + 6 * lds,
                            s + 7 * lds};
      simd256::transpose8x8_ps(rw, c0, dst + c0 * ldd + r0, ldd);
    }
    for (; c0 < cols; ++c0)
      for (int64_t r = r0; r < r0 + 8; ++r) dst[c0 * ldd + r] = src[r * lds + c0];
  }
  for (; r0 < rows; ++r0)
    for (int64_t c = 0; c < cols; ++c) dst[c * ldd + r0] = src[r0 * lds + c];
}

}  // namespace nk

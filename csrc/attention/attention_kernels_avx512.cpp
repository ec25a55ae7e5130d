// AVX-512 attention tile kernels (float), compiled with AVX-512F/BW/VL/DQ and reached only
// through the avx512 kernel table (csrc/isa/avx512_table.cpp, entry "attn_avx512_12x32").
// Contracts: attention_kernels.h; the drivers (attention_fwd.cpp, attention_bwd.cpp) take
// the tile and block sizes from the table entry: MR × NR = 12 × 32, BQ = BK = 96.
//
// attn_tile_avx512 (12×32): 24 zmm accumulators (12 rows × 2 zmm); per k step two loads
// of a B row, twelve broadcasts of single A elements at any strides (K, V, Q and the
// transposed score tile are all used in place, unpacked) and 24 FMAs, so the FMA ports
// and not the loads bound it. The 12 A rows are addressed from three base pointers with
// 1·rsa, 2·rsa, 3·rsa index registers (no per-row pointers, no spills). Row tails use an
// exact-height instance (R = 1..12, switch), column tails (n < 32) a masked load/store of
// the last zmm; there is no scalar edge loop anywhere in this file.
//
// The softmax/probability kernels work on 16 queries (one zmm) per column strip, tails
// masked. t = s·scale is rounded on its own (an embedded-rounding multiply, which GCC does
// not contract into an FMA with the subtraction that follows), the running max m is the
// max of those same rounded t, and p = 2^((t − m)·log2 e): the largest score gives 2^0 = 1
// exactly, however large the scores (1e9, 1e20 ... are tested). 2^x: degree-6 polynomial
// of the fraction and scalef; x < −126 (−inf included) gives exactly 0 via the scalef's
// zero-mask. The transposes use 16×16 in-register blocks with masked edge loads/stores.
// Tried and dropped: 8×32 tiles with BQ = BK = 128 (no 12-row tails at powers of two),
// BK 48/192, BQ 192: all within noise or 2-5 % slower than 12×32 at 96/96.
//
// Where the time goes (one thread, B4 H8 L1024 D64 forward, perf): the 12×32 tile 73 %,
// the online softmax ~10 %, transposes and the driver the rest. The tile runs at ~94 % of
// the FMA roof with L1-resident operands and at 85-90 % inside the forward.
//
// Measured (float32, this 2-core Xeon with AVX-512 — Sapphire Rapids class, ~167 GFLOP/s
// one-core roof by MKL sgemm — shared with other jobs at load average 4-7, so absolute
// GFLOP/s swing 2×; ratios are medians of per-round ratios in one process:
// `T=2 R=11 PYTHONPATH=python python benchmarks/attention_paths.py`, T=1 R=7 for one
// thread on thread CPU time). avx512 vs torch 2.13 SDPA (+ autograd for fwd+bwd) / vs the
// avx2 path:
//                        2 threads               1 thread (two runs)
//   B8 H8 L256 D64  fwd  1.03× / 1.50×           1.14-1.19× / 1.65×
//                fwd+bwd 2.09× / 1.62×           1.28-1.30× / 1.55-1.65×
//   B4 H8 L1024 D64 fwd  1.18× / 1.75×           1.10-1.12× / 1.81×
//                fwd+bwd 1.31× / 1.68×           1.13-1.32× / 1.67-1.74×
//   B1 H8 L4096 D64 fwd  1.13× / 1.76×           1.08-1.10× / 1.80-1.83×
// (2-thread figures of other runs under heavier load: fwd 0.99-1.34×, fwd+bwd 1.20-2.23×.)
// The 1.5× over torch is not reached in the forward: torch's flash attention
// runs its blocks through MKL at ~65 % of the roof on one thread (108-113 GFLOP/s), and
// 1.5× of that would be ~100 % of the roof. `python -m nnkernels --only attention`
// (2 threads, same load) gave 1.06× / 2.01× (L256 fwd, fwd+bwd), 1.18× / 1.22× (L1024),
// 1.34× (L1024 causal), 1.10× (L4096).
// GCC 12 reports the _mm512_undefined_ps() inside its own max/min/roundscale intrinsics as
// "may be used uninitialized" (GCC PR 105593, fixed in 12.3/13); not a problem of this file.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#include <cmath>
#include <cstdint>

#include "attention/attention_kernels.h"
#include "simd/simd_avx512.h"

namespace nk {
namespace {

using simd512::mask16;

constexpr int MR = kAttnMR512;  // 12 rows
constexpr int NR = kAttnNR512;  // 32 columns = 2 zmm

using simd512::exp2_ps;

// t = s·scale rounded to float on its own: GCC contracts a plain _mm512_mul_ps followed by
// _mm512_sub_ps into one FMA (-ffp-contract=fast), and s·scale − m unrounded differs from
// the rounded maximum m by up to half an ulp of the score — 2^±32 and worse at scores ~1e9.
// The embedded-rounding multiply is not contracted.
inline __m512 scaled(__m512 s, __m512 vsc) {
  return _mm512_mul_round_ps(s, vsc, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

// C tile of R rows (R <= MR) × NV zmm columns; the last column vector uses mask `ml`.
// A(r, k) is broadcast from a[r*rsa + k*csa]; rows 0-3 / 4-7 / 8-11 are addressed from
// three base pointers with 1·rsa, 2·rsa, 3·rsa index registers (no per-row pointers).
template <int R, int NV>
inline void tile_rxn(int64_t K, const float* a, int64_t rsa, int64_t csa, const float* b,
                     int64_t ldb, __mmask16 ml, float* c, int64_t ldc, const float* cscale,
                     bool acc) {
  __m512 t[R][NV];
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) t[r][v] = _mm512_setzero_ps();
  const float* p0 = a;
  const float* p4 = a + (R > 4 ? 4 * rsa : 0);
  const float* p8 = a + (R > 8 ? 8 * rsa : 0);
  const int64_t r1 = rsa, r2 = 2 * rsa, r3 = 3 * rsa;
  for (int64_t k = 0; k < K; ++k) {
    __m512 bv[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v)
      bv[v] = v == NV - 1 ? _mm512_maskz_loadu_ps(ml, b + 16 * v) : _mm512_loadu_ps(b + 16 * v);
#pragma GCC unroll 12
    for (int r = 0; r < R; ++r) {
      const float* base = r < 4 ? p0 : r < 8 ? p4 : p8;
      const int q = r & 3;
      const int64_t off = q == 0 ? 0 : q == 1 ? r1 : q == 2 ? r2 : r3;
      const __m512 av = _mm512_set1_ps(base[off]);
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) t[r][v] = _mm512_fmadd_ps(av, bv[v], t[r][v]);
    }
    p0 += csa;
    p4 += csa;
    p8 += csa;
    b += ldb;
  }
#pragma GCC unroll 12
  for (int r = 0; r < R; ++r) {
    float* cr = c + r * ldc;
    const __m512 s = _mm512_set1_ps(cscale ? cscale[r] : 1.0f);
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) {
      __m512 x = t[r][v];
      if (v == NV - 1) {
        if (acc) x = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(ml, cr + 16 * v), s, x);
        _mm512_mask_storeu_ps(cr + 16 * v, ml, x);
      } else {
        if (acc) x = _mm512_fmadd_ps(_mm512_loadu_ps(cr + 16 * v), s, x);
        _mm512_storeu_ps(cr + 16 * v, x);
      }
    }
  }
}

template <int NV>
inline void tile_rows(int R, int64_t K, const float* a, int64_t rsa, int64_t csa, const float* b,
                      int64_t ldb, __mmask16 ml, float* c, int64_t ldc, const float* cs, bool acc) {
  switch (R) {
#define NK_CASE(n) \
  case n: tile_rxn<n, NV>(K, a, rsa, csa, b, ldb, ml, c, ldc, cs, acc); break;
    NK_CASE(1) NK_CASE(2) NK_CASE(3) NK_CASE(4) NK_CASE(5) NK_CASE(6)
    NK_CASE(7) NK_CASE(8) NK_CASE(9) NK_CASE(10) NK_CASE(11) NK_CASE(12)
#undef NK_CASE
    default: break;
  }
}

}  // namespace

void attn_tile_avx512(int64_t K, const float* a, int64_t rsa, int64_t csa, int m, const float* b,
                      int64_t ldb, int n, float* c, int64_t ldc, const float* cscale, bool acc) {
  if (n <= 0 || m <= 0) return;
  const int nv = n > 16 ? 2 : 1;
  const __mmask16 ml = mask16(n - 16 * (nv - 1));
  for (int r = 0; r < m; r += MR) {
    const int mr = m - r < MR ? m - r : MR;
    const float* cs = cscale ? cscale + r : nullptr;
    if (nv == 2)
      tile_rows<2>(mr, K, a + r * rsa, rsa, csa, b, ldb, ml, c + r * ldc, ldc, cs, acc);
    else
      tile_rows<1>(mr, K, a + r * rsa, rsa, csa, b, ldb, ml, c + r * ldc, ldc, cs, acc);
  }
}

// Per 16 columns: pass 1 the scaled maximum (t = s·scale, rounded once); pass 2
// p = 2^((t − m')·log2 e) from the same rounded t, so the largest score gives exactly
// 2^0 = 1 whatever its magnitude (no FMA between the scale and the subtraction).
void attn_softmax_update_avx512(int64_t kb, int64_t nq, float* s, int64_t lds, float scale,
                                float* mrow, float* lrow, float* alpha) {
  const __m512 vsc = _mm512_set1_ps(scale);
  const __m512 vl2e = _mm512_set1_ps(1.44269504088896341f);
  const __m512 ninf = _mm512_set1_ps(-INFINITY);
  const __m512 zero = _mm512_setzero_ps();
  const bool neg = scale < 0.0f;
  for (int64_t i = 0; i < nq; i += 16) {
    const __mmask16 mk = mask16(nq - i);
    float* col = s + i;
    // max_j round(scale·s_j) = round(scale·max_j s_j) for scale > 0 (rounding is monotonic),
    // round(scale·min_j s_j) for scale < 0: one multiply per column strip, not per score.
    // (Lanes past nq load 0; they are never stored.)
    __m512 mx0, mx1, mx2, mx3;
    if (neg) mx0 = mx1 = mx2 = mx3 = _mm512_set1_ps(INFINITY);
    else mx0 = mx1 = mx2 = mx3 = ninf;
    int64_t j = 0;
    auto ext = [neg](__m512 a, __m512 b) { return neg ? _mm512_min_ps(a, b) : _mm512_max_ps(a, b); };
    for (; j + 3 < kb; j += 4) {
      mx0 = ext(mx0, _mm512_maskz_loadu_ps(mk, col + j * lds));
      mx1 = ext(mx1, _mm512_maskz_loadu_ps(mk, col + (j + 1) * lds));
      mx2 = ext(mx2, _mm512_maskz_loadu_ps(mk, col + (j + 2) * lds));
      mx3 = ext(mx3, _mm512_maskz_loadu_ps(mk, col + (j + 3) * lds));
    }
    for (; j < kb; ++j) mx0 = ext(mx0, _mm512_maskz_loadu_ps(mk, col + j * lds));
    const __m512 mblk = scaled(ext(ext(mx0, mx1), ext(mx2, mx3)), vsc);
    const __m512 mold = _mm512_maskz_loadu_ps(mk, mrow + i);
    const __m512 mnew = _mm512_max_ps(mold, mblk);
    // A column that has seen only −inf subtracts 0 (its p stay 0, never NaN).
    const __m512 mref = _mm512_mask_mov_ps(mnew, _mm512_cmp_ps_mask(mnew, ninf, _CMP_EQ_OQ), zero);
    const __m512 al = exp2_ps(_mm512_mul_ps(_mm512_sub_ps(mold, mref), vl2e));
    __m512 sum0 = zero, sum1 = zero;
    for (j = 0; j + 1 < kb; j += 2) {
      float* r0 = col + j * lds;
      float* r1 = r0 + lds;
      const __m512 t0 = scaled(_mm512_maskz_loadu_ps(mk, r0), vsc);
      const __m512 t1 = scaled(_mm512_maskz_loadu_ps(mk, r1), vsc);
      const __m512 p0 = exp2_ps(_mm512_mul_ps(_mm512_sub_ps(t0, mref), vl2e));
      const __m512 p1 = exp2_ps(_mm512_mul_ps(_mm512_sub_ps(t1, mref), vl2e));
      _mm512_mask_storeu_ps(r0, mk, p0);
      _mm512_mask_storeu_ps(r1, mk, p1);
      sum0 = _mm512_add_ps(sum0, p0);
      sum1 = _mm512_add_ps(sum1, p1);
    }
    if (j < kb) {
      float* r0 = col + j * lds;
      const __m512 t0 = scaled(_mm512_maskz_loadu_ps(mk, r0), vsc);
      const __m512 p0 = exp2_ps(_mm512_mul_ps(_mm512_sub_ps(t0, mref), vl2e));
      _mm512_mask_storeu_ps(r0, mk, p0);
      sum0 = _mm512_add_ps(sum0, p0);
    }
    const __m512 l = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, lrow + i), al, _mm512_add_ps(sum0, sum1));
    _mm512_mask_storeu_ps(lrow + i, mk, l);
    _mm512_mask_storeu_ps(mrow + i, mk, mnew);
    _mm512_mask_storeu_ps(alpha + i, mk, al);
  }
}

// p = 2^((s·scale − lse)·log2 e), the scaled score rounded once as in the forward.
void attn_probs_avx512(int64_t kb, int64_t nq, float* s, int64_t lds, float scale, const float* lse) {
  const __m512 vsc = _mm512_set1_ps(scale);
  const __m512 vl2e = _mm512_set1_ps(1.44269504088896341f);
  for (int64_t i = 0; i < nq; i += 16) {
    const __mmask16 mk = mask16(nq - i);
    const __m512 vl = _mm512_maskz_loadu_ps(mk, lse + i);
    float* col = s + i;
    for (int64_t j = 0; j < kb; ++j) {
      const __m512 t = scaled(_mm512_maskz_loadu_ps(mk, col + j * lds), vsc);
      _mm512_mask_storeu_ps(col + j * lds, mk, exp2_ps(_mm512_mul_ps(_mm512_sub_ps(t, vl), vl2e)));
    }
  }
}

void attn_dscores_avx512(int64_t kb, int64_t nq, const float* p, int64_t ldp, float* dp,
                         int64_t lddp, const float* dvec, float scale) {
  const __m512 vsc = _mm512_set1_ps(scale);
  for (int64_t i = 0; i < nq; i += 16) {
    const __mmask16 mk = mask16(nq - i);
    const __m512 dv = _mm512_maskz_loadu_ps(mk, dvec + i);
    for (int64_t j = 0; j < kb; ++j) {
      float* dr = dp + j * lddp + i;
      const __m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(mk, dr), dv);
      const __m512 ps = _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, p + j * ldp + i), vsc);
      _mm512_mask_storeu_ps(dr, mk, _mm512_mul_ps(ps, d));
    }
  }
}

// 16×16 blocks in registers: rows past `rows` are not loaded (zero), columns past `cols`
// are masked off on load; the transposed block is stored with the row mask.
void attn_transpose_avx512(int64_t rows, int64_t cols, const float* src, int64_t lds, float* dst,
                           int64_t ldd) {
  for (int64_t r0 = 0; r0 < rows; r0 += 16) {
    const int64_t nr = rows - r0 < 16 ? rows - r0 : 16;
    const __mmask16 mrw = mask16(nr);
    for (int64_t c0 = 0; c0 < cols; c0 += 16) {
      const int64_t nc = cols - c0 < 16 ? cols - c0 : 16;
      const __mmask16 mcl = mask16(nc);
      const float* s = src + r0 * lds + c0;
      __m512 x[16];
#pragma GCC unroll 16
      for (int r = 0; r < 16; ++r)
        x[r] = r < nr ? _mm512_maskz_loadu_ps(mcl, s + r * lds) : _mm512_setzero_ps();
      __m512 t[16], u[16];
#pragma GCC unroll 8
      for (int g = 0; g < 8; ++g) {
        t[2 * g] = _mm512_unpacklo_ps(x[2 * g], x[2 * g + 1]);
        t[2 * g + 1] = _mm512_unpackhi_ps(x[2 * g], x[2 * g + 1]);
      }
      // u[4g + e], 128-bit chunk q: rows 4g..4g+3 of column 4q + e.
#pragma GCC unroll 4
      for (int g = 0; g < 4; ++g) {
        u[4 * g + 0] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0x44);
        u[4 * g + 1] = _mm512_shuffle_ps(t[4 * g], t[4 * g + 2], 0xEE);
        u[4 * g + 2] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);
        u[4 * g + 3] = _mm512_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xEE);
      }
      float* d = dst + c0 * ldd + r0;
#pragma GCC unroll 4
      for (int e = 0; e < 4; ++e) {
        const __m512 v0 = _mm512_shuffle_f32x4(u[e], u[4 + e], 0x88);
        const __m512 v1 = _mm512_shuffle_f32x4(u[e], u[4 + e], 0xDD);
        const __m512 w0 = _mm512_shuffle_f32x4(u[8 + e], u[12 + e], 0x88);
        const __m512 w1 = _mm512_shuffle_f32x4(u[8 + e], u[12 + e], 0xDD);
        const __m512 col[4] = {_mm512_shuffle_f32x4(v0, w0, 0x88), _mm512_shuffle_f32x4(v1, w1, 0x88),
                               _mm512_shuffle_f32x4(v0, w0, 0xDD), _mm512_shuffle_f32x4(v1, w1, 0xDD)};
#pragma GCC unroll 4
        for (int q = 0; q < 4; ++q)
          if (4 * q + e < nc) _mm512_mask_storeu_ps(d + (4 * q + e) * ldd, mrw, col[q]);
      }
    }
  }
}

}  // namespace nk

// AVX-512 direct conv2d tiles (contracts in conv/conv_direct.h). Forward: 14 output
// positions × 32 output channels in 28 zmm accumulators, the positions broadcast from the
// image and the weights loaded as two zmm per reduction step. Grad w: at the end of the file.
//
// Algorithm (driver: forward_direct in conv2d.cpp, float32, stride 1, any padding,
// dilation and groups): Yᵀ[positions, channels] = im2col(X)ᵀ · Wᵀ with im2col never
// packed. The weights are packed once per call, k-major, 32 output channels a panel
// (zero-padded); each (image, group) is copied once into a zero-bordered per-thread image
// (Cg × Hp × Wp), so the kernel has no edge tests: for reduction step t = (c, r, s) the 14
// positions of a tile are 14 consecutive floats at base + off[t], off[t] = c·Hp·Wp +
// r·dh·Wp + s·dw. Per step: two aligned zmm weight loads, 14 broadcasts (memory operands),
// 28 FMAs. Tiles run along each output row (q0 = 0, 14, ...); the row's last, partial
// tile runs an instance of its own width (one per width 1-14), so no lane computes a
// dropped position. The tile is stored transposed with a 16×16 in-register transpose per
// 16 channels (64 shuffles) and masked row stores (added into y for the depth blocks after
// the first). Loop order: per (image, group), per 32-channel panel, per block of at most
// 320 taps (its weights stay in L1), per output row, where an edge row runs only the filter
// rows that read the image; threads take (image, group) items, or with fewer items than
// threads the (panel, row) pairs of one item. Those three refinements, A/B each against
// the step before (2026-12-01, second session): per-width tails 0.71 / 0.82 the time on C32
// 13×13 p0 / p1 (Q = 11, 13: one tile of 11 or 13 where 14 lanes ran), edge rows 0.95 (p1),
// tap blocks 0.82-0.89 on C128 28×28. The table below is the first version's.
//
// Measured on the 2-core Intel Xeon (AVX-512, 48 KiB L1d, 2 MiB L2), 2026-12-01, forward,
// float32, 2 threads, 3×3 kernels. A/B: time ratio direct / implicit GEMM, min of 5-7
// alternating processes per run (`NK_CONV_DIRECT=0 python ab.py snip.py python
// python:NK_CONV_DIRECT 5`, the snippet timing nk.conv2d(x, w, padding=p)), one figure a
// run; the shared host swings up to 2×, so runs differ; < 1 = direct faster:
//   layer                     p0                          p1
//   N64 C1  28×28 K32         0.88*, 0.76, 0.84           1.07*, 0.77, 0.84
//   N64 C32 13×13 K64         0.79*, 0.94, 0.86           0.78*, 0.69, 0.71
//   N32 C64 56×56 K64         1.03*, 1.15, 0.91, 0.99,    0.78*, 0.87, 0.90
//                             0.86, 0.87
//   N8 C128 28×28 K128        0.84*, 0.88, 0.86           0.79*, 0.92, 1.03, 0.99
//   N1 C64 56×56 K64 (one image: threads split its rows)  0.76
// (* the first version, whose transposed store was 32 gathers from a stack tile.) The
// direct tile was faster in 25 of the 29 runs, 56×56 p0 (the GEMM's best case: wide rows
// without padding masks) a tie under load and 24.4 vs 28.1 ms best on a quieter host, so it
// runs on every stride-1 float32 conv of this path; NK_CONV_DIRECT=0 (read once) turns it
// off for tuning. Against torch 2.13 (oneDNN) in one process, 2 threads each, two runs
// (torch time / ours; torch's own speed swung 2× between the runs): C1 p1 1.53, 1.44
// (p0: torch ran at 6-7 GFLOP/s, no comparison); C32 13×13 p0 0.97, 1.10, p1 0.92, 1.03;
// C64 56×56 p0 1.16, 0.83, p1 1.34, 1.88; C128 28×28 p0 1.18, 1.00, p1 1.21, 0.76.
// Ours: 170-280 GFLOP/s on the C≥32 layers (FMA roof ~350 for 2 cores).
//
// GCC 12 reports the _mm512_undefined_ps() inside its own cast/unpack intrinsics as "may
// be used uninitialized" (GCC PR 105593, fixed in 12.3/13).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "simd/simd_avx512.h"  // first: see its note on GCC 12
#include <immintrin.h>
#include <algorithm>
#include <cstdint>

#include "conv/conv_direct.h"
#include "conv/conv_direct_gw_tile.h"

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

namespace {

// The forward tile for m = M positions (M <= 14): only M position accumulators are live,
// so a row's last, partial tile (Q = 11: one tile of 11) computes no lanes it drops.
template <int M>
void direct_tile(int64_t depth, const float* wp, const float* x, const int64_t* off,
                 const float* bias, float* y, int64_t ldy, int n, bool acc) {
  __m512 a0[M], a1[M];
  const __m512 b0 = bias && !acc ? _mm512_loadu_ps(bias) : _mm512_setzero_ps();
  const __m512 b1 = bias && !acc ? _mm512_loadu_ps(bias + 16) : _mm512_setzero_ps();
#pragma GCC unroll 14
  for (int j = 0; j < M; ++j) a0[j] = b0, a1[j] = b1;
  for (int64_t t = 0; t < depth; ++t, wp += 32) {
    const float* xb = x + off[t];
    const __m512 w0 = _mm512_load_ps(wp), w1 = _mm512_load_ps(wp + 16);
#pragma GCC unroll 14
    for (int j = 0; j < M; ++j) {
      const __m512 v = _mm512_set1_ps(xb[j]);
      a0[j] = _mm512_fmadd_ps(v, w0, a0[j]);
      a1[j] = _mm512_fmadd_ps(v, w1, a1[j]);
    }
  }
  // Transposed store: channel i is lane i of every position's accumulator.
  const __mmask16 mk = __mmask16((1u << M) - 1);
  __m512 r[16];
  for (int half = 0; half < 2 && 16 * half < n; ++half) {
#pragma GCC unroll 16
    for (int j = 0; j < 16; ++j) r[j] = j < M ? (half ? a1[j] : a0[j]) : _mm512_setzero_ps();
    transpose16(r);
    for (int i = 0; i < 16 && 16 * half + i < n; ++i) {
      float* yr = y + (16 * half + i) * ldy;
      _mm512_mask_storeu_ps(yr, mk, acc ? _mm512_add_ps(r[i], _mm512_maskz_loadu_ps(mk, yr)) : r[i]);
    }
  }
}

}  // namespace

void conv_direct_f32_avx512(int64_t depth, const float* wp, const float* x, const int64_t* off,
                            const float* bias, float* y, int64_t ldy, int m, int n, bool acc) {
  static_assert(kConvDirectMR512 == 14, "one case per tile width below");
  switch (m) {
#define NK_CASE(M) \
  case M: return direct_tile<M>(depth, wp, x, off, bias, y, ldy, n, acc);
    NK_CASE(1) NK_CASE(2) NK_CASE(3) NK_CASE(4) NK_CASE(5) NK_CASE(6) NK_CASE(7)
    NK_CASE(8) NK_CASE(9) NK_CASE(10) NK_CASE(11) NK_CASE(12) NK_CASE(13) NK_CASE(14)
#undef NK_CASE
    default: return;
  }
}

// grad w (contract in conv/conv_direct.h): 8 taps × 32 output channels in 16 zmm, the
// reduction over the image's output positions, row by row: per position two aligned zmm
// loads of gYᵀ and 8 broadcasts, one from each tap's window of the zero-bordered image
// (8 pointers that step one float per position and one padded row per output row), 16
// FMAs; the sums are added into acc once per image. No im2col is packed: per image the
// only copies are the zero-bordered image and gYᵀ (Kg·P·Q floats, reused by all CRS/8 tap
// tiles), where the implicit GEMM packed both operands for every block of its reduction.
// Measured on the 2-core Intel Xeon, 2026-12-01, 2 threads, grad w alone: 0.45 (C1 28×28),
// 0.73 / 0.76 (C32 13×13 p0 / p1), 0.74 (C64 56×56), 0.92 (C128 28×28) the GEMM path's time
// (min of 4 alternating processes); against torch's grad w alone 1.06–1.62× on the C ≥ 32
// layers, 1.46–1.48× on C1 (`python benchmarks/conv_parts.py`). Whole-layer figures:
// benchmarks/RESULTS.md, "conv (avx512 path)".
void conv_direct_gw_f32_avx512(int64_t P, int64_t Q, int64_t ldx, const float* x, const int64_t* off,
                               const float* gyt, float* acc) {
  direct_gw_tile<simd512::VecF, kConvDirectGwMR512>(P, Q, ldx, x, off, gyt, acc);
}

// gYᵀ panel: 16 positions × 16 channels at a time through transpose16 (masked loads at
// the end of the row and past channel n; the missing channels load as zeros).
void conv_direct_pack_gyt_f32_avx512(const float* gy, int64_t ld, int64_t len, int n, float* gyt) {
  __m512 r[16];
  for (int64_t t0 = 0; t0 < len; t0 += 16) {
    const int64_t m = std::min<int64_t>(16, len - t0);
    const __mmask16 mk = __mmask16((1u << m) - 1);
    for (int half = 0; half < 2; ++half) {
      for (int i = 0; i < 16; ++i) {
        const int ch = 16 * half + i;
        r[i] = ch < n ? _mm512_maskz_loadu_ps(mk, gy + ch * ld + t0) : _mm512_setzero_ps();
      }
      transpose16(r);
      for (int64_t j = 0; j < m; ++j) _mm512_store_ps(gyt + (t0 + j) * 32 + 16 * half, r[j]);
    }
  }
}

}  // namespace nk

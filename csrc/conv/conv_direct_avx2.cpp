// AVX2 direct conv2d tiles (contracts in conv/conv_direct.h, with NR = 16 output channels a
// panel on this path). The AVX-512 file's algorithm on 16 ymm registers:
//
// Forward: 6 output positions × 16 output channels in 12 ymm accumulators; per reduction
// step t = (r, c, s) two aligned ymm loads of the packed weights and 6 broadcasts from the
// zero-bordered image at base + off[t], 12 FMAs (the AVX2 GEMM's 6×16 shape: 12 chains
// cover 2 FMA pipes × 4 cycles; 12 + 2 + 1 of the 16 registers). A row's last, partial
// tile runs an instance of its own width (1-6). The tile is stored transposed through two
// in-register 8×8 transposes and masked row stores (added into y with acc).
// Grad w: 6 taps × 16 output channels over one image's positions (6 window pointers into
// the zero-bordered image, two ymm loads of gYᵀ a position), added into acc once per image;
// gYᵀ is packed with 8×8 transposes.
// Drivers: forward_direct / backward_weight_direct in conv2d.cpp, unchanged between paths
// except for the panel width and tile sizes they read from the kernel table.
//
// Measured on the 2-core Intel Xeon (NNKERNELS_CPU=avx2), 2026-12-01: see
// benchmarks/RESULTS.md, "conv2d on the avx2 path: direct tiles against the implicit GEMM".
#include <immintrin.h>
#include <algorithm>
#include <cstdint>

#include "conv/conv_direct.h"
#include "simd/simd_avx2.h"
#include "conv/conv_direct_gw_tile.h"

namespace nk {
namespace {

using simd256::mask8;
using simd256::transpose8x8_regs;

template <int M>
void direct_tile(int64_t depth, const float* wp, const float* x, const int64_t* off,
                 const float* bias, float* y, int64_t ldy, int n, bool acc) {
  __m256 a0[M], a1[M];
  const __m256 b0 = bias && !acc ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();
  const __m256 b1 = bias && !acc ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();
#pragma GCC unroll 6
  for (int j = 0; j < M; ++j) a0[j] = b0, a1[j] = b1;
  for (int64_t t = 0; t < depth; ++t, wp += 16) {
    const float* xb = x + off[t];
    const __m256 w0 = _mm256_load_ps(wp), w1 = _mm256_load_ps(wp + 8);
#pragma GCC unroll 6
    for (int j = 0; j < M; ++j) {
      const __m256 v = _mm256_broadcast_ss(xb + j);
      a0[j] = _mm256_fmadd_ps(v, w0, a0[j]);
      a1[j] = _mm256_fmadd_ps(v, w1, a1[j]);
    }
  }
  // Transposed store: channel i is lane i of every position's accumulator.
  const __m256i mk = mask8(M);
  __m256 r[8];
  for (int half = 0; half < 2 && 8 * half < n; ++half) {
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) r[j] = j < M ? (half ? a1[j] : a0[j]) : _mm256_setzero_ps();
    transpose8x8_regs(r);
    for (int i = 0; i < 8 && 8 * half + i < n; ++i) {
      float* yr = y + (8 * half + i) * ldy;
      _mm256_maskstore_ps(yr, mk, acc ? _mm256_add_ps(r[i], _mm256_maskload_ps(yr, mk)) : r[i]);
    }
  }
}

}  // namespace

void conv_direct_f32_avx2(int64_t depth, const float* wp, const float* x, const int64_t* off,
                          const float* bias, float* y, int64_t ldy, int m, int n, bool acc) {
  static_assert(kConvDirectMR256 == 6, "one case per tile width below");
  switch (m) {
#define NK_CASE(M) \
  case M: return direct_tile<M>(depth, wp, x, off, bias, y, ldy, n, acc);
    NK_CASE(1) NK_CASE(2) NK_CASE(3) NK_CASE(4) NK_CASE(5) NK_CASE(6)
#undef NK_CASE
    default: return;
  }
}

void conv_direct_gw_f32_avx2(int64_t P, int64_t Q, int64_t ldx, const float* x, const int64_t* off,
                             const float* gyt, float* acc) {
  direct_gw_tile<simd256::VecF, kConvDirectGwMR256>(P, Q, ldx, x, off, gyt, acc);
}

// gYᵀ panel of 16 channels: 8 positions × 8 channels at a time through transpose8x8_regs
// (masked loads at the end of the row; channels past n load as zeros).
void conv_direct_pack_gyt_f32_avx2(const float* gy, int64_t ld, int64_t len, int n, float* gyt) {
  __m256 r[8];
  for (int64_t t0 = 0; t0 < len; t0 += 8) {
    const int64_t m = std::min<int64_t>(8, len - t0);
    const __m256i mk = mask8(m);
    for (int half = 0; half < 2; ++half) {
      for (int i = 0; i < 8; ++i) {
        const int ch = 8 * half + i;
        r[i] = ch < n ? _mm256_maskload_ps(gy + ch * ld + t0, mk) : _mm256_setzero_ps();
      }
      transpose8x8_regs(r);
      for (int64_t j = 0; j < m; ++j) _mm256_store_ps(gyt + (t0 + j) * 16 + 8 * half, r[j]);
    }
  }
}

}  // namespace nk

// The direct conv's grad-w tile loop (contract in conv/conv_direct.h), written once over a
// float-vector type and instantiated by each ISA's file with its own (simd256::VecF of
// simd/simd_avx2.h, simd512::VecF of simd/simd_avx512.h). Include ONLY from *_avx2.cpp / *_avx512.cpp
// files, after that ISA's simd header: everything here has internal linkage, so each ISA
// object holds its own copy and none is a weak symbol another path could link to.
//
// MR taps × 2·L output channels in 2·MR accumulators, the reduction over the image's
// output positions, row by row: per position two aligned loads of gYᵀ and MR broadcasts,
// one from each tap's window of the zero-bordered image (MR pointers that step one float a
// position and one padded row, ldx, an output row), 2·MR FMAs; the sums are added into acc
// (MR rows of 2·L floats) once per image.
#pragma once
#include <cstdint>

namespace nk {
namespace {

template <typename VF, int MR>
inline void direct_gw_tile(int64_t P, int64_t Q, int64_t ldx, const float* x, const int64_t* off,
                           const float* gyt, float* acc) {
  using V = typename VF::V;
  constexpr int L = VF::L;
  // (The unroll pragmas keep the accumulators and pointers in registers: without them GCC
  // 12 zeroed stack copies of the arrays on every call, 4 % of the kernel's perf samples
  // on the avx512 path; the A/B on 13×13 was within the host's noise, 0.97-1.05.)
  const float* xp[MR];
  V c0[MR], c1[MR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) xp[i] = x + off[i], c0[i] = c1[i] = VF::zero();
  for (int64_t p = 0; p < P; ++p) {
    for (int64_t q = 0; q < Q; ++q, gyt += 2 * L) {
      const V b0 = VF::load(gyt), b1 = VF::load(gyt + L);
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        const V a = VF::bcast(xp[i] + q);
        c0[i] = VF::fma(a, b0, c0[i]);
        c1[i] = VF::fma(a, b1, c1[i]);
      }
    }
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) xp[i] += ldx;
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    float* a = acc + i * 2 * L;
    VF::store(a, VF::add(VF::load(a), c0[i]));
    VF::store(a + L, VF::add(VF::load(a + L), c1[i]));
  }
}

}  // namespace
}  // namespace nk

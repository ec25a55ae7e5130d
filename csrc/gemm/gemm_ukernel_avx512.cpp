// AVX-512 GEMM micro-kernels (compiled with the AVX-512 flags; reached only through the
// avx512 kernel table, csrc/isa/avx512_table.cpp, on CPUs with AVX-512F/BW/VL/DQ).
//
// sgemm_avx512_8x32: 8 rows × 32 columns of C in 16 zmm accumulators (broadcast A, load
// B, as BLIS's skx/zen4 32×12 tile seen from row-major C, with 8 rows). Per k step: two
// aligned zmm loads of the packed B row, 8 broadcasts of the packed A column, 16 FMAs;
// 16 independent chains cover the FMA latency (4 cycles × 2 pipes = 8 needed).
// dgemm_avx512_8x16 is the same with 8 doubles a lane.
// Why 8 rows: in L1 (k = 256, a harness calling the kernel on hot panels)
// the 8-, 12- and 14-row tiles all ran at 172-174 GFLOP/s on one core of the Xeon
// (Sapphire/Emerald Rapids class; FMA-loop roof 191, benchmarks/fma_roof.c), so the
// tile that divides the batch and channel counts of networks (32, 64, 128) wastes no rows.
// Edges: columns through an opmask (masked loads/stores, no scalar loop); rows m < MR
// store only the first m rows.
// Measured on the 2-core Intel Xeon (AVX-512, 2026-12-01, third session), float32, with the
// driver's rows_outer order and the AVX-512 packers:
//   one thread, n = 256…2048: 83 / 84 / 87 / 89 % of the FMA-loop roof measured in the same
//   run, torch.mm 86 / 85 / 89 / 88 % (python benchmarks/gemm_one_thread.py, better of two
//   runs); on hot L1 panels the kernel alone runs at 98 %, inside the loop nest at ~95 %
//   (benchmarks/gemm_loop_orders.cpp);
//   two threads vs NumPy (OpenBLAS SkylakeX kernel): 1.04–1.24× at 256…2048³, 1.28× on a
//   batch of 256 × 64³, 1.03× at 4096×64×64 (benchmarks/RESULTS.md, "gemm avx512").
#include <immintrin.h>
#include <cstdint>

#include "gemm/ukernels.h"

namespace nk {
namespace {

// The vector type and its operations for T = float (16 lanes) and double (8 lanes).
template <typename T> struct Z;
template <> struct Z<float> {
  using V = __m512;
  static constexpr int L = 16;
  static V zero() { return _mm512_setzero_ps(); }
  static V bcast(const float* p) { return _mm512_set1_ps(*p); }
  static V set1(float a) { return _mm512_set1_ps(a); }
  static V load(const float* p) { return _mm512_load_ps(p); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V loadm(__mmask16 k, const float* p) { return _mm512_maskz_loadu_ps(k, p); }
  static void storem(float* p, __mmask16 k, V v) { _mm512_mask_storeu_ps(p, k, v); }
  static __mmask16 mask(int n) { return n >= 16 ? __mmask16(0xFFFF) : n <= 0 ? 0 : __mmask16((1u << n) - 1); }
};
template <> struct Z<double> {
  using V = __m512d;
  static constexpr int L = 8;
  static V zero() { return _mm512_setzero_pd(); }
  static V bcast(const double* p) { return _mm512_set1_pd(*p); }
  static V set1(double a) { return _mm512_set1_pd(a); }
  static V load(const double* p) { return _mm512_load_pd(p); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  static V mul(V a, V b) { return _mm512_mul_pd(a, b); }
  static V loadm(__mmask8 k, const double* p) { return _mm512_maskz_loadu_pd(k, p); }
  static void storem(double* p, __mmask8 k, V v) { _mm512_mask_storeu_pd(p, k, v); }
  static __mmask8 mask(int n) { return n >= 8 ? __mmask8(0xFF) : n <= 0 ? 0 : __mmask8((1u << n) - 1); }
};

// C[0:m, 0:n] := alpha·Ap·Bp + beta·C for an MR × 2L tile (the kernel contract in gemm.h).
template <typename T, int MR>
inline void ukernel(int64_t k, const T* Ap, const T* Bp, T* C, int64_t ldc, int m, int n, T alpha, T beta) {
  using Zt = Z<T>;
  using V = typename Zt::V;
  constexpr int L = Zt::L;
  V c0[MR], c1[MR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) c0[i] = c1[i] = Zt::zero();
  // C is read (beta != 0) or written only after the k loop: start fetching its rows now.
  for (int i = 0; i < m; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(C + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(C + i * ldc + 2 * L - 1), _MM_HINT_T0);
  }

#pragma GCC unroll 4
  for (int64_t p = 0; p < k; ++p) {
    const V b0 = Zt::load(Bp), b1 = Zt::load(Bp + L);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const V a = Zt::bcast(Ap + i);
      c0[i] = Zt::fma(a, b0, c0[i]);
      c1[i] = Zt::fma(a, b1, c1[i]);
    }
    Ap += MR;
    Bp += 2 * L;
  }

  const V va = Zt::set1(alpha), vb = Zt::set1(beta);
  const auto k0 = Zt::mask(n), k1 = Zt::mask(n - L);
  const bool zb = beta == T(0);
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    if (i >= m) break;
    T* c = C + i * ldc;
    V r0 = Zt::mul(va, c0[i]), r1 = Zt::mul(va, c1[i]);
    if (!zb) {  // masked loads never touch memory past column n
      r0 = Zt::fma(vb, Zt::loadm(k0, c), r0);
      r1 = Zt::fma(vb, Zt::loadm(k1, c + L), r1);
    }
    Zt::storem(c, k0, r0);
    Zt::storem(c + L, k1, r1);
  }
}

}  // namespace

void sgemm_avx512_8x32(int64_t k, const float* Ap, const float* Bp, float* C, int64_t ldc,
                       int m, int n, float alpha, float beta) {
  ukernel<float, 8>(k, Ap, Bp, C, ldc, m, n, alpha, beta);
}

void dgemm_avx512_8x16(int64_t k, const double* Ap, const double* Bp, double* C, int64_t ldc,
                       int m, int n, double alpha, double beta) {
  ukernel<double, 8>(k, Ap, Bp, C, ldc, m, n, alpha, beta);
}

}  // namespace nk

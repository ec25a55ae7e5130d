// AVX-512 GEMM micro-kernels (compiled with the AVX-512 flags; reached only through the
// avx512 kernel table, csrc/isa/avx512_table.cpp, on CPUs with AVX-512F/BW/VL/DQ).
//
// sgemm_avx512_8x32: 8 rows × 32 columns of C in 16 zmm accumulators (broadcast A, load
// B, as BLIS's skx/zen4 32×12 tile seen from row-major C, with 8 rows). Per k step: two
// aligned zmm loads of the packed B row, 8 broadcasts of the packed A column, 16 FMAs;
// 16 independent chains cover the FMA latency (4 cycles × 2 pipes = 8 needed).
// dgemm_avx512_8x16 is the same with 8 doubles a lane. sgemm_avx512_8x32_rows is the same
// loop reading a row-major A in place (8 row addresses from two bases and three stride
// registers; an exact-height instance for each m < 8), which the driver uses instead of
// packing A where it pays (gemm_driver.cpp, a_in_place).
// Why 8 rows: in L1 (k = 256, a harness calling the kernel on hot panels)
// the 8-, 12- and 14-row tiles all ran at 172-174 GFLOP/s on one core of the Xeon
// (Sapphire/Emerald Rapids class; FMA-loop roof 191, benchmarks/fma_roof.c), so the
// tile that divides the batch and channel counts of networks (32, 64, 128) wastes no rows.
// Edges: columns through an opmask (masked loads/stores, no scalar loop); rows m < MR
// store only the first m rows.
// Measured on the 2-core Intel Xeon (AVX-512, 2026-12-02), float32, with the driver's
// rows_outer order, A read in place (strides not a multiple of 4 KiB) and the packers:
//   one thread, n = 256…2048: 93 / 92 / 88 / 92 % of the FMA-loop roof measured in the same
//   run, best of four runs (torch.mm 91 / 91 / 90 / 94 %, OpenBLAS 85 / 88 / 86 / 94 %;
//   python benchmarks/gemm_one_thread.py); on hot L1 panels the kernel alone runs at 98 %,
//   inside the loop nest at ~95 % (benchmarks/gemm_loop_orders.cpp);
//   two threads vs NumPy (OpenBLAS SkylakeX kernel): 1.11–1.34× at 256…2048³, 1.29× on a
//   batch of 256 × 64³, 1.52× at 4096×64×64 (benchmarks/RESULTS.md, "gemm avx512").
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

// The A operand of a tile, seen one k step at a time: at(i) is A(i, p) of the current step.
// Packed: the micro-panel, MR values a step. Rows: A in place, row i at a + i·lda (unit
// stride along k); rows 0-3 and 4-7 come from two base pointers with 1·lda, 2·lda, 3·lda
// index registers, so eight rows cost five registers and no per-row pointer updates.
template <typename T, int MR>
struct PackedA {
  const T* p;
  const T& at(int i) const { return p[i]; }
  void next() { p += MR; }
};
template <typename T>
struct RowsA {
  const T *p0, *p4;
  int64_t l1, l2, l3;
  RowsA(const T* a, int64_t lda, int rows)  // p4 = a when there is no row 4 to point at
      : p0(a), p4(a + (rows > 4 ? 4 * lda : 0)), l1(lda), l2(2 * lda), l3(3 * lda) {}
  const T& at(int i) const {
    const T* b = i < 4 ? p0 : p4;
    const int q = i & 3;
    return b[q == 0 ? 0 : q == 1 ? l1 : q == 2 ? l2 : l3];
  }
  void next() { ++p0; ++p4; }
};

// C[0:m, 0:n] := alpha·A·Bp + beta·C for an R × 2L tile (the kernel contract in gemm.h);
// only rows i < min(R, m) of A are read.
template <typename T, int R, typename AP>
inline void ukernel(int64_t k, AP a, const T* Bp, T* C, int64_t ldc, int m, int n, T alpha, T beta) {
  using Zt = Z<T>;
  using V = typename Zt::V;
  constexpr int L = Zt::L;
  V c0[R], c1[R];
#pragma GCC unroll 16
  for (int i = 0; i < R; ++i) c0[i] = c1[i] = Zt::zero();
  // C is read (beta != 0) or written only after the k loop: start fetching its rows now.
  for (int i = 0; i < m; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(C + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(C + i * ldc + 2 * L - 1), _MM_HINT_T0);
  }

#pragma GCC unroll 4
  for (int64_t p = 0; p < k; ++p) {
    const V b0 = Zt::load(Bp), b1 = Zt::load(Bp + L);
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i) {
      const V av = Zt::bcast(&a.at(i));
      c0[i] = Zt::fma(av, b0, c0[i]);
      c1[i] = Zt::fma(av, b1, c1[i]);
    }
    a.next();
    Bp += 2 * L;
  }

  const V va = Zt::set1(alpha), vb = Zt::set1(beta);
  const auto k0 = Zt::mask(n), k1 = Zt::mask(n - L);
  const bool zb = beta == T(0);
#pragma GCC unroll 16
  for (int i = 0; i < R; ++i) {
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

// A in place: an exact-height instance for each m (A has no rows past m to read).
template <int R>
inline void rows_kernel(int64_t k, const float* a, int64_t lda, const float* Bp, float* C,
                        int64_t ldc, int n, float alpha, float beta) {
  ukernel<float, R>(k, RowsA<float>(a, lda, R), Bp, C, ldc, R, n, alpha, beta);
}

}  // namespace

void sgemm_avx512_8x32(int64_t k, const float* Ap, const float* Bp, float* C, int64_t ldc,
                       int m, int n, float alpha, float beta) {
  ukernel<float, 8>(k, PackedA<float, 8>{Ap}, Bp, C, ldc, m, n, alpha, beta);
}

void sgemm_avx512_8x32_rows(int64_t k, const float* a, int64_t lda, const float* Bp, float* C,
                            int64_t ldc, int m, int n, float alpha, float beta) {
  switch (m) {
#define NK_CASE(r) \
  case r: rows_kernel<r>(k, a, lda, Bp, C, ldc, n, alpha, beta); break;
    NK_CASE(1) NK_CASE(2) NK_CASE(3) NK_CASE(4) NK_CASE(5) NK_CASE(6) NK_CASE(7) NK_CASE(8)
#undef NK_CASE
    default: break;
  }
}

void dgemm_avx512_8x16(int64_t k, const double* Ap, const double* Bp, double* C, int64_t ldc,
                       int m, int n, double alpha, double beta) {
  ukernel<double, 8>(k, PackedA<double, 8>{Ap}, Bp, C, ldc, m, n, alpha, beta);
}

}  // namespace nk

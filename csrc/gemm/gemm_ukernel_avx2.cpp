// AVX2/FMA GEMM micro-kernels (compiled with -mavx2 -mfma; reached only through the
// runtime dispatcher on CPUs that have both).
//
// sgemm_avx2_6x16: 6 rows × 16 columns of C held in 12 ymm accumulators; per k step
// two aligned loads of the packed B row, six broadcasts of the packed A column and
// 12 FMAs (BLIS's Haswell/Zen shape). dgemm_avx2_6x8 is the same with 4 doubles a lane.
// Measured (AMD EPYC Zen 3, 2026-11-23; benchmarks/RESULTS.md, section "gemm"): one thread
// 90-95 % of the 94 GFLOP/s AVX2 FMA loop at 256-2048³ (python benchmarks/gemm_one_thread.py),
// two threads 0.93-1.08× NumPy at 256-2048³ (python benchmarks/report.py --only gemm).
#include <immintrin.h>
#include <cstdint>

#include "gemm/ukernels.h"

namespace nk {
namespace {

template <typename T>
inline void store_edge(const T* acc, int NR, T* C, int64_t ldc, int m, int n, T alpha, T beta) {
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) {
      T v = alpha * acc[i * NR + j];
      C[i * ldc + j] = beta == T(0) ? v : v + beta * C[i * ldc + j];
    }
  }
}

inline void store_row(float* c, __m256 lo, __m256 hi, __m256 va, __m256 vb, bool zero_beta) {
  if (zero_beta) {
    _mm256_storeu_ps(c, _mm256_mul_ps(va, lo));
    _mm256_storeu_ps(c + 8, _mm256_mul_ps(va, hi));
  } else {
    _mm256_storeu_ps(c, _mm256_fmadd_ps(vb, _mm256_loadu_ps(c), _mm256_mul_ps(va, lo)));
    _mm256_storeu_ps(c + 8, _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + 8), _mm256_mul_ps(va, hi)));
  }
}

inline void store_row(double* c, __m256d lo, __m256d hi, __m256d va, __m256d vb, bool zero_beta) {
  if (zero_beta) {
    _mm256_storeu_pd(c, _mm256_mul_pd(va, lo));
    _mm256_storeu_pd(c + 4, _mm256_mul_pd(va, hi));
  } else {
    _mm256_storeu_pd(c, _mm256_fmadd_pd(vb, _mm256_loadu_pd(c), _mm256_mul_pd(va, lo)));
    _mm256_storeu_pd(c + 4, _mm256_fmadd_pd(vb, _mm256_loadu_pd(c + 4), _mm256_mul_pd(va, hi)));
  }
}

}  // namespace

void sgemm_avx2_6x16(int64_t k, const float* Ap, const float* Bp, float* C, int64_t ldc,
                     int m, int n, float alpha, float beta) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  // C is read (beta != 0) or written only after the k loop: start fetching its rows
  // (16 floats, two cache lines unless 64-byte aligned) now.
  for (int i = 0; i < m; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(C + i * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(C + i * ldc + 15), _MM_HINT_T0);
  }

#pragma GCC unroll 4
  for (int64_t p = 0; p < k; ++p) {
    const __m256 b0 = _mm256_load_ps(Bp);
    const __m256 b1 = _mm256_load_ps(Bp + 8);
    _mm_prefetch(reinterpret_cast<const char*>(Bp + 128), _MM_HINT_T0);
    __m256 a;
    a = _mm256_broadcast_ss(Ap + 0); c00 = _mm256_fmadd_ps(a, b0, c00); c01 = _mm256_fmadd_ps(a, b1, c01);
    a = _mm256_broadcast_ss(Ap + 1); c10 = _mm256_fmadd_ps(a, b0, c10); c11 = _mm256_fmadd_ps(a, b1, c11);
    a = _mm256_broadcast_ss(Ap + 2); c20 = _mm256_fmadd_ps(a, b0, c20); c21 = _mm256_fmadd_ps(a, b1, c21);
    a = _mm256_broadcast_ss(Ap + 3); c30 = _mm256_fmadd_ps(a, b0, c30); c31 = _mm256_fmadd_ps(a, b1, c31);
    a = _mm256_broadcast_ss(Ap + 4); c40 = _mm256_fmadd_ps(a, b0, c40); c41 = _mm256_fmadd_ps(a, b1, c41);
    a = _mm256_broadcast_ss(Ap + 5); c50 = _mm256_fmadd_ps(a, b0, c50); c51 = _mm256_fmadd_ps(a, b1, c51);
    Ap += 6;
    Bp += 16;
  }

  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  const bool zb = beta == 0.0f;
  if (m == 6 && n == 16) {
    store_row(C + 0 * ldc, c00, c01, va, vb, zb);
    store_row(C + 1 * ldc, c10, c11, va, vb, zb);
    store_row(C + 2 * ldc, c20, c21, va, vb, zb);
    store_row(C + 3 * ldc, c30, c31, va, vb, zb);
    store_row(C + 4 * ldc, c40, c41, va, vb, zb);
    store_row(C + 5 * ldc, c50, c51, va, vb, zb);
    return;
  }
  alignas(32) float acc[6 * 16];
  _mm256_store_ps(acc + 0, c00);  _mm256_store_ps(acc + 8, c01);
  _mm256_store_ps(acc + 16, c10); _mm256_store_ps(acc + 24, c11);
  _mm256_store_ps(acc + 32, c20); _mm256_store_ps(acc + 40, c21);
  _mm256_store_ps(acc + 48, c30); _mm256_store_ps(acc + 56, c31);
  _mm256_store_ps(acc + 64, c40); _mm256_store_ps(acc + 72, c41);
  _mm256_store_ps(acc + 80, c50); _mm256_store_ps(acc + 88, c51);
  store_edge(acc, 16, C, ldc, m, n, alpha, beta);
}

void dgemm_avx2_6x8(int64_t k, const double* Ap, const double* Bp, double* C, int64_t ldc,
                    int m, int n, double alpha, double beta) {
  __m256d c00 = _mm256_setzero_pd(), c01 = _mm256_setzero_pd();
  __m256d c10 = _mm256_setzero_pd(), c11 = _mm256_setzero_pd();
  __m256d c20 = _mm256_setzero_pd(), c21 = _mm256_setzero_pd();
  __m256d c30 = _mm256_setzero_pd(), c31 = _mm256_setzero_pd();
  __m256d c40 = _mm256_setzero_pd(), c41 = _mm256_setzero_pd();
  __m256d c50 = _mm256_setzero_pd(), c51 = _mm256_setzero_pd();

#pragma GCC unroll 4
  for (int64_t p = 0; p < k; ++p) {
    const __m256d b0 = _mm256_load_pd(Bp);
    const __m256d b1 = _mm256_load_pd(Bp + 4);
    __m256d a;
    a = _mm256_broadcast_sd(Ap + 0); c00 = _mm256_fmadd_pd(a, b0, c00); c01 = _mm256_fmadd_pd(a, b1, c01);
    a = _mm256_broadcast_sd(Ap + 1); c10 = _mm256_fmadd_pd(a, b0, c10); c11 = _mm256_fmadd_pd(a, b1, c11);
    a = _mm256_broadcast_sd(Ap + 2); c20 = _mm256_fmadd_pd(a, b0, c20); c21 = _mm256_fmadd_pd(a, b1, c21);
    a = _mm256_broadcast_sd(Ap + 3); c30 = _mm256_fmadd_pd(a, b0, c30); c31 = _mm256_fmadd_pd(a, b1, c31);
    a = _mm256_broadcast_sd(Ap + 4); c40 = _mm256_fmadd_pd(a, b0, c40); c41 = _mm256_fmadd_pd(a, b1, c41);
    a = _mm256_broadcast_sd(Ap + 5); c50 = _mm256_fmadd_pd(a, b0, c50); c51 = _mm256_fmadd_pd(a, b1, c51);
    Ap += 6;
    Bp += 8;
  }

  const __m256d va = _mm256_set1_pd(alpha), vb = _mm256_set1_pd(beta);
  const bool zb = beta == 0.0;
  if (m == 6 && n == 8) {
    store_row(C + 0 * ldc, c00, c01, va, vb, zb);
    store_row(C + 1 * ldc, c10, c11, va, vb, zb);
    store_row(C + 2 * ldc, c20, c21, va, vb, zb);
    store_row(C + 3 * ldc, c30, c31, va, vb, zb);
    store_row(C + 4 * ldc, c40, c41, va, vb, zb);
    store_row(C + 5 * ldc, c50, c51, va, vb, zb);
    return;
  }
  alignas(32) double acc[6 * 8];
  _mm256_store_pd(acc + 0, c00);  _mm256_store_pd(acc + 4, c01);
  _mm256_store_pd(acc + 8, c10);  _mm256_store_pd(acc + 12, c11);
  _mm256_store_pd(acc + 16, c20); _mm256_store_pd(acc + 20, c21);
  _mm256_store_pd(acc + 24, c30); _mm256_store_pd(acc + 28, c31);
  _mm256_store_pd(acc + 32, c40); _mm256_store_pd(acc + 36, c41);
  _mm256_store_pd(acc + 40, c50); _mm256_store_pd(acc + 44, c51);
  store_edge(acc, 8, C, ldc, m, n, alpha, beta);
}

}  // namespace nk

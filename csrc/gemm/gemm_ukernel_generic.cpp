// Portable GEMM micro-kernels: the same 6×16 (float) and 6×8 (double) tiles as the
// AVX2 path, written as plain loops over a local accumulator tile so the compiler
// can keep it in SSE registers. Used on CPUs without AVX2/FMA, or NNKERNELS_CPU=generic.
#include "gemm/gemm.h"

namespace nk {
namespace {

template <typename T, int MR, int NR>
void ukernel_generic(int64_t k, const T* Ap, const T* Bp, T* C, int64_t ldc, int m, int n,
                     T alpha, T beta) {
  T acc[MR * NR] = {};
  for (int64_t p = 0; p < k; ++p) {
    for (int i = 0; i < MR; ++i) {
      const T a = Ap[i];
      for (int j = 0; j < NR; ++j) acc[i * NR + j] += a * Bp[j];
    }
    Ap += MR;
    Bp += NR;
  }
  store_tile(acc, NR, C, ldc, m, n, alpha, beta);
}

}  // namespace

void sgemm_generic_6x16(int64_t k, const float* Ap, const float* Bp, float* C, int64_t ldc,
                        int m, int n, float alpha, float beta) {
  ukernel_generic<float, 6, 16>(k, Ap, Bp, C, ldc, m, n, alpha, beta);
}

void dgemm_generic_6x8(int64_t k, const double* Ap, const double* Bp, double* C, int64_t ldc,
                       int m, int n, double alpha, double beta) {
  ukernel_generic<double, 6, 8>(k, Ap, Bp, C, ldc, m, n, alpha, beta);
}

}  // namespace nk

// Naive GEMM reference: one dot product per element of C, accumulated in double.
// The fast path is tested against NumPy in float64; this is the readable statement of
// what every GEMM variant computes, and is reachable from Python as _C.gemm_ref.
#include "gemm/gemm.h"

namespace nk {

template <typename T>
void gemm_ref(int64_t M, int64_t N, int64_t K, T alpha, const T* a, int64_t rsa, int64_t csa,
              const T* b, int64_t rsb, int64_t csb, T beta, T* c, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      double s = 0.0;
      for (int64_t p = 0; p < K; ++p) s += double(a[i * rsa + p * csa]) * double(b[p * rsb + j * csb]);
      T v = T(alpha * s);
      c[i * ldc + j] = beta == T(0) ? v : v + beta * c[i * ldc + j];
    }
  }
}

template void gemm_ref<float>(int64_t, int64_t, int64_t, float, const float*, int64_t, int64_t,
                              const float*, int64_t, int64_t, float, float*, int64_t);
template void gemm_ref<double>(int64_t, int64_t, int64_t, double, const double*, int64_t, int64_t,
                               const double*, int64_t, int64_t, double, double*, int64_t);

}  // namespace nk

// The avx512 sgemm micro-kernel inside the two orders of the GEMM driver's innermost loops,
// against one core's FMA loop in the same process (no packing: panels of garbage, C a 2048²
// matrix at its real row stride). AVX-512 CPUs only.
//
//   g++ -O2 -march=native -Icsrc benchmarks/gemm_loop_orders.cpp csrc/gemm/gemm_ukernel_avx512.cpp \
//       -o /tmp/gemm_loop_orders && /tmp/gemm_loop_orders
//
// strips outer (BLIS's): one B micro-panel (KC × 32) in L1 against the A micro-panels of an
// MC × KC block in L2, the C tiles stepping 8 rows down. rows outer: one A micro-panel
// (8 × KC) in L1 against the B micro-panels of a KC × NC panel in L2, the C tiles stepping
// 32 columns along the same 8 rows (gemm_driver.cpp, GemmConfig::rows_outer).
#include <immintrin.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "gemm/ukernels.h"

namespace {

constexpr int kN = 2048;  // C is kN × kN

double now() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

// GFLOP/s of 24 independent zmm FMA chains (the one-core roof).
__attribute__((noinline)) double fma_roof(long iters) {
  __m512 acc[24];
  const __m512 m = _mm512_set1_ps(0.999999f), a = _mm512_set1_ps(1e-7f);
  for (int j = 0; j < 24; ++j) acc[j] = _mm512_set1_ps(float(j));
  const double t = now();
  for (long it = 0; it < iters; ++it) {
#pragma GCC unroll 24
    for (int j = 0; j < 24; ++j) acc[j] = _mm512_fmadd_ps(acc[j], m, a);
  }
  const double dt = now() - t;
  float s = 0;
  for (int j = 0; j < 24; ++j) s += _mm512_reduce_add_ps(acc[j]);
  if (s == 1.f) std::puts("");  // keep the chains alive
  return 2.0 * 16 * 24 * double(iters) / dt / 1e9;
}

float* filled(size_t n) {
  auto* p = static_cast<float*>(std::aligned_alloc(64, (n * 4 + 63) / 64 * 64));
  for (size_t i = 0; i < n; ++i) p[i] = 1e-3f * float(i % 7);
  return p;
}

double strips_outer(int kc, int mc, const float* A, const float* B, float* C) {
  const double t = now();
  long flops = 0;
  for (int ic = 0; ic < kN; ic += mc)
    for (int s = 0; s < kN / 32; ++s)
      for (int r = 0; r < mc / 8; ++r) {
        nk::sgemm_avx512_8x32(kc, A + long(r) * kc * 8, B + long(s) * kc * 32,
                              C + long(ic + r * 8) * kN + s * 32, kN, 8, 32, 1.f, 1.f);
        flops += 2L * 8 * 32 * kc;
      }
  return double(flops) / (now() - t) / 1e9;
}

double rows_outer(int kc, int nc, const float* A, const float* B, float* C) {
  const double t = now();
  long flops = 0;
  for (int jc = 0; jc < kN; jc += nc)
    for (int r = 0; r < kN / 8; ++r)
      for (int s = 0; s < nc / 32; ++s) {
        nk::sgemm_avx512_8x32(kc, A + long(r % 64) * kc * 8, B + long(s) * kc * 32,
                              C + long(r * 8) * kN + jc + s * 32, kN, 8, 32, 1.f, 1.f);
        flops += 2L * 8 * 32 * kc;
      }
  return double(flops) / (now() - t) / 1e9;
}

}  // namespace

int main() {
  float* C = filled(size_t(kN) * kN);
  float* A = filled(size_t(512) * 512);  // up to 64 A micro-panels of KC = 512
  float* B = filled(size_t(512) * kN);   // a B panel of up to KC × NC = 256 × 2048
  for (int rep = 0; rep < 3; ++rep) {
    const double roof = fma_roof(100000000 / 24);
    double so = 0, ro = 0;
    for (int k = 0; k < 2; ++k) {
      const double a = strips_outer(256, 512, A, B, C), b = rows_outer(256, 1024, A, B, C);
      so = a > so ? a : so;
      ro = b > ro ? b : ro;
    }
    std::printf("roof %.1f GFLOP/s | strips outer (KC 256, MC 512) %.1f = %.0f %% | rows outer "
                "(KC 256, NC 1024) %.1f = %.0f %%\n", roof, so, 100 * so / roof, ro, 100 * ro / roof);
  }
  return 0;
}

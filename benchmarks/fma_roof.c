/* FMA roof of one core: 24 independent fp32 FMA chains on zmm (AVX-512) or ymm (AVX2),
 * enough to cover latency × pipes on every current x86 core. Prints GFLOP/s.
 * Built (gcc -O2; each loop carries its target attribute) and run by benchmarks/gemm_one_thread.py;
 * not part of the package. */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

#define CHAINS 24
#define BODY(V, FMA)                                             \
  for (long it = 0; it < iters; ++it) {                          \
    _Pragma("GCC unroll 24") for (int j = 0; j < CHAINS; ++j)    \
      acc[j] = FMA(acc[j], m, a);                                \
  }

__attribute__((target("avx512f,fma"))) static double run512(long iters) {
  __m512 acc[CHAINS], m = _mm512_set1_ps(0.999999f), a = _mm512_set1_ps(1e-7f);
  for (int j = 0; j < CHAINS; ++j) acc[j] = _mm512_set1_ps((float)j);
  double t = now();
  BODY(__m512, _mm512_fmadd_ps)
  t = now() - t;
  float s = 0; for (int j = 0; j < CHAINS; ++j) s += _mm512_reduce_add_ps(acc[j]);
  if (s == 12345.f) puts("");
  return 2.0 * 16 * CHAINS * iters / t / 1e9;
}

__attribute__((target("avx2,fma"))) static double run256(long iters) {
  __m256 acc[CHAINS], m = _mm256_set1_ps(0.999999f), a = _mm256_set1_ps(1e-7f);
  for (int j = 0; j < CHAINS; ++j) acc[j] = _mm256_set1_ps((float)j);
  double t = now();
  BODY(__m256, _mm256_fmadd_ps)
  t = now() - t;
  float buf[8], s = 0;
  for (int j = 0; j < CHAINS; ++j) { _mm256_storeu_ps(buf, acc[j]); s += buf[0]; }
  if (s == 12345.f) puts("");
  return 2.0 * 8 * CHAINS * iters / t / 1e9;
}

int main(int argc, char** argv) {
  const int wide = argc > 1 && strcmp(argv[1], "avx512") == 0;
  double best = 0;
  for (int r = 0; r < 5; ++r) {
    double g = wide ? run512(20000000) : run256(20000000);
    if (g > best) best = g;
  }
  printf("%.1f\n", best);
  return 0;
}

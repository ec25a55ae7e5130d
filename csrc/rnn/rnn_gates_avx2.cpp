// AVX2/FMA fused gate passes of the LSTM/GRU cells (twins: rnn_gates_generic.cpp).
//
// One pass per time step over a row-block × hidden-slice: 8 floats (4 doubles) of one
// hidden unit range at a time, all gates of those units together, masked loads and
// stores for the tail. sigmoid and tanh (simd/simd_avx2.h) share one exp core: y = n·ln2 + r with
// |r| <= ln2/2 (Cody–Waite split of ln2), expm1(r) by its Taylor polynomial (degree 7
// for float, 13 for double: truncation below half an ulp), e^y = 2^n·(1 + p).
//   sigmoid(x) = 1/(1 + e^-|x|) or e^-|x|/(1 + e^-|x|)   (no cancellation either side)
//   tanh(x)    = sign(x) · -u/(u + 2), u = expm1(-2|x|)     (accurate near 0 too)
// Max error against float64 std::tanh / exp: ~2 ulp (see tests/test_rnn.py).
// Speed: part of lstm/gru sequence timings, `python -m nnkernels --only rnn`.
#include <immintrin.h>

#include <cstdint>

#include "rnn/rnn_gates.h"
#include "simd/simd_avx2.h"

namespace nk {
namespace {

// ---- a thin vector type per precision ----------------------------------------
template <typename T> struct V;

template <> struct V<float> {
  using R = __m256;
  using M = __m256i;
  static constexpr int W = 8;
  static R set1(float a) { return _mm256_set1_ps(a); }
  static R load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, R v) { _mm256_storeu_ps(p, v); }
  static __m256i mask(int64_t n) { return simd256::mask8(n); }
  static R loadm(const float* p, __m256i m) { return _mm256_maskload_ps(p, m); }
  static void storem(float* p, __m256i m, R v) { _mm256_maskstore_ps(p, m, v); }
  static R add(R a, R b) { return _mm256_add_ps(a, b); }
  static R sub(R a, R b) { return _mm256_sub_ps(a, b); }
  static R mul(R a, R b) { return _mm256_mul_ps(a, b); }
  static R div(R a, R b) { return _mm256_div_ps(a, b); }
  static R fma(R a, R b, R c) { return _mm256_fmadd_ps(a, b, c); }
  static R fnma(R a, R b, R c) { return _mm256_fnmadd_ps(a, b, c); }
  static R sigmoid(R x) { return simd256::sigmoid_ps(x); }
  static R tanh(R x) { return simd256::tanh_ps(x); }
};

template <> struct V<double> {
  using R = __m256d;
  using M = __m256i;
  static constexpr int W = 4;
  static R set1(double a) { return _mm256_set1_pd(a); }
  static R load(const double* p) { return _mm256_loadu_pd(p); }
  static void store(double* p, R v) { _mm256_storeu_pd(p, v); }
  static __m256i mask(int64_t n) { return simd256::mask4(n); }
  static R loadm(const double* p, __m256i m) { return _mm256_maskload_pd(p, m); }
  static void storem(double* p, __m256i m, R v) { _mm256_maskstore_pd(p, m, v); }
  static R add(R a, R b) { return _mm256_add_pd(a, b); }
  static R sub(R a, R b) { return _mm256_sub_pd(a, b); }
  static R mul(R a, R b) { return _mm256_mul_pd(a, b); }
  static R div(R a, R b) { return _mm256_div_pd(a, b); }
  static R fma(R a, R b, R c) { return _mm256_fmadd_pd(a, b, c); }
  static R fnma(R a, R b, R c) { return _mm256_fnmadd_pd(a, b, c); }
  static R sigmoid(R x) { return simd256::sigmoid_pd(x); }
  static R tanh(R x) { return simd256::tanh_pd(x); }
};

}  // namespace
}  // namespace nk

#include "rnn/rnn_gates_simd.h"

namespace nk {
NK_RNN_GATES(float, avx2)
NK_RNN_GATES(double, avx2)
}  // namespace nk

// AVX-512F/DQ fused gate passes of the LSTM/GRU cells (contracts in rnn_gates.h; twins
// rnn_gates_avx2.cpp, rnn_gates_generic.cpp). The AVX2 kernels' passes on 16 floats
// (8 doubles) of one hidden-unit range at a time, all gates of those units together;
// the tail is one masked load/store vector (no scalar loop). sigmoid and tanh come from
// simd/simd_avx512.h: the AVX2 path's expm1-based forms, ≤ 4 ulp
// (tests/test_rnn.py::test_simd_activations).
// Measured (float32, 1 thread, best of 5 interleaved rounds, shared 2-core Intel Xeon, torch
//   2.13; the whole layer, so the path's sgemm counts too; avx512 path vs avx2 / vs torch):
//   LSTM T100 B32 I128 H256 fwd 1.30× / 0.68×, fwd+bwd 1.54× / 1.07×; GRU same shape fwd
//   1.54× / 1.24×, fwd+bwd 1.55× / 1.40×; LSTM T50 B64 I64 H64 fwd 1.43× / 0.92×.
//   Command: nk.set_cpu_path("avx512" / "avx2") around python/nnkernels/bench/rnn.py's
//   cases; python -m nnkernels --only rnn
#include "simd/simd_avx512.h"  // first: see its note on GCC 12

#include <cstdint>

#include "rnn/rnn_gates.h"

namespace nk {
namespace {

// ---- a thin vector type per precision ----------------------------------------
template <typename T> struct V;

template <> struct V<float> {
  using R = __m512;
  using M = __mmask16;
  static constexpr int W = 16;
  static R set1(float a) { return _mm512_set1_ps(a); }
  static R load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, R v) { _mm512_storeu_ps(p, v); }
  static M mask(int64_t n) { return simd512::mask16(n); }
  static R loadm(const float* p, M m) { return _mm512_maskz_loadu_ps(m, p); }
  static void storem(float* p, M m, R v) { _mm512_mask_storeu_ps(p, m, v); }
  static R add(R a, R b) { return _mm512_add_ps(a, b); }
  static R sub(R a, R b) { return _mm512_sub_ps(a, b); }
  static R mul(R a, R b) { return _mm512_mul_ps(a, b); }
  static R fma(R a, R b, R c) { return _mm512_fmadd_ps(a, b, c); }
  static R fnma(R a, R b, R c) { return _mm512_fnmadd_ps(a, b, c); }
  static R sigmoid(R x) { return simd512::sigmoid_ps(x); }
  static R tanh(R x) { return simd512::tanh_ps(x); }
};

template <> struct V<double> {
  using R = __m512d;
  using M = __mmask8;
  static constexpr int W = 8;
  static R set1(double a) { return _mm512_set1_pd(a); }
  static R load(const double* p) { return _mm512_loadu_pd(p); }
  static void store(double* p, R v) { _mm512_storeu_pd(p, v); }
  static M mask(int64_t n) { return simd512::mask8(n); }
  static R loadm(const double* p, M m) { return _mm512_maskz_loadu_pd(m, p); }
  static void storem(double* p, M m, R v) { _mm512_mask_storeu_pd(p, m, v); }
  static R add(R a, R b) { return _mm512_add_pd(a, b); }
  static R sub(R a, R b) { return _mm512_sub_pd(a, b); }
  static R mul(R a, R b) { return _mm512_mul_pd(a, b); }
  static R fma(R a, R b, R c) { return _mm512_fmadd_pd(a, b, c); }
  static R fnma(R a, R b, R c) { return _mm512_fnmadd_pd(a, b, c); }
  static R sigmoid(R x) { return simd512::sigmoid_pd(x); }
  static R tanh(R x) { return simd512::tanh_pd(x); }
};

}  // namespace
}  // namespace nk

#include "rnn/rnn_gates_simd.h"

namespace nk {
NK_RNN_GATES(float, avx512)
NK_RNN_GATES(double, avx512)
}  // namespace nk

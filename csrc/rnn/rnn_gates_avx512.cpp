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
  static constexpr M all = 0xFFFF;
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
  static constexpr M all = 0xFF;
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

template <typename T>
inline typename V<T>::R vsigmoid(typename V<T>::R x) { return V<T>::sigmoid(x); }
template <typename T>
inline typename V<T>::R vtanh(typename V<T>::R x) { return V<T>::tanh(x); }

// Calls body(j, mask, full) for the vectors covering [j0, j1).
template <typename T, typename F>
inline void for_vectors(int64_t j0, int64_t j1, F&& body) {
  using v = V<T>;
  int64_t j = j0;
  const typename V<T>::M all = V<T>::all;
  for (; j + v::W <= j1; j += v::W) body(j, all, true);
  if (j < j1) body(j, v::mask(j1 - j), false);
}

template <typename T>
inline typename V<T>::R ld(const T* p, typename V<T>::M m, bool full) {
  return full ? V<T>::load(p) : V<T>::loadm(p, m);
}
template <typename T>
inline void st(T* p, typename V<T>::M m, bool full, typename V<T>::R x) {
  if (full) V<T>::store(p, x); else V<T>::storem(p, m, x);
}

template <typename T>
void lstm_fwd(int64_t rows, int64_t j0, int64_t j1, int64_t H, T* g, const T* bias,
              const T* c_prev, T* c, T* h) {
  using v = V<T>;
  for (int64_t b = 0; b < rows; ++b) {
    T* gr = g + b * 4 * H;
    const T* cp = c_prev + b * H;
    T* cr = c + b * H;
    T* hr = h + b * H;
    for_vectors<T>(j0, j1, [&](int64_t j, typename V<T>::M m, bool full) {
      const auto i = vsigmoid<T>(v::add(ld(gr + j, m, full), ld(bias + j, m, full)));
      const auto f = vsigmoid<T>(v::add(ld(gr + H + j, m, full), ld(bias + H + j, m, full)));
      const auto gg = vtanh<T>(v::add(ld(gr + 2 * H + j, m, full), ld(bias + 2 * H + j, m, full)));
      const auto o = vsigmoid<T>(v::add(ld(gr + 3 * H + j, m, full), ld(bias + 3 * H + j, m, full)));
      const auto ct = v::fma(f, ld(cp + j, m, full), v::mul(i, gg));
      st(gr + j, m, full, i);
      st(gr + H + j, m, full, f);
      st(gr + 2 * H + j, m, full, gg);
      st(gr + 3 * H + j, m, full, o);
      st(cr + j, m, full, ct);
      st(hr + j, m, full, v::mul(o, vtanh<T>(ct)));
    });
  }
}

template <typename T>
void lstm_bwd(int64_t rows, int64_t j0, int64_t j1, int64_t H, const T* g, const T* c,
              const T* c_prev, const T* dh, T* dc, T* dg) {
  using v = V<T>;
  const auto one = v::set1(T(1));
  for (int64_t b = 0; b < rows; ++b) {
    const T* gr = g + b * 4 * H;
    T* dgr = dg + b * 4 * H;
    for_vectors<T>(j0, j1, [&](int64_t j, typename V<T>::M m, bool full) {
      const auto i = ld(gr + j, m, full), f = ld(gr + H + j, m, full);
      const auto gg = ld(gr + 2 * H + j, m, full), o = ld(gr + 3 * H + j, m, full);
      const auto tc = vtanh<T>(ld(c + b * H + j, m, full));
      const auto d = ld(dh + b * H + j, m, full);
      const auto dct = v::fma(v::mul(d, o), v::fnma(tc, tc, one), ld(dc + b * H + j, m, full));
      st(dgr + j, m, full, v::mul(v::mul(dct, gg), v::mul(i, v::sub(one, i))));
      st(dgr + H + j, m, full,
         v::mul(v::mul(dct, ld(c_prev + b * H + j, m, full)), v::mul(f, v::sub(one, f))));
      st(dgr + 2 * H + j, m, full, v::mul(v::mul(dct, i), v::fnma(gg, gg, one)));
      st(dgr + 3 * H + j, m, full, v::mul(v::mul(d, tc), v::mul(o, v::sub(one, o))));
      st(dc + b * H + j, m, full, v::mul(dct, f));
    });
  }
}

template <typename T>
void gru_fwd(int64_t rows, int64_t j0, int64_t j1, int64_t H, T* gx, const T* gh,
             const T* b_ih, const T* b_hh, const T* h_prev, T* hn, T* h) {
  using v = V<T>;
  for (int64_t b = 0; b < rows; ++b) {
    T* x = gx + b * 3 * H;
    const T* y = gh + b * 3 * H;
    for_vectors<T>(j0, j1, [&](int64_t j, typename V<T>::M m, bool full) {
      const auto r = vsigmoid<T>(v::add(v::add(ld(x + j, m, full), ld(b_ih + j, m, full)),
                                        v::add(ld(y + j, m, full), ld(b_hh + j, m, full))));
      const auto z = vsigmoid<T>(v::add(v::add(ld(x + H + j, m, full), ld(b_ih + H + j, m, full)),
                                        v::add(ld(y + H + j, m, full), ld(b_hh + H + j, m, full))));
      const auto hnj = v::add(ld(y + 2 * H + j, m, full), ld(b_hh + 2 * H + j, m, full));
      const auto n = vtanh<T>(
          v::fma(r, hnj, v::add(ld(x + 2 * H + j, m, full), ld(b_ih + 2 * H + j, m, full))));
      const auto hp = ld(h_prev + b * H + j, m, full);
      st(x + j, m, full, r);
      st(x + H + j, m, full, z);
      st(x + 2 * H + j, m, full, n);
      st(hn + b * H + j, m, full, hnj);
      st(h + b * H + j, m, full, v::fma(z, v::sub(hp, n), n));
    });
  }
}

template <typename T>
void gru_bwd(int64_t rows, int64_t j0, int64_t j1, int64_t H, const T* g, const T* hn,
             const T* h_prev, T* dh, T* dgx, T* dgh) {
  using v = V<T>;
  const auto one = v::set1(T(1));
  for (int64_t b = 0; b < rows; ++b) {
    const T* gr = g + b * 3 * H;
    T* dx = dgx + b * 3 * H;
    T* dy = dgh + b * 3 * H;
    for_vectors<T>(j0, j1, [&](int64_t j, typename V<T>::M m, bool full) {
      const auto r = ld(gr + j, m, full), z = ld(gr + H + j, m, full), n = ld(gr + 2 * H + j, m, full);
      const auto d = ld(dh + b * H + j, m, full);
      const auto dpn = v::mul(v::mul(d, v::sub(one, z)), v::fnma(n, n, one));
      const auto dpz = v::mul(v::mul(d, v::sub(ld(h_prev + b * H + j, m, full), n)),
                              v::mul(z, v::sub(one, z)));
      const auto dpr = v::mul(v::mul(dpn, ld(hn + b * H + j, m, full)), v::mul(r, v::sub(one, r)));
      st(dx + j, m, full, dpr);
      st(dx + H + j, m, full, dpz);
      st(dx + 2 * H + j, m, full, dpn);
      st(dy + j, m, full, dpr);
      st(dy + H + j, m, full, dpz);
      st(dy + 2 * H + j, m, full, v::mul(dpn, r));
      st(dh + b * H + j, m, full, v::mul(d, z));
    });
  }
}

template <typename T>
void map_sigmoid(int64_t n, const T* x, T* y) {
  for_vectors<T>(0, n, [&](int64_t j, typename V<T>::M m, bool full) { st(y + j, m, full, vsigmoid<T>(ld(x + j, m, full))); });
}
template <typename T>
void map_tanh(int64_t n, const T* x, T* y) {
  for_vectors<T>(0, n, [&](int64_t j, typename V<T>::M m, bool full) { st(y + j, m, full, vtanh<T>(ld(x + j, m, full))); });
}

}  // namespace

#define NK_GATES(T)                                                                                \
  void lstm_fwd_gates_avx512(int64_t rows, int64_t j0, int64_t j1, int64_t H, T* g,                \
                           const T* bias, const T* c_prev, T* c, T* h) {                           \
    lstm_fwd<T>(rows, j0, j1, H, g, bias, c_prev, c, h);                                           \
  }                                                                                                \
  void lstm_bwd_gates_avx512(int64_t rows, int64_t j0, int64_t j1, int64_t H, const T* g,          \
                           const T* c, const T* c_prev, const T* dh, T* dc, T* dg) {               \
    lstm_bwd<T>(rows, j0, j1, H, g, c, c_prev, dh, dc, dg);                                        \
  }                                                                                                \
  void gru_fwd_gates_avx512(int64_t rows, int64_t j0, int64_t j1, int64_t H, T* gx, const T* gh,   \
                          const T* b_ih, const T* b_hh, const T* h_prev, T* hn, T* h) {            \
    gru_fwd<T>(rows, j0, j1, H, gx, gh, b_ih, b_hh, h_prev, hn, h);                                \
  }                                                                                                \
  void gru_bwd_gates_avx512(int64_t rows, int64_t j0, int64_t j1, int64_t H, const T* g,           \
                          const T* hn, const T* h_prev, T* dh, T* dgx, T* dgh) {                   \
    gru_bwd<T>(rows, j0, j1, H, g, hn, h_prev, dh, dgx, dgh);                                      \
  }                                                                                                \
  void sigmoid_avx512(int64_t n, const T* x, T* y) { map_sigmoid<T>(n, x, y); }                    \
  void tanh_avx512(int64_t n, const T* x, T* y) { map_tanh<T>(n, x, y); }
NK_GATES(float)
NK_GATES(double)
#undef NK_GATES

}  // namespace nk

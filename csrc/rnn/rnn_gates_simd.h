// The LSTM/GRU fused gate passes, written once over a vector type V<T> (R: register,
// M: tail mask, W: lanes, mask(n): lanes [0, n); load/store/loadm/storem, add/sub/mul,
// fma/fnma, sigmoid/tanh). Included ONLY by rnn_gates_avx2.cpp and rnn_gates_avx512.cpp,
// after they define V<float> and V<double> in nk's anonymous namespace: everything here
// lands in that anonymous namespace too, so each ISA file gets its own internal copy
// (tests/test_isa_isolation.py: no weak symbols). NK_RNN_GATES(T, isa) defines the
// exported entry points of rnn_gates.h for one precision and ISA suffix.
#pragma once
#include <cstdint>

namespace nk {
namespace {

template <typename T>
inline typename V<T>::R vsigmoid(typename V<T>::R x) { return V<T>::sigmoid(x); }
template <typename T>
inline typename V<T>::R vtanh(typename V<T>::R x) { return V<T>::tanh(x); }

// Calls body(j, mask, full) for the vectors covering [j0, j1).
template <typename T, typename F>
inline void for_vectors(int64_t j0, int64_t j1, F&& body) {
  using v = V<T>;
  int64_t j = j0;
  const typename V<T>::M all = V<T>::mask(v::W);
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
}  // namespace nk

#define NK_RNN_GATES(T, ISA)                                                                               \
  void lstm_fwd_gates_##ISA(int64_t rows, int64_t j0, int64_t j1, int64_t H, T* g,                \
                           const T* bias, const T* c_prev, T* c, T* h) {                           \
    lstm_fwd<T>(rows, j0, j1, H, g, bias, c_prev, c, h);                                           \
  }                                                                                                \
  void lstm_bwd_gates_##ISA(int64_t rows, int64_t j0, int64_t j1, int64_t H, const T* g,          \
                           const T* c, const T* c_prev, const T* dh, T* dc, T* dg) {               \
    lstm_bwd<T>(rows, j0, j1, H, g, c, c_prev, dh, dc, dg);                                        \
  }                                                                                                \
  void gru_fwd_gates_##ISA(int64_t rows, int64_t j0, int64_t j1, int64_t H, T* gx, const T* gh,   \
                          const T* b_ih, const T* b_hh, const T* h_prev, T* hn, T* h) {            \
    gru_fwd<T>(rows, j0, j1, H, gx, gh, b_ih, b_hh, h_prev, hn, h);                                \
  }                                                                                                \
  void gru_bwd_gates_##ISA(int64_t rows, int64_t j0, int64_t j1, int64_t H, const T* g,           \
                          const T* hn, const T* h_prev, T* dh, T* dgx, T* dgh) {                   \
    gru_bwd<T>(rows, j0, j1, H, g, hn, h_prev, dh, dgx, dgh);                                      \
  }                                                                                                \
  void sigmoid_##ISA(int64_t n, const T* x, T* y) { map_sigmoid<T>(n, x, y); }                    \
  void tanh_##ISA(int64_t n, const T* x, T* y) { map_tanh<T>(n, x, y); }

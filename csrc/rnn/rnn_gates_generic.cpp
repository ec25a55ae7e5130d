// Portable fused gate passes of the LSTM/GRU cells (the twins of rnn_gates_avx2.cpp and
// rnn_gates_avx512.cpp, and the reference they are tested against): std::exp/std::tanh,
// one element at a time. Also rnn_activation, the test hook of the SIMD activations.
//
// Shapes: rows b in [0, rows), hidden j in [j0, j1); g (rows, G·H) gate-major like torch
// (LSTM i,f,g,o; GRU r,z,n), states (rows, H). See rnn_gates.h for each pass's contract.
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

#include "common.h"
#include "rnn/rnn.h"
#include "rnn/rnn_gates.h"

namespace nk {
namespace {

template <typename T>
inline T sigm(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

template <typename T>
void lstm_fwd(int64_t rows, int64_t j0, int64_t j1, int64_t H, T* g, const T* bias,
              const T* c_prev, T* c, T* h) {
  for (int64_t b = 0; b < rows; ++b) {
    T* gr = g + b * 4 * H;
    for (int64_t j = j0; j < j1; ++j) {
      const T i = sigm(gr[j] + bias[j]);
      const T f = sigm(gr[H + j] + bias[H + j]);
      const T gg = std::tanh(gr[2 * H + j] + bias[2 * H + j]);
      const T o = sigm(gr[3 * H + j] + bias[3 * H + j]);
      const T ct = f * c_prev[b * H + j] + i * gg;
      gr[j] = i, gr[H + j] = f, gr[2 * H + j] = gg, gr[3 * H + j] = o;
      c[b * H + j] = ct;
      h[b * H + j] = o * std::tanh(ct);
    }
  }
}

template <typename T>
void lstm_bwd(int64_t rows, int64_t j0, int64_t j1, int64_t H, const T* g, const T* c,
              const T* c_prev, const T* dh, T* dc, T* dg) {
  for (int64_t b = 0; b < rows; ++b) {
    const T* gr = g + b * 4 * H;
    T* dgr = dg + b * 4 * H;
    for (int64_t j = j0; j < j1; ++j) {
      const T i = gr[j], f = gr[H + j], gg = gr[2 * H + j], o = gr[3 * H + j];
      const T tc = std::tanh(c[b * H + j]);
      const T d = dh[b * H + j];
      const T dct = dc[b * H + j] + d * o * (T(1) - tc * tc);
      dgr[j] = dct * gg * i * (T(1) - i);
      dgr[H + j] = dct * c_prev[b * H + j] * f * (T(1) - f);
      dgr[2 * H + j] = dct * i * (T(1) - gg * gg);
      dgr[3 * H + j] = d * tc * o * (T(1) - o);
      dc[b * H + j] = dct * f;
    }
  }
}

template <typename T>
void gru_fwd(int64_t rows, int64_t j0, int64_t j1, int64_t H, T* gx, const T* gh,
             const T* b_ih, const T* b_hh, const T* h_prev, T* hn, T* h) {
  for (int64_t b = 0; b < rows; ++b) {
    T* x = gx + b * 3 * H;
    const T* y = gh + b * 3 * H;
    for (int64_t j = j0; j < j1; ++j) {
      const T r = sigm(x[j] + b_ih[j] + y[j] + b_hh[j]);
      const T z = sigm(x[H + j] + b_ih[H + j] + y[H + j] + b_hh[H + j]);
      const T hnj = y[2 * H + j] + b_hh[2 * H + j];
      const T n = std::tanh(x[2 * H + j] + b_ih[2 * H + j] + r * hnj);
      const T hp = h_prev[b * H + j];
      x[j] = r, x[H + j] = z, x[2 * H + j] = n;
      hn[b * H + j] = hnj;
      h[b * H + j] = n + z * (hp - n);
    }
  }
}

template <typename T>
void gru_bwd(int64_t rows, int64_t j0, int64_t j1, int64_t H, const T* g, const T* hn,
             const T* h_prev, T* dh, T* dgx, T* dgh) {
  for (int64_t b = 0; b < rows; ++b) {
    const T* gr = g + b * 3 * H;
    T* dx = dgx + b * 3 * H;
    T* dy = dgh + b * 3 * H;
    for (int64_t j = j0; j < j1; ++j) {
      const T r = gr[j], z = gr[H + j], n = gr[2 * H + j];
      const T d = dh[b * H + j];
      const T dpn = d * (T(1) - z) * (T(1) - n * n);
      const T dpz = d * (h_prev[b * H + j] - n) * z * (T(1) - z);
      const T dpr = dpn * hn[b * H + j] * r * (T(1) - r);
      dx[j] = dpr, dx[H + j] = dpz, dx[2 * H + j] = dpn;
      dy[j] = dpr, dy[H + j] = dpz, dy[2 * H + j] = dpn * r;
      dh[b * H + j] = d * z;
    }
  }
}

}  // namespace

#define NK_GATES(T)                                                                              \
  void lstm_fwd_gates_generic(int64_t rows, int64_t j0, int64_t j1, int64_t H, T* g,           \
                              const T* bias, const T* c_prev, T* c, T* h) {                    \
    lstm_fwd<T>(rows, j0, j1, H, g, bias, c_prev, c, h);                                        \
  }                                                                                              \
  void lstm_bwd_gates_generic(int64_t rows, int64_t j0, int64_t j1, int64_t H, const T* g,     \
                              const T* c, const T* c_prev, const T* dh, T* dc, T* dg) {        \
    lstm_bwd<T>(rows, j0, j1, H, g, c, c_prev, dh, dc, dg);                                     \
  }                                                                                              \
  void gru_fwd_gates_generic(int64_t rows, int64_t j0, int64_t j1, int64_t H, T* gx,           \
                             const T* gh, const T* b_ih, const T* b_hh, const T* h_prev,       \
                             T* hn, T* h) {                                                     \
    gru_fwd<T>(rows, j0, j1, H, gx, gh, b_ih, b_hh, h_prev, hn, h);                             \
  }                                                                                              \
  void gru_bwd_gates_generic(int64_t rows, int64_t j0, int64_t j1, int64_t H, const T* g,      \
                             const T* hn, const T* h_prev, T* dh, T* dgx, T* dgh) {            \
    gru_bwd<T>(rows, j0, j1, H, g, hn, h_prev, dh, dgx, dgh);                                   \
  }
NK_GATES(float)
NK_GATES(double)
#undef NK_GATES

// ---- the vector activations of the SIMD paths, for the accuracy tests ----------------
template <typename T>
void rnn_activation(const char* path, const char* which, int64_t n, const T* x, T* y) {
  Isa isa;
  if (!isa_from_name(path, &isa) || isa == Isa::generic)
    throw std::invalid_argument(std::string("rnn_activation: no vector activations on path '") + path + "'");
  if (!cpu_supports(isa)) throw std::invalid_argument(std::string("this CPU cannot run path '") + path + "'");
  const bool tanh = std::strcmp(which, "tanh") == 0;
  if (!tanh && std::strcmp(which, "sigmoid") != 0)
    throw std::invalid_argument(std::string("rnn_activation: which must be 'sigmoid' or 'tanh', not '") + which + "'");
  if (isa == Isa::avx2) tanh ? tanh_avx2(n, x, y) : sigmoid_avx2(n, x, y);
  else tanh ? tanh_avx512(n, x, y) : sigmoid_avx512(n, x, y);
}
template void rnn_activation<float>(const char*, const char*, int64_t, const float*, float*);
template void rnn_activation<double>(const char*, const char*, int64_t, const double*, double*);

}  // namespace nk

// Recurrent layers on the CPU: one-layer, one-direction LSTM and GRU over a whole
// sequence, forward and backward through time (the cells are sequences with T = 1).
//
// Shapes (all arrays C-contiguous; torch layouts and gate orders):
//   x (T, B, I), h0/c0 (B, H), w_ih (G·H, I), w_hh (G·H, H), biases (G·H)
//   y (T, B, H) = h_1..h_T;  G = 4 (LSTM i,f,g,o) or 3 (GRU r,z,n)
//   LSTM cache: gates (T, B, 4H) activated, cs (T, B, H) cell states c_1..c_T
//   GRU cache:  gates (T, B, 3H) = r, z, n, hn (T, B, H) = W_hn·h_{t-1} + b_hn
#pragma once
#include <cstdint>

namespace nk {

// bias = b_ih + b_hh (4H), never null (zeros when the layer has none).
template <typename T>
void lstm_forward(int64_t T_, int64_t B, int64_t I, int64_t H, const T* x, const T* h0,
                  const T* c0, const T* w_ih, const T* w_hh, const T* bias, T* y, T* gates, T* cs);

// gy, ghT, gcT may be null (zero). Outputs: gx (T,B,I), gh0, gc0 (B,H), gw_ih (4H,I),
// gw_hh (4H,H), gb (4H) (the gradient of both b_ih and b_hh).
template <typename T>
void lstm_backward(int64_t T_, int64_t B, int64_t I, int64_t H, const T* x, const T* h0,
                   const T* c0, const T* w_ih, const T* w_hh, const T* y, const T* gates,
                   const T* cs, const T* gy, const T* ghT, const T* gcT, T* gx, T* gh0, T* gc0,
                   T* gw_ih, T* gw_hh, T* gb);

// b_ih, b_hh (3H) never null.
template <typename T>
void gru_forward(int64_t T_, int64_t B, int64_t I, int64_t H, const T* x, const T* h0,
                 const T* w_ih, const T* w_hh, const T* b_ih, const T* b_hh, T* y, T* gates, T* hn);

template <typename T>
void gru_backward(int64_t T_, int64_t B, int64_t I, int64_t H, const T* x, const T* h0,
                  const T* w_ih, const T* w_hh, const T* y, const T* gates, const T* hn,
                  const T* gy, const T* ghT, T* gx, T* gh0, T* gw_ih, T* gw_hh, T* gb_ih,
                  T* gb_hh);

// The vector sigmoid (which = "sigmoid") or tanh ("tanh") of CPU path `path`'s gate passes
// ("avx2", "avx512") over n elements, for tests of their accuracy. Throws
// std::invalid_argument for another name, or a path this CPU cannot run.
template <typename T>
void rnn_activation(const char* path, const char* which, int64_t n, const T* x, T* y);

}  // namespace nk

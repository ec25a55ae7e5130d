// Fused gate passes of the LSTM and GRU cells, one row-block × hidden-slice at a time.
// Declarations only (included by rnn_gates_avx2.cpp / rnn_gates_avx512.cpp): every *_avx2
// function has *_avx512 and *_generic twins with the same arguments; callers take them
// from the kernel table (kernels().rnn_f32 / rnn_f64).
//
// Shapes (all rows contiguous): rows b in [0, rows), hidden units j in [j0, j1) of H.
//   LSTM: g (rows, 4H) gates i,f,g,o; c_prev, c, h, dh, dc (rows, H); bias (4H)
//   GRU:  gx, gh, dgx, dgh (rows, 3H) gates r,z,n; h_prev, hn, h, dh (rows, H);
//         b_ih, b_hh (3H)
#pragma once
#include <cstdint>

namespace nk {

// LSTM forward. In: g = x·W_ih^T + h·W_hh^T (pre-activation, bias not yet added).
// Out: g := (σ(i), σ(f), tanh(g), σ(o)) with bias added; c = f∘c_prev + i∘g; h = o∘tanh(c).
void lstm_fwd_gates_avx2(int64_t rows, int64_t j0, int64_t j1, int64_t H, float* g,
                         const float* bias, const float* c_prev, float* c, float* h);
void lstm_fwd_gates_avx2(int64_t rows, int64_t j0, int64_t j1, int64_t H, double* g,
                         const double* bias, const double* c_prev, double* c, double* h);
void lstm_fwd_gates_generic(int64_t rows, int64_t j0, int64_t j1, int64_t H, float* g,
                            const float* bias, const float* c_prev, float* c, float* h);
void lstm_fwd_gates_generic(int64_t rows, int64_t j0, int64_t j1, int64_t H, double* g,
                            const double* bias, const double* c_prev, double* c, double* h);

// LSTM backward. In: g activated gates, c = c_t, c_prev = c_{t-1}, dh = dL/dh_t,
// dc = dL/dc_t from later steps. Out: dg (pre-activation gate gradients), dc := dL/dc_{t-1}.
void lstm_bwd_gates_avx2(int64_t rows, int64_t j0, int64_t j1, int64_t H, const float* g,
                         const float* c, const float* c_prev, const float* dh, float* dc, float* dg);
void lstm_bwd_gates_avx2(int64_t rows, int64_t j0, int64_t j1, int64_t H, const double* g,
                         const double* c, const double* c_prev, const double* dh, double* dc,
                         double* dg);
void lstm_bwd_gates_generic(int64_t rows, int64_t j0, int64_t j1, int64_t H, const float* g,
                            const float* c, const float* c_prev, const float* dh, float* dc,
                            float* dg);
void lstm_bwd_gates_generic(int64_t rows, int64_t j0, int64_t j1, int64_t H, const double* g,
                            const double* c, const double* c_prev, const double* dh, double* dc,
                            double* dg);

// GRU forward. In: gx = x·W_ih^T, gh = h_prev·W_hh^T (no biases). Out: gx := (r, z, n),
// hn = W_hn·h_prev + b_hn (kept for the backward), h = (1-z)∘n + z∘h_prev.
void gru_fwd_gates_avx2(int64_t rows, int64_t j0, int64_t j1, int64_t H, float* gx,
                        const float* gh, const float* b_ih, const float* b_hh,
                        const float* h_prev, float* hn, float* h);
void gru_fwd_gates_avx2(int64_t rows, int64_t j0, int64_t j1, int64_t H, double* gx,
                        const double* gh, const double* b_ih, const double* b_hh,
                        const double* h_prev, double* hn, double* h);
void gru_fwd_gates_generic(int64_t rows, int64_t j0, int64_t j1, int64_t H, float* gx,
                           const float* gh, const float* b_ih, const float* b_hh,
                           const float* h_prev, float* hn, float* h);
void gru_fwd_gates_generic(int64_t rows, int64_t j0, int64_t j1, int64_t H, double* gx,
                           const double* gh, const double* b_ih, const double* b_hh,
                           const double* h_prev, double* hn, double* h);

// GRU backward. In: g = (r, z, n), hn, h_prev, dh = dL/dh_t. Out: dgx = gradients of
// the x-side pre-activations, dgh = of the h-side ones (n part times r), dh := dh∘z
// (the direct path to h_{t-1}; the caller adds dgh·W_hh).
void gru_bwd_gates_avx2(int64_t rows, int64_t j0, int64_t j1, int64_t H, const float* g,
                        const float* hn, const float* h_prev, float* dh, float* dgx, float* dgh);
void gru_bwd_gates_avx2(int64_t rows, int64_t j0, int64_t j1, int64_t H, const double* g,
                        const double* hn, const double* h_prev, double* dh, double* dgx,
                        double* dgh);
void gru_bwd_gates_generic(int64_t rows, int64_t j0, int64_t j1, int64_t H, const float* g,
                           const float* hn, const float* h_prev, float* dh, float* dgx, float* dgh);
void gru_bwd_gates_generic(int64_t rows, int64_t j0, int64_t j1, int64_t H, const double* g,
                           const double* hn, const double* h_prev, double* dh, double* dgx,
                           double* dgh);

// AVX-512 twins of the *_avx2 gate passes (rnn_gates_avx512.cpp), same contracts.
void lstm_fwd_gates_avx512(int64_t rows, int64_t j0, int64_t j1, int64_t H, float* g,
                           const float* bias, const float* c_prev, float* c, float* h);
void lstm_fwd_gates_avx512(int64_t rows, int64_t j0, int64_t j1, int64_t H, double* g,
                           const double* bias, const double* c_prev, double* c, double* h);
void lstm_bwd_gates_avx512(int64_t rows, int64_t j0, int64_t j1, int64_t H, const float* g,
                           const float* c, const float* c_prev, const float* dh, float* dc, float* dg);
void lstm_bwd_gates_avx512(int64_t rows, int64_t j0, int64_t j1, int64_t H, const double* g,
                           const double* c, const double* c_prev, const double* dh, double* dc,
                           double* dg);
void gru_fwd_gates_avx512(int64_t rows, int64_t j0, int64_t j1, int64_t H, float* gx,
                          const float* gh, const float* b_ih, const float* b_hh,
                          const float* h_prev, float* hn, float* h);
void gru_fwd_gates_avx512(int64_t rows, int64_t j0, int64_t j1, int64_t H, double* gx,
                          const double* gh, const double* b_ih, const double* b_hh,
                          const double* h_prev, double* hn, double* h);
void gru_bwd_gates_avx512(int64_t rows, int64_t j0, int64_t j1, int64_t H, const float* g,
                          const float* hn, const float* h_prev, float* dh, float* dgx, float* dgh);
void gru_bwd_gates_avx512(int64_t rows, int64_t j0, int64_t j1, int64_t H, const double* g,
                          const double* hn, const double* h_prev, double* dh, double* dgx,
                          double* dgh);

// Vector sigmoid/tanh of the AVX2 / AVX-512 paths, exposed for tests of their accuracy.
void sigmoid_avx2(int64_t n, const float* x, float* y);
void sigmoid_avx2(int64_t n, const double* x, double* y);
void tanh_avx2(int64_t n, const float* x, float* y);
void tanh_avx2(int64_t n, const double* x, double* y);
void sigmoid_avx512(int64_t n, const float* x, float* y);
void sigmoid_avx512(int64_t n, const double* x, double* y);
void tanh_avx512(int64_t n, const float* x, float* y);
void tanh_avx512(int64_t n, const double* x, double* y);

}  // namespace nk

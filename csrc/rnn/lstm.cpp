// LSTM, one layer, one direction, whole sequence: forward and backward through time.
//
// Shapes: x (T,B,I), h0/c0 (B,H), w_ih (4H,I), w_hh (4H,H), bias = b_ih + b_hh (4H),
// y (T,B,H); gates (T,B,4H) i,f,g,o activated (kept for the backward), cs (T,B,H).
//
// Naive reference (what both passes compute; tests/test_rnn.py holds it in NumPy):
//   for t in 0..T-1:
//     a = x[t] @ w_ih.T + h @ w_hh.T + bias              # (B, 4H)
//     i, f, g, o = sigmoid(a0), sigmoid(a1), tanh(a2), sigmoid(a3)
//     c = f*c + i*g;  h = o*tanh(c);  y[t] = h
//   backward, t = T-1..0 with dh = gy[t] + dh_next, dc = dc_next:
//     dc += dh*o*(1 - tanh(c_t)^2);  da = [dc*g*i(1-i), dc*c_{t-1}*f(1-f), dc*i*(1-g^2), dh*tanh(c_t)*o(1-o)]
//     dh_next = da @ w_hh;  dc_next = dc*f
//   gx = dA @ w_ih;  gw_ih = dA^T x;  gw_hh = dA^T [h0; y[:-1]];  gb = colsum(dA)
//
// Fast version:
//   forward:  ONE GEMM for the input projection of all steps (T·B × I by I × 4H, into
//             `gates`), then per step one recurrent GEMM (B × H by H × 4H, beta = 1, on
//             pre-packed w_hh panels) and one fused gate pass, all in one parallel
//             region: a barrier per step when the batch is split by hidden strips, none
//             when each thread owns whole row panels (rnn_engine.h, make_tile).
//   backward: per step dh = gy[t] + dA[t+1] @ w_hh (B × 4H by 4H × H, pre-packed) and the
//             fused gate-gradient pass, same region/barrier scheme; all dA kept, then
//             gx = dA·w_ih and [gw_ih | gw_hh] = dA^T·[x | h_prev] as two large GEMMs after
//             the loop (the second reads x and y in place), gb as column sums.
// Speed, 2 threads vs torch.nn.LSTM (2 threads), float32, `python -m nnkernels --only rnn`
// (2026-11-23, 2-core AMD EPYC VM, measured while the machine was quiet):
//   T50 B64 I64 H64:    fwd 95 GFLOP/s = 1.36x torch, fwd+bwd 95 GFLOP/s = 1.14x
//   T100 B32 I128 H256: fwd 131 GFLOP/s = 1.13x torch, fwd+bwd 124 GFLOP/s = 1.21x
// avx512 path, 2-core Intel Xeon VM, 2026-12-01, after the rows-only split (no per-step
// barrier; `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/report.py --only rnn`):
//   T50 B64 I64 H64:    fwd 126 GFLOP/s = 1.31x torch, fwd+bwd 128 GFLOP/s = 1.21x
//   T100 B32 I128 H256: fwd 157 GFLOP/s = 0.99x torch, fwd+bwd 175 GFLOP/s = 1.36x
#include <cstring>
#include <vector>

#include "rnn/rnn.h"
#include "rnn/rnn_engine.h"
#include "kernels.h"

namespace nk {

template <typename T>
void lstm_forward(int64_t T_, int64_t B, int64_t I, int64_t H, const T* x, const T* h0,
                  const T* c0, const T* w_ih, const T* w_hh, const T* bias, T* y, T* gates, T* cs) {
  if (T_ <= 0 || B <= 0 || H <= 0) return;
  const int64_t G = 4 * H, BH = B * H;
  const CpuKernels& kern = kernels();
  const GemmConfig<T>& cfg = gemm_config_of<T>(kern);
  const RnnGateKernels<T>& gates_k = rnn_kernels_of<T>(kern);

  // Input projection of every step: gates (T·B × 4H) = x (T·B × I) · w_ih^T.
  gemm<T>(T_ * B, G, I, T(1), x, I, 1, w_ih, 1, I, T(0), gates, G);

  // w_hh^T (H × 4H): element (k, n) = w_hh[n, k].
  const rnn::PackedPanels<T> W(cfg, w_hh, 1, H, H, 4, H);
  const int nt = rnn::threads_for_step(B * G * H);
  const int64_t abuf_n = round_up(B, cfg.MR) * std::min<int64_t>(H, cfg.KC) + 64;
  auto abuf = rnn::aligned_buffer<T>(size_t(abuf_n * nt));

  parallel_region(nt, [&](Team& tm) {
    const int tid = tm.tid(), team = tm.size();
    const rnn::Tile tile = rnn::make_tile(tid, team, B, cfg.MR, H, cfg.NR);
    T* ab = abuf.get() + tid * abuf_n;
    for (int64_t t = 0; t < T_; ++t) {
      if (tile.active) {
        const T* hp = t == 0 ? h0 : y + (t - 1) * BH;
        const T* cp = t == 0 ? c0 : cs + (t - 1) * BH;
        T* g = gates + t * B * G;
        rnn::tile_gemm<T>(cfg, W, hp, H, tile, T(1), g, G, ab);
        const int64_t r = tile.r0, nr = tile.r1 - tile.r0;
        gates_k.lstm_fwd(nr, tile.j0, tile.j1, H, g + r * G, bias, cp + r * H,
                              cs + t * BH + r * H, y + t * BH + r * H);
      }
      if (!tile.independent) tm.barrier();
    }
  }, 2.0 * double(T_) * double(B) * double(G) * double(H));
}

template <typename T>
void lstm_backward(int64_t T_, int64_t B, int64_t I, int64_t H, const T* x, const T* h0,
                   const T* c0, const T* w_ih, const T* w_hh, const T* y, const T* gates,
                   const T* cs, const T* gy, const T* ghT, const T* gcT, T* gx, T* gh0, T* gc0,
                   T* gw_ih, T* gw_hh, T* gb) {
  const int64_t G = 4 * H, BH = B * H;
  if (T_ <= 0 || B <= 0 || H <= 0) return;  // the caller fills the trivial cases
  const CpuKernels& kern = kernels();
  const GemmConfig<T>& cfg = gemm_config_of<T>(kern);
  const RnnGateKernels<T>& gates_k = rnn_kernels_of<T>(kern);

  auto dA = rnn::aligned_buffer<T>(size_t(T_ * B * G));
  T* da = dA.get();
  // w_hh (4H × H) as the B operand of dh = dA[t] · w_hh.
  const rnn::PackedPanels<T> W(cfg, w_hh, H, 1, G, 1, H);
  const int nt = rnn::threads_for_step(B * G * H);
  const int64_t abuf_n = round_up(B, cfg.MR) * std::min<int64_t>(G, cfg.KC) + 64;
  auto abuf = rnn::aligned_buffer<T>(size_t(abuf_n * nt));
  // gh0 serves as dh (B × H) during the loop, gc0 as dc.
  T* dh = gh0;
  T* dc = gc0;

  parallel_region(nt, [&](Team& tm) {
    const int tid = tm.tid(), team = tm.size();
    const rnn::Tile tile = rnn::make_tile(tid, team, B, cfg.MR, H, cfg.NR);
    T* ab = abuf.get() + tid * abuf_n;
    const int64_t r0 = tile.r0, nr = tile.r1 - tile.r0, j0 = tile.j0, nj = tile.j1 - tile.j0;
    if (tile.active) {
      for (int64_t b = r0; b < tile.r1; ++b) {
        if (gcT) std::memcpy(dc + b * H + j0, gcT + b * H + j0, sizeof(T) * nj);
        else std::memset(dc + b * H + j0, 0, sizeof(T) * nj);
      }
    }
    for (int64_t t = T_ - 1; t >= 0; --t) {
      if (tile.active) {
        const T* gyt = gy ? gy + t * BH : nullptr;
        const T* extra = t == T_ - 1 ? ghT : nullptr;
        for (int64_t b = r0; b < tile.r1; ++b) {
          T* d = dh + b * H;
          for (int64_t j = j0; j < tile.j1; ++j)
            d[j] = (gyt ? gyt[b * H + j] : T(0)) + (extra ? extra[b * H + j] : T(0));
        }
        if (t < T_ - 1) rnn::tile_gemm<T>(cfg, W, da + (t + 1) * B * G, G, tile, T(1), dh, H, ab);
        const T* cp = t == 0 ? c0 : cs + (t - 1) * BH;
        gates_k.lstm_bwd(nr, j0, tile.j1, H, gates + t * B * G + r0 * G, cs + t * BH + r0 * H,
                              cp + r0 * H, dh + r0 * H, dc + r0 * H, da + t * B * G + r0 * G);
      }
      if (!tile.independent) tm.barrier();
    }
    // dh0 = dA[0] · w_hh (dc already holds dc0).
    if (tile.active) rnn::tile_gemm<T>(cfg, W, da, G, tile, T(0), dh, H, ab);
  }, 2.0 * double(T_) * double(B) * double(G) * double(H));

  // The input and weight gradients as two large GEMMs over all steps.
  gemm<T>(T_ * B, I, G, T(1), da, G, 1, w_ih, I, 1, T(0), gx, I);            // gx = dA · w_ih
  // gw = [gw_ih | gw_hh] (4H × (I+H)) = dA^T · [x | h_prev], one GEMM over all steps.
  {
    auto gw = rnn::aligned_buffer<T>(size_t(G * (I + H)));
    const StridedPacker<T> A(da, 1, G);
    const rnn::InputsHprevPacker<T> Bp(x, h0, y, B, I, H);
    gemm_packed<T>(G, I + H, T_ * B, T(1), A, Bp, T(0), gw.get(), I + H,
                   rnn::threads_for_gemm(G * (I + H) * T_ * B));
    for (int64_t r = 0; r < G; ++r) {
      std::memcpy(gw_ih + r * I, gw.get() + r * (I + H), sizeof(T) * I);
      std::memcpy(gw_hh + r * H, gw.get() + r * (I + H) + I, sizeof(T) * H);
    }
  }
  rnn::column_sums<T>(T_ * B, G, da, gb);
}

#define NK_INSTANTIATE(T)                                                                        \
  template void lstm_forward<T>(int64_t, int64_t, int64_t, int64_t, const T*, const T*,        \
                                const T*, const T*, const T*, const T*, T*, T*, T*);           \
  template void lstm_backward<T>(int64_t, int64_t, int64_t, int64_t, const T*, const T*,       \
                                 const T*, const T*, const T*, const T*, const T*, const T*,  \
                                 const T*, const T*, const T*, T*, T*, T*, T*, T*, T*);
NK_INSTANTIATE(float)
NK_INSTANTIATE(double)
#undef NK_INSTANTIATE

}  // namespace nk

// GRU, one layer, one direction, whole sequence: forward and backward through time.
//
// Shapes: x (T,B,I), h0 (B,H), w_ih (3H,I), w_hh (3H,H), b_ih/b_hh (3H), y (T,B,H);
// gates (T,B,3H) = r, z, n activated, hn (T,B,H) = W_hn h_{t-1} + b_hn (for the backward).
//
// Naive reference (torch.nn.GRU; tests/test_rnn.py holds it in NumPy):
//   for t in 0..T-1:
//     a = x[t] @ w_ih.T + b_ih;  u = h @ w_hh.T + b_hh               # (B, 3H) each
//     r = sigmoid(a_r + u_r);  z = sigmoid(a_z + u_z);  n = tanh(a_n + r*u_n)
//     h = (1-z)*n + z*h;  y[t] = h
//   backward, t = T-1..0 with dh = gy[t] + dh_next:
//     dn = dh(1-z)(1-n^2);  dz = dh(h_{t-1}-n) z(1-z);  dr = dn u_n r(1-r)
//     dA = [dr, dz, dn] (x side);  dU = [dr, dz, dn*r] (h side)
//     dh_next = dh*z + dU @ w_hh
//   gx = dA @ w_ih; gw_ih = dA^T x; gw_hh = dU^T [h0; y[:-1]]; gb_ih = colsum(dA); gb_hh = colsum(dU)
//
// Fast version: as lstm.cpp (one input-projection GEMM, per step one recurrent GEMM on
// pre-packed w_hh panels into a (B, 3H) buffer plus one fused gate pass, one parallel
// region with a barrier per step; backward keeps dA and dU and finishes with large GEMMs).
// Speed, 2 threads vs torch.nn.GRU, float32, `python -m nnkernels --only rnn` (quiet 2-core VM):
//   T50 B64 I64 H64: fwd 2.63x torch, fwd+bwd 3.24x;  T100 B32 I128 H256: fwd 1.83x, fwd+bwd 1.68x
#include <cstring>

#include "rnn/rnn.h"
#include "rnn/rnn_engine.h"
#include "kernels.h"

namespace nk {

template <typename T>
void gru_forward(int64_t T_, int64_t B, int64_t I, int64_t H, const T* x, const T* h0,
                 const T* w_ih, const T* w_hh, const T* b_ih, const T* b_hh, T* y, T* gates, T* hn) {
  if (T_ <= 0 || B <= 0 || H <= 0) return;
  const int64_t G = 3 * H, BH = B * H;
  const CpuKernels& kern = kernels();
  const GemmConfig<T>& cfg = gemm_config_of<T>(kern);
  const RnnGateKernels<T>& gates_k = rnn_kernels_of<T>(kern);

  gemm<T>(T_ * B, G, I, T(1), x, I, 1, w_ih, 1, I, T(0), gates, G);  // x · w_ih^T, all steps

  const rnn::PackedPanels<T> W(cfg, w_hh, 1, H, H, 3, H);             // w_hh^T (H × 3H)
  const int nt = rnn::threads_for_step(B * G * H);
  const int64_t abuf_n = round_up(B, cfg.MR) * std::min<int64_t>(H, cfg.KC) + 64;
  auto abuf = rnn::aligned_buffer<T>(size_t(abuf_n * nt));
  auto ghbuf = rnn::aligned_buffer<T>(size_t(B * G));                 // h · w_hh^T of one step
  T* gh = ghbuf.get();

  parallel_region(nt, [&](Team& tm) {
    const int tid = tm.tid(), team = tm.size();
    const rnn::Tile tile = rnn::make_tile(tid, team, B, cfg.MR, H, cfg.NR);
    T* ab = abuf.get() + tid * abuf_n;
    for (int64_t t = 0; t < T_; ++t) {
      if (tile.active) {
        const T* hp = t == 0 ? h0 : y + (t - 1) * BH;
        rnn::tile_gemm<T>(cfg, W, hp, H, tile, T(0), gh, G, ab);
        const int64_t r = tile.r0, nr = tile.r1 - tile.r0;
        T* g = gates + t * B * G + r * G;
        gates_k.gru_fwd(nr, tile.j0, tile.j1, H, g, gh + r * G, b_ih, b_hh, hp + r * H,
                             hn + t * BH + r * H, y + t * BH + r * H);
      }
      if (!tile.independent) tm.barrier();
    }
  }, 2.0 * double(T_) * double(B) * double(G) * double(H));
}

template <typename T>
void gru_backward(int64_t T_, int64_t B, int64_t I, int64_t H, const T* x, const T* h0,
                  const T* w_ih, const T* w_hh, const T* y, const T* gates, const T* hn,
                  const T* gy, const T* ghT, T* gx, T* gh0, T* gw_ih, T* gw_hh, T* gb_ih,
                  T* gb_hh) {
  if (T_ <= 0 || B <= 0 || H <= 0) return;
  const int64_t G = 3 * H, BH = B * H;
  const CpuKernels& kern = kernels();
  const GemmConfig<T>& cfg = gemm_config_of<T>(kern);
  const RnnGateKernels<T>& gates_k = rnn_kernels_of<T>(kern);

  auto dAbuf = rnn::aligned_buffer<T>(size_t(T_ * B * G));
  auto dUbuf = rnn::aligned_buffer<T>(size_t(T_ * B * G));
  T* dA = dAbuf.get();
  T* dU = dUbuf.get();
  const rnn::PackedPanels<T> W(cfg, w_hh, H, 1, G, 1, H);             // w_hh (3H × H)
  const int nt = rnn::threads_for_step(B * G * H);
  const int64_t abuf_n = round_up(B, cfg.MR) * std::min<int64_t>(G, cfg.KC) + 64;
  auto abuf = rnn::aligned_buffer<T>(size_t(abuf_n * nt));
  T* dh = gh0;  // dh (B × H) lives in the output during the loop

  parallel_region(nt, [&](Team& tm) {
    const int tid = tm.tid(), team = tm.size();
    const rnn::Tile tile = rnn::make_tile(tid, team, B, cfg.MR, H, cfg.NR);
    T* ab = abuf.get() + tid * abuf_n;
    const int64_t r0 = tile.r0, nr = tile.r1 - tile.r0, j0 = tile.j0, j1 = tile.j1;
    if (tile.active) {
      for (int64_t b = r0; b < tile.r1; ++b) {
        if (ghT) std::memcpy(dh + b * H + j0, ghT + b * H + j0, sizeof(T) * (j1 - j0));
        else std::memset(dh + b * H + j0, 0, sizeof(T) * (j1 - j0));
      }
    }
    for (int64_t t = T_ - 1; t >= 0; --t) {
      if (tile.active) {
        if (gy) {  // dh (holding dh_next ∘ z) += gy[t]
          const T* g = gy + t * BH;
          for (int64_t b = r0; b < tile.r1; ++b)
            for (int64_t j = j0; j < j1; ++j) dh[b * H + j] += g[b * H + j];
        }
        if (t < T_ - 1) rnn::tile_gemm<T>(cfg, W, dU + (t + 1) * B * G, G, tile, T(1), dh, H, ab);
        const T* hp = t == 0 ? h0 : y + (t - 1) * BH;
        gates_k.gru_bwd(nr, j0, j1, H, gates + t * B * G + r0 * G, hn + t * BH + r0 * H,
                             hp + r0 * H, dh + r0 * H, dA + t * B * G + r0 * G, dU + t * B * G + r0 * G);
      }
      if (!tile.independent) tm.barrier();
    }
    // dh0 = dh ∘ z (already in dh) + dU[0] · w_hh.
    if (tile.active) rnn::tile_gemm<T>(cfg, W, dU, G, tile, T(1), dh, H, ab);
  }, 2.0 * double(T_) * double(B) * double(G) * double(H));

  gemm<T>(T_ * B, I, G, T(1), dA, G, 1, w_ih, I, 1, T(0), gx, I);            // gx = dA · w_ih
  gemm<T>(G, I, T_ * B, T(1), dA, 1, G, x, I, 1, T(0), gw_ih, I);            // gw_ih = dA^T · x
  gemm<T>(G, H, B, T(1), dU, 1, G, h0, H, 1, T(0), gw_hh, H);                // gw_hh = dU[0]^T h0
  if (T_ > 1) gemm<T>(G, H, (T_ - 1) * B, T(1), dU + B * G, 1, G, y, H, 1, T(1), gw_hh, H);
  rnn::column_sums<T>(T_ * B, G, dA, gb_ih);
  rnn::column_sums<T>(T_ * B, G, dU, gb_hh);
}

#define NK_INSTANTIATE(T)                                                                        \
  template void gru_forward<T>(int64_t, int64_t, int64_t, int64_t, const T*, const T*,         \
                               const T*, const T*, const T*, const T*, T*, T*, T*);            \
  template void gru_backward<T>(int64_t, int64_t, int64_t, int64_t, const T*, const T*,        \
                                const T*, const T*, const T*, const T*, const T*, const T*,   \
                                const T*, T*, T*, T*, T*, T*, T*);
NK_INSTANTIATE(float)
NK_INSTANTIATE(double)
#undef NK_INSTANTIATE

}  // namespace nk

// The time-loop machinery LSTM and GRU share (generic code; never include from *_avx2.cpp).
//
// A step's recurrent product C(B × N) (+)= A(B × K) · W(K × N) runs on the GEMM
// micro-kernel directly: W is packed once per sequence into NR-column micro-panels
// (per gate, so a hidden slice's panels of all gates sit side by side), A is packed
// per step by each thread for its rows only. The sequence runs in ONE parallel region;
// each thread owns a fixed (row range × hidden slice) tile for all steps: it computes
// the GEMM columns of every gate of its hidden units, applies the fused gate pass to
// exactly that tile, and meets the others at one barrier per step — or never, when the
// batch is split by rows alone (make_tile).
#pragma once

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "common.h"
#include "runtime/threads.h"
#include "gemm/gemm.h"

namespace nk {
namespace rnn {

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

template <typename T>
std::unique_ptr<T, FreeDeleter> aligned_buffer(size_t n) {
  void* p = std::aligned_alloc(64, std::max<size_t>(64, (n * sizeof(T) + 63) & ~size_t(63)));
  if (!p) throw std::bad_alloc();
  return std::unique_ptr<T, FreeDeleter>(static_cast<T*>(p));
}

// W (K × ngates·Hg), element (k, n) at w[k*rs + n*cs], packed as micro-panels per
// k-block kb (KC rows) and per gate q and strip s (NR columns of that gate's Hg).
template <typename T>
struct PackedPanels {
  std::unique_ptr<T, FreeDeleter> buf;
  int64_t K = 0, Hg = 0, ngates = 0, nstrips = 0, KC = 0;
  int NR = 0;
  PackedPanels(const GemmConfig<T>& cfg, const T* w, int64_t rs, int64_t cs, int64_t K_,
               int64_t ngates_, int64_t Hg_)
      : K(K_), Hg(Hg_), ngates(ngates_), nstrips(ceil_div(Hg_, cfg.NR)), KC(cfg.KC), NR(cfg.NR) {
    buf = aligned_buffer<T>(size_t(K * ngates * nstrips * NR));
    for (int64_t k0 = 0; k0 < K; k0 += KC) {
      const int64_t kc = std::min(KC, K - k0);
      for (int64_t q = 0; q < ngates; ++q) {
        StridedPacker<T> P(w + q * Hg * cs, rs, cs);
        P.pack_b(panel(k0, q, 0), k0, kc, 0, Hg, NR);
      }
    }
  }
  // Panel (gate q, strip s) of the k-block starting at row k0.
  const T* panel(int64_t k0, int64_t q, int64_t s) const {
    const int64_t kc = std::min(KC, K - k0);
    return buf.get() + k0 * ngates * nstrips * NR + (q * nstrips + s) * kc * NR;
  }
  T* panel(int64_t k0, int64_t q, int64_t s) {
    return const_cast<T*>(static_cast<const PackedPanels*>(this)->panel(k0, q, s));
  }
};

// One thread's fixed tile of the per-step work.
struct Tile {
  bool active = false;
  bool independent = false;  // rows-only split: no barrier between steps (same for the whole team)
  int64_t r0 = 0, r1 = 0;  // rows (batch), a multiple of MR apart except at the end
  int64_t s0 = 0, s1 = 0;  // NR-strips of the hidden units
  int64_t j0 = 0, j1 = 0;  // hidden units [j0, j1)
};

// Split rows × strips over nt threads. A batch row's recurrence reads only that row of h
// (and of dA going backward), so when there is at least one MR-row panel per thread the
// threads split the rows alone, own every hidden unit of their rows, and run the whole
// sequence without meeting (independent: no per-step barrier, no A panel packed twice).
// Smaller batches split the strips first (each thread owns whole hidden units of every
// gate, all rows) and meet at one barrier per step.
inline Tile make_tile(int tid, int nt, int64_t rows, int MR, int64_t H, int NR) {
  Tile t;
  const int64_t nstrips = ceil_div(H, NR), npanels = ceil_div(rows, MR);
  t.independent = nt == 1 || npanels >= nt;
  const int64_t nts = t.independent ? 1 : std::max<int64_t>(1, std::min<int64_t>(nt, nstrips));
  const int64_t ntr = std::max<int64_t>(1, std::min<int64_t>(nt / nts, npanels));
  if (tid >= nts * ntr) return t;
  const int64_t ts = tid % nts, tr = tid / nts;
  t.s0 = nstrips * ts / nts, t.s1 = nstrips * (ts + 1) / nts;
  const int64_t p0 = npanels * tr / ntr, p1 = npanels * (tr + 1) / ntr;
  t.r0 = std::min(rows, p0 * MR), t.r1 = std::min(rows, p1 * MR);
  t.j0 = std::min(H, t.s0 * NR), t.j1 = std::min(H, t.s1 * NR);
  t.active = t.r1 > t.r0 && t.j1 > t.j0;
  return t;
}

// Threads for a sequence whose step costs `macs` multiply-adds: one below ~32k (the
// barrier and the fork cost more than the split saves), else all of them.
inline int threads_for_step(int64_t macs) {
  return macs < (int64_t(1) << 15) ? 1 : num_threads();
}

// C[r0:r1, gate q cols of strips s0:s1] := A[r0:r1, :] · W (+ beta·C), for every gate.
// A (rows × K) row stride lda; C row stride ldc, gate q's columns start at q*Hg.
// abuf: scratch of round_up(r1-r0, MR) * min(K, KC) elements.
template <typename T>
void tile_gemm(const GemmConfig<T>& cfg, const PackedPanels<T>& W, const T* A, int64_t lda,
               const Tile& t, T beta, T* C, int64_t ldc, T* abuf) {
  const int MR = cfg.MR, NR = cfg.NR;
  const int64_t m = t.r1 - t.r0;
  StridedPacker<T> PA(A, lda, 1);
  for (int64_t k0 = 0; k0 < W.K; k0 += W.KC) {
    const int64_t kc = std::min(W.KC, W.K - k0);
    const T b = k0 == 0 ? beta : T(1);
    PA.pack_a(abuf, t.r0, m, k0, kc, MR);
    for (int64_t q = 0; q < W.ngates; ++q) {
      for (int64_t s = t.s0; s < t.s1; ++s) {
        const T* bp = W.panel(k0, q, s);
        const int n = int(std::min<int64_t>(NR, W.Hg - s * NR));
        T* cb = C + t.r0 * ldc + q * W.Hg + s * NR;
        for (int64_t r = 0; r * MR < m; ++r) {
          const int mr = int(std::min<int64_t>(MR, m - r * MR));
          cfg.ukernel(kc, abuf + r * kc * MR, bp, cb + r * MR * ldc, ldc, mr, n, T(1), b);
        }
      }
    }
  }
}

// The matrix [x | h_prev] (T·B × (I+H)) of a sequence, read in place: row k holds x row k
// and h_{k/B - 1} row k%B (h0 for the first B rows, then y). The weight gradients of
// both w_ih and w_hh are then one GEMM: dA^T · [x | h_prev].
template <typename T>
struct InputsHprevPacker final : Packer<T> {
  const T *x, *h0, *y;
  int64_t B, I, H;
  InputsHprevPacker(const T* x_, const T* h0_, const T* y_, int64_t B_, int64_t I_, int64_t H_)
      : x(x_), h0(h0_), y(y_), B(B_), I(I_), H(H_) {}
  T at(int64_t k, int64_t j) const {
    if (j < I) return x[k * I + j];
    return k < B ? h0[k * H + j - I] : y[(k - B) * H + j - I];
  }
  void pack_a(T* dst, int64_t i0, int64_t mc, int64_t k0, int64_t kc, int MR) const override {
    for (int64_t r0 = 0; r0 < mc; r0 += MR, dst += kc * MR)
      for (int64_t q = 0; q < kc; ++q)
        for (int i = 0; i < MR; ++i) dst[q * MR + i] = r0 + i < mc ? at(i0 + r0 + i, k0 + q) : T(0);
  }
  void pack_b(T* dst, int64_t k0, int64_t kc, int64_t j0, int64_t nc, int NR) const override {
    for (int64_t s0 = 0; s0 < nc; s0 += NR, dst += kc * NR) {
      const int64_t nr = std::min<int64_t>(NR, nc - s0);
      for (int64_t q = 0; q < kc; ++q) {
        const int64_t k = k0 + q;
        const T* xr = x + k * I;
        const T* hr = (k < B ? h0 + k * H : y + (k - B) * H) - I;
        T* d = dst + q * NR;
        int64_t jj = 0;
        for (; jj < nr && j0 + s0 + jj < I; ++jj) d[jj] = xr[j0 + s0 + jj];
        for (; jj < nr; ++jj) d[jj] = hr[j0 + s0 + jj];
        for (; jj < NR; ++jj) d[jj] = T(0);
      }
    }
  }
};

// Threads for a plain product of M·N·K multiply-adds (as nk::gemm chooses).
inline int threads_for_gemm(int64_t macs) { return macs < 64 * 64 * 64 ? 1 : num_threads(); }

// out[n] = sum over rows of a (rows × N, contiguous), in parallel over column blocks.
template <typename T>
void column_sums(int64_t rows, int64_t N, const T* a, T* out) {
  const int64_t cb = 256;
  const int64_t nblk = ceil_div(N, cb);
  const int nt = rows * N < (int64_t(1) << 16) ? 1 : num_threads();
  parallel_for_each(nblk, nt > 1 ? nt : 1, [&](int64_t blk) {
    const int64_t n0 = blk * cb, n1 = std::min(N, n0 + cb);
    T acc[256];
    for (int64_t n = n0; n < n1; ++n) acc[n - n0] = T(0);
    for (int64_t r = 0; r < rows; ++r) {
      const T* row = a + r * N;
      for (int64_t n = n0; n < n1; ++n) acc[n - n0] += row[n];
    }
    for (int64_t n = n0; n < n1; ++n) out[n] = acc[n - n0];
  });
}

}  // namespace rnn
}  // namespace nk

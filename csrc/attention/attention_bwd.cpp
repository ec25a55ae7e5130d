// Scaled dot-product attention, backward (FlashAttention-2 style): the scores are
// recomputed tile by tile from the saved log-sum-exp, never stored whole.
//
//   dout, out (nb, Lq, Dv), lse (nb, Lq), q, k, v as in the forward
//   -> gq (nb, Lq, D), gk (nb, Lk, D), gv (nb, Lk, Dv)
//
// With P = exp(scale·QK^T + mask − lse), Dvec_i = rowsum(dO ∘ O)_i:
//   dV = P^T dO,  dP = dO V^T,  dS = P ∘ (dP − Dvec),  dK = scale·dS^T Q,  dQ = scale·dS K.
// Parallel over nb × kv-blocks (BK keys, dynamic chunks of nkv/4 blocks, or of whole
// items when nb >= 4 per thread), so each dK, dV block is owned by one thread and
// accumulated in place in gk, gv. For the
// q-blocks (BQ queries) of each kv-block, all in the transposed tile layout of the forward
// (BQ, BK, NR: the path's AttnKernels entry, as in the forward):
//   S^T = K_blk Q^T -> P^T (attn_probs),  dV_blk += P^T dO,  dP^T = V_blk dO^T,
//   dS^T (attn_dscores, scale folded in),  dK_blk += dS^T Q,  dQ_q += dS K_blk.
// dQ goes to a per-thread private buffer (Lq × D) for the batch item in hand, added into
// gq under a lock when the thread moves to another item (at most once per chunk).
// Per-thread scratch: Q^T, dO^T, dQ of one item (O(Lq·(D + Dv))) and two BK × BQ tiles.
// Causal: a kv-block starting at key j0 only meets queries i >= j0.
//
// Measured forward + backward vs torch SDPA + autograd (float32, 2 threads, loaded dev box,
// `python -m nnkernels --only attention`, three runs): B8 H8 L256 D64 1.77–2.10×,
// B4 H8 L1024 D64 1.15–1.20×.
#include <algorithm>
#include <atomic>
#include <mutex>
#include <cmath>
#include <limits>

#include "attention/attention_impl.h"
#include "runtime/threads.h"

namespace nk {
namespace {

thread_local Scratch tl_bwd_scratch;

}  // namespace

template <typename T>
void attention_backward(const AttnProblem<T>& p, const T* dout, const T* out, const T* lse,
                        T* gq, T* gk, T* gv) {
  const int64_t nb = p.nb, Lq = p.Lq, Lk = p.Lk, D = p.D, Dv = p.Dv;
  if (nb == 0 || Lk == 0) return;
  if (Lq == 0) {
    std::fill(gk, gk + nb * Lk * D, T(0));
    std::fill(gv, gv + nb * Lk * Dv, T(0));
    return;
  }
  const AttnKernels<T>& kern = attn_kernels<T>();
  const int64_t BQ = kern.bq, BK = kern.bk, NR = kern.nr;
  const int64_t nkv = ceil_div(Lk, BK);
  const int64_t items = nb * nkv;
  // Row stride of Q^T and dO^T: Lq padded to NR, plus NR when that is a multiple of 512 B,
  // so the rows of a B panel (one cache line pair per k) do not all fall in one L1 set.
  const int64_t LqP = round_up(Lq, NR) + ((round_up(Lq, NR) * int64_t(sizeof(T))) % 512 == 0 ? NR : 0);
  const int64_t work = nb * Lq * Lk * (2 * D + 2 * Dv + 8);
  const int nt = int(std::max<int64_t>(1, std::min<int64_t>({int64_t(num_threads()), items, work >> 20})));

  // Dynamic chunks of consecutive kv-blocks of one item: robust to a slow thread, and a
  // thread changes batch item (repack + flush, O(Lq·D)) at most once per chunk. With
  // enough items to balance (nb >= 4 per thread) a chunk is a whole item, so each item
  // is repacked and flushed once in all (at L = 256 the repack is ~10% of an item's work).
  const int64_t chunk = nb >= 4 * int64_t(nt) ? nkv : std::max<int64_t>(1, nkv / 4);
  std::atomic<int64_t> next_item{0};
  std::mutex dq_mu;  // guards the dQ flushes into gq
  parallel_region(nt, [&](Team&) {
    T* QT = tl_bwd_scratch.get<T>((D + Dv) * LqP + Lq * D + 2 * LqP + 2 * BK * BQ);
    T* dOT = QT + D * LqP;
    T* dQ = dOT + Dv * LqP;
    T* lsea = dQ + Lq * D;
    T* dvec = lsea + LqP;
    T* ST = dvec + LqP;
    T* dPT = ST + BK * BQ;
    const T inf = std::numeric_limits<T>::infinity();

    auto flush = [&](int64_t b) {
      T* g = gq + b * Lq * D;
      std::lock_guard<std::mutex> lock(dq_mu);
      for (int64_t x = 0; x < Lq * D; ++x) g[x] += dQ[x];
    };

    int64_t cur = -1;
    for (int64_t c0; (c0 = next_item.fetch_add(chunk)) < items;)
    for (int64_t item = c0; item < std::min(items, c0 + chunk); ++item) {
      const int64_t b = item / nkv, j0 = (item % nkv) * BK, kb = std::min(BK, Lk - j0);
      const T* Q = p.q + p.q_off[b];
      const T* K = p.k + p.k_off[b];
      const T* V = p.v + p.v_off[b];
      const T* dO = dout + b * Lq * Dv;
      if (b != cur) {
        if (cur >= 0) flush(cur);
        cur = b;
        const T* Ob = out + b * Lq * Dv;
        kern.transpose(Lq, D, Q, p.ldq, QT, LqP);
        kern.transpose(Lq, Dv, dO, Dv, dOT, LqP);
        for (int64_t d = 0; d < D; ++d) std::fill(QT + d * LqP + Lq, QT + (d + 1) * LqP, T(0));
        for (int64_t d = 0; d < Dv; ++d) std::fill(dOT + d * LqP + Lq, dOT + (d + 1) * LqP, T(0));
        for (int64_t i = 0; i < LqP; ++i) {
          T acc = 0;
          if (i < Lq)
            for (int64_t d = 0; d < Dv; ++d) acc += dO[i * Dv + d] * Ob[i * Dv + d];
          dvec[i] = acc;
          // Queries that saw no key (lse = −inf) and padding get P = exp(... − inf) = 0.
          lsea[i] = i < Lq && std::isfinite(lse[b * Lq + i]) ? lse[b * Lq + i] : inf;
        }
        std::fill(dQ, dQ + Lq * D, T(0));
      }
      T* gkb = gk + (b * Lk + j0) * D;
      T* gvb = gv + (b * Lk + j0) * Dv;
      std::fill(gkb, gkb + kb * D, T(0));
      std::fill(gvb, gvb + kb * Dv, T(0));

      const int64_t qstart = p.causal ? (j0 / NR) * NR : 0;
      for (int64_t i0 = qstart; i0 < Lq; i0 += BQ) {
        const int64_t qb = std::min(BQ, Lq - i0);
        const int64_t nqp = round_up(qb, NR), nq8 = round_up(qb, 8);
        for (int64_t pn = 0; pn < nqp; pn += NR)  // S^T = K Q^T
          kern.tile(D, K + j0 * p.ldk, p.ldk, 1, int(kb), QT + i0 + pn, LqP, int(NR), ST + pn, BQ,
                    nullptr, false);
        const bool prep = p.mask_kind != AttnMask::none || (p.causal && j0 + kb - 1 > i0);
        if (prep) attn_prepare_tile(p, b, i0, qb, j0, kb, ST, BQ);
        kern.probs(kb, nq8, ST, BQ, prep ? T(1) : p.scale, lsea + i0);
        for (int64_t d0 = 0; d0 < Dv; d0 += NR)  // dV += P^T dO
          kern.tile(qb, ST, BQ, 1, int(kb), dO + i0 * Dv + d0, Dv,
                    int(std::min<int64_t>(NR, Dv - d0)), gvb + d0, Dv, nullptr, true);
        for (int64_t pn = 0; pn < nqp; pn += NR)  // dP^T = V dO^T
          kern.tile(Dv, V + j0 * p.ldv, p.ldv, 1, int(kb), dOT + i0 + pn, LqP, int(NR), dPT + pn, BQ,
                    nullptr, false);
        kern.dscores(kb, nq8, ST, BQ, dPT, BQ, dvec + i0, p.scale);
        for (int64_t d0 = 0; d0 < D; d0 += NR) {
          const int n = int(std::min<int64_t>(NR, D - d0));
          kern.tile(qb, dPT, BQ, 1, int(kb), Q + i0 * p.ldq + d0, p.ldq, n, gkb + d0, D, nullptr,
                    true);                                                     // dK += dS^T Q
          kern.tile(kb, dPT, 1, BQ, int(qb), K + j0 * p.ldk + d0, p.ldk, n, dQ + i0 * D + d0, D,
                    nullptr, true);                                            // dQ += dS K
        }
      }
    }
    if (cur >= 0) flush(cur);
  }, 2.0 * double(work));
}

template void attention_backward<float>(const AttnProblem<float>&, const float*, const float*,
                                        const float*, float*, float*, float*);
template void attention_backward<double>(const AttnProblem<double>&, const double*, const double*,
                                         const double*, double*, double*, double*);

}  // namespace nk

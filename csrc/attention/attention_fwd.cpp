// Scaled dot-product attention, forward: fused and tiled with an online softmax
// (FlashAttention-2 style); the Lq×Lk score matrix is never formed.
//
//   q (nb, Lq, D), k (nb, Lk, D), v (nb, Lk, Dv) -> out (nb, Lq, Dv), lse (nb, Lq)
//
// Block sizes and the register tile come from the path's AttnKernels entry (kernels.h):
// BQ = BK = 96 on every path; NR = 16 (generic, avx2) or 32 (avx512) columns per tile call.
// Parallel over nb × q-blocks (BQ queries, dynamic schedule). Per thread, scratch of
// O(BQ·(D + Dv) + BK·BQ): Q^T of the block (D × BQ), one transposed score tile
// S^T (BK × BQ), the output accumulator O (BQ × Dv) and the running max m, sum l.
// For each kv-block of BK keys:
//   S^T = K_blk · Q^T              attn_tile, A = K rows (broadcast), B = Q^T rows
//   (mask / causal: scale, add the mask, −inf where hidden; done only on tiles that need it)
//   online softmax per column i    attn_softmax_update (vertical SIMD over 8 or 16 queries)
//   O = diag(alpha) · O + P · V    attn_tile, A(i, j) = S^T[j, i], B = V rows, rescale fused
// then out = O / l, lse = m + log l. Causal (top-left: key j seen by query i iff j <= i):
// kv-blocks wholly after the block's last query are skipped, and only the tiles that
// straddle the diagonal are masked. No operand is packed except the small Q^T block.
//
// Measured (float32, 2 threads, torch 2.13 SDPA with the same threads, interleaved in one
// run; `python -m nnkernels --only attention`) on the 2-core Zen3 dev box while ~5 other
// jobs loaded it (absolute GFLOP/s are a third of a quiet machine's; ratios are the point):
//   B8 H8 L256 D64 1.07–1.26×, B4 H8 L1024 D64 1.12–1.35× (causal 1.39–1.60×),
//   B1 H8 L4096 D64 1.13–1.19× (three runs).
// Single-thread CPU time (time.thread_time, less sensitive to the load): 1.08×, 1.14×.
// (Those are the avx2 path's; the avx512 path's figures: attention_kernels_avx512.cpp.)
// Peak extra memory at B1 H8 L4096 D64 (`python -m nnkernels.bench.attention --memory`):
// 0.21 MiB beyond the 8 MiB output = 0.003 of one L×L fp32 matrix (torch: 1.7–1.8 MiB);
// per-thread scratch is (D·BQ + BK·BQ + BQ·Dv + 3·BQ)·4 B = 87 KiB at D = Dv = 64.
#include <algorithm>
#include <cmath>
#include <limits>

#include "attention/attention_impl.h"
#include "runtime/threads.h"

namespace nk {
namespace {

thread_local Scratch tl_fwd_scratch;

template <typename T>
void forward_block(const AttnProblem<T>& p, const AttnKernels<T>& kern, int64_t b, int64_t q0,
                   int64_t qb, T* out, T* lse) {
  const int64_t BQ = kern.bq, BK = kern.bk, NR = kern.nr, D = p.D, Dv = p.Dv;
  const int64_t Dvp = round_up(std::max<int64_t>(Dv, 1), NR);
  T* QT = tl_fwd_scratch.get<T>(D * BQ + BK * BQ + BQ * Dvp + 3 * BQ);
  T* ST = QT + D * BQ;
  T* O = ST + BK * BQ;
  T* mrow = O + BQ * Dvp;
  T* lrow = mrow + BQ;
  T* alpha = lrow + BQ;
  const T* Q = p.q + p.q_off[b];
  const T* K = p.k + p.k_off[b];
  const T* V = p.v + p.v_off[b];
  const int64_t nqp = round_up(qb, NR), nq8 = round_up(qb, 8);

  // Q^T of the block, zero-padded to a multiple of NR queries.
  kern.transpose(qb, D, Q + q0 * p.ldq, p.ldq, QT, BQ);
  for (int64_t d = 0; d < D; ++d) std::fill(QT + d * BQ + qb, QT + d * BQ + nqp, T(0));
  std::fill(mrow, mrow + BQ, -std::numeric_limits<T>::infinity());
  std::fill(lrow, lrow + BQ, T(0));
  std::fill(O, O + BQ * Dvp, T(0));

  const int64_t kend = p.causal ? std::min(p.Lk, q0 + qb) : p.Lk;
  for (int64_t j0 = 0; j0 < kend; j0 += BK) {
    const int64_t kb = std::min(BK, kend - j0);
    for (int64_t pn = 0; pn < nqp; pn += NR)
      kern.tile(D, K + j0 * p.ldk, p.ldk, 1, int(kb), QT + pn, BQ, int(NR), ST + pn, BQ, nullptr, false);
    const bool prep = p.mask_kind != AttnMask::none || (p.causal && j0 + kb - 1 > q0);
    if (prep) attn_prepare_tile(p, b, q0, qb, j0, kb, ST, BQ);
    kern.softmax_update(kb, nq8, ST, BQ, prep ? T(1) : p.scale, mrow, lrow, alpha);
    for (int64_t d0 = 0; d0 < Dv; d0 += NR)
      kern.tile(kb, ST, 1, BQ, int(qb), V + j0 * p.ldv + d0, p.ldv,
                int(std::min<int64_t>(NR, Dv - d0)), O + d0, Dvp, alpha, true);
  }

  for (int64_t i = 0; i < qb; ++i) {
    // l = 0: the query saw no key (output 0, lse -inf); l NaN: a NaN/Inf score (NaN, as torch).
    const T l = lrow[i];
    const T inv = l > T(0) ? T(1) / l : l == T(0) ? T(0) : l;
    T* orow = out + ((b * p.Lq) + q0 + i) * Dv;
    for (int64_t d = 0; d < Dv; ++d) orow[d] = O[i * Dvp + d] * inv;
    lse[b * p.Lq + q0 + i] = l > T(0) ? mrow[i] + std::log(l) : l == T(0) ? -std::numeric_limits<T>::infinity() : l;
  }
}

}  // namespace

template <typename T>
void attention_forward(const AttnProblem<T>& p, T* out, T* lse) {
  if (p.nb == 0 || p.Lq == 0) return;
  const AttnKernels<T>& kern = attn_kernels<T>();
  const int64_t BQ = kern.bq;
  const int64_t nqb = ceil_div(p.Lq, BQ);
  const int64_t items = p.nb * nqb;
  // One thread per ~2 Mflop at least: waking a team costs more than small problems take.
  const int64_t work = p.nb * p.Lq * std::max<int64_t>(p.Lk, 1) * (p.D + p.Dv + 8);
  const int nt = int(std::max<int64_t>(1, std::min<int64_t>({int64_t(num_threads()), items, work >> 20})));
  parallel_for_each_dynamic(items, nt, [&](int64_t it) {
    const int64_t b = it / nqb, q0 = (it % nqb) * BQ;
    forward_block(p, kern, b, q0, std::min(BQ, p.Lq - q0), out, lse);
  });
}

template void attention_forward<float>(const AttnProblem<float>&, float*, float*);
template void attention_forward<double>(const AttnProblem<double>&, double*, double*);

}  // namespace nk

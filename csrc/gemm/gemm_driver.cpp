// GEMM macro loops (BLIS's five loops) on the thread runtime, the block-size table, batching.
//
//   for jc in N step NC:            B panel KC×NC, shared by all threads
//     for pc in K step KC:          pack B panel (threads split its NR-strips); the blocks
//                                   of K are of equal size (balanced_kc), at most KC
//       for (ic, chunk) items:      one A block (≤ MC rows) × KC per item, packed by the
//                                   thread that runs it (or read in place, a_in_place)
//         for jr in chunk strips:   B micro-panel KC×NR stays in L1
//           for ir in MC step MR:   micro-kernel on an MR×NR tile of C
//
// That is BLIS's order (A block in L2, B panel in L3), the avx2 and generic tables' one.
// A table may set rows_outer (GemmConfig) to swap the two innermost loops: an A
// micro-panel stays in L1 and the B micro-panels stream from a B panel sized for L2.
// On the avx512 path (8×32 tile, row-major C 128 bytes a tile row) that order runs the
// kernel at 88-97 % of the FMA loop where BLIS's ran it at 78-81 % (66-69 against 60-62 %
// on a slow spell of the host; benchmarks/gemm_loop_orders.cpp), and the one-thread GEMM
// at 0.93-1.03× torch.mm (RESULTS.md, "GEMM, one thread"): consecutive tiles share their
// 8 rows of C (the same pages and lines) instead of moving 8 rows down, and the L1 keeps
// 8 KiB of A instead of 32 KiB of B. In that order a row-major A is read in place by the
// table's ukernel_rows, unpacked, unless its row stride is a multiple of 4 KiB (a_in_place).
//
// Work split: the M blocks are resized so their count is a multiple of the thread
// count (in the rows_outer order, cut finer: up to 16 a thread); when M is too small for
// that (M <= MC), the NR-strips of each B panel are split into chunks instead, so skinny
// products still use every core. By rows, the threads claim the items one at a time from
// a counter per pass; the strip chunks are dealt out statically, as the packing splits the
// strips. Products under ~80³ run on one thread (the fork costs more than it saves).

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <memory>

#include "gemm/gemm.h"
#include "kernels.h"
#include "runtime/threads.h"

namespace nk {
namespace {

thread_local Scratch tl_apack;
thread_local Scratch tl_bpack;

}  // namespace

// The block sizes and micro-kernel of each path live in its kernel table (csrc/isa/).
template <typename T>
const GemmConfig<T>& gemm_config() { return gemm_config_of<T>(kernels()); }
template const GemmConfig<float>& gemm_config<float>();
template const GemmConfig<double>& gemm_config<double>();

namespace {

template <typename T>
void scale_c(int64_t M, int64_t N, T beta, T* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == T(0) ? T(0) : beta * C[i * ldc + j];
}

// Ask for the next C tile one micro-kernel call ahead (C is far from L1 and each
// call reads or writes it only at its end).
template <typename T>
inline void prefetch_rows(const T* c, int64_t rows, int64_t ldc, int n) {
  for (int64_t i = 0; i < rows; ++i) {
    __builtin_prefetch(c + i * ldc, 1);
    __builtin_prefetch(c + i * ldc + n - 1, 1);
  }
}

// When M gives every thread an A block, the blocks are claimed from a counter per (jc, pc)
// pass, so the faster thread does more of them: the two vCPUs of a VM here often run at
// different speeds (two FMA loops at once read 170 and 116-136 GFLOP/s), and a static
// split then waits for the slower one at every pass's barrier. In the rows_outer order
// the A block is not reused across items, so the M blocks are cut finer, up to
// kItemsPerThread a thread. A/B (2 threads, in one process, median of 12 rounds): against
// torch.mm, 0.85-0.86× with the static split, 0.92-0.98× with 16 items a thread, at
// n = 768-2048. A smaller M splits the B panel's strips instead, statically: each thread
// then computes on the strips it packed itself (claimed at random, half the strips came
// from the other core's L2, and 64×4096×64 and 128³ ran at 0.79× and 0.76× the static
// split, medians of 5 rounds).
constexpr int64_t kItemsPerThread = 16;

// The k-block: at most KC, and the same for every block of K (K = 288 with KC = 256 runs
// two blocks of 144, not 256 + 32: a thin last block pays the C-tile update of a whole one).
inline int64_t balanced_kc(int64_t K, int64_t KC) { return ceil_div(K, ceil_div(K, KC)); }

// With rows_outer, a row-major A can be read in place: the 8 rows of a micro-panel, KC
// long, are loaded into L1 by the first strip and reused by the rest, so packing A only
// copies it. Measured on the Xeon (avx512, A/B in one process through a switch since
// removed): 1.02-1.03× at n = 768, 1000, 1280, 1536, 2000 on one thread, 1.02-1.07× on
// two, and 0.97-0.99× when the row stride is a multiple of 4 KiB (n = 512, 1024, 2048):
// then all 8 rows fall in the same L1 sets, and those A are packed as before.
template <typename T>
inline bool a_in_place(int64_t lda) { return (std::abs(lda) * int64_t(sizeof(T))) % 4096 != 0; }

// One thread's share of the loops; it meets the rest of its team at the barriers (a team
// of one, when the product runs on one thread, never waits).
template <typename T>
void gemm_thread(Team& team, const GemmConfig<T>& cfg, int64_t M, int64_t N, int64_t K,
                 T alpha, const Packer<T>& A, const Packer<T>& B, T beta, T* C, int64_t ldc,
                 T* Bbuf, int64_t mc, int64_t nbm, int64_t nchunks,
                 std::atomic<int64_t>* next) {
  const int tid = team.tid(), nt = team.size();
  const int MR = cfg.MR, NR = cfg.NR;
  const int64_t KC = balanced_kc(K, cfg.KC), kc_max = std::min(K, KC);
  T* Abuf = tl_apack.get<T>(size_t(round_up(mc, MR) * kc_max));
  const int64_t nitems = nbm * nchunks;
  const T* arm = nullptr;  // A read in place (see a_in_place)
  int64_t lda = 0;
  if (cfg.rows_outer && cfg.ukernel_rows) arm = A.row_major(&lda);
  if (arm && !a_in_place<T>(lda)) arm = nullptr;

  int64_t phase = 0;  // (jc, pc) pass: its items are claimed from next[phase]
  for (int64_t jc = 0; jc < N; jc += cfg.NC) {
    const int64_t nc = std::min<int64_t>(cfg.NC, N - jc);
    const int64_t nstrips = ceil_div(nc, NR);
    for (int64_t pc = 0; pc < K; pc += KC, ++phase) {
      const int64_t kc = std::min<int64_t>(KC, K - pc);
      const T beta_eff = pc == 0 ? beta : T(1);

      {  // each thread packs a contiguous range of the panel's strips
        const int64_t s0 = nstrips * tid / nt, s1 = nstrips * (tid + 1) / nt;
        if (s1 > s0)
          B.pack_b(Bbuf + s0 * kc * NR, pc, kc, jc + s0 * NR, std::min(nc, s1 * NR) - s0 * NR, NR);
      }
      team.barrier();

      int64_t packed_ib = -1;
      // The next item: the team's next (by rows), else every nt-th from the thread's own.
      auto claim = [&](int64_t done) {
        if (nt == 1) return done + 1;
        if (next) return next[phase].fetch_add(1, std::memory_order_relaxed);
        return done < 0 ? int64_t(tid) : done + nt;
      };
      for (int64_t it = claim(-1); it < nitems; it = claim(it)) {
        const int64_t ib = it / nchunks, ch = it % nchunks;
        const int64_t i0 = ib * mc;
        const int64_t mcur = std::min<int64_t>(mc, M - i0);
        // Chunk ch covers the strips thread ch packed when there is one chunk a thread.
        const int64_t s0 = nstrips * ch / nchunks, s1 = nstrips * (ch + 1) / nchunks;
        if (mcur <= 0 || s0 >= s1) continue;
        if (!arm && ib != packed_ib) {
          A.pack_a(Abuf, i0, mcur, pc, kc, MR);
          packed_ib = ib;
        }
        if (cfg.rows_outer) {  // one A micro-panel in L1 against each B micro-panel in turn
          for (int64_t r = 0; r * MR < mcur; ++r) {
            const int m = int(std::min<int64_t>(MR, mcur - r * MR));
            // The panel's rows where A lies (a_in_place), else its packed copy.
            const T* ap = arm ? arm + (i0 + r * MR) * lda + pc : Abuf + r * kc * MR;
            T* crow = C + (i0 + r * MR) * ldc + jc;
            for (int64_t s = s0; s < s1; ++s) {
              const int n = int(std::min<int64_t>(NR, nc - s * NR));
              const T* bp = Bbuf + s * kc * NR;
              if (arm) cfg.ukernel_rows(kc, ap, lda, bp, crow + s * NR, ldc, m, n, alpha, beta_eff);
              else cfg.ukernel(kc, ap, bp, crow + s * NR, ldc, m, n, alpha, beta_eff);
            }
          }
          continue;
        }
        for (int64_t s = s0; s < s1; ++s) {  // one B micro-panel in L1 against each A one
          const int n = int(std::min<int64_t>(NR, nc - s * NR));
          const T* bp = Bbuf + s * kc * NR;
          T* cbase = C + i0 * ldc + jc + s * NR;
          for (int64_t r = 0; r * MR < mcur; ++r) {
            const int m = int(std::min<int64_t>(MR, mcur - r * MR));
            prefetch_rows(cbase + (r + 1) * MR * ldc, std::min<int64_t>(MR, mcur - (r + 1) * MR), ldc, n);
            cfg.ukernel(kc, Abuf + r * kc * MR, bp, cbase + r * MR * ldc, ldc, m, n, alpha, beta_eff);
          }
        }
      }
      team.barrier();
    }
  }
}

}  // namespace

template <typename T>
void gemm_packed(int64_t M, int64_t N, int64_t K, T alpha, const Packer<T>& A,
                 const Packer<T>& B, T beta, T* C, int64_t ldc, int nthreads) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == T(0)) {
    scale_c(M, N, beta, C, ldc);
    return;
  }
  const GemmConfig<T>& cfg = gemm_config<T>();
  const int nt = std::max(1, nthreads);

  // M blocks: a multiple of nt when M allows it, else split N strips into chunks.
  int64_t nbm = ceil_div(M, cfg.MC);
  const bool by_rows = nt > 1 && nbm >= nt;
  if (by_rows && cfg.rows_outer)  // finer items (see kItemsPerThread); 4 micro-panels at least
    nbm = std::max(nbm, std::min<int64_t>(kItemsPerThread * nt, ceil_div(M, 4 * cfg.MR)));
  if (nbm >= nt) nbm = round_up(nbm, nt);
  int64_t mc = round_up(ceil_div(M, nbm), cfg.MR);
  nbm = ceil_div(M, mc);
  const int64_t nchunks = nbm >= nt ? 1 : ceil_div(nt, nbm);

  const int64_t kc_max = std::min<int64_t>(K, balanced_kc(K, cfg.KC));
  const int64_t nc_max = std::min<int64_t>(round_up(N, cfg.NR), cfg.NC);
  T* Bbuf = tl_bpack.get<T>(size_t(kc_max * nc_max));
  const int64_t nphases = ceil_div(N, cfg.NC) * ceil_div(K, balanced_kc(K, cfg.KC));
  std::unique_ptr<std::atomic<int64_t>[]> next(by_rows ? new std::atomic<int64_t>[size_t(nphases)] : nullptr);
  for (int64_t i = 0; by_rows && i < nphases; ++i) next[i].store(0, std::memory_order_relaxed);

  parallel_region(nt, [&](Team& team) {
    // The team may be smaller than asked (a worker late to join, nested regions).
    gemm_thread<T>(team, cfg, M, N, K, alpha, A, B, beta, C, ldc, Bbuf, mc, nbm, nchunks, next.get());
  }, 2.0 * double(M) * double(N) * double(K));
}

namespace {
// Below this many multiply-adds a product stays on one thread.
constexpr int64_t kSerialMacs = 80 * 80 * 80;

int threads_for(int64_t M, int64_t N, int64_t K) {
  const int64_t macs = M * N * K;
  if (macs < kSerialMacs) return 1;
  return num_threads();
}
}  // namespace

template <typename T>
void gemm(int64_t M, int64_t N, int64_t K, T alpha, const T* a, int64_t rsa, int64_t csa,
          const T* b, int64_t rsb, int64_t csb, T beta, T* c, int64_t ldc) {
  StridedPacker<T> A(a, rsa, csa), B(b, rsb, csb);
  gemm_packed<T>(M, N, K, alpha, A, B, beta, c, ldc, threads_for(M, N, K));
}

template <typename T>
void gemm_batched(int64_t batch, int64_t M, int64_t N, int64_t K, T alpha,
                  const T* a, const int64_t* a_off, int64_t rsa, int64_t csa,
                  const T* b, const int64_t* b_off, int64_t rsb, int64_t csb,
                  T beta, T* c, int64_t c_batch_stride, int64_t ldc) {
  const int nt = num_threads();
  const int64_t macs = M * N * K;
  // Parallel over the batch when there are many items or each is small (< ~200³).
  const bool over_batch = nt > 1 && batch > 1 && (batch >= 4 * nt || macs < (int64_t(1) << 23));
  if (over_batch) {
    parallel_for_each(batch, nt, [&](int64_t i) {
      StridedPacker<T> A(a + a_off[i], rsa, csa), B(b + b_off[i], rsb, csb);
      gemm_packed<T>(M, N, K, alpha, A, B, beta, c + i * c_batch_stride, ldc, 1);
    });
  } else {
    for (int64_t i = 0; i < batch; ++i)
      gemm<T>(M, N, K, alpha, a + a_off[i], rsa, csa, b + b_off[i], rsb, csb, beta,
              c + i * c_batch_stride, ldc);
  }
}

#define NK_INSTANTIATE(T)                                                                        \
  template void gemm_packed<T>(int64_t, int64_t, int64_t, T, const Packer<T>&, const Packer<T>&, \
                               T, T*, int64_t, int);                                             \
  template void gemm<T>(int64_t, int64_t, int64_t, T, const T*, int64_t, int64_t, const T*,      \
                        int64_t, int64_t, T, T*, int64_t);                                       \
  template void gemm_batched<T>(int64_t, int64_t, int64_t, int64_t, T, const T*, const int64_t*, \
                                int64_t, int64_t, const T*, const int64_t*, int64_t, int64_t, T, \
                                T*, int64_t, int64_t);
NK_INSTANTIATE(float)
NK_INSTANTIATE(double)
#undef NK_INSTANTIATE

}  // namespace nk

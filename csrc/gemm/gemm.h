// GEMM: C(M×N) := alpha · A(M×K) · B(K×N) + beta · C, packed and cache-blocked (BLIS-style).
//
// Pieces, each in its own file:
//   gemm_ref.cpp              naive triple loop, the reference the tests may call
//   gemm_pack.cpp             strided packing of A into MR-row and B into NR-column micro-panels
//   gemm_ukernel_generic.cpp  portable micro-kernels (any x86-64 / other CPUs)
//   gemm_ukernel_avx2.cpp     AVX2/FMA micro-kernels sgemm_avx2_6x16, dgemm_avx2_6x8
//   gemm_driver.cpp           the five loops (jc, pc, ic, jr, ir) with OpenMP, and batching
//
// Other kernel families (convolution) reuse the driver and micro-kernels by giving
// their own Packer for A or B (for example an implicit im2col packer).
#pragma once
#include "common.h"
#include "gemm/ukernels.h"

namespace nk {

// Micro-kernel contract: C[0:m, 0:n] := alpha · Ap · Bp + beta · C[0:m, 0:n] with
// m <= MR, n <= NR. Ap is k micro-columns of MR values, Bp is k micro-rows of NR
// values (both zero-padded, 64-byte aligned). C has row stride ldc and unit column
// stride. beta == 0 means C is not read (it may hold NaN). Edges are handled inside.
template <typename T>
using UKernel = void (*)(int64_t k, const T* Ap, const T* Bp, T* C, int64_t ldc,
                         int m, int n, T alpha, T beta);

// The same on an A read in place: row i of the tile at a + i·lda, unit stride along k.
// It reads only the m rows it is given.
template <typename T>
using UKernelRows = void (*)(int64_t k, const T* a, int64_t lda, const T* Bp, T* C, int64_t ldc,
                             int m, int n, T alpha, T beta);

// All block sizes live here. MC is a multiple of MR, NC of NR.
template <typename T>
struct GemmConfig {
  const char* name;   // e.g. "sgemm_avx2_6x16"
  int MR, NR;         // register tile
  int64_t MC, KC, NC; // cache blocks: A block MC×KC, B panel KC×NC (see rows_outer)
  UKernel<T> ukernel;
  // Order of the two innermost loops (gemm_driver.cpp). false: BLIS's, a B micro-panel
  // kept in L1 while the A micro-panels stream from the A block in L2 (the C tiles walk
  // down a column of tiles). true: an A micro-panel kept in L1 while the B micro-panels
  // stream from the B panel, which must then fit L2 (the C tiles walk along their rows).
  bool rows_outer = false;
  // With rows_outer, a kernel that reads a row-major A in place, unpacked (null: none).
  UKernelRows<T> ukernel_rows = nullptr;
};

// The config of the current path (from the kernel table, kernels.h).
template <typename T> const GemmConfig<T>& gemm_config();

// Source of a packed operand. pack_a packs rows [i0, i0+mc) × cols [k0, k0+kc) of A
// into ceil(mc/MR) micro-panels of kc×MR; pack_b packs rows [k0, k0+kc) × cols
// [j0, j0+nc) of B into ceil(nc/NR) micro-panels of kc×NR. Padding is zero.
template <typename T>
struct Packer {
  virtual ~Packer() = default;
  virtual void pack_a(T* dst, int64_t i0, int64_t mc, int64_t k0, int64_t kc, int MR) const = 0;
  virtual void pack_b(T* dst, int64_t k0, int64_t kc, int64_t j0, int64_t nc, int NR) const = 0;
  // A stored row-major (element (r, c) at p[r·ld + c]): p, and its row stride in *ld;
  // otherwise null. Lets a driver read A in place instead of packing it.
  virtual const T* row_major(int64_t* ld) const { (void)ld; return nullptr; }
};

// A plain strided matrix: element (r, c) at p[r*rs + c*cs] (strides in elements, any sign).
template <typename T>
struct StridedPacker final : Packer<T> {
  const T* p;
  int64_t rs, cs;
  StridedPacker(const T* p_, int64_t rs_, int64_t cs_) : p(p_), rs(rs_), cs(cs_) {}
  void pack_a(T* dst, int64_t i0, int64_t mc, int64_t k0, int64_t kc, int MR) const override;
  void pack_b(T* dst, int64_t k0, int64_t kc, int64_t j0, int64_t nc, int NR) const override;
  const T* row_major(int64_t* ld) const override {
    *ld = rs;
    return cs == 1 ? p : nullptr;
  }
};

// C(M×N, row stride ldc) := alpha·A·B + beta·C using `nthreads` threads (1 = serial,
// no OpenMP region). The caller holds no locks; safe to call from many threads.
template <typename T>
void gemm_packed(int64_t M, int64_t N, int64_t K, T alpha, const Packer<T>& A,
                 const Packer<T>& B, T beta, T* C, int64_t ldc, int nthreads);

// Strided convenience form: A element (i,k) at a[i*rsa + k*csa], B (k,j) at b[k*rsb + j*csb].
// Chooses the thread count from the problem size and num_threads().
template <typename T>
void gemm(int64_t M, int64_t N, int64_t K, T alpha, const T* a, int64_t rsa, int64_t csa,
          const T* b, int64_t rsb, int64_t csb, T beta, T* c, int64_t ldc);

// Batched: item i uses a + a_off[i], b + b_off[i], c + i*c_batch_stride. Small
// items run in parallel over the batch, large ones one after another, each parallel.
template <typename T>
void gemm_batched(int64_t batch, int64_t M, int64_t N, int64_t K, T alpha,
                  const T* a, const int64_t* a_off, int64_t rsa, int64_t csa,
                  const T* b, const int64_t* b_off, int64_t rsb, int64_t csb,
                  T beta, T* c, int64_t c_batch_stride, int64_t ldc);

// Naive reference (double accumulation), for tests and as documentation.
template <typename T>
void gemm_ref(int64_t M, int64_t N, int64_t K, T alpha, const T* a, int64_t rsa, int64_t csa,
              const T* b, int64_t rsb, int64_t csb, T beta, T* c, int64_t ldc);

// Shared by the portable micro-kernels: write an MR×NR tile held in `acc` (row stride
// NR) into C. `static` so no AVX2 translation unit can ever provide this symbol.
template <typename T>
static inline void store_tile(const T* acc, int NR, T* C, int64_t ldc, int m, int n, T alpha, T beta) {
  for (int i = 0; i < m; ++i) {
    T* c = C + i * ldc;
    const T* a = acc + i * NR;
    if (beta == T(0)) {
      for (int j = 0; j < n; ++j) c[j] = alpha * a[j];
    } else {
      for (int j = 0; j < n; ++j) c[j] = alpha * a[j] + beta * c[j];
    }
  }
}

}  // namespace nk

// Packing of strided operands into the micro-panel layout the micro-kernels read.
//
// A (M×K): micro-panel r holds rows [i0 + r*MR, +MR) as kc columns of MR values.
// B (K×N): micro-panel s holds cols [j0 + s*NR, +NR) as kc rows of NR values.
// Transposes, negative and arbitrary strides are absorbed here: the loops walk the
// source along whichever of its two strides is unit, so no operand is ever copied whole.
#include "gemm/gemm.h"
#include "kernels.h"

namespace nk {
namespace {
// Vectorised packing of full MR-row panels of a row-major A, where the path has a packer:
// its own for its tile's MR, or the row interleaver for MR a multiple of 8.
inline bool pack_a_panel_fast(float* dst, const float* src, int64_t rs, int64_t kc, int mr, int MR) {
  const CpuKernels& k = kernels();
  if (mr != MR) return false;
  if (k.sgemm_pack_a && MR == k.sgemm.MR) {
    k.sgemm_pack_a(src, rs, kc, dst);
    return true;
  }
  if (!k.interleave_rows || MR % 8 != 0 || MR > 64) return false;
  const float* rows[64];
  for (int i = 0; i < MR; ++i) rows[i] = src + i * rs;
  k.interleave_rows(rows, MR, kc, dst);
  return true;
}
inline bool pack_a_panel_fast(double*, const double*, int64_t, int64_t, int, int) { return false; }

// The path's packer of B strips with contiguous rows, where it has one for this NR.
inline bool pack_b_fast(float* dst, const float* src, int64_t rs, int64_t kc, int64_t nc, int NR) {
  const CpuKernels& k = kernels();
  if (!k.sgemm_pack_b || NR != k.sgemm.NR) return false;
  for (int64_t s0 = 0; s0 < nc; s0 += NR, dst += kc * NR)
    k.sgemm_pack_b(src + s0, rs, kc, int(nc - s0 < NR ? nc - s0 : NR), dst);
  return true;
}
inline bool pack_b_fast(double*, const double*, int64_t, int64_t, int64_t, int) { return false; }
}  // namespace

// dst[q*N .. q*N+N) = src[q*cs .. q*cs+N) for q < kc: a micro-panel whose N rows sit side by
// side in memory (A stored transposed); the fixed N lets the compiler move whole vectors.
template <typename T, int N>
inline void copy_columns(T* dst, const T* src, int64_t cs, int64_t kc) {
  for (int64_t q = 0; q < kc; ++q, dst += N, src += cs)
    for (int i = 0; i < N; ++i) dst[i] = src[i];
}

template <typename T>
void StridedPacker<T>::pack_a(T* dst, int64_t i0, int64_t mc, int64_t k0, int64_t kc, int MR) const {
  for (int64_t r0 = 0; r0 < mc; r0 += MR, dst += kc * MR) {
    const int mr = int(mc - r0 < MR ? mc - r0 : MR);
    const T* src = p + (i0 + r0) * rs + k0 * cs;
    if (cs == 1 && pack_a_panel_fast(dst, src, rs, kc, mr, MR)) {
      continue;
    } else if (cs == 1) {  // rows contiguous: read each row along k, scatter by MR
      for (int i = 0; i < mr; ++i) {
        const T* row = src + i * rs;
        for (int64_t q = 0; q < kc; ++q) dst[q * MR + i] = row[q];
      }
    } else if (rs == 1 && mr == MR && (MR == 8 || MR == 6)) {  // A^T row-major: panel rows contiguous
      if (MR == 8) copy_columns<T, 8>(dst, src, cs, kc);
      else copy_columns<T, 6>(dst, src, cs, kc);
    } else {
      for (int64_t q = 0; q < kc; ++q)
        for (int i = 0; i < mr; ++i) dst[q * MR + i] = src[i * rs + q * cs];
    }
    if (mr < MR)
      for (int64_t q = 0; q < kc; ++q)
        for (int i = mr; i < MR; ++i) dst[q * MR + i] = T(0);
  }
}

template <typename T>
void StridedPacker<T>::pack_b(T* dst, int64_t k0, int64_t kc, int64_t j0, int64_t nc, int NR) const {
  if (cs == 1 && pack_b_fast(dst, p + k0 * rs + j0, rs, kc, nc, NR)) return;
  if (cs == 1) {
    // Rows of B contiguous: walk each row of the panel once, left to right, and
    // deal its NR-wide pieces out to the micro-panels (reads stay sequential).
    const int64_t nfull = nc / NR, tail = nc - nfull * NR;
    for (int64_t q = 0; q < kc; ++q) {
      const T* row = p + (k0 + q) * rs + j0;
      T* d = dst + q * NR;
      for (int64_t s = 0; s < nfull; ++s, row += NR, d += kc * NR)
        for (int j = 0; j < NR; ++j) d[j] = row[j];
      if (tail) {
        for (int j = 0; j < tail; ++j) d[j] = row[j];
        for (int j = int(tail); j < NR; ++j) d[j] = T(0);
      }
    }
    return;
  }
  for (int64_t s0 = 0; s0 < nc; s0 += NR, dst += kc * NR) {
    const int nr = int(nc - s0 < NR ? nc - s0 : NR);
    const T* src = p + k0 * rs + (j0 + s0) * cs;
    for (int j = 0; j < nr; ++j) {  // columns of B (rows of B^T) read along k
      const T* col = src + j * cs;
      for (int64_t q = 0; q < kc; ++q) dst[q * NR + j] = col[q * rs];
    }
    if (nr < NR)
      for (int64_t q = 0; q < kc; ++q)
        for (int j = nr; j < NR; ++j) dst[q * NR + j] = T(0);
  }
}

void interleave_rows_f32_generic(const float* const* src, int nr, int64_t len, float* dst) {
  for (int64_t t = 0; t < len; ++t)
    for (int j = 0; j < nr; ++j) dst[t * nr + j] = src[j][t];
}

template struct StridedPacker<float>;
template struct StridedPacker<double>;

}  // namespace nk

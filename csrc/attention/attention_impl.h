// Internals shared by the attention drivers (generic code only; never included by an
// *_avx2.cpp / *_avx512.cpp file): the tile kernels of the path (with their block sizes),
// mask helpers.
#pragma once
#include <cmath>
#include <algorithm>
#include <cstdint>
#include <limits>

#include "attention/attention.h"
#include "attention/attention_kernels.h"
#include "common.h"
#include "kernels.h"

namespace nk {

// The tile kernels of the path in use (the kernel table, kernels.h).
template <typename T>
const AttnKernels<T>& attn_kernels() { return attn_kernels_of<T>(kernels()); }

// Turn a raw S^T tile (kb keys from j0 × qb queries from q0, row stride lds) of batch
// item b into scaled, masked logits: s := scale·s + mask, or −inf where the mask (or
// causality) hides the key. Only columns < qb are touched.
template <typename T>
void attn_prepare_tile(const AttnProblem<T>& p, int64_t b, int64_t q0, int64_t qb, int64_t j0,
                       int64_t kb, T* s, int64_t lds) {
  const T ninf = -std::numeric_limits<T>::infinity();
  const T sc = p.scale;
  for (int64_t j = 0; j < kb; ++j) {  // one key per row of S^T; queries contiguous
    T* row = s + j * lds;
    const int64_t kj = j0 + j;
    if (p.mask_kind == AttnMask::boolean) {
      const uint8_t* m = static_cast<const uint8_t*>(p.mask) + p.mask_off[b] + q0 * p.msi + kj * p.msj;
      for (int64_t i = 0; i < qb; ++i) row[i] = m[i * p.msi] ? row[i] * sc : ninf;
    } else if (p.mask_kind == AttnMask::additive) {
      const T* m = static_cast<const T*>(p.mask) + p.mask_off[b] + q0 * p.msi + kj * p.msj;
      for (int64_t i = 0; i < qb; ++i) row[i] = row[i] * sc + m[i * p.msi];
    } else {
      for (int64_t i = 0; i < qb; ++i) row[i] *= sc;
    }
    if (p.causal)  // query q0 + i sees key kj iff kj <= q0 + i
      for (int64_t i = 0; i < std::min(qb, kj - q0); ++i) row[i] = ninf;
  }
}

}  // namespace nk

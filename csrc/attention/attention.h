// Scaled dot-product attention on the CPU: the problem description and the entry points.
//
//   q (nb, Lq, D), k (nb, Lk, D), v (nb, Lk, Dv)  ->  out (nb, Lq, Dv), lse (nb, Lq)
//   out_i = sum_j softmax_j(scale · q_i·k_j + mask_ij) v_j,  lse_i = log sum_j exp(...)
//
// nb is the product of the leading (batch × heads ...) dimensions; each of q, k, v and
// the mask is addressed per batch item through an element offset (so broadcast or
// strided leading dimensions cost no copy) and a row stride (last dimension unit-stride).
// Mask: none, boolean (uint8, nonzero = keep, like torch) or additive (same dtype),
// element (i, j) of item b at mask[mask_off[b] + i*msi + j*msj]. causal: key j is seen by
// query i iff j <= i (torch's top-left alignment when Lq != Lk). A query that sees no key
// (all masked, or Lk == 0) gets out = 0 and lse = -inf, as torch returns.
#pragma once
#include <cstdint>

namespace nk {

enum class AttnMask : int { none = 0, boolean = 1, additive = 2 };

template <typename T>
struct AttnProblem {
  int64_t nb, Lq, Lk, D, Dv;
  const T* q; const int64_t* q_off; int64_t ldq;
  const T* k; const int64_t* k_off; int64_t ldk;
  const T* v; const int64_t* v_off; int64_t ldv;
  AttnMask mask_kind; const void* mask; const int64_t* mask_off; int64_t msi, msj;
  bool causal;
  T scale;
};

// Fused, tiled forward (FlashAttention-2 style online softmax). out (nb, Lq, Dv) and
// lse (nb, Lq) contiguous. attention_fwd.cpp.
template <typename T>
void attention_forward(const AttnProblem<T>& p, T* out, T* lse);

// Backward from the saved lse: dout, out (nb, Lq, Dv), lse (nb, Lq) contiguous; writes
// gq (nb, Lq, D) (must be zero on entry), gk (nb, Lk, D), gv (nb, Lk, Dv), contiguous.
// attention_bwd.cpp.
template <typename T>
void attention_backward(const AttnProblem<T>& p, const T* dout, const T* out, const T* lse,
                        T* gq, T* gk, T* gv);

// Naive reference (materialises one row of scores at a time, double accumulation);
// documents the semantics and checks the fast path. attention_ref.cpp.
template <typename T>
void attention_ref(const AttnProblem<T>& p, T* out, T* lse);

}  // namespace nk

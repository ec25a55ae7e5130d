// Attention tile kernels: declarations only (included by the *_avx2.cpp / *_avx512.cpp
// kernel files, so no inline functions or template bodies here). Each path's register tile
// and block sizes are fields of its AttnKernels table entry (kernels.h); the constants
// below are those entries' values.
//
// Layout the drivers use: a score tile is stored transposed, S^T (BK keys × BQ queries,
// row stride lds), so every softmax statistic is a vertical (per-column) SIMD operation
// and the products need no packing of K or V (see attention_fwd.cpp).
#pragma once
#include <cstdint>

namespace nk {

// Register tile of attn_tile (generic, avx2): MR rows × NR columns, and the drivers'
// q-block BQ (a multiple of MR and NR) and kv-block BK (a multiple of MR).
constexpr int kAttnMR = 6;
constexpr int kAttnNR = 16;
constexpr int kAttnBQ = 96;
constexpr int kAttnBK = 96;
// The same for attn_tile_avx512: 12 × 32 (24 zmm accumulators).
constexpr int kAttnMR512 = 12;
constexpr int kAttnNR512 = 32;
constexpr int kAttnBQ512 = 96;
constexpr int kAttnBK512 = 96;

// C[r, 0:n] := (acc ? C[r, 0:n] · (cscale ? cscale[r] : 1) : 0) + sum_{k<K} A(r, k) · B[k, 0:n]
// for r < m (any m: the kernel walks MR-row tiles) and n <= NR, with A(r, k) =
// a[r*rsa + k*csa] (any strides: A is read by broadcasting single elements),
// B[k, c] = b[k*ldb + c], C[r, c] = c[r*ldc + c]. Rows r >= m are not touched.
void attn_tile_avx2(int64_t K, const float* a, int64_t rsa, int64_t csa, int m, const float* b,
                    int64_t ldb, int n, float* c, int64_t ldc, const float* cscale, bool acc);

// Online-softmax step on an S^T tile (kb rows × nq columns, nq a multiple of 8): for each
// column i, t_j = scale·s[j,i]; m' = max(m_i, max_j t_j); s[j,i] := exp(t_j − m');
// alpha_i = exp(m_i − m'); l_i := alpha_i·l_i + sum_j s[j,i]; m_i := m'. A column whose
// m' is −inf uses 0 in place of m' (so fully masked columns stay 0, never NaN).
void attn_softmax_update_avx2(int64_t kb, int64_t nq, float* s, int64_t lds, float scale,
                              float* mrow, float* lrow, float* alpha);

// Backward probabilities: s[j,i] := exp(scale·s[j,i] − lse[i]) (lse = +inf gives 0).
void attn_probs_avx2(int64_t kb, int64_t nq, float* s, int64_t lds, float scale, const float* lse);

// Backward score gradient: dp[j,i] := p[j,i] · (dp[j,i] − dvec[i]) · scale.
void attn_dscores_avx2(int64_t kb, int64_t nq, const float* p, int64_t ldp, float* dp,
                       int64_t lddp, const float* dvec, float scale);

// Transpose: dst[c*ldd + r] = src[r*lds + c] for r < rows, c < cols (8×8 register blocks).
void attn_transpose_avx2(int64_t rows, int64_t cols, const float* src, int64_t lds, float* dst,
                         int64_t ldd);

// AVX-512 versions (attention_kernels_avx512.cpp): the same contracts with NR = 32
// (n <= kAttnNR512 in attn_tile) and any nq (column tails masked).
void attn_tile_avx512(int64_t K, const float* a, int64_t rsa, int64_t csa, int m, const float* b,
                      int64_t ldb, int n, float* c, int64_t ldc, const float* cscale, bool acc);
void attn_softmax_update_avx512(int64_t kb, int64_t nq, float* s, int64_t lds, float scale,
                                float* mrow, float* lrow, float* alpha);
void attn_probs_avx512(int64_t kb, int64_t nq, float* s, int64_t lds, float scale, const float* lse);
void attn_dscores_avx512(int64_t kb, int64_t nq, const float* p, int64_t ldp, float* dp,
                         int64_t lddp, const float* dvec, float scale);
void attn_transpose_avx512(int64_t rows, int64_t cols, const float* src, int64_t lds, float* dst,
                           int64_t ldd);

// Portable twins (attention_kernels_generic.cpp), float and double.
template <typename T>
void attn_tile_generic(int64_t K, const T* a, int64_t rsa, int64_t csa, int m, const T* b,
                       int64_t ldb, int n, T* c, int64_t ldc, const T* cscale, bool acc);
template <typename T>
void attn_softmax_update_generic(int64_t kb, int64_t nq, T* s, int64_t lds, T scale, T* mrow,
                                 T* lrow, T* alpha);
template <typename T>
void attn_probs_generic(int64_t kb, int64_t nq, T* s, int64_t lds, T scale, const T* lse);
template <typename T>
void attn_transpose_generic(int64_t rows, int64_t cols, const T* src, int64_t lds, T* dst,
                            int64_t ldd);
template <typename T>
void attn_dscores_generic(int64_t kb, int64_t nq, const T* p, int64_t ldp, T* dp, int64_t lddp,
                          const T* dvec, T scale);

}  // namespace nk

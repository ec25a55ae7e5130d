// Portable attention tile kernels (float and double) and the run-time kernel table.
// Same contracts as the AVX2 versions (attention_kernels.h); plain loops over a local
// accumulator tile, used on CPUs without AVX2/FMA, with NNKERNELS_CPU=generic, and for
// float64 on every CPU.
#include <algorithm>
#include <cmath>
#include <limits>

#include "attention/attention_impl.h"

namespace nk {

namespace {
template <typename T>
void tile_generic_6x16(int64_t K, const T* a, int64_t rsa, int64_t csa, int m, const T* b,
                       int64_t ldb, int n, T* c, int64_t ldc, const T* cscale, bool acc) {
  T t[kAttnMR][kAttnNR] = {};
  for (int64_t k = 0; k < K; ++k) {
    const T* bk = b + k * ldb;
    for (int r = 0; r < m; ++r) {
      const T ar = a[r * rsa + k * csa];
      for (int j = 0; j < n; ++j) t[r][j] += ar * bk[j];
    }
  }
  for (int r = 0; r < m; ++r) {
    T* cr = c + r * ldc;
    const T s = cscale ? cscale[r] : T(1);
    for (int j = 0; j < n; ++j) cr[j] = acc ? cr[j] * s + t[r][j] : t[r][j];
  }
}
}  // namespace

template <typename T>
void attn_tile_generic(int64_t K, const T* a, int64_t rsa, int64_t csa, int m, const T* b,
                       int64_t ldb, int n, T* c, int64_t ldc, const T* cscale, bool acc) {
  for (int r = 0; r < m; r += kAttnMR)
    tile_generic_6x16(K, a + r * rsa, rsa, csa, std::min(kAttnMR, m - r), b, ldb, n, c + r * ldc,
                      ldc, cscale ? cscale + r : nullptr, acc);
}

template <typename T>
void attn_softmax_update_generic(int64_t kb, int64_t nq, T* s, int64_t lds, T scale, T* mrow,
                                 T* lrow, T* alpha) {
  const T ninf = -std::numeric_limits<T>::infinity();
  for (int64_t i = 0; i < nq; ++i) {
    // The scaled scores are stored before the max is taken of them, so the max is
    // subtracted from the very same numbers (largest score -> exp(0) = 1 at any magnitude,
    // even where the compiler would fuse s·scale − m into one FMA).
    T mx = ninf;
    for (int64_t j = 0; j < kb; ++j) {
      s[j * lds + i] *= scale;
      mx = std::max(mx, s[j * lds + i]);
    }
    const T mnew = std::max(mrow[i], mx);
    const T mref = mnew == ninf ? T(0) : mnew;
    const T al = std::exp(mrow[i] - mref);
    T sum = 0;
    for (int64_t j = 0; j < kb; ++j) {
      const T e = std::exp(s[j * lds + i] - mref);
      s[j * lds + i] = e;
      sum += e;
    }
    lrow[i] = lrow[i] * al + sum;
    mrow[i] = mnew;
    alpha[i] = al;
  }
}

template <typename T>
void attn_probs_generic(int64_t kb, int64_t nq, T* s, int64_t lds, T scale, const T* lse) {
  for (int64_t j = 0; j < kb; ++j)
    for (int64_t i = 0; i < nq; ++i) s[j * lds + i] = std::exp(s[j * lds + i] * scale - lse[i]);
}

template <typename T>
void attn_dscores_generic(int64_t kb, int64_t nq, const T* p, int64_t ldp, T* dp, int64_t lddp,
                          const T* dvec, T scale) {
  for (int64_t j = 0; j < kb; ++j)
    for (int64_t i = 0; i < nq; ++i)
      dp[j * lddp + i] = p[j * ldp + i] * (dp[j * lddp + i] - dvec[i]) * scale;
}

template <typename T>
void attn_transpose_generic(int64_t rows, int64_t cols, const T* src, int64_t lds, T* dst,
                            int64_t ldd) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) dst[c * ldd + r] = src[r * lds + c];
}

#define NK_ATTN_INST(T)                                                                       \
  template void attn_tile_generic<T>(int64_t, const T*, int64_t, int64_t, int, const T*,      \
                                     int64_t, int, T*, int64_t, const T*, bool);              \
  template void attn_softmax_update_generic<T>(int64_t, int64_t, T*, int64_t, T, T*, T*, T*); \
  template void attn_probs_generic<T>(int64_t, int64_t, T*, int64_t, T, const T*);            \
  template void attn_transpose_generic<T>(int64_t, int64_t, const T*, int64_t, T*, int64_t);  \
  template void attn_dscores_generic<T>(int64_t, int64_t, const T*, int64_t, T*, int64_t,     \
                                        const T*, T);
NK_ATTN_INST(float)
NK_ATTN_INST(double)
#undef NK_ATTN_INST

}  // namespace nk

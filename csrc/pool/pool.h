// 2-D max / average / adaptive-average pooling, NCHW (declarations only: pool_avx2.cpp and
// pool_avx512.cpp include this header).
#pragma once
#include <cstdint>

namespace nk {

// One pooling configuration. Input planes (H, W), output planes (P, Q), planes = N·C.
struct PoolShape {
  int64_t planes, H, W, P, Q;
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
  bool count_include_pad;  // avg only
};

// y (planes, P, Q); idx (planes, P, Q) flat h·W + w of each max, or null.
template <typename T>
void max_pool2d_forward(T* y, int64_t* idx, const T* x, const PoolShape& s);
// gx (planes, H·W) = scatter-add of gy (planes, PQ) at idx; returns how many indices
// were outside [0, H·W) (skipped).
template <typename T>
int64_t max_pool2d_backward(T* gx, const T* gy, const int64_t* idx, int64_t planes, int64_t HW, int64_t PQ);

template <typename T>
void avg_pool2d_forward(T* y, const T* x, const PoolShape& s);
template <typename T>
void avg_pool2d_backward(T* gx, const T* gy, const PoolShape& s);

// Adaptive: output cell (p, q) averages rows [⌊pH/P⌋, ⌈(p+1)H/P⌉) × cols likewise.
template <typename T>
void adaptive_avg_pool2d_forward(T* y, const T* x, int64_t planes, int64_t H, int64_t W, int64_t P, int64_t Q);
template <typename T>
void adaptive_avg_pool2d_backward(T* gx, const T* gy, int64_t planes, int64_t H, int64_t W, int64_t P, int64_t Q);

// AVX2 float32 row kernel: outputs q ∈ [qa, qb) (qb - qa ≥ 8, every window inside the
// row horizontally) of one output row, over input rows row0 + r·row_step, r < nrows.
// mode 0: max, 1: max + indices (idx), 2: sum · scale (average).
void pool_row_avx2(float* y, int64_t* idx, const float* x, int64_t W, int64_t row0, int64_t nrows,
                   int64_t row_step, int64_t kw, int64_t sw, int64_t pw, int64_t qa, int64_t qb, int mode,
                   float scale);

// Σ p[0..n), float32, AVX2 (4 accumulators, masked tail).
float sum_run_avx2(const float* p, int64_t n);

// AVX-512 twins (pool_avx512.cpp), same contracts (the row kernel also takes qb - qa < 8).
void pool_row_avx512(float* y, int64_t* idx, const float* x, int64_t W, int64_t row0, int64_t nrows,
                     int64_t row_step, int64_t kw, int64_t sw, int64_t pw, int64_t qa, int64_t qb, int mode,
                     float scale);
float sum_run_avx512(const float* p, int64_t n);

}  // namespace nk

// Softmax, log-softmax and cross-entropy (declarations only: softmax_avx2.cpp and
// softmax_avx512.cpp include it).
#pragma once
#include <cstdint>

namespace nk {

// x viewed as (outer, C, inner), normalised along C. log: log-softmax.
template <typename T>
void softmax_forward(T* y, const T* x, int64_t outer, int64_t C, int64_t inner, bool log);
// gx from grad_out g and the forward output y (softmax or log-softmax), same layout.
template <typename T>
void softmax_backward(T* gx, const T* g, const T* y, int64_t outer, int64_t C, int64_t inner, bool log);

// logits x (N, C) rows contiguous, target (N) in [0, C): per-row loss
//   loss[i] = (1-ε)(lse_i - x[i,t_i]) + ε(lse_i - mean_c x[i,c]),  lse_i = log Σ_c exp x[i,c]
template <typename T>
void cross_entropy_forward(T* loss, const T* x, const int64_t* target, int64_t N, int64_t C, T smoothing);
// gx[i,c] = scale_i (softmax(x_i)[c] - (1-ε)[c = t_i] - ε/C), scale_i = gscale[i * gstride].
template <typename T>
void cross_entropy_backward(T* gx, const T* x, const int64_t* target, const T* gscale, int64_t gstride,
                            int64_t N, int64_t C, T smoothing);

// AVX2/FMA float32 pieces (softmax_avx2.cpp); generic twins live in softmax.cpp.
float sm_row_max_avx2(const float* x, int64_t n);
// Σ exp(x - m), storing exp(x - m) into y when y is not null; Σ x into *sumx when not null.
double sm_row_sumexp_avx2(const float* x, int64_t n, float m, float* y, double* sumx);
void sm_row_scale_avx2(float* y, int64_t n, float a);
void sm_row_shift_avx2(float* y, const float* x, int64_t n, float m, float ls);  // y = (x - m) - ls
double sm_row_dot_avx2(const float* a, const float* b, int64_t n);
double sm_row_sum_avx2(const float* a, int64_t n);
void sm_row_bwd_avx2(float* gx, const float* g, const float* y, int64_t n, float d);      // y·(g - d)
void lsm_row_bwd_avx2(float* gx, const float* g, const float* y, int64_t n, float s);     // g - exp(y)·s
void ce_row_grad_avx2(float* gx, const float* x, int64_t n, float m, float ls, float scale, float off);
// One (C, inner) slab, lanes [i0, i1) of inner, i1 - i0 ≤ 32.
void sm_cols_avx2(float* y, const float* x, int64_t C, int64_t inner, int64_t i0, int64_t i1, bool log);
void sm_cols_bwd_avx2(float* gx, const float* g, const float* y, int64_t C, int64_t inner, int64_t i0,
                      int64_t i1, bool log);

// AVX-512 twins (softmax_avx512.cpp), same contracts.
float sm_row_max_avx512(const float* x, int64_t n);
double sm_row_sumexp_avx512(const float* x, int64_t n, float m, float* y, double* sumx);
void sm_row_scale_avx512(float* y, int64_t n, float a);
void sm_row_shift_avx512(float* y, const float* x, int64_t n, float m, float ls);
double sm_row_dot_avx512(const float* a, const float* b, int64_t n);
double sm_row_sum_avx512(const float* a, int64_t n);
void sm_row_bwd_avx512(float* gx, const float* g, const float* y, int64_t n, float d);
void lsm_row_bwd_avx512(float* gx, const float* g, const float* y, int64_t n, float s);
void ce_row_grad_avx512(float* gx, const float* x, int64_t n, float m, float ls, float scale, float off);
void sm_cols_avx512(float* y, const float* x, int64_t C, int64_t inner, int64_t i0, int64_t i1, bool log);
void sm_cols_bwd_avx512(float* gx, const float* g, const float* y, int64_t C, int64_t inner, int64_t i0,
                        int64_t i1, bool log);

}  // namespace nk

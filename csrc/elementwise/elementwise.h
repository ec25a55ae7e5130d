// Elementwise activations and the fused bias + activation (declarations only: the
// *_avx2.cpp / *_avx512.cpp files include this header).
#pragma once
#include <cstdint>

namespace nk {

// Activation codes shared with the bindings (nnkernels/ops/activations.py: _ACT).
enum class Act : int { identity = 0, relu = 1, leaky_relu = 2, sigmoid = 3, tanh = 4, gelu = 5, gelu_tanh = 6, silu = 7 };

// y[i] = act(x[i]) over n contiguous elements (y may be x).
template <typename T>
void act_forward(T* y, const T* x, int64_t n, Act act, T slope);

// gx[i] = g[i] * act'(.) where v is the input x (relu, leaky_relu, gelu, gelu_tanh, silu)
// or the output y (sigmoid, tanh), as torch's *_backward functions take them.
template <typename T>
void act_backward(T* gx, const T* g, const T* v, int64_t n, Act act, T slope);

// x viewed as (outer, C, inner), bias (C): y = act(x + bias[c]).
template <typename T>
void bias_act_forward(T* y, const T* x, const T* bias, int64_t outer, int64_t C, int64_t inner, Act act,
                      T slope);

// AVX2/FMA spans (float32). bvec: per-element bias (or null); bscalar added when has_scalar.
void act_span_avx2(float* y, const float* x, int64_t n, Act act, float slope, const float* bvec,
                   float bscalar, bool has_scalar);
void act_backward_span_avx2(float* gx, const float* g, const float* v, int64_t n, Act act, float slope);
// AVX-512 twins (elementwise_avx512.cpp), same contracts.
void act_span_avx512(float* y, const float* x, int64_t n, Act act, float slope, const float* bvec,
                     float bscalar, bool has_scalar);
void act_backward_span_avx512(float* gx, const float* g, const float* v, int64_t n, Act act, float slope);

}  // namespace nk

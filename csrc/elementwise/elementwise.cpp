// Elementwise activations (relu, leaky_relu, sigmoid, tanh, gelu erf/tanh, silu) forward and
// backward, and the fused bias + activation. Portable code and the drivers; the AVX2
// float32 spans are in elementwise_avx2.cpp.
//
// Shapes: act_* work on n contiguous elements; bias_act views x as (outer, C, inner)
// with bias (C) broadcast along C (axis=1 of NCHW: outer=N, inner=H·W; a Linear output
// (N, C): outer=N, inner=1).
// Threads: only arrays of ≥ 64k elements are split (contiguous chunks, one per thread);
// below that a parallel region costs more than it saves.
// Speed: see elementwise_avx2.cpp; `python -m nnkernels --only activations`.
#include "elementwise/elementwise.h"


#include <algorithm>
#include <cmath>
#include <type_traits>

#include "common.h"
#include "runtime/threads.h"
#include "kernels.h"

namespace nk {
namespace {

constexpr int64_t kParallelMin = 65536;

// Naive reference / portable twin, one element at a time (std:: math in T).
template <typename T>
inline T act1(T x, Act act, T slope) {
  switch (act) {
    case Act::identity: return x;
    case Act::relu: return x < T(0) ? T(0) : x;  // NaN stays NaN, like torch
    case Act::leaky_relu: return x < T(0) ? x * slope : x;
    case Act::sigmoid: {
      const T e = std::exp(-std::fabs(x)), r = T(1) / (T(1) + e);
      return x < T(0) ? e * r : r;
    }
    case Act::tanh: return std::tanh(x);
    case Act::gelu: return x * T(0.5) * std::erfc(-x * T(0.70710678118654752440));
    case Act::gelu_tanh: {
      const T u = T(0.79788456080286535588) * (x + T(0.044715) * x * x * x);
      return x / (T(1) + std::exp(T(-2) * u));  // ½x(1+tanh u) = x·σ(2u)
    }
    case Act::silu: {
      const T e = std::exp(-std::fabs(x)), r = T(1) / (T(1) + e);
      return x * (x < T(0) ? e * r : r);
    }
  }
  return x;
}

template <typename T>
inline T dact1(T g, T v, Act act, T slope) {
  switch (act) {
    case Act::identity: return g;
    case Act::relu: return v <= T(0) ? T(0) : g;
    case Act::leaky_relu: return v > T(0) ? g : g * slope;
    case Act::sigmoid: return g * v * (T(1) - v);
    case Act::tanh: return g * ((T(1) - v) * (T(1) + v));  // exact 1 - v near |v| = 1
    case Act::gelu: {
      const T cdf = T(0.5) * std::erfc(-v * T(0.70710678118654752440));
      const T pdf = T(0.39894228040143267794) * std::exp(T(-0.5) * v * v);
      return g * (cdf + v * pdf);
    }
    case Act::gelu_tanh: {  // d/dx x·σ(2u) with σ and 1-σ both from exp(-2|u|): no cancellation
      const T k = T(0.79788456080286535588), c = T(0.044715);
      const T u = k * (v + c * v * v * v), du = k * (T(1) + T(3) * c * v * v);
      const T e = std::exp(T(-2) * std::fabs(u)), r = T(1) / (T(1) + e);
      const T s = u >= T(0) ? r : e * r, sc = u >= T(0) ? e * r : r;
      return g * (s + T(2) * v * s * sc * du);
    }
    case Act::silu: {  // d/dx x·σ(x) = σ(x)(1 + x(1 − σ(x))), σ and 1-σ both from exp(-|x|)
      const T e = std::exp(-std::fabs(v)), r = T(1) / (T(1) + e);
      const T s = v >= T(0) ? r : e * r, sc = v >= T(0) ? e * r : r;
      return g * s * (T(1) + v * sc);
    }
  }
  return g;
}

template <typename T>
void span_generic(T* y, const T* x, int64_t n, Act act, T slope, const T* bvec, T bscalar) {
  if (bvec) {
    for (int64_t i = 0; i < n; ++i) y[i] = act1(x[i] + bvec[i], act, slope);
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = act1(x[i] + bscalar, act, slope);
  }
}

template <typename T>
void span(T* y, const T* x, int64_t n, Act act, T slope, const T* bvec, T bscalar, bool has_scalar) {
  if constexpr (std::is_same_v<T, float>) {
    if (auto f = kernels().act.forward) return f(y, x, n, act, slope, bvec, bscalar, has_scalar);
  }
  if (!bvec && !has_scalar) {
    for (int64_t i = 0; i < n; ++i) y[i] = act1(x[i], act, slope);
    return;
  }
  span_generic(y, x, n, act, slope, bvec, bscalar);
}

template <typename T>
void dspan(T* gx, const T* g, const T* v, int64_t n, Act act, T slope) {
  if constexpr (std::is_same_v<T, float>) {
    if (auto f = kernels().act.backward) return f(gx, g, v, n, act, slope);
  }
  for (int64_t i = 0; i < n; ++i) gx[i] = dact1(g[i], v[i], act, slope);
}

// Split [0, n) into chunks (multiples of 64 elements) over the threads when n is large.
template <typename F>
void for_chunks(int64_t n, F&& f) {
  const int nt = n < kParallelMin ? 1 : num_threads();
  const int64_t blocks = ceil_div(n, 64);
  parallel_for(blocks, nt, [&](int64_t b, int64_t e) { f(b * 64, std::min(n, e * 64)); });
}

}  // namespace

template <typename T>
void act_forward(T* y, const T* x, int64_t n, Act act, T slope) {
  for_chunks(n, [&](int64_t b, int64_t e) { span<T>(y + b, x + b, e - b, act, slope, nullptr, T(0), false); });
}

template <typename T>
void act_backward(T* gx, const T* g, const T* v, int64_t n, Act act, T slope) {
  for_chunks(n, [&](int64_t b, int64_t e) { dspan<T>(gx + b, g + b, v + b, e - b, act, slope); });
}

template <typename T>
void bias_act_forward(T* y, const T* x, const T* bias, int64_t outer, int64_t C, int64_t inner, Act act,
                      T slope) {
  // x is (outer, C, inner)
  const int64_t total = outer * C * inner;
  const bool par = total >= kParallelMin && num_threads() > 1;
  if (inner == 1) {  // rows of C with the bias vector
    parallel_for_each(outer, par ? num_threads() : 1, [&](int64_t o) { span<T>(y + o * C, x + o * C, C, act, slope, bias, T(0), false); });
  } else {  // runs of `inner` with one bias each
    parallel_for_each(outer * C, par ? num_threads() : 1, [&](int64_t oc) {
      span<T>(y + oc * inner, x + oc * inner, inner, act, slope, nullptr, bias[oc % C], true);
    });
  }
}

#define NK_INSTANTIATE(T)                                                                        \
  template void act_forward<T>(T*, const T*, int64_t, Act, T);                                   \
  template void act_backward<T>(T*, const T*, const T*, int64_t, Act, T);                        \
  template void bias_act_forward<T>(T*, const T*, const T*, int64_t, int64_t, int64_t, Act, T);
NK_INSTANTIATE(float)
NK_INSTANTIATE(double)
#undef NK_INSTANTIATE

}  // namespace nk

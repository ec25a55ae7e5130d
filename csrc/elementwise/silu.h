// SiLU (swish): y = x·σ(x), torch.nn.functional.silu, and its backward
// gx = g·σ(x)·(1 + x·(1 − σ(x))), which reads the input x as torch's silu_backward does.
// Scalar C++ (the loops are simple enough for the compiler to vectorise), header-only:
// the kernel is this file and its binding in bind/bind_elementwise.cpp.
//
// Shapes: x, y, g, gx are n contiguous elements (any shape, flattened).
// Threads: as act_forward, only arrays of ≥ 64k elements are split over the threads.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "common.h"
#include "runtime/threads.h"

namespace nk {
namespace silu_detail {

constexpr int64_t kParallelMin = 65536;

// σ(x) and 1 − σ(x), both from e = exp(−|x|) ≤ 1: no overflow and no cancellation.
template <typename T>
inline void sigmoid_pair(T x, T& s, T& sc) {
  const T e = std::exp(-std::fabs(x)), r = T(1) / (T(1) + e);
  s = x >= T(0) ? r : e * r;
  sc = x >= T(0) ? e * r : r;
}

template <typename F>
void for_chunks(int64_t n, F&& f) {
  const int nt = n < kParallelMin ? 1 : num_threads();
  parallel_for(ceil_div(n, 64), nt, [&](int64_t b, int64_t e) { f(b * 64, std::min(n, e * 64)); });
}

}  // namespace silu_detail

template <typename T>
void silu_forward(T* y, const T* x, int64_t n) {
  silu_detail::for_chunks(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      T s, sc;
      silu_detail::sigmoid_pair(x[i], s, sc);
      y[i] = x[i] * s;
    }
  });
}

template <typename T>
void silu_backward(T* gx, const T* g, const T* x, int64_t n) {
  silu_detail::for_chunks(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      T s, sc;
      silu_detail::sigmoid_pair(x[i], s, sc);
      gx[i] = g[i] * s * (T(1) + x[i] * sc);
    }
  });
}

}  // namespace nk

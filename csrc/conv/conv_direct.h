// Direct stride-1 conv2d forward tile kernels (declarations only: conv_direct_avx512.cpp
// includes this header; the driver is conv_direct.cpp, reached through the kernel table).
#pragma once
#include <cstdint>

namespace nk {

// One tile of y = MR output positions of one output row × up to NR = 32 output channels:
//   y[i·ldy + j] = bias[i] + sum_{t < depth} wp[t·32 + i] · x[off[t] + j]   (i < n, j < m)
// wp: depth × 32 packed weights (64-byte aligned, zero-padded channels); x: the first
// position's input in a zero-bordered image; off[t]: displacement of reduction step t
// (c, r, s) = c·Hp·Wp + r·dh·Wp + s·dw. Reads x[off[t] + j] for every j < MR (the caller
// keeps MR − m floats of slack). bias: 32 floats or null (zero).
constexpr int kConvDirectMR512 = 14;
void conv_direct_f32_avx512(int64_t depth, const float* wp, const float* x, const int64_t* off,
                            const float* bias, float* y, int64_t ldy, int m, int n);

}  // namespace nk

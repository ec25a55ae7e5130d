// Declarations only (included by the *_avx2.cpp files): the small vector kernels of the
// convolution packers, each with a portable twin. Reached through the kernel table (kernels.h).
#pragma once
#include <cstdint>

namespace nk {
// dst[t·nr + j] = src[j][t] for t < len, j < nr (nr source streams into nr-wide rows;
// nr a multiple of 8).
void transpose_f32_generic(const float* const* src, int nr, int64_t len, float* dst);
void transpose_f32_avx2(const float* const* src, int nr, int64_t len, float* dst);
}  // namespace nk

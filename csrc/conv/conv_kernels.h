// Declarations only (included by the *_avx2.cpp files): the small vector kernels of the
// convolution packers, each with a portable twin. Chosen at run time by nk::current_isa().
#pragma once
#include <cstdint>

namespace nk {
// dst[t·16 + j] = src[j][t] for t < len, j < 16 (16 source streams into 16-wide rows).
void transpose16_f32_generic(const float* const* src, int64_t len, float* dst);
void transpose16_f32_avx2(const float* const* src, int64_t len, float* dst);
}  // namespace nk

// Direct stride-1 conv2d tile kernels, forward and grad w (declarations only:
// conv_direct_avx512.cpp and conv_direct_avx2.cpp define them; the drivers forward_direct
// and backward_weight_direct in conv2d.cpp reach them through the kernel table). Contracts
// below with NR = 32 output channels a panel (avx512); the avx2 kernels are the same with
// NR = 16 (the table's `nr`).
#pragma once
#include <cstdint>

namespace nk {

// One tile of y = m <= MR output positions of one output row × up to NR output channels:
//   y[i·ldy + j] = bias[i] + sum_{t < depth} wp[t·NR + i] · x[off[t] + j]   (i < n, j < m)
// or, with acc, y[i·ldy + j] += the sum (bias unused): a depth split into blocks.
// wp: depth × NR packed weights (64-byte aligned, zero-padded channels); x: the first
// position's input in a zero-bordered image; off[t]: displacement of reduction step t
// (c, r, s) = c·Hp·Wp + r·dh·Wp + s·dw. Reads x[off[t] + j] for j < m. bias: NR floats or
// null (zero).
constexpr int kConvDirectMR512 = 14;
void conv_direct_f32_avx512(int64_t depth, const float* wp, const float* x, const int64_t* off,
                            const float* bias, float* y, int64_t ldy, int m, int n, bool acc);

// One tile of gWᵀ for one image: MR taps × 32 output channels, summed over its P × Q
// output positions and added into acc (MR × 32, 64-byte aligned):
//   acc[i·32 + j] += sum_{p < P, q < Q} x[off[i] + p·ldx + q] · gyt[(p·Q + q)·32 + j]
// x: the image's zero-bordered copy (row stride ldx = Wp), off[i]: tap i's displacement
// (as for the forward tile); gyt: gY of 32 output channels, position-major (P·Q × 32,
// 64-byte aligned, from conv_direct_pack_gyt_f32_avx512).
constexpr int kConvDirectGwMR512 = 8;
void conv_direct_gw_f32_avx512(int64_t P, int64_t Q, int64_t ldx, const float* x, const int64_t* off,
                               const float* gyt, float* acc);
// gyt[t·32 + i] = gy[i·ld + t] for t < len, i < n; zero for n <= i < 32 (gyt 64-byte aligned).
void conv_direct_pack_gyt_f32_avx512(const float* gy, int64_t ld, int64_t len, int n, float* gyt);

// The avx2 kernels: 6 positions × 16 channels forward, 6 taps × 16 channels grad w.
constexpr int kConvDirectMR256 = 6;
constexpr int kConvDirectGwMR256 = 6;
void conv_direct_f32_avx2(int64_t depth, const float* wp, const float* x, const int64_t* off,
                          const float* bias, float* y, int64_t ldy, int m, int n, bool acc);
void conv_direct_gw_f32_avx2(int64_t P, int64_t Q, int64_t ldx, const float* x, const int64_t* off,
                             const float* gyt, float* acc);
void conv_direct_pack_gyt_f32_avx2(const float* gy, int64_t ld, int64_t len, int n, float* gyt);

}  // namespace nk

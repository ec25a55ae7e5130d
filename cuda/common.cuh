// Device-side helpers shared by the kernel files (included by .cu files only).
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels.h"
#include "runtime.h"

namespace nkcuda {

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Blocks for a grid-stride loop over n items with `block` threads: enough to fill the
// device several times over, never more than the work needs.
inline unsigned grid_for(int64_t n, int block) {
  int64_t g = ceil_div(n, block);
  const int64_t cap = 65536;  // 64 Ki blocks of 256 threads: > 100 waves on any GPU
  return static_cast<unsigned>(g < 1 ? 1 : (g > cap ? cap : g));
}

// Fails loudly (CudaError) when the last launch was refused: no device, no driver,
// bad configuration.
inline void check_launch(const char* what) { check(cudaGetLastError(), what); }

template <typename T>
__device__ __forceinline__ T warp_sum(T v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

template <typename T>
__device__ __forceinline__ T warp_max(T v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmax(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Grouped block order for GEMM tiles: the grid's blocks, numbered x-fastest, are
// mapped to (row tile, column tile) so that GROUP consecutive row tiles sweep the
// column tiles together; the B panels they share stay in L2. A bijection on
// [0, gridDim.y) x [0, gridDim.x).
template <int GROUP>
__device__ __forceinline__ void grouped_tile(int64_t& tile_m, int64_t& tile_n) {
  // 32-bit: the tile count of any C that fits in memory is far below 2^32.
  const unsigned tiles_n = gridDim.x, tiles_m = gridDim.y;
  const unsigned bid = blockIdx.y * tiles_n + blockIdx.x;
  const unsigned per_group = GROUP * tiles_n;
  const unsigned first_m = (bid / per_group) * GROUP;
  const unsigned rows = tiles_m - first_m < GROUP ? tiles_m - first_m : GROUP;
  const unsigned local = bid % per_group;
  tile_m = first_m + local % rows;
  tile_n = local / rows;
}

// Precision-matched math: the float overloads use the single-precision functions.
__device__ __forceinline__ float nk_exp(float x) { return expf(x); }
__device__ __forceinline__ double nk_exp(double x) { return exp(x); }
__device__ __forceinline__ float nk_log(float x) { return logf(x); }
__device__ __forceinline__ double nk_log(double x) { return log(x); }
__device__ __forceinline__ float nk_tanh(float x) { return tanhf(x); }
__device__ __forceinline__ double nk_tanh(double x) { return tanh(x); }
__device__ __forceinline__ float nk_erf(float x) { return erff(x); }
__device__ __forceinline__ double nk_erf(double x) { return erf(x); }

}  // namespace nkcuda

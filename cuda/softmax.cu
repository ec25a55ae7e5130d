// softmax / log_softmax over the last axis and fused cross-entropy, forward and
// backward, fp32/fp64. Rows of length L are contiguous (ops moves the axis last).
//
// Each row is owned by one warp (L <= 2048: 8 rows per 256-thread block) or by one
// block of 512 threads (longer rows). Forward: one read pass keeps a running
// (max, sum of exp(x - max)) pair per thread (online softmax), the pairs are merged
// with __shfl_xor_sync butterflies (and through shared memory across warps in the
// block variant), then a second pass (mostly L1/L2 hits) writes
// y = exp(x - m) / s, or x - m - log(s). Backward: one pass for the row's dot
// product sum(g*y) (softmax) or sum(g) (log_softmax), one to write.
// Cross-entropy forward computes, per row, lse = m + log(s), sum(x) and x[target]:
//   loss_i = lse - (1-eps) x[t] - eps/C sum(x)      (torch's label smoothing)
// then a one-block reduction (fp64 accumulation) gives mean or sum. Backward writes
//   g_i * (softmax - (1-eps) onehot(t) - eps/C) in the same two passes.
// NaN/inf follow torch: a row of -inf gives NaN; a NaN makes its row NaN.
// Expected speed: bandwidth-bound, target >= 70% of device copy bandwidth on the
// bytes moved (NOT MEASURED: no GPU on the development machine).
// Shapes: x, y (R, L); logits (N, C), target (N,) int64.
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "common.cuh"

namespace nkcuda {
namespace {

constexpr int WARP_ROW_MAX = 2048;  // rows up to this length take one warp each
constexpr int WARP_BLOCK = 256;     // 8 rows per block
constexpr int ROW_BLOCK = 512;      // threads per row for long rows

// Running (max, sum) of exp: add one element. `v == m` covers -inf == -inf.
template <typename T>
__device__ __forceinline__ void online_add(T& m, T& s, T v) {
  if (v > m) {
    s = s * nk_exp(m - v) + T(1);
    m = v;
  } else {
    s += (v == m) ? T(1) : nk_exp(v - m);
  }
}

template <typename T>
__device__ __forceinline__ void online_merge(T& m, T& s, T mo, T so) {
  const T mn = fmax(m, mo);
  const T a = (m == mn) ? s : s * nk_exp(m - mn);
  const T b = (mo == mn) ? so : so * nk_exp(mo - mn);
  m = mn;
  s = a + b;
}

// Row-wide reductions for the two ownership modes. Every thread of the row gets the result.
template <bool WARP, typename T>
__device__ __forceinline__ T row_sum(T v, T* shm) {
  v = warp_sum(v);
  if (WARP) return v;
  const int lane = threadIdx.x % 32, w = threadIdx.x / 32;
  __syncthreads();  // shm may still be read from a previous reduction
  if (lane == 0) shm[w] = v;
  __syncthreads();
  v = lane < (int)(blockDim.x / 32) ? shm[lane] : T(0);
  return warp_sum(v);
}

template <bool WARP, typename T>
__device__ __forceinline__ void row_max_sum(T& m, T& s, T* shm) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const T mo = __shfl_xor_sync(0xffffffffu, m, o);
    const T so = __shfl_xor_sync(0xffffffffu, s, o);
    online_merge(m, s, mo, so);
  }
  if (WARP) return;
  const int lane = threadIdx.x % 32, w = threadIdx.x / 32, nw = blockDim.x / 32;
  __syncthreads();
  if (lane == 0) {
    shm[w] = m;
    shm[32 + w] = s;
  }
  __syncthreads();
  m = lane < nw ? shm[lane] : T(-INFINITY);
  s = lane < nw ? shm[32 + lane] : T(0);
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const T mo = __shfl_xor_sync(0xffffffffu, m, o);
    const T so = __shfl_xor_sync(0xffffffffu, s, o);
    online_merge(m, s, mo, so);
  }
}

// The row this thread works on, its first element and the stride between its elements.
template <bool WARP>
__device__ __forceinline__ void row_coords(int64_t& row, int& first, int& step) {
  if (WARP) {
    row = (int64_t)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    first = threadIdx.x % 32;
    step = 32;
  } else {
    row = blockIdx.x;
    first = threadIdx.x;
    step = blockDim.x;
  }
}

template <typename T, bool WARP, bool LOG>
__global__ void softmax_fwd(int64_t R, int64_t L, const T* __restrict__ x, T* __restrict__ y) {
  __shared__ T shm[64];
  int64_t row;
  int first, step;
  row_coords<WARP>(row, first, step);
  if (row >= R) return;  // WARP mode only (block mode has exactly R blocks)
  const T* xr = x + row * L;
  T* yr = y + row * L;
  T m = -INFINITY, s = 0;
  for (int64_t i = first; i < L; i += step) online_add(m, s, xr[i]);
  row_max_sum<WARP>(m, s, shm);
  if (LOG) {
    const T shift = m + nk_log(s);
    for (int64_t i = first; i < L; i += step) yr[i] = xr[i] - shift;
  } else {
    const T inv = T(1) / s;
    for (int64_t i = first; i < L; i += step) yr[i] = nk_exp(xr[i] - m) * inv;
  }
}

template <typename T, bool WARP, bool LOG>
__global__ void softmax_bwd(int64_t R, int64_t L, const T* __restrict__ gy, const T* __restrict__ y,
                            T* __restrict__ gx) {
  __shared__ T shm[64];
  int64_t row;
  int first, step;
  row_coords<WARP>(row, first, step);
  if (row >= R) return;
  const T* gr = gy + row * L;
  const T* yr = y + row * L;
  T* xr = gx + row * L;
  T acc = 0;
  if (LOG) {
    for (int64_t i = first; i < L; i += step) acc += gr[i];
  } else {
    for (int64_t i = first; i < L; i += step) acc += gr[i] * yr[i];
  }
  acc = row_sum<WARP>(acc, shm);
  if (LOG) {
    for (int64_t i = first; i < L; i += step) xr[i] = gr[i] - nk_exp(yr[i]) * acc;
  } else {
    for (int64_t i = first; i < L; i += step) xr[i] = yr[i] * (gr[i] - acc);
  }
}

template <typename T, bool WARP>
__global__ void cross_entropy_fwd(int64_t N, int64_t C, const T* __restrict__ logits,
                                  const int64_t* __restrict__ target, T eps, T* __restrict__ row_loss) {
  __shared__ T shm[64];
  int64_t row;
  int first, step;
  row_coords<WARP>(row, first, step);
  if (row >= N) return;
  const T* xr = logits + row * C;
  const int64_t t = target[row];
  T m = -INFINITY, s = 0, sx = 0;
  for (int64_t i = first; i < C; i += step) {
    const T v = xr[i];
    online_add(m, s, v);
    sx += v;
  }
  row_max_sum<WARP>(m, s, shm);
  if (eps != T(0)) sx = row_sum<WARP>(sx, shm);
  if (first == 0) {
    const bool ok = t >= 0 && t < C;
    const T xt = ok ? xr[t] : T(NAN);
    const T lse = m + nk_log(s);
    T loss = lse - (T(1) - eps) * xt;
    if (eps != T(0)) loss -= eps / T(C) * sx;
    row_loss[row] = loss;
  }
}

// out[0] = scale * sum(v[0..n)), one block, fp64 accumulation, fixed order.
template <typename T>
__global__ void reduce_sum_1block(int64_t n, const T* __restrict__ v, double scale, T* __restrict__ out) {
  __shared__ double shm[32];
  double acc = 0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) acc += (double)v[i];
  acc = warp_sum(acc);
  const int lane = threadIdx.x % 32, w = threadIdx.x / 32;
  if (lane == 0) shm[w] = acc;
  __syncthreads();
  if (w == 0) {
    acc = lane < (int)(blockDim.x / 32) ? shm[lane] : 0.0;
    acc = warp_sum(acc);
    if (lane == 0) out[0] = (T)(acc * scale);
  }
}

template <typename T, bool WARP>
__global__ void cross_entropy_bwd(int64_t N, int64_t C, const T* __restrict__ gout, int64_t g_stride, T g_scale,
                                  const T* __restrict__ logits, const int64_t* __restrict__ target, T eps,
                                  T* __restrict__ gx) {
  __shared__ T shm[64];
  int64_t row;
  int first, step;
  row_coords<WARP>(row, first, step);
  if (row >= N) return;
  const T* xr = logits + row * C;
  T* gr = gx + row * C;
  const int64_t t = target[row];
  const T g = gout[row * g_stride] * g_scale;
  T m = -INFINITY, s = 0;
  for (int64_t i = first; i < C; i += step) online_add(m, s, xr[i]);
  row_max_sum<WARP>(m, s, shm);
  const T inv = T(1) / s, on = T(1) - eps, off = eps / T(C);
  const bool ok = t >= 0 && t < C;
  for (int64_t i = first; i < C; i += step) {
    const T p = nk_exp(xr[i] - m) * inv;
    gr[i] = ok ? g * (p - (i == t ? on : T(0)) - off) : T(NAN);
  }
}

template <typename F>
void dispatch(DType dtype, const char* op, F&& f) {
  if (dtype == DType::f32) f(float());
  else if (dtype == DType::f64) f(double());
  else throw CudaError(std::string(op) + ": dtype must be float32 or float64");
}

// Launches kernel<WARP=true> or <WARP=false> for R rows of length L.
template <typename KW, typename KB>
void launch_rows(int64_t R, int64_t L, cudaStream_t stream, KW&& warp_kernel, KB&& block_kernel) {
  if (L <= WARP_ROW_MAX) {
    const int64_t rows_per_block = WARP_BLOCK / 32;
    warp_kernel(dim3((unsigned)ceil_div(R, rows_per_block)), dim3(WARP_BLOCK));
  } else {
    if (R > 0x7fffffffLL) throw CudaError("softmax: too many rows");
    block_kernel(dim3((unsigned)R), dim3(ROW_BLOCK));
  }
}

}  // namespace

void softmax_forward(DType dtype, int64_t R, int64_t L, const void* x, void* y, bool log, cudaStream_t stream) {
  if (R <= 0 || L <= 0) return;
  dispatch(dtype, "softmax", [&](auto zero) {
    using T = decltype(zero);
    const T* xp = static_cast<const T*>(x);
    T* yp = static_cast<T*>(y);
    launch_rows(
        R, L, stream,
        [&](dim3 g, dim3 b) {
          if (log) softmax_fwd<T, true, true><<<g, b, 0, stream>>>(R, L, xp, yp);
          else softmax_fwd<T, true, false><<<g, b, 0, stream>>>(R, L, xp, yp);
        },
        [&](dim3 g, dim3 b) {
          if (log) softmax_fwd<T, false, true><<<g, b, 0, stream>>>(R, L, xp, yp);
          else softmax_fwd<T, false, false><<<g, b, 0, stream>>>(R, L, xp, yp);
        });
    check_launch("softmax_fwd launch");
  });
}

void softmax_backward(DType dtype, int64_t R, int64_t L, const void* grad_y, const void* y, void* grad_x, bool log,
                      cudaStream_t stream) {
  if (R <= 0 || L <= 0) return;
  dispatch(dtype, "softmax_backward", [&](auto zero) {
    using T = decltype(zero);
    const T* gp = static_cast<const T*>(grad_y);
    const T* yp = static_cast<const T*>(y);
    T* xp = static_cast<T*>(grad_x);
    launch_rows(
        R, L, stream,
        [&](dim3 g, dim3 b) {
          if (log) softmax_bwd<T, true, true><<<g, b, 0, stream>>>(R, L, gp, yp, xp);
          else softmax_bwd<T, true, false><<<g, b, 0, stream>>>(R, L, gp, yp, xp);
        },
        [&](dim3 g, dim3 b) {
          if (log) softmax_bwd<T, false, true><<<g, b, 0, stream>>>(R, L, gp, yp, xp);
          else softmax_bwd<T, false, false><<<g, b, 0, stream>>>(R, L, gp, yp, xp);
        });
    check_launch("softmax_bwd launch");
  });
}

void cross_entropy_forward(DType dtype, int64_t N, int64_t C, const void* logits, const int64_t* target,
                           double label_smoothing, int reduction, void* row_loss, void* out, cudaStream_t stream) {
  if (reduction < 0 || reduction > 2) throw CudaError("cross_entropy: reduction must be 0 (none), 1 (mean), 2 (sum)");
  dispatch(dtype, "cross_entropy", [&](auto zero) {
    using T = decltype(zero);
    const T* xp = static_cast<const T*>(logits);
    T* lp = static_cast<T*>(row_loss);
    const T eps = (T)label_smoothing;
    if (N > 0 && C > 0) {
      launch_rows(
          N, C, stream,
          [&](dim3 g, dim3 b) { cross_entropy_fwd<T, true><<<g, b, 0, stream>>>(N, C, xp, target, eps, lp); },
          [&](dim3 g, dim3 b) { cross_entropy_fwd<T, false><<<g, b, 0, stream>>>(N, C, xp, target, eps, lp); });
      check_launch("cross_entropy_fwd launch");
    }
    if (reduction != 0) {
      // mean of an empty batch is NaN (as torch); the sum is 0.
      const double scale = reduction == 1 ? (N > 0 ? 1.0 / (double)N : NAN) : 1.0;
      reduce_sum_1block<T><<<1, 1024, 0, stream>>>(N > 0 && C > 0 ? N : 0, lp, scale, static_cast<T*>(out));
      check_launch("cross_entropy reduce launch");
    }
  });
}

void cross_entropy_backward(DType dtype, int64_t N, int64_t C, const void* grad_out, int64_t g_stride,
                            double g_scale, const void* logits, const int64_t* target, double label_smoothing,
                            void* grad_logits, cudaStream_t stream) {
  if (N <= 0 || C <= 0) return;
  dispatch(dtype, "cross_entropy_backward", [&](auto zero) {
    using T = decltype(zero);
    const T* gp = static_cast<const T*>(grad_out);
    const T* xp = static_cast<const T*>(logits);
    T* op = static_cast<T*>(grad_logits);
    const T eps = (T)label_smoothing, gs = (T)g_scale;
    launch_rows(
        N, C, stream,
        [&](dim3 g, dim3 b) {
          cross_entropy_bwd<T, true><<<g, b, 0, stream>>>(N, C, gp, g_stride, gs, xp, target, eps, op);
        },
        [&](dim3 g, dim3 b) {
          cross_entropy_bwd<T, false><<<g, b, 0, stream>>>(N, C, gp, g_stride, gs, xp, target, eps, op);
        });
    check_launch("cross_entropy_bwd launch");
  });
}

}  // namespace nkcuda

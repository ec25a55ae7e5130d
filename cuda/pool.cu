// 2-D pooling on NCHW tensors, forward and backward, fp32/fp64, torch semantics.
//
//   max_pool2d_fwd     one thread per output element (grid-stride), window with
//                      padding (implicit -inf) and dilation; records the flat index
//                      ih*W + iw of the maximum (first one on ties, NaN wins, as torch).
//   max_pool2d_bwd     gx zeroed, then one thread per output element adds its gradient
//                      at the recorded index with atomicAdd (windows may overlap; the
//                      backward has no window parameters to gather with).
//   avg_pool2d_fwd/bwd torch's divisor: window clipped to [-pad, H+pad) for
//                      count_include_pad, else to the image. The backward gathers:
//                      one thread per input element sums grad/divisor over the outputs
//                      whose window covers it (no atomics, deterministic).
//   adaptive_avg_*     windows [floor(o*H/OH), ceil((o+1)*H/OH)); backward gathers.
//                      Windows of >= 64 elements (global average pooling) take a warp
//                      per output in the forward.
// Consecutive threads take consecutive output (or input) columns, so global reads and
// writes are coalesced along W. Index math is 32-bit whenever the tensor allows it
// (int64 div/mod per element would cost more than the memory traffic). These kernels are bandwidth-bound; target: >= 70% of
// the device-to-device copy bandwidth on the bytes they must move (NOT MEASURED: no
// GPU on the development machine; `python benchmarks/gpu_bench.py` measures it).
// Shapes: x (N,C,H,W), y (N,C,OH,OW); NC = N*C planes.
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "common.cuh"

namespace nkcuda {
namespace {

constexpr int POOL_BLOCK = 256;

// Index arithmetic: I = int when every flat index (and index + grid stride) fits in
// 31 bits, which keeps the per-element div/mod in 32-bit integer instructions; int64_t
// otherwise.
template <typename T, typename I>
__global__ void max_pool2d_fwd(Pool2dArgs p, const T* __restrict__ x, T* __restrict__ y,
                               int64_t* __restrict__ indices) {
  const I H = (I)p.H, W = (I)p.W, OH = (I)p.OH, OW = (I)p.OW;
  const I total = (I)(p.N * p.C) * OH * OW;
  for (I o = blockIdx.x * (I)blockDim.x + threadIdx.x; o < total; o += (I)gridDim.x * blockDim.x) {
    const I ow = o % OW;
    const I t = o / OW;
    const I oh = t % OH;
    const I nc = t / OH;
    const T* plane = x + nc * H * W;
    const I h0 = oh * p.sh - p.ph, w0 = ow * p.sw - p.pw;
    T best = -INFINITY;
    I best_i = -1;
    for (int i = 0; i < p.kh; ++i) {
      const I h = h0 + (I)i * p.dh;
      if (h < 0 || h >= H) continue;
      for (int j = 0; j < p.kw; ++j) {
        const I w = w0 + (I)j * p.dw;
        if (w < 0 || w >= W) continue;
        const T v = plane[h * W + w];
        if (best_i < 0 || v > best || isnan(v)) {  // torch's rule: a NaN is the max (the last one)
          best = v;
          best_i = h * W + w;
        }
      }
    }
    y[o] = best;  // a window entirely in the padding cannot happen (pad <= kernel/2)
    indices[o] = best_i < 0 ? 0 : (int64_t)best_i;
  }
}

template <typename T, typename I>
__global__ void max_pool2d_bwd(int64_t NC_, int64_t HW_, int64_t OHW_, const T* __restrict__ gy,
                               const int64_t* __restrict__ indices, T* __restrict__ gx) {
  const I HW = (I)HW_, OHW = (I)OHW_;
  const I total = (I)NC_ * OHW;
  for (I o = blockIdx.x * (I)blockDim.x + threadIdx.x; o < total; o += (I)gridDim.x * blockDim.x) {
    const I nc = o / OHW;
    const int64_t i = indices[o];
    if (i >= 0 && i < HW) atomicAdd(gx + nc * HW + (I)i, gy[o]);
  }
}

// Divisor of output (oh, ow) exactly as torch's avg_pool2d (no divisor_override).
template <typename I>
__device__ __forceinline__ I avg_divisor(const Pool2dArgs& p, I H, I W, I oh, I ow, I* hs, I* he, I* ws, I* we) {
  I h0 = oh * p.sh - p.ph, w0 = ow * p.sw - p.pw;
  I h1 = min(h0 + (I)p.kh, H + (I)p.ph), w1 = min(w0 + (I)p.kw, W + (I)p.pw);
  const I pool = (h1 - h0) * (w1 - w0);
  h0 = max(h0, (I)0);
  w0 = max(w0, (I)0);
  h1 = min(h1, H);
  w1 = min(w1, W);
  *hs = h0, *he = h1, *ws = w0, *we = w1;
  return p.count_include_pad ? pool : (h1 - h0) * (w1 - w0);
}

template <typename T, typename I>
__global__ void avg_pool2d_fwd(Pool2dArgs p, const T* __restrict__ x, T* __restrict__ y) {
  const I H = (I)p.H, W = (I)p.W, OH = (I)p.OH, OW = (I)p.OW;
  const I total = (I)(p.N * p.C) * OH * OW;
  for (I o = blockIdx.x * (I)blockDim.x + threadIdx.x; o < total; o += (I)gridDim.x * blockDim.x) {
    const I ow = o % OW;
    const I t = o / OW;
    const I oh = t % OH;
    const I nc = t / OH;
    I hs, he, ws, we;
    const I div = avg_divisor<I>(p, H, W, oh, ow, &hs, &he, &ws, &we);
    const T* plane = x + nc * H * W;
    T s = 0;
    for (I h = hs; h < he; ++h)
      for (I w = ws; w < we; ++w) s += plane[h * W + w];
    y[o] = div > 0 ? s / (T)div : T(NAN);  // div > 0 always: a window cannot lie in the padding
  }
}

template <typename T, typename I>
__global__ void avg_pool2d_bwd(Pool2dArgs p, const T* __restrict__ gy, T* __restrict__ gx) {
  const I H = (I)p.H, W = (I)p.W, OH = (I)p.OH, OW = (I)p.OW;
  const I total = (I)(p.N * p.C) * H * W;
  for (I e = blockIdx.x * (I)blockDim.x + threadIdx.x; e < total; e += (I)gridDim.x * blockDim.x) {
    const I w = e % W;
    const I t = e / W;
    const I h = t % H;
    const I nc = t / H;
    // Outputs whose window [o*s - pad, o*s - pad + k) holds h: (h+pad-k)/s < o <= (h+pad)/s.
    const I hp = h + p.ph, wp = w + p.pw;
    const I oh0 = hp < p.kh ? 0 : (hp - p.kh) / p.sh + 1;
    const I oh1 = min(hp / (I)p.sh + 1, OH);
    const I ow0 = wp < p.kw ? 0 : (wp - p.kw) / p.sw + 1;
    const I ow1 = min(wp / (I)p.sw + 1, OW);
    const T* g = gy + nc * OH * OW;
    T s = 0;
    for (I oh = oh0; oh < oh1; ++oh) {
      for (I ow = ow0; ow < ow1; ++ow) {
        I hs, he, ws, we;
        const I div = avg_divisor<I>(p, H, W, oh, ow, &hs, &he, &ws, &we);
        // The clipped window always holds (h, w) here: h < H <= H + pad.
        s += g[oh * OW + ow] / (T)div;
      }
    }
    gx[e] = s;
  }
}

// True when flat indices up to n (plus a grid stride) fit in a 32-bit int.
inline bool fits32(int64_t n) { return n < (int64_t{1} << 31) - (int64_t{1} << 26); }

__device__ __forceinline__ int64_t ad_start(int64_t o, int64_t I, int64_t O) { return (o * I) / O; }
__device__ __forceinline__ int64_t ad_end(int64_t o, int64_t I, int64_t O) { return ((o + 1) * I + O - 1) / O; }

template <typename T>
__global__ void adaptive_avg_fwd(int64_t NC, int64_t H, int64_t W, int64_t OH, int64_t OW, const T* __restrict__ x,
                                 T* __restrict__ y) {
  const int64_t total = NC * OH * OW;
  for (int64_t o = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; o < total;
       o += (int64_t)gridDim.x * blockDim.x) {
    const int64_t ow = o % OW;
    const int64_t oh = (o / OW) % OH;
    const int64_t nc = o / (OW * OH);
    const int64_t hs = ad_start(oh, H, OH), he = ad_end(oh, H, OH);
    const int64_t ws = ad_start(ow, W, OW), we = ad_end(ow, W, OW);
    const T* plane = x + nc * H * W;
    T s = 0;
    for (int64_t h = hs; h < he; ++h)
      for (int64_t w = ws; w < we; ++w) s += plane[h * W + w];
    y[o] = s / (T)((he - hs) * (we - ws));
  }
}

// Large windows (global average pooling): one warp per output, lanes stride over the
// window's columns, a shuffle reduction at the end.
template <typename T>
__global__ void adaptive_avg_fwd_warp(int64_t NC, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                      const T* __restrict__ x, T* __restrict__ y) {
  const int64_t total = NC * OH * OW;
  const int lane = threadIdx.x % 32;
  const int64_t warps = (int64_t)gridDim.x * (blockDim.x / 32);
  for (int64_t o = blockIdx.x * (int64_t)(blockDim.x / 32) + threadIdx.x / 32; o < total; o += warps) {
    const int64_t ow = o % OW;
    const int64_t oh = (o / OW) % OH;
    const int64_t nc = o / (OW * OH);
    const int64_t hs = ad_start(oh, H, OH), he = ad_end(oh, H, OH);
    const int64_t ws = ad_start(ow, W, OW), we = ad_end(ow, W, OW);
    const int64_t wn = we - ws, n = (he - hs) * wn;
    const T* plane = x + nc * H * W;
    T s = 0;
    for (int64_t e = lane; e < n; e += 32) s += plane[(hs + e / wn) * W + ws + e % wn];
    s = warp_sum(s);
    if (lane == 0) y[o] = s / (T)n;
  }
}

template <typename T>
__global__ void adaptive_avg_bwd(int64_t NC, int64_t H, int64_t W, int64_t OH, int64_t OW, const T* __restrict__ gy,
                                 T* __restrict__ gx) {
  const int64_t total = NC * H * W;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total;
       e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t w = e % W;
    const int64_t h = (e / W) % H;
    const int64_t nc = e / (W * H);
    // Candidate outputs: floor(h*OH/H) <= o < ceil((h+1)*OH/H); checked exactly below.
    const int64_t oh0 = (h * OH) / H, oh1 = min(((h + 1) * OH + H - 1) / H, OH);
    const int64_t ow0 = (w * OW) / W, ow1 = min(((w + 1) * OW + W - 1) / W, OW);
    const T* g = gy + nc * OH * OW;
    T s = 0;
    for (int64_t oh = oh0; oh < oh1; ++oh) {
      const int64_t hs = ad_start(oh, H, OH), he = ad_end(oh, H, OH);
      if (h < hs || h >= he) continue;
      for (int64_t ow = ow0; ow < ow1; ++ow) {
        const int64_t ws = ad_start(ow, W, OW), we = ad_end(ow, W, OW);
        if (w < ws || w >= we) continue;
        s += g[oh * OW + ow] / (T)((he - hs) * (we - ws));
      }
    }
    gx[e] = s;
  }
}

template <typename F>
void dispatch(DType dtype, const char* op, F&& f) {
  if (dtype == DType::f32) f(float());
  else if (dtype == DType::f64) f(double());
  else throw CudaError(std::string(op) + ": dtype must be float32 or float64");
}

}  // namespace

void max_pool2d_forward(DType dtype, const Pool2dArgs& p, const void* x, void* y, int64_t* indices,
                        cudaStream_t stream) {
  const int64_t total = p.N * p.C * p.OH * p.OW;
  if (total <= 0) return;
  dispatch(dtype, "max_pool2d", [&](auto zero) {
    using T = decltype(zero);
    const dim3 grid = grid_for(total, POOL_BLOCK);
    if (fits32(p.N * p.C * p.H * p.W) && fits32(total))
      max_pool2d_fwd<T, int><<<grid, POOL_BLOCK, 0, stream>>>(p, static_cast<const T*>(x), static_cast<T*>(y), indices);
    else
      max_pool2d_fwd<T, int64_t><<<grid, POOL_BLOCK, 0, stream>>>(p, static_cast<const T*>(x), static_cast<T*>(y),
                                                                 indices);
    check_launch("max_pool2d_fwd launch");
  });
}

void max_pool2d_backward(DType dtype, int64_t NC, int64_t HW, int64_t OHW, const void* grad_out,
                         const int64_t* indices, void* grad_x, cudaStream_t stream) {
  if (NC * HW <= 0) return;
  dispatch(dtype, "max_pool2d_backward", [&](auto zero) {
    using T = decltype(zero);
    check(cudaMemsetAsync(grad_x, 0, sizeof(T) * NC * HW, stream), "max_pool2d_backward memset");
    const int64_t total = NC * OHW;
    if (total <= 0) return;
    const dim3 grid = grid_for(total, POOL_BLOCK);
    if (fits32(NC * HW) && fits32(total))
      max_pool2d_bwd<T, int><<<grid, POOL_BLOCK, 0, stream>>>(NC, HW, OHW, static_cast<const T*>(grad_out), indices,
                                                             static_cast<T*>(grad_x));
    else
      max_pool2d_bwd<T, int64_t><<<grid, POOL_BLOCK, 0, stream>>>(NC, HW, OHW, static_cast<const T*>(grad_out),
                                                                 indices, static_cast<T*>(grad_x));
    check_launch("max_pool2d_bwd launch");
  });
}

void avg_pool2d_forward(DType dtype, const Pool2dArgs& p, const void* x, void* y, cudaStream_t stream) {
  const int64_t total = p.N * p.C * p.OH * p.OW;
  if (total <= 0) return;
  dispatch(dtype, "avg_pool2d", [&](auto zero) {
    using T = decltype(zero);
    const dim3 grid = grid_for(total, POOL_BLOCK);
    if (fits32(p.N * p.C * p.H * p.W) && fits32(total))
      avg_pool2d_fwd<T, int><<<grid, POOL_BLOCK, 0, stream>>>(p, static_cast<const T*>(x), static_cast<T*>(y));
    else
      avg_pool2d_fwd<T, int64_t><<<grid, POOL_BLOCK, 0, stream>>>(p, static_cast<const T*>(x), static_cast<T*>(y));
    check_launch("avg_pool2d_fwd launch");
  });
}

void avg_pool2d_backward(DType dtype, const Pool2dArgs& p, const void* grad_out, void* grad_x,
                         cudaStream_t stream) {
  const int64_t total = p.N * p.C * p.H * p.W;
  if (total <= 0) return;
  dispatch(dtype, "avg_pool2d_backward", [&](auto zero) {
    using T = decltype(zero);
    const dim3 grid = grid_for(total, POOL_BLOCK);
    if (fits32(total) && fits32(p.N * p.C * p.OH * p.OW))
      avg_pool2d_bwd<T, int><<<grid, POOL_BLOCK, 0, stream>>>(p, static_cast<const T*>(grad_out),
                                                             static_cast<T*>(grad_x));
    else
      avg_pool2d_bwd<T, int64_t><<<grid, POOL_BLOCK, 0, stream>>>(p, static_cast<const T*>(grad_out),
                                                                 static_cast<T*>(grad_x));
    check_launch("avg_pool2d_bwd launch");
  });
}

void adaptive_avg_pool2d_forward(DType dtype, int64_t NC, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                 const void* x, void* y, cudaStream_t stream) {
  const int64_t total = NC * OH * OW;
  if (total <= 0) return;
  dispatch(dtype, "adaptive_avg_pool2d", [&](auto zero) {
    using T = decltype(zero);
    const int64_t window = ceil_div(H, OH) * ceil_div(W, OW);
    if (window >= 64) {  // few outputs with long sums: a warp each
      adaptive_avg_fwd_warp<T><<<grid_for(total * 32, POOL_BLOCK), POOL_BLOCK, 0, stream>>>(
          NC, H, W, OH, OW, static_cast<const T*>(x), static_cast<T*>(y));
    } else {
      adaptive_avg_fwd<T><<<grid_for(total, POOL_BLOCK), POOL_BLOCK, 0, stream>>>(
          NC, H, W, OH, OW, static_cast<const T*>(x), static_cast<T*>(y));
    }
    check_launch("adaptive_avg_pool2d_fwd launch");
  });
}

void adaptive_avg_pool2d_backward(DType dtype, int64_t NC, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                  const void* grad_out, void* grad_x, cudaStream_t stream) {
  const int64_t total = NC * H * W;
  if (total <= 0) return;
  dispatch(dtype, "adaptive_avg_pool2d_backward", [&](auto zero) {
    using T = decltype(zero);
    adaptive_avg_bwd<T><<<grid_for(total, POOL_BLOCK), POOL_BLOCK, 0, stream>>>(
        NC, H, W, OH, OW, static_cast<const T*>(grad_out), static_cast<T*>(grad_x));
    check_launch("adaptive_avg_pool2d_bwd launch");
  });
}

}  // namespace nkcuda

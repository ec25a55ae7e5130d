// Fused bias + activation and the activations' backward, fp32/fp64.
//
//   bias_act_fwd  y[i] = act(x[i] + bias[(i / inner) % C]) -- the bias broadcast
//                 along one axis of a contiguous tensor (C = that axis' length,
//                 inner = product of the axes after it); no bias when bias is null.
//   act_bwd       grad_x = grad_y * act'(t), t = x (relu, leaky_relu, gelu, silu) or the
//                 forward output y (sigmoid, tanh), as the ops' signatures say.
// Activations (torch.nn.functional semantics): relu, leaky_relu(negative_slope),
// sigmoid, tanh, gelu (erf form), gelu(approximate='tanh') and silu (x·sigmoid(x)).
// One grid-stride loop, one element per thread per step; the activation is a
// template argument so each kernel is branch-free. Bandwidth-bound: target is the
// copy bandwidth (NOT MEASURED: no GPU on the development machine).
// Shapes: x, y (n,) viewed as (outer, C, inner); bias (C,).
#include <cuda_runtime.h>

#include <cstdint>
#include <string>
#include <type_traits>

#include "common.cuh"

namespace nkcuda {
namespace {

constexpr int EW_BLOCK = 256;

template <typename T, Act A>
__device__ __forceinline__ T act_fwd(T v, T slope) {
  if constexpr (A == Act::relu) return v > T(0) ? v : T(0);
  else if constexpr (A == Act::leaky_relu) return v > T(0) ? v : v * slope;
  else if constexpr (A == Act::sigmoid) return T(1) / (T(1) + nk_exp(-v));
  else if constexpr (A == Act::tanh) return nk_tanh(v);
  else if constexpr (A == Act::gelu) return T(0.5) * v * (T(1) + nk_erf(v * T(0.70710678118654752440)));
  else if constexpr (A == Act::gelu_tanh) {
    const T k = T(0.79788456080286535588);  // sqrt(2/pi)
    return T(0.5) * v * (T(1) + nk_tanh(k * (v + T(0.044715) * v * v * v)));
  } else if constexpr (A == Act::silu) return v / (T(1) + nk_exp(-v));
  else return v;
}

// d act / d input, given t = x (or y for sigmoid/tanh).
template <typename T, Act A>
__device__ __forceinline__ T act_grad(T t, T slope) {
  if constexpr (A == Act::relu) return t > T(0) ? T(1) : T(0);
  else if constexpr (A == Act::leaky_relu) return t > T(0) ? T(1) : slope;
  else if constexpr (A == Act::sigmoid) return t * (T(1) - t);
  else if constexpr (A == Act::tanh) return T(1) - t * t;
  else if constexpr (A == Act::gelu) {
    const T cdf = T(0.5) * (T(1) + nk_erf(t * T(0.70710678118654752440)));
    const T pdf = nk_exp(T(-0.5) * t * t) * T(0.39894228040143267794);  // 1/sqrt(2 pi)
    return cdf + t * pdf;
  } else if constexpr (A == Act::gelu_tanh) {
    const T k = T(0.79788456080286535588), c = T(0.044715);
    const T th = nk_tanh(k * (t + c * t * t * t));
    return T(0.5) * (T(1) + th) + T(0.5) * t * (T(1) - th * th) * k * (T(1) + T(3) * c * t * t);
  } else if constexpr (A == Act::silu) {
    const T s = T(1) / (T(1) + nk_exp(-t));
    return s * (T(1) + t * (T(1) - s));
  } else return T(1);
}

template <typename T, Act A>
__global__ void bias_act_fwd(int64_t n, int64_t C, int64_t inner, const T* __restrict__ x,
                             const T* __restrict__ bias, T* __restrict__ y, T slope) {
  // 32-bit div/mod for the channel index whenever the sizes allow (the common case)
  const bool narrow = n < (int64_t{1} << 31) && inner < (int64_t{1} << 31) && C < (int64_t{1} << 31);
  const unsigned inner32 = (unsigned)inner, C32 = (unsigned)C;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    T v = x[i];
    if (bias) v += narrow ? bias[((unsigned)i / inner32) % C32] : bias[(i / inner) % C];
    y[i] = act_fwd<T, A>(v, slope);
  }
}

template <typename T, Act A>
__global__ void act_bwd(int64_t n, const T* __restrict__ gy, const T* __restrict__ t, T* __restrict__ gx, T slope) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    gx[i] = gy[i] * act_grad<T, A>(t[i], slope);
}

template <typename F>
void dispatch(DType dtype, const char* op, F&& f) {
  if (dtype == DType::f32) f(float());
  else if (dtype == DType::f64) f(double());
  else throw CudaError(std::string(op) + ": dtype must be float32 or float64");
}

// Calls f(std::integral_constant<Act, a>) for the runtime value a.
template <typename F>
void dispatch_act(Act a, F&& f) {
  switch (a) {
    case Act::none: return f(std::integral_constant<Act, Act::none>());
    case Act::relu: return f(std::integral_constant<Act, Act::relu>());
    case Act::leaky_relu: return f(std::integral_constant<Act, Act::leaky_relu>());
    case Act::sigmoid: return f(std::integral_constant<Act, Act::sigmoid>());
    case Act::tanh: return f(std::integral_constant<Act, Act::tanh>());
    case Act::gelu: return f(std::integral_constant<Act, Act::gelu>());
    case Act::gelu_tanh: return f(std::integral_constant<Act, Act::gelu_tanh>());
    case Act::silu: return f(std::integral_constant<Act, Act::silu>());
  }
  throw CudaError("unknown activation code");
}

}  // namespace

void bias_act_forward(DType dtype, int64_t n, int64_t C, int64_t inner, const void* x, const void* bias, void* y,
                      Act act, double negative_slope, cudaStream_t stream) {
  if (n <= 0) return;
  if (bias && (C <= 0 || inner <= 0)) throw CudaError("bias_act: C and inner must be positive with a bias");
  dispatch(dtype, "bias_act", [&](auto zero) {
    using T = decltype(zero);
    dispatch_act(act, [&](auto a) {
      bias_act_fwd<T, decltype(a)::value><<<grid_for(n, EW_BLOCK), EW_BLOCK, 0, stream>>>(
          n, bias ? C : 1, bias ? inner : 1, static_cast<const T*>(x), static_cast<const T*>(bias),
          static_cast<T*>(y), (T)negative_slope);
    });
    check_launch("bias_act_fwd launch");
  });
}

void act_backward(DType dtype, int64_t n, const void* grad_y, const void* t, void* grad_x, Act act,
                  double negative_slope, cudaStream_t stream) {
  if (n <= 0) return;
  dispatch(dtype, "act_backward", [&](auto zero) {
    using T = decltype(zero);
    dispatch_act(act, [&](auto a) {
      act_bwd<T, decltype(a)::value><<<grid_for(n, EW_BLOCK), EW_BLOCK, 0, stream>>>(
          n, static_cast<const T*>(grad_y), static_cast<const T*>(t), static_cast<T*>(grad_x), (T)negative_slope);
    });
    check_launch("act_backward launch");
  });
}

}  // namespace nkcuda

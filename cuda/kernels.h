// Host-side launchers of the CUDA kernel families (declarations only, so that the
// pybind11 bindings in module.cpp, compiled by the C++ compiler, can call them).
//
// Conventions for every launcher:
//   - pointers are device pointers (CuPy memory); nothing is allocated here;
//   - all work is queued on `stream`; launch errors throw nkcuda::CudaError;
//   - dims are element counts, strides/leading dimensions are in elements;
//   - `dtype` selects the element type: see DType below;
//   - shape legend (project-wide): N batch, C channels, H W input height/width,
//     OH OW output height/width, M N K GEMM sizes, R rows, L row length.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace nkcuda {

enum class DType : int { f32 = 0, f64 = 1, f16 = 2, bf16 = 3 };

// ---- GEMM ------------------------------------------------------------------------
// C[b] := alpha * op(A[b]) @ op(B[b]) + beta * C[b] for b < batch, all row-major.
// op(A) is M x K: A is M x K (lda >= K), or K x M when trans_a (lda >= M); same for B
// (K x N, or N x K when trans_b). A[b] = A + b*stride_a (stride 0 broadcasts one matrix).
// beta == 0 never reads C (C may hold NaN).
struct GemmArgs {
  int64_t M, N, K;
  double alpha, beta;
  const void* A; int64_t lda; bool trans_a; int64_t stride_a;
  const void* B; int64_t ldb; bool trans_b; int64_t stride_b;
  void* C; int64_t ldc; int64_t stride_c;
  int64_t batch;
};

// fp32 (CUDA cores, 128x128x8 register-tiled) or fp64 (simple tiled) by `dtype`.
void gemm_simt(DType dtype, const GemmArgs& g, cudaStream_t stream);
// The naive reference kernel (one thread per C element), fp32/fp64; used by tests.
void gemm_reference(DType dtype, const GemmArgs& g, cudaStream_t stream);
// Tensor cores (mma.sync): in_dtype f32 (computed in TF32), f16 or bf16; out_dtype f32
// or the input type. fp32 accumulation.
void gemm_tensorcore(DType in_dtype, DType out_dtype, const GemmArgs& g, cudaStream_t stream);

// ---- pooling (NCHW, fp32/fp64) -----------------------------------------------------
struct Pool2dArgs {
  int64_t N, C, H, W, OH, OW;
  int kh, kw, sh, sw, ph, pw, dh, dw;
  bool count_include_pad;
};
// y: (N,C,OH,OW); indices: int64 (N,C,OH,OW), flat over H*W of each plane.
void max_pool2d_forward(DType dtype, const Pool2dArgs& p, const void* x, void* y, int64_t* indices,
                        cudaStream_t stream);
// gx (N,C,H,W) is zeroed then receives grad_out at the recorded indices.
void max_pool2d_backward(DType dtype, int64_t NC, int64_t HW, int64_t OHW, const void* grad_out,
                         const int64_t* indices, void* grad_x, cudaStream_t stream);
void avg_pool2d_forward(DType dtype, const Pool2dArgs& p, const void* x, void* y, cudaStream_t stream);
void avg_pool2d_backward(DType dtype, const Pool2dArgs& p, const void* grad_out, void* grad_x,
                         cudaStream_t stream);
void adaptive_avg_pool2d_forward(DType dtype, int64_t NC, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                 const void* x, void* y, cudaStream_t stream);
void adaptive_avg_pool2d_backward(DType dtype, int64_t NC, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                  const void* grad_out, void* grad_x, cudaStream_t stream);

// ---- softmax / cross-entropy (rows of length L, contiguous; fp32/fp64) -------------
void softmax_forward(DType dtype, int64_t R, int64_t L, const void* x, void* y, bool log,
                     cudaStream_t stream);
// y is the forward output (softmax, or log_softmax when `log`).
void softmax_backward(DType dtype, int64_t R, int64_t L, const void* grad_y, const void* y, void* grad_x,
                      bool log, cudaStream_t stream);
// logits (N,C), target int64 (N,). row_loss (N,) receives each row's loss; when
// reduction is 1 (mean) or 2 (sum), out (a scalar) receives the reduction; 0: none.
void cross_entropy_forward(DType dtype, int64_t N, int64_t C, const void* logits, const int64_t* target,
                           double label_smoothing, int reduction, void* row_loss, void* out,
                           cudaStream_t stream);
// grad_logits = g_i * (softmax - (1-eps)*onehot - eps/C), g_i = grad_out[i*g_stride] * g_scale.
void cross_entropy_backward(DType dtype, int64_t N, int64_t C, const void* grad_out, int64_t g_stride,
                            double g_scale, const void* logits, const int64_t* target,
                            double label_smoothing, void* grad_logits, cudaStream_t stream);

// ---- elementwise: bias + activation ----------------------------------------------
enum class Act : int { none = 0, relu = 1, leaky_relu = 2, sigmoid = 3, tanh = 4, gelu = 5, gelu_tanh = 6, silu = 7 };
// y[i] = act(x[i] + bias[(i / inner) % C]) for i < n (bias may be null: no bias).
void bias_act_forward(DType dtype, int64_t n, int64_t C, int64_t inner, const void* x, const void* bias,
                      void* y, Act act, double negative_slope, cudaStream_t stream);
// grad_x = grad_y * act'(.): `t` is the input x for relu/leaky_relu/gelu and the output
// y for sigmoid/tanh (as in the ops' signatures).
void act_backward(DType dtype, int64_t n, const void* grad_y, const void* t, void* grad_x, Act act,
                  double negative_slope, cudaStream_t stream);

}  // namespace nkcuda

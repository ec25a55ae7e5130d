"""
nnkernels CUDA kernels
"""
from __future__ import annotations
import typing
__all__: list[str] = ['CudaError', 'act_backward', 'adaptive_avg_pool2d_backward', 'adaptive_avg_pool2d_forward', 'architectures', 'avg_pool2d_backward', 'avg_pool2d_forward', 'bias_act_forward', 'cross_entropy_backward', 'cross_entropy_forward', 'device_count', 'device_name', 'driver_version', 'gemm_reference', 'gemm_simt', 'gemm_tensorcore', 'max_pool2d_backward', 'max_pool2d_forward', 'runtime_version', 'saxpy', 'softmax_backward', 'softmax_forward']
class CudaError(RuntimeError):
    pass
def act_backward(dtype: typing.SupportsInt | typing.SupportsIndex, n: typing.SupportsInt | typing.SupportsIndex, grad_out: typing.SupportsInt | typing.SupportsIndex, t: typing.SupportsInt | typing.SupportsIndex, grad_x: typing.SupportsInt | typing.SupportsIndex, act: typing.SupportsInt | typing.SupportsIndex, negative_slope: typing.SupportsFloat | typing.SupportsIndex = 0.01, stream: typing.SupportsInt | typing.SupportsIndex = 0) -> None:
    """
    grad_x = grad_y * act'(t); t is x (relu, leaky_relu, gelu) or y (sigmoid, tanh)
    """
def adaptive_avg_pool2d_backward(dtype: typing.SupportsInt | typing.SupportsIndex, NC: typing.SupportsInt | typing.SupportsIndex, H: typing.SupportsInt | typing.SupportsIndex, W: typing.SupportsInt | typing.SupportsIndex, OH: typing.SupportsInt | typing.SupportsIndex, OW: typing.SupportsInt | typing.SupportsIndex, grad_out: typing.SupportsInt | typing.SupportsIndex, grad_x: typing.SupportsInt | typing.SupportsIndex, stream: typing.SupportsInt | typing.SupportsIndex = 0) -> None:
    """
    gy (NC,OH,OW) -> gx (NC,H,W)
    """
def adaptive_avg_pool2d_forward(dtype: typing.SupportsInt | typing.SupportsIndex, NC: typing.SupportsInt | typing.SupportsIndex, H: typing.SupportsInt | typing.SupportsIndex, W: typing.SupportsInt | typing.SupportsIndex, OH: typing.SupportsInt | typing.SupportsIndex, OW: typing.SupportsInt | typing.SupportsIndex, x: typing.SupportsInt | typing.SupportsIndex, y: typing.SupportsInt | typing.SupportsIndex, stream: typing.SupportsInt | typing.SupportsIndex = 0) -> None:
    """
    x (NC,H,W) -> y (NC,OH,OW)
    """
def avg_pool2d_backward(dtype: typing.SupportsInt | typing.SupportsIndex, N: typing.SupportsInt | typing.SupportsIndex, C: typing.SupportsInt | typing.SupportsIndex, H: typing.SupportsInt | typing.SupportsIndex, W: typing.SupportsInt | typing.SupportsIndex, OH: typing.SupportsInt | typing.SupportsIndex, OW: typing.SupportsInt | typing.SupportsIndex, kh: typing.SupportsInt | typing.SupportsIndex, kw: typing.SupportsInt | typing.SupportsIndex, sh: typing.SupportsInt | typing.SupportsIndex, sw: typing.SupportsInt | typing.SupportsIndex, ph: typing.SupportsInt | typing.SupportsIndex, pw: typing.SupportsInt | typing.SupportsIndex, count_include_pad: bool, grad_out: typing.SupportsInt | typing.SupportsIndex, grad_x: typing.SupportsInt | typing.SupportsIndex, stream: typing.SupportsInt | typing.SupportsIndex = 0) -> None:
    """
    gy (N,C,OH,OW) -> gx (N,C,H,W) (every element written)
    """
def avg_pool2d_forward(dtype: typing.SupportsInt | typing.SupportsIndex, N: typing.SupportsInt | typing.SupportsIndex, C: typing.SupportsInt | typing.SupportsIndex, H: typing.SupportsInt | typing.SupportsIndex, W: typing.SupportsInt | typing.SupportsIndex, OH: typing.SupportsInt | typing.SupportsIndex, OW: typing.SupportsInt | typing.SupportsIndex, kh: typing.SupportsInt | typing.SupportsIndex, kw: typing.SupportsInt | typing.SupportsIndex, sh: typing.SupportsInt | typing.SupportsIndex, sw: typing.SupportsInt | typing.SupportsIndex, ph: typing.SupportsInt | typing.SupportsIndex, pw: typing.SupportsInt | typing.SupportsIndex, count_include_pad: bool, x: typing.SupportsInt | typing.SupportsIndex, y: typing.SupportsInt | typing.SupportsIndex, stream: typing.SupportsInt | typing.SupportsIndex = 0) -> None:
    """
    x (N,C,H,W) -> y (N,C,OH,OW), torch's divisor
    """
def bias_act_forward(dtype: typing.SupportsInt | typing.SupportsIndex, n: typing.SupportsInt | typing.SupportsIndex, C: typing.SupportsInt | typing.SupportsIndex, inner: typing.SupportsInt | typing.SupportsIndex, x: typing.SupportsInt | typing.SupportsIndex, bias: typing.SupportsInt | typing.SupportsIndex, y: typing.SupportsInt | typing.SupportsIndex, act: typing.SupportsInt | typing.SupportsIndex, negative_slope: typing.SupportsFloat | typing.SupportsIndex = 0.01, stream: typing.SupportsInt | typing.SupportsIndex = 0) -> None:
    """
    y = act(x + bias[(i/inner)%C]); bias 0 = none; act: 0 none, 1 relu, 2 leaky_relu, 3 sigmoid, 4 tanh, 5 gelu, 6 gelu(tanh)
    """
def cross_entropy_backward(dtype: typing.SupportsInt | typing.SupportsIndex, N: typing.SupportsInt | typing.SupportsIndex, C: typing.SupportsInt | typing.SupportsIndex, grad_out: typing.SupportsInt | typing.SupportsIndex, g_stride: typing.SupportsInt | typing.SupportsIndex, g_scale: typing.SupportsFloat | typing.SupportsIndex, logits: typing.SupportsInt | typing.SupportsIndex, target: typing.SupportsInt | typing.SupportsIndex, label_smoothing: typing.SupportsFloat | typing.SupportsIndex, grad_logits: typing.SupportsInt | typing.SupportsIndex, stream: typing.SupportsInt | typing.SupportsIndex = 0) -> None:
    """
    grad_logits = grad_out[i*g_stride]*g_scale * (softmax - (1-eps)*onehot - eps/C)
    """
def cross_entropy_forward(dtype: typing.SupportsInt | typing.SupportsIndex, N: typing.SupportsInt | typing.SupportsIndex, C: typing.SupportsInt | typing.SupportsIndex, logits: typing.SupportsInt | typing.SupportsIndex, target: typing.SupportsInt | typing.SupportsIndex, label_smoothing: typing.SupportsFloat | typing.SupportsIndex, reduction: typing.SupportsInt | typing.SupportsIndex, row_loss: typing.SupportsInt | typing.SupportsIndex, out: typing.SupportsInt | typing.SupportsIndex, stream: typing.SupportsInt | typing.SupportsIndex = 0) -> None:
    """
    per-row losses into row_loss (N,); reduction 1 (mean) / 2 (sum) into out (scalar), 0: none
    """
def device_count() -> int:
    """
    Number of usable CUDA devices (0 without a driver)
    """
def device_name(device: typing.SupportsInt | typing.SupportsIndex = 0) -> str:
    ...
def driver_version() -> int:
    """
    CUDA driver version, 0 without a driver
    """
def gemm_reference(dtype: typing.SupportsInt | typing.SupportsIndex, M: typing.SupportsInt | typing.SupportsIndex, N: typing.SupportsInt | typing.SupportsIndex, K: typing.SupportsInt | typing.SupportsIndex, alpha: typing.SupportsFloat | typing.SupportsIndex, A: typing.SupportsInt | typing.SupportsIndex, lda: typing.SupportsInt | typing.SupportsIndex, trans_a: bool, stride_a: typing.SupportsInt | typing.SupportsIndex, B: typing.SupportsInt | typing.SupportsIndex, ldb: typing.SupportsInt | typing.SupportsIndex, trans_b: bool, stride_b: typing.SupportsInt | typing.SupportsIndex, beta: typing.SupportsFloat | typing.SupportsIndex, C: typing.SupportsInt | typing.SupportsIndex, ldc: typing.SupportsInt | typing.SupportsIndex, stride_c: typing.SupportsInt | typing.SupportsIndex, batch: typing.SupportsInt | typing.SupportsIndex, stream: typing.SupportsInt | typing.SupportsIndex = 0) -> None:
    """
    Naive GEMM, one thread per element (fp32/fp64). C[b] := alpha*op(A[b]) @ op(B[b]) + beta*C[b], row-major, b < batch; pointers are device addresses, ld*/stride_* in elements; beta == 0 never reads C.
    """
def gemm_simt(dtype: typing.SupportsInt | typing.SupportsIndex, M: typing.SupportsInt | typing.SupportsIndex, N: typing.SupportsInt | typing.SupportsIndex, K: typing.SupportsInt | typing.SupportsIndex, alpha: typing.SupportsFloat | typing.SupportsIndex, A: typing.SupportsInt | typing.SupportsIndex, lda: typing.SupportsInt | typing.SupportsIndex, trans_a: bool, stride_a: typing.SupportsInt | typing.SupportsIndex, B: typing.SupportsInt | typing.SupportsIndex, ldb: typing.SupportsInt | typing.SupportsIndex, trans_b: bool, stride_b: typing.SupportsInt | typing.SupportsIndex, beta: typing.SupportsFloat | typing.SupportsIndex, C: typing.SupportsInt | typing.SupportsIndex, ldc: typing.SupportsInt | typing.SupportsIndex, stride_c: typing.SupportsInt | typing.SupportsIndex, batch: typing.SupportsInt | typing.SupportsIndex, stream: typing.SupportsInt | typing.SupportsIndex = 0) -> None:
    """
    CUDA-core GEMM (fp32 128x128x8 register-tiled; fp64 tiled). C[b] := alpha*op(A[b]) @ op(B[b]) + beta*C[b], row-major, b < batch; pointers are device addresses, ld*/stride_* in elements; beta == 0 never reads C.
    """
def gemm_tensorcore(in_dtype: typing.SupportsInt | typing.SupportsIndex, out_dtype: typing.SupportsInt | typing.SupportsIndex, M: typing.SupportsInt | typing.SupportsIndex, N: typing.SupportsInt | typing.SupportsIndex, K: typing.SupportsInt | typing.SupportsIndex, alpha: typing.SupportsFloat | typing.SupportsIndex, A: typing.SupportsInt | typing.SupportsIndex, lda: typing.SupportsInt | typing.SupportsIndex, trans_a: bool, stride_a: typing.SupportsInt | typing.SupportsIndex, B: typing.SupportsInt | typing.SupportsIndex, ldb: typing.SupportsInt | typing.SupportsIndex, trans_b: bool, stride_b: typing.SupportsInt | typing.SupportsIndex, beta: typing.SupportsFloat | typing.SupportsIndex, C: typing.SupportsInt | typing.SupportsIndex, ldc: typing.SupportsInt | typing.SupportsIndex, stride_c: typing.SupportsInt | typing.SupportsIndex, batch: typing.SupportsInt | typing.SupportsIndex, stream: typing.SupportsInt | typing.SupportsIndex = 0) -> None:
    """
    Tensor-core GEMM (mma.sync): in_dtype f32 (TF32), f16, bf16; out_dtype f32 or in_dtype. C[b] := alpha*op(A[b]) @ op(B[b]) + beta*C[b], row-major, b < batch; pointers are device addresses, ld*/stride_* in elements; beta == 0 never reads C.
    """
def max_pool2d_backward(dtype: typing.SupportsInt | typing.SupportsIndex, NC: typing.SupportsInt | typing.SupportsIndex, HW: typing.SupportsInt | typing.SupportsIndex, OHW: typing.SupportsInt | typing.SupportsIndex, grad_out: typing.SupportsInt | typing.SupportsIndex, indices: typing.SupportsInt | typing.SupportsIndex, grad_x: typing.SupportsInt | typing.SupportsIndex, stream: typing.SupportsInt | typing.SupportsIndex = 0) -> None:
    """
    gx (NC,HW) := 0, then gx[plane, indices] += gy
    """
def max_pool2d_forward(dtype: typing.SupportsInt | typing.SupportsIndex, N: typing.SupportsInt | typing.SupportsIndex, C: typing.SupportsInt | typing.SupportsIndex, H: typing.SupportsInt | typing.SupportsIndex, W: typing.SupportsInt | typing.SupportsIndex, OH: typing.SupportsInt | typing.SupportsIndex, OW: typing.SupportsInt | typing.SupportsIndex, kh: typing.SupportsInt | typing.SupportsIndex, kw: typing.SupportsInt | typing.SupportsIndex, sh: typing.SupportsInt | typing.SupportsIndex, sw: typing.SupportsInt | typing.SupportsIndex, ph: typing.SupportsInt | typing.SupportsIndex, pw: typing.SupportsInt | typing.SupportsIndex, dh: typing.SupportsInt | typing.SupportsIndex, dw: typing.SupportsInt | typing.SupportsIndex, x: typing.SupportsInt | typing.SupportsIndex, y: typing.SupportsInt | typing.SupportsIndex, indices: typing.SupportsInt | typing.SupportsIndex, stream: typing.SupportsInt | typing.SupportsIndex = 0) -> None:
    """
    x (N,C,H,W) -> y (N,C,OH,OW) and int64 indices flat over H*W
    """
def runtime_version() -> int:
    ...
def saxpy(n: typing.SupportsInt | typing.SupportsIndex, a: typing.SupportsFloat | typing.SupportsIndex, x: typing.SupportsInt | typing.SupportsIndex, y: typing.SupportsInt | typing.SupportsIndex, stream: typing.SupportsInt | typing.SupportsIndex = 0) -> None:
    """
    y := a*x + y on device pointers (interop self-test)
    """
def softmax_backward(dtype: typing.SupportsInt | typing.SupportsIndex, R: typing.SupportsInt | typing.SupportsIndex, L: typing.SupportsInt | typing.SupportsIndex, grad_out: typing.SupportsInt | typing.SupportsIndex, y: typing.SupportsInt | typing.SupportsIndex, grad_x: typing.SupportsInt | typing.SupportsIndex, log: bool, stream: typing.SupportsInt | typing.SupportsIndex = 0) -> None:
    """
    grad of softmax (log_softmax when log) from the forward output y
    """
def softmax_forward(dtype: typing.SupportsInt | typing.SupportsIndex, R: typing.SupportsInt | typing.SupportsIndex, L: typing.SupportsInt | typing.SupportsIndex, x: typing.SupportsInt | typing.SupportsIndex, y: typing.SupportsInt | typing.SupportsIndex, log: bool, stream: typing.SupportsInt | typing.SupportsIndex = 0) -> None:
    """
    softmax (or log_softmax) of R contiguous rows of length L
    """
architectures: str  # the CUDA_ARCHITECTURES it was built for, e.g. '80-real,86-real,89-real,90'

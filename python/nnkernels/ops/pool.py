"""2-D pooling: max, average, adaptive average (csrc/pool/, cuda/pool.cu), each with its
autograd `Function` and Tensor version.

torch.nn.functional semantics and argument names, NCHW (or unbatched CHW) input,
float32/float64, any strides (a C-contiguous copy is made when needed), NumPy arrays on
the CPU kernels or CuPy arrays on the CUDA kernels. Max pooling indices are flat over
H·W of each plane, like torch's.
"""
from __future__ import annotations

import numpy as np

from ..core.function import Function, differentiable
from ..core.tensor import _t
from ._common import backend, check_result_size, int_arg, int_pair, pool_out_size, result_float_dtype, shape_arg

__all__ = ["max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
           "adaptive_avg_pool2d", "adaptive_avg_pool2d_backward"]


def _input(x, op):
    be, (x,) = backend(op, x=x)
    dtype = result_float_dtype(op, x=x)
    if x.ndim not in (3, 4):
        raise ValueError(f"{op}: x must be 4-D (N, C, H, W) or 3-D (C, H, W), got shape {x.shape}")
    return be, x, dtype


def _geometry(shape, kernel_size, stride, padding, dilation, ceil_mode, op, x_name="x"):
    """(kh, kw), (sh, sw), (ph, pw), (dh, dw), (P, Q) for an input of `shape` (..., H, W)."""
    k = int_pair(kernel_size, "kernel_size", op, 1)
    s = k if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) else \
        int_pair(stride, "stride", op, 1)
    p = int_pair(padding, "padding", op, 0)
    d = int_pair(dilation, "dilation", op, 1)
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(f"{op}: padding {p} must be at most half of kernel_size {k}")
    H, W = shape[-2:]
    if H < 1 or W < 1:  # padding would otherwise give windows that read no element (torch refuses too)
        raise ValueError(f"{op}: {x_name} has an empty spatial dimension, shape {tuple(shape)}: H and W "
                         "must be >= 1")
    P = pool_out_size(H, k[0], s[0], p[0], d[0], ceil_mode)
    Q = pool_out_size(W, k[1], s[1], p[1], d[1], ceil_mode)
    if P < 1 or Q < 1:
        eff = (d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1)
        raise ValueError(f"{op}: kernel_size {k} (dilated {eff}) is larger than the padded input: {x_name} "
                         f"{tuple(shape)} with padding {p} gives output size {(P, Q)}")
    return k, s, p, d, (P, Q)


def _shape_tuple(planes, H, W, P, Q, k, s, p, d, count_include_pad=True):
    return (planes, H, W, P, Q, k[0], k[1], s[0], s[1], p[0], p[1], d[0], d[1], bool(count_include_pad))


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """2-D max pooling (torch.nn.functional.max_pool2d). NaN propagates; ties keep the
    first position. With return_indices, also the int64 flat h·W + w index of each max."""
    be, x, dtype = _input(x, "max_pool2d")
    k, s, p, d, (P, Q) = _geometry(x.shape, kernel_size, stride, padding, dilation, ceil_mode, "max_pool2d")
    H, W = x.shape[-2:]
    lead = tuple(x.shape[:-2])
    planes = int(np.prod(lead, dtype=np.int64))
    xc = be.contiguous(x, dtype)
    out = be.empty(lead + (P, Q), dtype)
    idx = be.empty(lead + (P, Q), np.int64) if return_indices else None
    if planes and H and W:
        be.k.max_pool2d_forward(xc, out, idx, _shape_tuple(planes, H, W, P, Q, k, s, p, d))
    return (out, idx) if return_indices else out


def max_pool2d_backward(grad_out, indices, input_shape):
    """Gradient of max_pool2d: grad_out scattered (added) at `indices` into input_shape."""
    be, (grad_out, indices) = backend("max_pool2d_backward", grad_out=grad_out, indices=indices)
    dtype = result_float_dtype("max_pool2d_backward", grad_out=grad_out)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"max_pool2d_backward: indices must be integers, got dtype {indices.dtype}")
    input_shape = shape_arg(input_shape, "input_shape", "max_pool2d_backward")
    if len(input_shape) not in (3, 4) or grad_out.ndim != len(input_shape):
        raise ValueError(f"max_pool2d_backward: input_shape {input_shape} and grad_out {grad_out.shape} must "
                         "both be (N, C, H, W) or (C, H, W)")
    if grad_out.shape[:-2] != input_shape[:-2]:
        raise ValueError(f"max_pool2d_backward: grad_out {grad_out.shape} and input_shape {input_shape} differ "
                         "in the leading (N, C) dimensions")
    if indices.shape != grad_out.shape:
        raise ValueError(f"max_pool2d_backward: indices has shape {indices.shape} but grad_out has shape "
                         f"{grad_out.shape}")
    H, W = input_shape[-2:]
    P, Q = grad_out.shape[-2:]
    planes = int(np.prod(input_shape[:-2], dtype=np.int64))
    if (H < 1 or W < 1) and indices.size:
        raise ValueError(f"max_pool2d_backward: input_shape {input_shape} has an empty spatial dimension, so "
                         f"no index of indices (shape {indices.shape}) can point into it")
    check_result_size("max_pool2d_backward", input_shape, dtype, "input_shape")
    gx = be.empty(input_shape, dtype)
    if gx.size == 0:
        return gx
    g = be.contiguous(grad_out, dtype)
    idx = be.contiguous(indices, np.int64)
    bad = be.k.max_pool2d_backward(g, idx, gx, planes, H * W, P * Q)
    if bad:
        raise ValueError(f"max_pool2d_backward: {bad} indices are outside [0, {H * W}) for input_shape "
                         f"{input_shape}")
    return gx


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """2-D average pooling (torch.nn.functional.avg_pool2d, no divisor_override)."""
    be, x, dtype = _input(x, "avg_pool2d")
    k, s, p, d, (P, Q) = _geometry(x.shape, kernel_size, stride, padding, 1, ceil_mode, "avg_pool2d")
    H, W = x.shape[-2:]
    lead = tuple(x.shape[:-2])
    planes = int(np.prod(lead, dtype=np.int64))
    out = be.empty(lead + (P, Q), dtype)
    if planes and H and W:
        be.k.avg_pool2d_forward(be.contiguous(x, dtype), out,
                                _shape_tuple(planes, H, W, P, Q, k, s, p, d, count_include_pad))
    return out


def avg_pool2d_backward(grad_out, input_shape, kernel_size, stride=None, padding=0, ceil_mode=False,
                        count_include_pad=True):
    """Gradient of avg_pool2d with respect to its input (shape `input_shape`)."""
    be, (grad_out,) = backend("avg_pool2d_backward", grad_out=grad_out)
    dtype = result_float_dtype("avg_pool2d_backward", grad_out=grad_out)
    input_shape = shape_arg(input_shape, "input_shape", "avg_pool2d_backward")
    if len(input_shape) not in (3, 4):
        raise ValueError(f"avg_pool2d_backward: input_shape must be (N, C, H, W) or (C, H, W), got {input_shape}")
    k, s, p, d, (P, Q) = _geometry(input_shape, kernel_size, stride, padding, 1, ceil_mode,
                                   "avg_pool2d_backward", "input_shape")
    expect = input_shape[:-2] + (P, Q)
    if grad_out.shape != expect:
        raise ValueError(f"avg_pool2d_backward: grad_out has shape {grad_out.shape}, expected {expect} for "
                         f"input_shape {input_shape}")
    H, W = input_shape[-2:]
    planes = int(np.prod(input_shape[:-2], dtype=np.int64))
    check_result_size("avg_pool2d_backward", input_shape, dtype, "input_shape")
    gx = be.empty(input_shape, dtype)
    if gx.size:
        be.k.avg_pool2d_backward(be.contiguous(grad_out, dtype), gx,
                                 _shape_tuple(planes, H, W, P, Q, k, s, p, d, count_include_pad))
    return gx


def _adaptive_size(output_size, H, W, op):
    if isinstance(output_size, (int, np.integer)) and not isinstance(output_size, bool):
        output_size = (int(output_size), int(output_size))
    if not (isinstance(output_size, (tuple, list)) and len(output_size) == 2):
        raise ValueError(f"{op}: output_size must be an int or a pair (None keeps the input size), "
                         f"got {output_size!r}")
    P, Q = (H if output_size[0] is None else output_size[0], W if output_size[1] is None else output_size[1])
    return int_arg(P, "output_size", op, 1), int_arg(Q, "output_size", op, 1)


def adaptive_avg_pool2d(x, output_size):
    """Adaptive average pooling (torch.nn.functional.adaptive_avg_pool2d): output cell
    (i, j) averages rows [⌊iH/P⌋, ⌈(i+1)H/P⌉) and the same for columns."""
    be, x, dtype = _input(x, "adaptive_avg_pool2d")
    H, W = x.shape[-2:]
    P, Q = _adaptive_size(output_size, H, W, "adaptive_avg_pool2d")
    if H < 1 or W < 1:
        raise ValueError(f"adaptive_avg_pool2d: x has an empty spatial dimension, shape {x.shape}")
    lead = tuple(x.shape[:-2])
    planes = int(np.prod(lead, dtype=np.int64))
    check_result_size("adaptive_avg_pool2d", lead + (P, Q), dtype, "output_size")
    out = be.empty(lead + (P, Q), dtype)
    if planes:
        be.k.adaptive_avg_pool2d_forward(be.contiguous(x, dtype), out, planes, H, W,
                                         P, Q)
    return out


def adaptive_avg_pool2d_backward(grad_out, input_shape):
    """Gradient of adaptive_avg_pool2d; the output size is read from grad_out."""
    be, (grad_out,) = backend("adaptive_avg_pool2d_backward", grad_out=grad_out)
    dtype = result_float_dtype("adaptive_avg_pool2d_backward", grad_out=grad_out)
    input_shape = shape_arg(input_shape, "input_shape", "adaptive_avg_pool2d_backward")
    if len(input_shape) not in (3, 4) or grad_out.ndim != len(input_shape) or \
            grad_out.shape[:-2] != input_shape[:-2]:
        raise ValueError(f"adaptive_avg_pool2d_backward: grad_out {grad_out.shape} does not match input_shape "
                         f"{input_shape}")
    H, W = input_shape[-2:]
    P, Q = grad_out.shape[-2:]
    if min(H, W, P, Q) < 1:
        raise ValueError(f"adaptive_avg_pool2d_backward: empty spatial size (input_shape {input_shape}, "
                         f"grad_out {grad_out.shape})")
    planes = int(np.prod(input_shape[:-2], dtype=np.int64))
    check_result_size("adaptive_avg_pool2d_backward", input_shape, dtype, "input_shape")
    gx = be.empty(input_shape, dtype)
    if planes:
        be.k.adaptive_avg_pool2d_backward(be.contiguous(grad_out, dtype), gx, planes,
                                          H, W, P, Q)
    return gx


# ---- autograd: one Function per op, and its Tensor version (nk.<op> for Tensors) ----------

class MaxPool2d(Function):
    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding, dilation, ceil_mode):
        y, idx = max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices=True)
        ctx.save_for_backward(idx)
        ctx.shape = x.shape
        ctx.mark_non_differentiable(idx)
        return y, idx

    @staticmethod
    def backward(ctx, g, _):
        return (max_pool2d_backward(g, *ctx.saved_tensors, ctx.shape),) + (None,) * 5


class AvgPool2d(Function):
    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding, ceil_mode, count_include_pad):
        ctx.shape = x.shape
        ctx.args = kernel_size, stride, padding, ceil_mode, count_include_pad
        return avg_pool2d(x, *ctx.args)

    @staticmethod
    def backward(ctx, g):
        return (avg_pool2d_backward(g, ctx.shape, *ctx.args),) + (None,) * 5


class AdaptiveAvgPool2d(Function):
    @staticmethod
    def forward(ctx, x, output_size):
        ctx.shape = x.shape
        return adaptive_avg_pool2d(x, output_size)

    @staticmethod
    def backward(ctx, g):
        return adaptive_avg_pool2d_backward(g, ctx.shape), None


@differentiable(max_pool2d)
def max_pool2d_tensor(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """x (N, C, H, W) -> (N, C, P, Q) [, indices flat over H*W]; like F.max_pool2d."""
    y, idx = MaxPool2d.apply(_t(x), kernel_size, stride, padding, dilation, ceil_mode)
    return (y, idx) if return_indices else y


@differentiable(avg_pool2d)
def avg_pool2d_tensor(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """x (N, C, H, W) -> (N, C, P, Q); like F.avg_pool2d."""
    return AvgPool2d.apply(_t(x), kernel_size, stride, padding, ceil_mode, count_include_pad)


@differentiable(adaptive_avg_pool2d)
def adaptive_avg_pool2d_tensor(x, output_size):
    """x (N, C, H, W) -> (N, C, *output_size); like F.adaptive_avg_pool2d."""
    return AdaptiveAvgPool2d.apply(_t(x), output_size)

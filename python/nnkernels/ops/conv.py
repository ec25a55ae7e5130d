"""2-D convolution and transposed convolution (NCHW) on the CPU kernels (csrc/conv/).

Semantics and argument names follow ``torch.nn.functional.conv2d`` and
``conv_transpose2d``; the backward functions return the gradients that torch's
autograd computes. Inputs may be float32 or float64 (mixed inputs promote), any
strides; 3-D inputs (C, H, W) are treated as a batch of one, like torch. Each op's
autograd `Function` and Tensor version follow the array ops.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import _C
from ..core.function import Function, differentiable
from ..core.tensor import _t
from ._common import as_array, check_result_size, int_arg, int_pair, result_float_dtype

__all__ = ["conv2d", "conv2d_backward", "conv_transpose2d", "conv_transpose2d_backward"]


def _groups(groups, op: str) -> int:
    return int_arg(groups, "groups", op, 1)


def _batched(x, name: str, op: str):
    """(array as 4-D, whether a batch dimension was added)."""
    if x.ndim == 3:
        return x[None], True
    if x.ndim != 4:
        raise ValueError(f"{op}: {name} must be 4-D (N, C, H, W) or 3-D (C, H, W), got shape {x.shape}")
    return x, False


def _contig(a, dtype):
    return np.ascontiguousarray(a, dtype=dtype)


def _conv_geometry(op, x_shape, w_shape, stride, padding, dilation, groups):
    """Check a conv2d configuration; returns (stride, pad_top_left, dilation, groups, (P, Q))."""
    N, C, H, W = x_shape
    if len(w_shape) != 4:
        raise ValueError(f"{op}: weight must be 4-D (K, C/groups, R, S), got shape {tuple(w_shape)}")
    K, Cg, R, S = w_shape
    sh, sw = int_pair(stride, "stride", op, 1)
    dh, dw = int_pair(dilation, "dilation", op, 1)
    groups = _groups(groups, op)
    if C % groups:
        raise ValueError(f"{op}: input channels {C} (x shape {tuple(x_shape)}) not divisible by groups={groups}")
    if K % groups:
        raise ValueError(f"{op}: output channels {K} (weight shape {tuple(w_shape)}) not divisible by "
                         f"groups={groups}")
    if Cg * groups != C:
        raise ValueError(f"{op}: weight shape {tuple(w_shape)} expects {Cg * groups} input channels "
                         f"(C/groups={Cg}, groups={groups}), x has shape {tuple(x_shape)}")
    if R == 0 or S == 0:
        raise ValueError(f"{op}: weight has an empty kernel, shape {tuple(w_shape)}")
    if isinstance(padding, str):
        if padding == "valid":
            ph = pw = 0
            pads = (0, 0, 0, 0)
        elif padding == "same":
            if (sh, sw) != (1, 1):
                raise ValueError(f"{op}: padding='same' needs stride 1, got stride={stride!r}")
            th, tw = dh * (R - 1), dw * (S - 1)
            pads = (th // 2, th - th // 2, tw // 2, tw - tw // 2)
        else:
            raise ValueError(f"{op}: padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
    else:
        ph, pw = int_pair(padding, "padding", op, 0)
        pads = (ph, ph, pw, pw)
    eh, ew = dh * (R - 1) + 1, dw * (S - 1) + 1
    Hp, Wp = H + pads[0] + pads[1], W + pads[2] + pads[3]
    if eh > Hp or ew > Wp:
        raise ValueError(f"{op}: kernel size ({eh}, {ew}) (weight {tuple(w_shape)}, dilation ({dh}, {dw})) is "
                         f"larger than the padded input ({Hp}, {Wp}) (x {tuple(x_shape)}, padding {padding!r})")
    P, Q = (Hp - eh) // sh + 1, (Wp - ew) // sw + 1
    return (sh, sw), (pads[0], pads[2]), (dh, dw), groups, (P, Q)


def _kargs(stride, pad, dil, groups):
    return dict(stride_h=stride[0], stride_w=stride[1], pad_h=pad[0], pad_w=pad[1],
                dil_h=dil[0], dil_w=dil[1], groups=groups)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D cross-correlation like ``torch.nn.functional.conv2d``.

    x: (N, C, H, W) or (C, H, W); weight: (K, C/groups, R, S); bias: (K,) or None;
    stride, dilation: int or pair; padding: int, pair, 'valid' or 'same' (stride 1).
    Returns y (N, K, P, Q) with P = (H + 2·ph − dh·(R−1) − 1) // sh + 1 (likewise Q).
    """
    op = "conv2d"
    x = as_array(x, "x", op)
    weight = as_array(weight, "weight", op)
    bias = None if bias is None else as_array(bias, "bias", op)
    dtype = result_float_dtype(op, x=x, weight=weight, bias=bias)
    x4, unbatched = _batched(x, "x", op)
    stride, pad, dil, groups, (P, Q) = _conv_geometry(op, x4.shape, weight.shape, stride, padding, dilation, groups)
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"{op}: bias must have shape ({weight.shape[0]},), got {bias.shape}")
    check_result_size(op, (x4.shape[0], weight.shape[0], P, Q), dtype, "padding, stride, dilation")
    y = np.empty((x4.shape[0], weight.shape[0], P, Q), dtype)
    _C.conv2d_forward(_contig(x4, dtype), _contig(weight, dtype), None if bias is None else _contig(bias, dtype),
                      y, **_kargs(stride, pad, dil, groups))
    return y[0] if unbatched else y


def conv2d_backward(grad_out, x, weight, stride=1, padding=0, dilation=1, groups=1):
    """Gradients of ``conv2d(x, weight, bias, ...)`` given grad_out = dL/dy.

    Returns (grad_x, grad_weight, grad_bias) shaped like x, weight and (K,).
    """
    op = "conv2d_backward"
    grad_out = as_array(grad_out, "grad_out", op)
    x = as_array(x, "x", op)
    weight = as_array(weight, "weight", op)
    dtype = result_float_dtype(op, grad_out=grad_out, x=x, weight=weight)
    x4, unbatched = _batched(x, "x", op)
    stride, pad, dil, groups, (P, Q) = _conv_geometry(op, x4.shape, weight.shape, stride, padding, dilation, groups)
    gy = grad_out[None] if unbatched and grad_out.ndim == 3 else grad_out
    expect = (x4.shape[0], weight.shape[0], P, Q)
    if gy.shape != expect:
        raise ValueError(f"{op}: grad_out has shape {grad_out.shape}, expected {expect[1:] if unbatched else expect} "
                         f"for x {x.shape} and weight {weight.shape}")
    gy = _contig(gy, dtype)
    xc = _contig(x4, dtype)
    wc = _contig(weight, dtype)
    kw = _kargs(stride, pad, dil, groups)
    gx = np.empty(x4.shape, dtype)
    gw = np.empty(weight.shape, dtype)
    gb = np.empty(weight.shape[0], dtype)
    _C.conv2d_backward_data(gy, wc, gx, **kw)
    _C.conv2d_backward_weight(gy, xc, gw, **kw)
    _C.channel_sum(gy, gb)
    return (gx[0] if unbatched else gx), gw, gb


def _transpose_geometry(op, x_shape, w_shape, stride, padding, output_padding, groups, dilation):
    """Check a conv_transpose2d configuration; returns (stride, pad, dil, groups, (Hout, Wout))."""
    N, Cin, H, W = x_shape
    if len(w_shape) != 4:
        raise ValueError(f"{op}: weight must be 4-D (C_in, C_out/groups, R, S), got shape {tuple(w_shape)}")
    K, Cog, R, S = w_shape
    sh, sw = int_pair(stride, "stride", op, 1)
    dh, dw = int_pair(dilation, "dilation", op, 1)
    if isinstance(padding, str):
        raise ValueError(f"{op}: padding must be an int or a pair of ints, got {padding!r}")
    ph, pw = int_pair(padding, "padding", op, 0)
    oh, ow = int_pair(output_padding, "output_padding", op, 0)
    groups = _groups(groups, op)
    if K != Cin:
        raise ValueError(f"{op}: weight shape {tuple(w_shape)} expects {K} input channels, x has shape "
                         f"{tuple(x_shape)}")
    if Cin % groups:
        raise ValueError(f"{op}: input channels {Cin} (x shape {tuple(x_shape)}) not divisible by groups={groups}")
    if R == 0 or S == 0:
        raise ValueError(f"{op}: weight has an empty kernel, shape {tuple(w_shape)}")
    if oh >= max(sh, dh) or ow >= max(sw, dw):
        raise ValueError(f"{op}: output_padding {output_padding!r} must be smaller than stride or dilation "
                         f"(stride ({sh}, {sw}), dilation ({dh}, {dw}))")
    Ho = (H - 1) * sh - 2 * ph + dh * (R - 1) + oh + 1
    Wo = (W - 1) * sw - 2 * pw + dw * (S - 1) + ow + 1
    if Ho <= 0 or Wo <= 0:
        raise ValueError(f"{op}: padding {padding!r} leaves an empty output ({Ho}, {Wo}) for x {tuple(x_shape)} "
                         f"and weight {tuple(w_shape)}")
    return (sh, sw), (ph, pw), (dh, dw), groups, (Ho, Wo)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """2-D transposed convolution like ``torch.nn.functional.conv_transpose2d``.

    x: (N, C_in, H, W) or (C_in, H, W); weight: (C_in, C_out/groups, R, S); bias: (C_out,).
    Output (N, C_out, Ho, Wo) with Ho = (H−1)·sh − 2·ph + dh·(R−1) + output_padding + 1.
    It is the gradient of conv2d with respect to its input (and computed as such).
    """
    op = "conv_transpose2d"
    x = as_array(x, "x", op)
    weight = as_array(weight, "weight", op)
    bias = None if bias is None else as_array(bias, "bias", op)
    dtype = result_float_dtype(op, x=x, weight=weight, bias=bias)
    x4, unbatched = _batched(x, "x", op)
    stride, pad, dil, groups, (Ho, Wo) = _transpose_geometry(op, x4.shape, weight.shape, stride, padding,
                                                             output_padding, groups, dilation)
    Cout = weight.shape[1] * groups
    if bias is not None and bias.shape != (Cout,):
        raise ValueError(f"{op}: bias must have shape ({Cout},), got {bias.shape}")
    check_result_size(op, (x4.shape[0], Cout, Ho, Wo), dtype, "stride, dilation, output_padding")
    y = np.empty((x4.shape[0], Cout, Ho, Wo), dtype)
    _C.conv2d_backward_data(_contig(x4, dtype), _contig(weight, dtype), y, **_kargs(stride, pad, dil, groups))
    if bias is not None:
        y += bias.astype(dtype, copy=False)[:, None, None]
    return y[0] if unbatched else y


def conv_transpose2d_backward(grad_out, x, weight, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Gradients of ``conv_transpose2d(x, weight, bias, ...)`` given grad_out = dL/dy.

    Returns (grad_x, grad_weight, grad_bias) shaped like x, weight and (C_out,).
    """
    op = "conv_transpose2d_backward"
    grad_out = as_array(grad_out, "grad_out", op)
    x = as_array(x, "x", op)
    weight = as_array(weight, "weight", op)
    dtype = result_float_dtype(op, grad_out=grad_out, x=x, weight=weight)
    x4, unbatched = _batched(x, "x", op)
    stride, pad, dil, groups, (Ho, Wo) = _transpose_geometry(op, x4.shape, weight.shape, stride, padding,
                                                             output_padding, groups, dilation)
    gy = grad_out[None] if unbatched and grad_out.ndim == 3 else grad_out
    expect = (x4.shape[0], weight.shape[1] * groups, Ho, Wo)
    if gy.shape != expect:
        raise ValueError(f"{op}: grad_out has shape {grad_out.shape}, expected {expect[1:] if unbatched else expect} "
                         f"for x {x.shape} and weight {weight.shape}")
    gy = _contig(gy, dtype)
    xc = _contig(x4, dtype)
    wc = _contig(weight, dtype)
    kw = _kargs(stride, pad, dil, groups)
    gx = np.empty(x4.shape, dtype)
    gw = np.empty(weight.shape, dtype)
    gb = np.empty(expect[1], dtype)
    _C.conv2d_forward(gy, wc, None, gx, **kw)          # the conv2d whose grad-x this is
    _C.conv2d_backward_weight(xc, gy, gw, **kw)        # roles of image and output swapped
    _C.channel_sum(gy, gb)
    return (gx[0] if unbatched else gx), gw, gb


# ---- autograd: one Function per op, and its Tensor version (nk.<op> for Tensors) ----------

class Conv2d(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation, groups):
        ctx.save_for_backward(x, weight)
        ctx.kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        return conv2d(x, weight, bias, **ctx.kw)

    @staticmethod
    def backward(ctx, g):
        gx, gw, gb = conv2d_backward(g, *ctx.saved_tensors, **ctx.kw)
        return (gx, gw, gb) + (None,) * 4


class ConvTranspose2d(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, output_padding, groups, dilation):
        ctx.save_for_backward(x, weight)
        ctx.kw = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups,
                      dilation=dilation)
        return conv_transpose2d(x, weight, bias, **ctx.kw)

    @staticmethod
    def backward(ctx, g):
        gx, gw, gb = conv_transpose2d_backward(g, *ctx.saved_tensors, **ctx.kw)
        return (gx, gw, gb) + (None,) * 5


@differentiable(conv2d)
def conv2d_tensor(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """x (N, C, H, W), weight (K, C/groups, R, S), bias (K,) -> (N, K, P, Q); like F.conv2d."""
    return Conv2d.apply(_t(x), weight, bias, stride, padding, dilation, groups)


@differentiable(conv_transpose2d)
def conv_transpose2d_tensor(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """x (N, C, H, W), weight (C, K/groups, R, S) -> (N, K, P, Q); like F.conv_transpose2d."""
    return ConvTranspose2d.apply(_t(x), weight, bias, stride, padding, output_padding, groups, dilation)

"""Differentiable convolution and transposed convolution over nnkernels.ops.conv."""
from __future__ import annotations

from .. import ops
from .function import Function
from .tensor import _t

__all__ = ["conv2d", "conv_transpose2d"]


class Conv2d(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation, groups):
        ctx.save_for_backward(x, weight)
        ctx.kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        return ops.conv2d(x, weight, bias, **ctx.kw)

    @staticmethod
    def backward(ctx, g):
        gx, gw, gb = ops.conv2d_backward(g, *ctx.saved_tensors, **ctx.kw)
        return (gx, gw, gb) + (None,) * 4


class ConvTranspose2d(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, output_padding, groups, dilation):
        ctx.save_for_backward(x, weight)
        ctx.kw = dict(stride=stride, padding=padding, output_padding=output_padding, groups=groups,
                      dilation=dilation)
        return ops.conv_transpose2d(x, weight, bias, **ctx.kw)

    @staticmethod
    def backward(ctx, g):
        gx, gw, gb = ops.conv_transpose2d_backward(g, *ctx.saved_tensors, **ctx.kw)
        return (gx, gw, gb) + (None,) * 5


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """x (N, C, H, W), weight (K, C/groups, R, S), bias (K,) -> (N, K, P, Q); like F.conv2d."""
    return Conv2d.apply(_t(x), weight, bias, stride, padding, dilation, groups)


def conv_transpose2d(x, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """x (N, C, H, W), weight (C, K/groups, R, S) -> (N, K, P, Q); like F.conv_transpose2d."""
    return ConvTranspose2d.apply(_t(x), weight, bias, stride, padding, output_padding, groups, dilation)

"""Differentiable 2-D pooling: one `Function` each over nnkernels.ops.pool."""
from __future__ import annotations

from .. import ops
from .function import Function
from .tensor import _t

__all__ = ["max_pool2d", "avg_pool2d", "adaptive_avg_pool2d"]


class MaxPool2d(Function):
    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding, dilation, ceil_mode):
        y, idx = ops.max_pool2d(x, kernel_size, stride, padding, dilation, ceil_mode, return_indices=True)
        ctx.save_for_backward(idx)
        ctx.shape = x.shape
        ctx.mark_non_differentiable(idx)
        return y, idx

    @staticmethod
    def backward(ctx, g, _):
        return (ops.max_pool2d_backward(g, *ctx.saved_tensors, ctx.shape),) + (None,) * 5


class AvgPool2d(Function):
    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding, ceil_mode, count_include_pad):
        ctx.shape = x.shape
        ctx.args = kernel_size, stride, padding, ceil_mode, count_include_pad
        return ops.avg_pool2d(x, *ctx.args)

    @staticmethod
    def backward(ctx, g):
        return (ops.avg_pool2d_backward(g, ctx.shape, *ctx.args),) + (None,) * 5


class AdaptiveAvgPool2d(Function):
    @staticmethod
    def forward(ctx, x, output_size):
        ctx.shape = x.shape
        return ops.adaptive_avg_pool2d(x, output_size)

    @staticmethod
    def backward(ctx, g):
        return ops.adaptive_avg_pool2d_backward(g, ctx.shape), None


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """x (N, C, H, W) -> (N, C, P, Q) [, indices flat over H*W]; like F.max_pool2d."""
    y, idx = MaxPool2d.apply(_t(x), kernel_size, stride, padding, dilation, ceil_mode)
    return (y, idx) if return_indices else y


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """x (N, C, H, W) -> (N, C, P, Q); like F.avg_pool2d."""
    return AvgPool2d.apply(_t(x), kernel_size, stride, padding, ceil_mode, count_include_pad)


def adaptive_avg_pool2d(x, output_size):
    """x (N, C, H, W) -> (N, C, *output_size); like F.adaptive_avg_pool2d."""
    return AdaptiveAvgPool2d.apply(_t(x), output_size)

"""Differentiable matrix products over nnkernels.ops.gemm: matmul (NumPy semantics),
gemm (BLAS semantics) and linear (x @ W.T + b)."""
from __future__ import annotations

from .. import ops
from .function import Function, array_module
from .shape import reshape
from .tensor import _t

__all__ = ["matmul", "gemm", "linear"]


def _swap(a):
    return array_module(a).swapaxes(a, -1, -2)


class MatMul(Function):
    """a (..., M, K) @ b (..., K, N); both at least 2-D (matmul promotes 1-D around it)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return ops.matmul(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ga = ops.matmul(g, _swap(b)) if ctx.needs_input_grad[0] else None
        gb = ops.matmul(_swap(a), g) if ctx.needs_input_grad[1] else None
        return ga, gb


class Gemm(Function):
    @staticmethod
    def forward(ctx, a, b, c, alpha, beta, trans_a, trans_b):
        ctx.save_for_backward(a, b)
        ctx.args = alpha, beta, trans_a, trans_b
        return ops.gemm(a, b, c, alpha=alpha, beta=beta, trans_a=trans_a, trans_b=trans_b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        alpha, beta, ta, tb = ctx.args
        ga = gb = None
        if ctx.needs_input_grad[0]:  # d/d op(a) = g op(b)^T, transposed back when trans_a
            ga = ops.gemm(b, g, alpha=alpha, trans_a=tb, trans_b=True) if ta else \
                ops.gemm(g, b, alpha=alpha, trans_b=not tb)
        if ctx.needs_input_grad[1]:  # d/d op(b) = op(a)^T g
            gb = ops.gemm(g, a, alpha=alpha, trans_a=True, trans_b=ta) if tb else \
                ops.gemm(a, g, alpha=alpha, trans_a=not ta)
        gc = g * beta if ctx.needs_input_grad[2] else None
        return ga, gb, gc, None, None, None, None


class Linear(Function):
    @staticmethod
    def forward(ctx, x, weight, bias):
        x2 = x.reshape(-1, x.shape[-1])
        ctx.save_for_backward(x2, weight)
        ctx.shape = x.shape
        y = ops.gemm(x2, weight, trans_b=True)
        if bias is not None:
            y += bias
        return y.reshape(tuple(x.shape[:-1]) + (weight.shape[0],))

    @staticmethod
    def backward(ctx, g):
        x2, weight = ctx.saved_tensors
        g2 = g.reshape(-1, g.shape[-1])
        gx = ops.gemm(g2, weight).reshape(ctx.shape) if ctx.needs_input_grad[0] else None
        gw = ops.gemm(g2, x2, trans_a=True) if ctx.needs_input_grad[1] else None
        gb = g2.sum(axis=0) if ctx.needs_input_grad[2] else None
        return gx, gw, gb


def matmul(a, b):
    """Tensor matmul with numpy.matmul semantics (1-D operands promoted, then squeezed)."""
    a, b = _t(a), _t(b)
    if a.ndim == 1:
        return reshape(matmul(reshape(a, (1, -1)), b), b.shape[:-2] + (b.shape[-1],))
    if b.ndim == 1:
        return reshape(matmul(a, reshape(b, (-1, 1))), a.shape[:-1])
    return MatMul.apply(a, b)


def gemm(a, b, c=None, *, alpha=1.0, beta=0.0, trans_a=False, trans_b=False):
    """alpha * op(a) @ op(b) + beta * c on Tensors (c broadcast to the result)."""
    return Gemm.apply(_t(a), _t(b), c, alpha, beta, trans_a, trans_b)


def linear(x, weight, bias=None):
    """y = x @ weight.T + bias.  x (..., I), weight (O, I), bias (O,) -> (..., O)."""
    return Linear.apply(_t(x), weight, bias)

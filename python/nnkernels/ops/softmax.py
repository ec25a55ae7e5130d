"""Softmax, log-softmax and cross-entropy (csrc/softmax/, cuda/softmax.cu), each with
its autograd `Function` and Tensor version.

torch.nn.functional semantics: numerically stable (max subtraction), any axis (the
last axis is the fast path; on the CPU other axes are walked with a stride, no
transpose copy), float32/float64, any input strides (a C-contiguous copy is made when
needed), NumPy arrays on the CPU kernels or CuPy arrays on the CUDA kernels.
"""
from __future__ import annotations

import math

import numpy as np

from ..core.function import Function, differentiable
from ..core.tensor import _t
from ._common import axis_arg, backend, float_arg, result_float_dtype

__all__ = ["softmax", "log_softmax", "softmax_backward", "log_softmax_backward", "cross_entropy",
           "cross_entropy_backward"]

_REDUCTIONS = ("mean", "sum", "none")


def _split(shape, axis):
    shape = shape or (1,)
    outer = math.prod(shape[:axis])
    inner = math.prod(shape[axis + 1:])
    return outer, int(shape[axis]), inner


def _forward(x, axis, log, op):
    be, (x,) = backend(op, x=x)
    dtype = result_float_dtype(op, x=x)
    axis = axis_arg(axis, x.ndim, op)
    x = be.contiguous(x, dtype)
    out = be.empty(x.shape, dtype)
    if x.size:
        be.k.softmax_forward(x, out, *_split(x.shape, axis), log)
    return out


def _backward(grad_out, y, axis, log, op):
    be, (grad_out, y) = backend(op, grad_out=grad_out, y=y)
    dtype = result_float_dtype(op, grad_out=grad_out, y=y)
    if grad_out.shape != y.shape:
        raise ValueError(f"{op}: grad_out has shape {grad_out.shape} but y has shape {y.shape}")
    axis = axis_arg(axis, y.ndim, op)
    g = be.contiguous(grad_out, dtype)
    y = be.contiguous(y, dtype)
    out = be.empty(g.shape, dtype)
    if g.size:
        be.k.softmax_backward(g, y, out, *_split(g.shape, axis), log)
    return out


def softmax(x, axis=-1):
    """exp(x - max) / Σ exp(x - max) along `axis` (torch.softmax(x, dim=axis))."""
    return _forward(x, axis, False, "softmax")


def log_softmax(x, axis=-1):
    """(x - max) - log Σ exp(x - max) along `axis` (torch.log_softmax(x, dim=axis))."""
    return _forward(x, axis, True, "log_softmax")


def softmax_backward(grad_out, y, axis=-1):
    """Gradient of softmax: y · (grad_out - Σ grad_out·y), y = softmax(x, axis)."""
    return _backward(grad_out, y, axis, False, "softmax_backward")


def log_softmax_backward(grad_out, y, axis=-1):
    """Gradient of log_softmax: grad_out - exp(y) · Σ grad_out, y = log_softmax(x, axis)."""
    return _backward(grad_out, y, axis, True, "log_softmax_backward")


def _ce_args(logits, target, reduction, label_smoothing, op):
    be, (logits, target) = backend(op, logits=logits, target=target)
    dtype = result_float_dtype(op, logits=logits)
    if logits.ndim != 2:
        raise ValueError(f"{op}: logits must be 2-D (N, C), got shape {logits.shape}")
    N, C = logits.shape
    if target.dtype.kind not in "iu":
        raise TypeError(f"{op}: target must hold integer class indices, got dtype {target.dtype}")
    if target.shape != (N,):
        raise ValueError(f"{op}: target has shape {target.shape}, expected ({N},) for logits of shape {logits.shape}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    eps = float_arg(label_smoothing, "label_smoothing", op)
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing!r}")
    if N:
        lo, hi = int(target.min()), int(target.max())
        if lo < 0 or hi >= C:
            bad = lo if lo < 0 else hi
            raise ValueError(f"{op}: target values must be in [0, {C}) for logits of shape {logits.shape}, "
                             f"got {bad}")
    logits = be.contiguous(logits, dtype)
    target = be.contiguous(target, np.int64)
    return be, logits, target, dtype, eps


def cross_entropy(logits, target, reduction="mean", label_smoothing=0.0):
    """Cross-entropy of logits (N, C) against integer class targets (N,), fused with
    log-softmax (torch.nn.functional.cross_entropy). reduction 'mean' | 'sum' | 'none';
    label_smoothing ε mixes the one-hot target with the uniform distribution.
    Returns a 0-d array ('mean', 'sum') or the per-sample losses (N,) ('none')."""
    be, logits, target, dtype, eps = _ce_args(logits, target, reduction, label_smoothing, "cross_entropy")
    N = logits.shape[0]
    loss = be.empty((N,), dtype)
    if N:
        be.k.cross_entropy_forward(logits, target, loss, eps)
    if reduction == "none":
        return loss
    total = loss.sum(dtype=np.float64)
    if reduction == "mean":
        total = total / N if N else np.nan
    return be.xp.asarray(total, dtype=dtype)


def cross_entropy_backward(grad_out, logits, target, reduction="mean", label_smoothing=0.0):
    """Gradient of `cross_entropy` with respect to the logits, (N, C).
    grad_out: a scalar for 'mean'/'sum', shape (N,) for 'none'."""
    be, logits, target, dtype, eps = _ce_args(logits, target, reduction, label_smoothing,
                                              "cross_entropy_backward")
    N = logits.shape[0]
    if not hasattr(grad_out, "shape") or isinstance(grad_out, np.generic):  # a number: on the logits' device
        grad_out = be.xp.asarray(grad_out)
    g = backend("cross_entropy_backward", grad_out=grad_out, logits=logits)[1][0]
    if g.dtype.kind not in "fiu":
        raise TypeError(f"cross_entropy_backward: grad_out has unsupported dtype {g.dtype}")
    if reduction == "none":
        if g.shape != (N,):
            raise ValueError(f"cross_entropy_backward: grad_out has shape {g.shape}, expected ({N},) "
                             "for reduction='none'")
        gscale, stride = be.contiguous(g, dtype), 1
    else:
        if g.size != 1:
            raise ValueError(f"cross_entropy_backward: grad_out must be a scalar for reduction={reduction!r}, "
                             f"got shape {g.shape}")
        s = float(g.reshape(()))
        if reduction == "mean":
            s = s / N if N else 0.0
        gscale, stride = be.xp.asarray(np.array([s], dtype=dtype)), 0
    out = be.empty(logits.shape, dtype)
    if out.size:
        be.k.cross_entropy_backward(logits, target, gscale, stride, out, eps)
    return out


# ---- autograd: one Function per op, and its Tensor version (nk.<op> for Tensors) ----------

class Softmax(Function):
    @staticmethod
    def forward(ctx, x, axis, log):
        y = (log_softmax if log else softmax)(x, axis=axis)
        ctx.save_for_backward(y)
        ctx.axis, ctx.log = axis, log
        return y

    @staticmethod
    def backward(ctx, g):
        back = log_softmax_backward if ctx.log else softmax_backward
        return back(g, *ctx.saved_tensors, axis=ctx.axis), None, None


class CrossEntropy(Function):
    """Fused cross-entropy of (N, C) logits and class-index targets."""

    @staticmethod
    def forward(ctx, logits, target, reduction, label_smoothing):
        ctx.save_for_backward(logits, target)
        ctx.args = reduction, label_smoothing
        return cross_entropy(logits, target, reduction, label_smoothing)

    @staticmethod
    def backward(ctx, g):
        logits, target = ctx.saved_tensors
        return cross_entropy_backward(g, logits, target, *ctx.args), None, None, None


@differentiable(softmax, "softmax")
def softmax_tensor(x, axis=-1, dim=None):
    return Softmax.apply(_t(x), axis if dim is None else dim, False)


@differentiable(log_softmax, "log_softmax")
def log_softmax_tensor(x, axis=-1, dim=None):
    return Softmax.apply(_t(x), axis if dim is None else dim, True)


@differentiable(cross_entropy)
def cross_entropy_tensor(input, target, *args, **kwargs):
    """nk.cross_entropy on Tensors: torch.nn.functional.cross_entropy (class weights,
    ignore_index, probability targets, (N, C, d...) inputs), which runs `CrossEntropy`
    for (N, C) logits with class-index targets."""
    from ..nn.functional import cross_entropy as f  # the composite loss lives with the layers
    return f(_t(input), target, *args, **kwargs)

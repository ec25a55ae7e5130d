"""GEMM and matmul (csrc/gemm/, cuda/gemm*.cu).

`gemm` has BLAS semantics, `matmul` NumPy's (1-D, 2-D, batched with broadcast batch
dimensions). NumPy arrays run on the CPU kernels: transposed, strided and
negative-stride inputs are read in place by the kernel's packing; only `out` needs
unit-stride rows, and a temporary is used otherwise. CuPy arrays run on the CUDA
kernels, which also take float16/bfloat16 (tensor cores, fp32 accumulation) and, with
``precision='tf32'``, float32 on the tensor cores; on the CPU 'tf32' computes in full
float32 (as torch does on the CPU). The autograd `Function`s (matmul, gemm and
linear, x @ W.T + b) and their Tensor versions follow the array ops.
"""
from __future__ import annotations

import numpy as np

from ..core.function import Function, array_module, differentiable
from ..core.shape import reshape
from ..core.tensor import Tensor, _t
from .. import _C
from ._common import (MAX_RESULT_BYTES, backend, check_out, check_result_size, float_arg, kernel_ready,
                      result_float_dtype, rows_contiguous)

__all__ = ["gemm", "matmul"]

_PRECISIONS = ("highest", "tf32")


def _precision(op, precision, be):
    if precision not in _PRECISIONS:
        raise ValueError(f"{op}: precision must be 'highest' or 'tf32', got {precision!r}")
    return {"precision": precision} if be.name == "cuda" else {}


def gemm(a, b, c=None, *, alpha=1.0, beta=0.0, trans_a=False, trans_b=False, out=None, precision="highest",
         out_dtype=None):
    """``alpha * op(a) @ op(b) + beta * c`` where ``op(x)`` is ``x.T`` when ``trans_x``.

    a: (M, K), or (K, M) with trans_a; b: (K, N), or (N, K) with trans_b;
    c: broadcastable to (M, N), needed when beta != 0; out: (M, N), may be `c` itself.
    float32 or float64 (mixed inputs promote); on CUDA also float16/bfloat16, where
    out_dtype=float32 keeps the fp32 result. Returns `out` or a new array.
    """
    be, (a, b, c) = backend("gemm", out=out, a=a, b=b, c=c)
    kw = _precision("gemm", precision, be)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"gemm: a and b must be 2-D, got shapes {a.shape} and {b.shape}")
    dtype = result_float_dtype("gemm", be.gemm_dtypes, a=a, b=b, c=c)
    alpha = float_arg(alpha, "alpha", "gemm")
    beta = float_arg(beta, "beta", "gemm")
    M, K = (a.shape[1], a.shape[0]) if trans_a else a.shape
    K2, N = (b.shape[1], b.shape[0]) if trans_b else b.shape
    if K != K2:
        raise ValueError(f"gemm: inner dimensions differ: op(a) is {(M, K)} (a {a.shape}, trans_a={trans_a}), "
                         f"op(b) is {(K2, N)} (b {b.shape}, trans_b={trans_b})")
    if beta != 0 and c is None:
        raise ValueError("gemm: beta != 0 needs c")
    res_dtype = np.dtype(dtype if out_dtype is None else out_dtype)
    if res_dtype != dtype and not (res_dtype == np.float32 and dtype.itemsize == 2):
        raise ValueError(f"gemm: out_dtype must be the input dtype or float32 (for float16/bfloat16), got {res_dtype}")
    if c is not None and c.shape != (M, N):
        try:
            np.broadcast_shapes(c.shape, (M, N))
        except ValueError:
            raise ValueError(f"gemm: c has shape {c.shape}, not broadcastable to the result {(M, N)}") from None
    fresh = out is None
    if out is not None:
        check_out(out, (M, N), res_dtype, "gemm")
    else:
        check_result_size("gemm", (M, N), res_dtype, "the shapes of a and b")
        out = be.empty((M, N), res_dtype)
    if M == 0 or N == 0:
        return out
    a = be.ready(a, dtype)
    b = be.ready(b, dtype)

    # The kernel writes rows of `work`; use `out` itself when it can take that and
    # does not overlap an input.
    xp = be.xp
    direct = rows_contiguous(out) and getattr(out.flags, "aligned", True) and out.strides[0] > 0 and \
        out.strides[0] % out.itemsize == 0 and (
            fresh or not (xp.shares_memory(out, a) or xp.shares_memory(out, b)))
    work = out if direct else be.empty((M, N), res_dtype)
    if beta != 0:
        if not (c is out and direct):
            xp.copyto(work, c, casting="same_kind")
    be.k.gemm(a, b, work, float(alpha), float(beta) if c is not None else 0.0, bool(trans_a), bool(trans_b), **kw)
    if work is not out:
        xp.copyto(out, work)
    return out


def _batch_offsets(x, batch_shape) -> np.ndarray:
    """Element offsets of each matrix of `x` broadcast to batch_shape (C order), from its
    strides (a broadcast dimension steps 0)."""
    lead = len(batch_shape) - (x.ndim - 2)
    offs = np.zeros(batch_shape, np.int64)
    for d, n in enumerate(batch_shape):
        xd = d - lead
        s = x.strides[xd] // x.itemsize if xd >= 0 and x.shape[xd] != 1 else 0
        shape = [1] * len(batch_shape)
        shape[d] = n
        offs += (np.arange(n, dtype=np.int64) * s).reshape(shape)
    return offs.ravel()


def _matmul_2d_cpu(a, b, out):
    """The common case checked first, in as few steps as it takes: two aligned 2-D float
    NumPy arrays of one dtype whose shapes align, and no `out` or one the kernel can write
    in place (C-contiguous, writable, apart from a and b). The result, or None for the
    general path (which makes the error messages; only a result too large for memory is
    refused here)."""
    if not (a.ndim == 2 and b.ndim == 2 and a.dtype is b.dtype and a.dtype.char in "fd"
            and a.shape[1] == b.shape[0] and a.flags.aligned and b.flags.aligned):
        return None
    shape = (a.shape[0], b.shape[1])
    if out is None:
        if shape[0] * shape[1] * a.itemsize > MAX_RESULT_BYTES:
            check_result_size("matmul", shape, a.dtype, "the shapes of a and b")  # raises
        res = np.empty(shape, a.dtype)
    elif type(out) is np.ndarray and out.shape == shape and out.dtype is a.dtype and out.flags.c_contiguous \
            and out.flags.writeable and not (np.may_share_memory(out, a) or np.may_share_memory(out, b)):
        res = out
    else:
        return None
    if res.size:
        _C.gemm(kernel_ready(a, a.dtype), kernel_ready(b, b.dtype), res, 1.0, 0.0, False, False)
    return res


def matmul(a, b, *, out=None, precision="highest"):
    """Matrix product with `numpy.matmul` semantics, on the nnkernels GEMM.

    1-D operands are promoted to a row (a) or column (b) and the dimension removed
    after; batch dimensions (all but the last two) broadcast. precision: as for `gemm`.
    """
    if type(a) is np.ndarray and type(b) is np.ndarray and precision in _PRECISIONS:
        res = _matmul_2d_cpu(a, b, out)
        if res is not None:
            return res
    be, (a, b) = backend("matmul", out=out, a=a, b=b)
    kw = _precision("matmul", precision, be)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must be at least 1-D, got shapes {a.shape} and {b.shape}")
    dtype = result_float_dtype("matmul", be.gemm_dtypes, a=a, b=b)
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    M, K = a2.shape[-2:]
    K2, N = b2.shape[-2:]
    if K != K2:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not align: {K} (dim -1 of a) != {K2} "
                         f"(dim {-2 if b.ndim > 1 else 0} of b)")
    try:
        batch = tuple(np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2]))
    except ValueError:
        raise ValueError(f"matmul: batch dimensions of {a.shape} and {b.shape} do not broadcast") from None
    full_shape = batch + (M, N)
    res_shape = batch + ((M,) if a.ndim > 1 else ()) + ((N,) if b.ndim > 1 else ())
    if out is not None:
        check_out(out, res_shape, dtype, "matmul")

    if not batch:
        res = gemm(a2, b2, out=None if out is None else out.reshape(M, N) if out.ndim != 2 else out,
                   precision=precision)
        if out is not None and res is not out and not be.xp.shares_memory(res, out):
            be.xp.copyto(out, res.reshape(out.shape))
            return out
        return res.reshape(res_shape) if out is None else out

    a2 = be.ready(a2, dtype)
    b2 = be.ready(b2, dtype)
    nbatch = int(np.prod(batch))
    check_result_size("matmul", full_shape, dtype, "the shapes of a and b")
    result = be.empty(full_shape, dtype)
    if result.size:
        if b2.ndim == 2 and tuple(a2.shape[:-2]) == batch and a2.flags.c_contiguous:
            # Batch of rows times one matrix: one large GEMM over (batch·M) × K.
            be.k.gemm(a2.reshape(nbatch * M, K), b2, result.reshape(nbatch * M, N), 1.0, 0.0, False, False, **kw)
        else:
            be.k.gemm_batched(a2, _batch_offsets(a2, batch), b2, _batch_offsets(b2, batch),
                              result.reshape(nbatch, M, N), 1.0, 0.0, **kw)
    result = result.reshape(res_shape)
    if out is not None:
        be.xp.copyto(out, result)
        return out
    return result


# ---- autograd: one Function per op, and its Tensor version (nk.<op> for Tensors) ----------

def _swap(a):
    return array_module(a).swapaxes(a, -1, -2)


class MatMul(Function):
    """a (..., M, K) @ b (..., K, N); both at least 2-D (matmul_tensor promotes 1-D around it)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return matmul(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ga = matmul(g, _swap(b)) if ctx.needs_input_grad[0] else None
        gb = matmul(_swap(a), g) if ctx.needs_input_grad[1] else None
        return ga, gb


class Gemm(Function):
    @staticmethod
    def forward(ctx, a, b, c, alpha, beta, trans_a, trans_b):
        ctx.save_for_backward(a, b)
        ctx.args = alpha, beta, trans_a, trans_b
        return gemm(a, b, c, alpha=alpha, beta=beta, trans_a=trans_a, trans_b=trans_b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        alpha, beta, ta, tb = ctx.args
        ga = gb = None
        if ctx.needs_input_grad[0]:  # d/d op(a) = g op(b)^T, transposed back when trans_a
            ga = gemm(b, g, alpha=alpha, trans_a=tb, trans_b=True) if ta else \
                gemm(g, b, alpha=alpha, trans_b=not tb)
        if ctx.needs_input_grad[1]:  # d/d op(b) = op(a)^T g
            gb = gemm(g, a, alpha=alpha, trans_a=True, trans_b=ta) if tb else \
                gemm(a, g, alpha=alpha, trans_a=not ta)
        gc = g * beta if ctx.needs_input_grad[2] else None
        return ga, gb, gc, None, None, None, None


class Linear(Function):
    @staticmethod
    def forward(ctx, x, weight, bias):
        x2 = x.reshape(-1, x.shape[-1])
        ctx.save_for_backward(x2, weight)
        ctx.shape = x.shape
        y = gemm(x2, weight, trans_b=True)
        if bias is not None:
            y += bias
        return y.reshape(tuple(x.shape[:-1]) + (weight.shape[0],))

    @staticmethod
    def backward(ctx, g):
        x2, weight = ctx.saved_tensors
        g2 = g.reshape(-1, g.shape[-1])
        gx = gemm(g2, weight).reshape(ctx.shape) if ctx.needs_input_grad[0] else None
        gw = gemm(g2, x2, trans_a=True) if ctx.needs_input_grad[1] else None
        gb = g2.sum(axis=0) if ctx.needs_input_grad[2] else None
        return gx, gw, gb


@differentiable(matmul, "__matmul__")
def matmul_tensor(a, b):
    """Tensor matmul with numpy.matmul semantics (1-D operands promoted, then squeezed)."""
    a, b = _t(a), _t(b)
    if a.ndim == 1:
        return reshape(matmul_tensor(reshape(a, (1, -1)), b), b.shape[:-2] + (b.shape[-1],))
    if b.ndim == 1:
        return reshape(matmul_tensor(a, reshape(b, (-1, 1))), a.shape[:-1])
    return MatMul.apply(a, b)


Tensor.__rmatmul__ = lambda self, o: matmul_tensor(o, self)  # array @ Tensor: the operands swapped back


@differentiable(gemm)
def gemm_tensor(a, b, c=None, *, alpha=1.0, beta=0.0, trans_a=False, trans_b=False):
    """alpha * op(a) @ op(b) + beta * c on Tensors (c broadcast to the result)."""
    return Gemm.apply(_t(a), _t(b), c, alpha, beta, trans_a, trans_b)


def linear_tensor(x, weight, bias=None):
    """y = x @ weight.T + bias.  x (..., I), weight (O, I), bias (O,) -> (..., O); F.linear."""
    return Linear.apply(_t(x), weight, bias)

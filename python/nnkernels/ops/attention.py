"""Scaled dot-product attention on the CPU kernels (csrc/attention/), torch semantics.

``scaled_dot_product_attention(q, k, v, attn_mask=None, is_causal=False, scale=None)``
is ``torch.nn.functional.scaled_dot_product_attention`` on NumPy arrays:

    q (..., Lq, D), k (..., Lk, D), v (..., Lk, Dv)  ->  out (..., Lq, Dv)

Leading dimensions broadcast against each other. ``attn_mask`` broadcasts to
(..., Lq, Lk) and is boolean (True = take part, as in torch) or additive (float, added to
the scaled scores). ``is_causal`` hides key j from query i when j > i (torch's top-left
alignment when Lq != Lk). ``scale`` defaults to 1/sqrt(D). A query that sees no key
(every key masked, or Lk == 0) gets an output row of zeros and lse = -inf, as torch
returns. The kernel is fused (online softmax) and never forms the Lq×Lk score matrix;
``return_lse=True`` also returns the row log-sum-exp (..., Lq) that
``scaled_dot_product_attention_backward`` needs to recompute the probabilities. The
autograd `Function` and the Tensor version follow the array ops.
"""
from __future__ import annotations

import math

import numpy as np

from .. import _C
from ..core.function import Function, differentiable
from ..core.tensor import _as_data, _t
from ._common import as_array, check_result_size, float_arg, kernel_ready, result_float_dtype
from .gemm import _batch_offsets

__all__ = ["scaled_dot_product_attention", "scaled_dot_product_attention_backward"]


def _rows_ready(a: np.ndarray, dtype) -> np.ndarray:
    """`a` as `dtype` with a unit-stride last axis (other strides any)."""
    a = kernel_ready(a, dtype)
    if a.shape[-1] > 1 and a.strides[-1] != a.itemsize:
        a = np.ascontiguousarray(a)
    return a


def _offsets(x: np.ndarray, batch) -> np.ndarray:
    """Element offset of each (L, D) matrix of `x` broadcast to `batch` (C order)."""
    nb = len(batch)
    if x.shape[:-2] == tuple(batch) and nb:
        st = [s // x.itemsize for s in x.strides[:nb]]
        if all(st[i] == st[i + 1] * batch[i + 1] for i in range(nb - 1)):  # one regular stride
            return np.arange(math.prod(batch), dtype=np.int64) * st[-1]
    return _batch_offsets(x, batch)


def _prepare(op, q, k, v, attn_mask, is_causal, scale):
    q = as_array(q, "q", op)
    k = as_array(k, "k", op)
    v = as_array(v, "v", op)
    for name, a in (("q", q), ("k", k), ("v", v)):
        if a.ndim < 2:
            raise ValueError(f"{op}: {name} must have at least 2 dimensions (..., L, D), got shape {a.shape}")
    dtype = result_float_dtype(op, q=q, k=k, v=v)
    Lq, D = q.shape[-2:]
    Lk, Dk = k.shape[-2:]
    Lv, Dv = v.shape[-2:]
    if Dk != D:
        raise ValueError(f"{op}: k has shape {k.shape}; its last dimension must equal q's ({D}, q shape {q.shape})")
    if Lv != Lk:
        raise ValueError(f"{op}: v has shape {v.shape}; its dimension -2 must equal k's sequence length "
                         f"({Lk}, k shape {k.shape})")
    try:
        batch = tuple(np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2]))
    except ValueError:
        raise ValueError(f"{op}: the leading dimensions of q {q.shape}, k {k.shape} and v {v.shape} "
                         "do not broadcast") from None
    if is_causal and attn_mask is not None:
        raise ValueError(f"{op}: attn_mask must be None when is_causal=True (torch's rule)")
    mask = None
    if attn_mask is not None:
        mask = as_array(attn_mask, "attn_mask", op)
        full = batch + (Lq, Lk)
        try:
            ok = tuple(np.broadcast_shapes(mask.shape, full)) == full
        except ValueError:
            ok = False
        if not ok or mask.ndim == 0:
            raise ValueError(f"{op}: attn_mask has shape {mask.shape}, not broadcastable to "
                             f"(..., Lq, Lk) = {full}")
        if mask.dtype == np.bool_:
            mask = mask.view(np.uint8)
        elif mask.dtype.kind == "f":
            mask = kernel_ready(mask, dtype)
        else:
            raise TypeError(f"{op}: attn_mask has unsupported dtype {mask.dtype} (bool or float expected)")
        mask = np.broadcast_to(mask, full)
    if scale is None:
        scale = 1.0 / math.sqrt(D) if D > 0 else 1.0
    scale = float_arg(scale, "scale", op)
    q, k, v = (_rows_ready(a, dtype) for a in (q, k, v))
    nb = math.prod(batch)
    args = (q, _offsets(q, batch), k, _offsets(k, batch), v, _offsets(v, batch),
            mask, _offsets(mask, batch) if mask is not None else np.zeros(nb, np.int64),
            bool(is_causal), scale)
    return args, dtype, batch, nb, (Lq, Lk, D, Dv)


def scaled_dot_product_attention(q, k, v, attn_mask=None, is_causal=False, scale=None,
                                 return_lse=False, *, _reference=False):
    """softmax(q @ k^T * scale + mask) @ v, fused, like torch's SDPA.

    q (..., Lq, D), k (..., Lk, D), v (..., Lk, Dv); attn_mask bool (True = keep) or float
    (added), broadcast to (..., Lq, Lk). Returns out (..., Lq, Dv), and with
    ``return_lse=True`` the pair (out, lse) with lse (..., Lq) the log-sum-exp of each row of
    scaled, masked scores (-inf for a row that sees no key; its output row is 0).
    float32 or float64.
    """
    args, dtype, batch, nb, (Lq, Lk, D, Dv) = _prepare("scaled_dot_product_attention", q, k, v,
                                                       attn_mask, is_causal, scale)
    check_result_size("scaled_dot_product_attention", batch + (Lq, Dv), dtype, "the shapes of q, k and v")
    out = np.empty((nb, Lq, Dv), dtype)
    lse = np.empty((nb, Lq), dtype)
    if nb and Lq:
        _C.attention_forward(*args, out, lse, reference=bool(_reference))
    out = out.reshape(batch + (Lq, Dv))
    lse = lse.reshape(batch + (Lq,))
    return (out, lse) if return_lse else out


def _unbroadcast(g: np.ndarray, shape) -> np.ndarray:
    """Sum `g` over the dimensions that broadcasting added or stretched to reach it from `shape`."""
    lead = g.ndim - len(shape)
    if lead:
        g = g.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def scaled_dot_product_attention_backward(grad_out, q, k, v, out, lse, attn_mask=None,
                                          is_causal=False, scale=None):
    """Gradients (gq, gk, gv) of scaled_dot_product_attention, shaped like q, k, v.

    grad_out and out are (..., Lq, Dv) and lse (..., Lq) as returned by the forward with
    ``return_lse=True``; the scores are recomputed tile by tile from lse (FlashAttention-2
    backward), never stored. The mask gets no gradient.
    """
    op = "scaled_dot_product_attention_backward"
    args, dtype, batch, nb, (Lq, Lk, D, Dv) = _prepare(op, q, k, v, attn_mask, is_causal, scale)
    shapes = {"q": np.shape(q), "k": np.shape(k), "v": np.shape(v)}
    want = {"grad_out": batch + (Lq, Dv), "out": batch + (Lq, Dv), "lse": batch + (Lq,)}
    arrs = {}
    for name, a in (("grad_out", grad_out), ("out", out), ("lse", lse)):
        a = as_array(a, name, op)
        if a.shape != want[name]:
            raise ValueError(f"{op}: {name} has shape {a.shape}, expected {want[name]}")
        result_float_dtype(op, **{name: a})
        arrs[name] = np.ascontiguousarray(a, dtype=dtype)
    gq = np.zeros((nb, Lq, D), dtype)
    gk = np.empty((nb, Lk, D), dtype)
    gv = np.empty((nb, Lk, Dv), dtype)
    if nb:
        _C.attention_backward(*args, arrs["grad_out"].reshape(nb, Lq, Dv), arrs["out"].reshape(nb, Lq, Dv),
                              arrs["lse"].reshape(nb, Lq), gq, gk, gv)
    gq = _unbroadcast(gq.reshape(batch + (Lq, D)), shapes["q"])
    gk = _unbroadcast(gk.reshape(batch + (Lk, D)), shapes["k"])
    gv = _unbroadcast(gv.reshape(batch + (Lk, Dv)), shapes["v"])
    return gq, gk, gv


# ---- autograd: the Function and its Tensor version (nk.scaled_dot_product_attention) ------

class ScaledDotProductAttention(Function):
    @staticmethod
    def forward(ctx, q, k, v, attn_mask, is_causal, scale):
        out, lse = scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, is_causal=is_causal, scale=scale,
                                                return_lse=True)
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.kw = dict(attn_mask=attn_mask, is_causal=is_causal, scale=scale)
        return out

    @staticmethod
    def backward(ctx, g):
        gq, gk, gv = scaled_dot_product_attention_backward(g, *ctx.saved_tensors, **ctx.kw)
        return gq, gk, gv, None, None, None


@differentiable(scaled_dot_product_attention)
def scaled_dot_product_attention_tensor(query, key, value, attn_mask=None, is_causal=False, scale=None):
    """q (..., L, D), k (..., S, D), v (..., S, Dv) -> (..., L, Dv); bool mask True = attend."""
    mask = None if attn_mask is None else _as_data(attn_mask)
    return ScaledDotProductAttention.apply(_t(query), _t(key), _t(value), mask, is_causal, scale)

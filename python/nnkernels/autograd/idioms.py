"""torch tensor idioms: sin/cos, mm/bmm, comparisons (allclose, equal), masked_fill, topk/sort,
chunk/split, norm, repeat, t; and the Tensor methods that are not operators (add_, mul_, ...)."""
from __future__ import annotations

import numpy as np

from ..core.elementwise import add, clamp, div, mul, sub
from ..core.reduce import _expand_back, _norm_axis
from ..core.shape import getitem, permute
from ..core.tensor import MaxResult, Tensor, _as_data, _make, _t, array_module, is_grad_enabled, no_grad
from ..ops.gemm import matmul_tensor as matmul
from .creation import _shape

__all__ = ["sin", "cos", "mm", "bmm", "allclose", "equal", "masked_fill", "sort", "argsort", "topk", "split",
           "chunk", "norm", "t"]


class SortResult(MaxResult):
    """(values, indices) like torch.return_types.sort / topk."""


def sin(a):
    a = _t(a)
    return _make(np.sin(a.data), (a,), lambda g: (g * np.cos(a.data),))


def cos(a):
    a = _t(a)
    return _make(np.cos(a.data), (a,), lambda g: (-g * np.sin(a.data),))


def mm(a, b):
    """torch.mm: (n, m) @ (m, p), both 2-D."""
    a, b = _t(a), _t(b)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"mm: both inputs must be 2-D, got shapes {a.shape} and {b.shape}")
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"mm: shapes {a.shape} and {b.shape} cannot be multiplied ({a.shape[1]} != {b.shape[0]})")
    return matmul(a, b)


def bmm(a, b):
    """torch.bmm: (B, n, m) @ (B, m, p), both 3-D with the same B."""
    a, b = _t(a), _t(b)
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise ValueError(f"bmm: expected (B, n, m) and (B, m, p), got shapes {a.shape} and {b.shape}")
    return matmul(a, b)


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """torch.allclose: |a - b| <= atol + rtol |b| everywhere (a bool)."""
    return bool(np.allclose(_as_data(a), _as_data(b), rtol=rtol, atol=atol, equal_nan=equal_nan))


def equal(a, b):
    """torch.equal: True when the shapes and every value are the same."""
    a, b = _as_data(a), _as_data(b)
    return a.shape == b.shape and bool(np.array_equal(a, b))


def masked_fill(a, mask, value):
    """torch.masked_fill: `value` where mask is True (mask broadcasts to a); no gradient there."""
    a = _t(a)
    m = np.broadcast_to(_as_data(mask).astype(bool), a.shape)
    v = value.item() if isinstance(value, Tensor) else value
    return _make(np.where(m, np.asarray(v, a.dtype), a.data), (a,), lambda g: (np.where(m, 0, g),))


def _take_back(a, idx, ax):
    def backward(g):
        full = array_module(g).zeros(a.shape, g.dtype)
        np.put_along_axis(full, idx, g, axis=ax)
        return (full,)
    return backward


def sort(a, dim=-1, descending=False, stable=False):
    """torch.sort: (values, indices) along dim; the values carry the gradient."""
    a = _t(a)
    if a.ndim == 0:
        return SortResult(a, Tensor(np.zeros((), np.int64)))
    ax = dim % a.ndim
    idx = np.argsort(-a.data if descending else a.data, axis=ax, kind="stable")
    vals = np.take_along_axis(a.data, idx, axis=ax)
    return SortResult(_make(vals, (a,), _take_back(a, idx, ax)), Tensor(idx.astype(np.int64)))


def argsort(a, dim=-1, descending=False, stable=False):
    return sort(a, dim, descending, stable).indices


def topk(a, k, dim=-1, largest=True, sorted=True):
    """torch.topk: the k largest (smallest) entries along dim, (values, indices)."""
    a = _t(a)
    ax = dim % max(a.ndim, 1)
    n = a.shape[ax] if a.ndim else 1
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k <= n:
        raise ValueError(f"topk: k must be an integer in [0, {n}] for dim {dim} of shape {a.shape}, got {k!r}")
    if a.ndim == 0:
        return SortResult(a, Tensor(np.zeros((), np.int64)))
    idx = np.argsort(-a.data if largest else a.data, axis=ax, kind="stable")
    idx = np.take(idx, np.arange(k), axis=ax)
    vals = np.take_along_axis(a.data, idx, axis=ax)
    return SortResult(_make(vals, (a,), _take_back(a, idx, ax)), Tensor(idx.astype(np.int64)))


def _slice_along(a, ax, lo, hi):
    return getitem(a, (slice(None),) * ax + (slice(lo, hi),))


def split(a, split_size_or_sections, dim=0):
    """torch.split: pieces of `split_size` along dim (the last may be smaller), or of the
    given list of sizes; each piece is a view-like slice with its own gradient."""
    a = _t(a)
    ax = dim % a.ndim
    n = a.shape[ax]
    s = split_size_or_sections
    if isinstance(s, (int, np.integer)) and not isinstance(s, bool):
        if s <= 0:
            raise ValueError(f"split: split_size must be positive, got {s}")
        sizes = [min(s, n - i) for i in range(0, n, s)] or [0]
    else:
        sizes = [int(x) for x in s]
        if sum(sizes) != n:
            raise ValueError(f"split: sections {sizes} sum to {sum(sizes)}, but dim {dim} has size {n}")
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    return tuple(_slice_along(a, ax, int(lo), int(hi)) for lo, hi in zip(bounds[:-1], bounds[1:]))


def chunk(a, chunks, dim=0):
    """torch.chunk: at most `chunks` pieces of ceil(n / chunks) along dim."""
    a = _t(a)
    if isinstance(chunks, bool) or not isinstance(chunks, (int, np.integer)) or chunks <= 0:
        raise ValueError(f"chunk: chunks must be a positive integer, got {chunks!r}")
    n = a.shape[dim % a.ndim]
    return split(a, max(-(-n // chunks), 1), dim)


def norm(a, p="fro", dim=None, keepdim=False, dtype=None):
    """torch.norm / Tensor.norm: the vector p-norm over dim (all entries when None); p is
    'fro' or 2, 1, any positive float, inf, -inf or 0. The gradient at a zero norm is 0."""
    a = _t(a)
    if p == "fro":
        p = 2
    if isinstance(p, str):
        raise ValueError(f"norm: p must be 'fro' or a number, got {p!r}")
    p = float(p)
    axes = _norm_axis(dim, a.ndim)
    x = a.data
    ax_abs = np.abs(x)
    if np.isinf(p):
        m = (ax_abs.max if p > 0 else ax_abs.min)(axis=axes, keepdims=True)

        def backward(g):
            hit = ax_abs == m
            g = _expand_back(g, a.shape, axes, keepdim)
            return (g * hit * np.sign(x) / hit.sum(axis=axes, keepdims=True),)
        return _make(m if keepdim else np.squeeze(m, axis=axes), (a,), backward)
    if p == 0:
        return Tensor((x != 0).sum(axis=axes, keepdims=keepdim).astype(x.dtype))
    out = (ax_abs ** p).sum(axis=axes, keepdims=True) ** (1 / p)

    def backward(g):
        g = _expand_back(g, a.shape, axes, keepdim)
        safe = np.where(out == 0, 1, out)
        d = np.sign(x) * ax_abs ** (p - 1) / safe ** (p - 1)
        return (g * np.where(out == 0, 0, d),)
    return _make(out if keepdim else np.squeeze(out, axis=axes), (a,), backward)


def repeat(a, *sizes):
    """torch.Tensor.repeat: tile a `sizes[i]` times along each axis (len(sizes) >= a.ndim; extra
    sizes add leading axes). The gradient sums the copies."""
    a = _t(a)
    sizes = tuple(int(s) for s in _shape(sizes))
    if len(sizes) < a.ndim:
        raise ValueError(f"repeat: got {len(sizes)} repeat sizes for a tensor of {a.ndim} dims; give at least {a.ndim}")
    shape = (1,) * (len(sizes) - a.ndim) + a.shape
    out = np.tile(a.data.reshape(shape), sizes)

    def backward(g):
        inter = []
        for r, n in zip(sizes, shape):
            inter += [r, n]
        g = g.reshape(inter).sum(axis=tuple(range(0, 2 * len(shape), 2)))
        return (g.reshape(a.shape),)
    return _make(out, (a,), backward)


def t(a):
    """torch.t: the transpose of a 2-D tensor; 0-D and 1-D come back as they are."""
    a = _t(a)
    if a.ndim > 2:
        raise ValueError(f"t: expects a tensor of at most 2 dims, got shape {a.shape}; use transpose(dim0, dim1)")
    return a if a.ndim < 2 else permute(a, (1, 0))


def _inplace(self, op, other, name):
    """self <- op(self, other) in place, like torch's `x.add_(y)`: on the array when no graph is
    recorded; recorded (self becomes the op's output) when grad mode is on and an input needs a
    gradient. A leaf that requires grad refuses, as in torch (use torch.no_grad())."""
    o = other if isinstance(other, Tensor) else None
    if is_grad_enabled() and (self.requires_grad or (o is not None and o.requires_grad)):
        if self.is_leaf and self.requires_grad:
            raise RuntimeError(f"{name}: a leaf Tensor that requires grad is used in an in-place operation; "
                               f"wrap it in nk.no_grad() (as in torch)")
        old = Tensor(self.data)
        old.requires_grad, old._parents, old._backward, old._grad = (self.requires_grad, self._parents,
                                                                      self._backward, self._grad)
        new = op(old, other)
        self.data, self.requires_grad, self._parents, self._backward = (new.data, new.requires_grad,
                                                                        new._parents, new._backward)
        return self
    res = op(Tensor(self.data), other).data
    if res.shape != self.data.shape:
        raise ValueError(f"{name}: the result has shape {res.shape}, it cannot be written into shape {self.shape}")
    self.data[...] = res
    return self


def _add_methods():
    def add_(self, other, alpha=1):
        return _inplace(self, lambda a, b: add(a, mul(b, alpha) if alpha != 1 else b), other, "add_")

    def sub_(self, other, alpha=1):
        return _inplace(self, lambda a, b: sub(a, mul(b, alpha) if alpha != 1 else b), other, "sub_")

    def fill_(self, value):
        with no_grad():
            self.data[...] = _as_data(value)
        return self

    def copy_(self, src):
        s = _as_data(src)
        self.data[...] = np.broadcast_to(s, self.data.shape)
        return self

    methods = dict(
        add_=add_, sub_=sub_, fill_=fill_, copy_=copy_,
        mul_=lambda self, o: _inplace(self, mul, o, "mul_"),
        div_=lambda self, o: _inplace(self, div, o, "div_"),
        clamp_=lambda self, min=None, max=None: _inplace(self, lambda a, _: clamp(a, min, max), None, "clamp_"),
        masked_fill_=lambda self, mask, value: _inplace(self, lambda a, _: masked_fill(a, mask, value), None,
                                                        "masked_fill_"),
        sin=sin, cos=cos, mm=mm, bmm=bmm, t=t, norm=norm, repeat=repeat, chunk=chunk, split=split,
        masked_fill=masked_fill, topk=topk, sort=sort, argsort=argsort,
        allclose=allclose, equal=equal,
        all=lambda self, dim=None, keepdim=False: Tensor(np.all(self.data, axis=dim, keepdims=keepdim)),
        any=lambda self, dim=None, keepdim=False: Tensor(np.any(self.data, axis=dim, keepdims=keepdim)),
        add=lambda self, o, alpha=1: add(self, mul(o, alpha) if alpha != 1 else o),
        sub=lambda self, o, alpha=1: sub(self, mul(o, alpha) if alpha != 1 else o),
        mul=lambda self, o: mul(self, o), div=lambda self, o: div(self, o),
    )
    for k, f in methods.items():
        setattr(Tensor, k, f)


_add_methods()

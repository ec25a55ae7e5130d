"""Reductions on Tensors: sum, mean, max/min (values or (values, indices)), argmax, var, std."""
from __future__ import annotations

import numpy as np

from .elementwise import sqrt
from .tensor import Tensor, _as_data, _ax, _kd, _make, _t

__all__ = ["argmax", "var", "std"]


def _norm_axis(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axis = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(a % ndim for a in axis)


def _expand_back(g, shape, axes, keepdims):
    if not keepdims:
        g = np.expand_dims(g, axes)
    return np.broadcast_to(g, shape)


def sum_(a, axis=None, keepdims=False):
    a = _t(a)
    axes = _norm_axis(axis, a.ndim)
    return _make(a.data.sum(axis=axes, keepdims=keepdims), (a,),
                 lambda g: (_expand_back(g, a.shape, axes, keepdims),))


def mean(a, axis=None, keepdims=False):
    a = _t(a)
    axes = _norm_axis(axis, a.ndim)
    n = int(np.prod([a.shape[i] for i in axes])) if axes else 1
    return _make(a.data.mean(axis=axes, keepdims=keepdims), (a,),
                 lambda g: (_expand_back(g / n, a.shape, axes, keepdims),))


def max_(a, axis=None, keepdims=False):
    """Max over axes; the gradient is split evenly between tied maxima."""
    a = _t(a)
    axes = _norm_axis(axis, a.ndim)
    m = a.data.max(axis=axes, keepdims=True)

    def backward(g):
        mask = a.data == m
        g = _expand_back(g, a.shape, axes, keepdims)
        return (g * mask / mask.sum(axis=axes, keepdims=True),)
    return _make(m if keepdims else np.squeeze(m, axis=axes), (a,), backward)


def argmax(a, axis=None, dim=None, keepdim=False):
    axis = _ax(axis, dim)
    i = np.argmax(_as_data(a), axis=axis)
    return Tensor(np.expand_dims(i, axis) if keepdim and axis is not None else i)


def min_(a, axis=None, keepdims=False):
    return -max_(-_t(a), axis, keepdims)


def var(a, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None):
    """torch.var: sum((a - mean)^2) / (n - correction) over `dim` (all axes when None);
    correction defaults to 1 (unbiased), `unbiased=False` means correction 0."""
    a = _t(a)
    dim, keepdim = _ax(axis, dim), _kd(keepdim, keepdims)
    if correction is None:
        correction = 0 if unbiased is False else 1
    elif unbiased is not None:
        raise ValueError("var: pass either unbiased= or correction=, not both")
    d = a - a.mean(dim, keepdims=True)
    n = int(np.prod([a.shape[i] for i in _norm_axis(dim, a.ndim)]))
    return (d * d).sum(dim, keepdims=keepdim) / max(n - correction, 0)


def std(a, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None):
    """torch.std: the square root of var (unbiased by default)."""
    return sqrt(var(a, dim, unbiased, keepdim, correction=correction, axis=axis, keepdims=keepdims))

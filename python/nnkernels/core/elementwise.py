"""Elementwise Tensor ops (add ... where), each a closure: the forward array and its
backward next to it."""
from __future__ import annotations

import numpy as np

from .tensor import Tensor, _as_data, _make, _t

__all__ = ["exp", "log", "sqrt", "abs", "clamp", "maximum", "where"]


def add(a, b):
    a, b = _t(a, b if isinstance(b, Tensor) else None), _t(b, a if isinstance(a, Tensor) else None)
    return _make(a.data + b.data, (a, b), lambda g: (g, g))


def sub(a, b):
    a, b = _t(a, b if isinstance(b, Tensor) else None), _t(b, a if isinstance(a, Tensor) else None)
    return _make(a.data - b.data, (a, b), lambda g: (g, -g))


def mul(a, b):
    a, b = _t(a, b if isinstance(b, Tensor) else None), _t(b, a if isinstance(a, Tensor) else None)
    return _make(a.data * b.data, (a, b), lambda g: (g * b.data, g * a.data))


def div(a, b):
    a, b = _t(a, b if isinstance(b, Tensor) else None), _t(b, a if isinstance(a, Tensor) else None)
    out = a.data / b.data
    return _make(out, (a, b), lambda g: (g / b.data, -g * out / b.data))


def pow(a, b):
    a, b = _t(a, b if isinstance(b, Tensor) else None), _t(b, a if isinstance(a, Tensor) else None)
    out = a.data ** b.data

    def backward(g):
        ga = g * b.data * a.data ** (b.data - 1)
        gb = g * out * np.log(np.where(a.data > 0, a.data, 1)) if b.requires_grad else None
        return ga, gb
    return _make(out, (a, b), backward)


def neg(a):
    return _make(-a.data, (a,), lambda g: (-g,))


def exp(a):
    a = _t(a)
    out = np.exp(a.data)
    return _make(out, (a,), lambda g: (g * out,))


def log(a):
    a = _t(a)
    return _make(np.log(a.data), (a,), lambda g: (g / a.data,))


def sqrt(a):
    a = _t(a)
    out = np.sqrt(a.data)
    return _make(out, (a,), lambda g: (g / (2 * out),))


def abs(a):
    a = _t(a)
    return _make(np.abs(a.data), (a,), lambda g: (g * np.sign(a.data),))


def clamp(a, min=None, max=None):
    a = _t(a)
    out = np.clip(a.data, min, max)
    return _make(out, (a,), lambda g: (g * (out == a.data),))


def maximum(a, b):
    a, b = _t(a, b if isinstance(b, Tensor) else None), _t(b, a if isinstance(a, Tensor) else None)
    m = a.data >= b.data
    return _make(np.maximum(a.data, b.data), (a, b), lambda g: (g * m, g * ~m))


def where(cond, a, b):
    c = _as_data(cond).astype(bool)
    a, b = _t(a, b if isinstance(b, Tensor) else None), _t(b, a if isinstance(a, Tensor) else None)
    return _make(np.where(c, a.data, b.data), (a, b), lambda g: (np.where(c, g, 0), np.where(c, 0, g)))

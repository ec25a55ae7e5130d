"""Shape ops on Tensors: reshape, flatten, permute, indexing, cat, stack."""
from __future__ import annotations

import numpy as np

from .tensor import Tensor, _ax, _make, _t, array_module

__all__ = ["flatten", "cat", "stack"]


def reshape(a, shape):
    a = _t(a)
    shape = tuple(shape) if not isinstance(shape, int) else (shape,)
    return _make(a.data.reshape(shape), (a,), lambda g: (g.reshape(a.shape),))


def flatten(a, start_dim=0, end_dim=-1):
    a = _t(a)
    s, e = start_dim % (a.ndim or 1), end_dim % (a.ndim or 1)
    if a.ndim == 0:
        return reshape(a, (1,))
    return reshape(a, a.shape[:s] + (int(np.prod(a.shape[s:e + 1])),) + a.shape[e + 1:])


def permute(a, axes):
    a = _t(a)
    axes = tuple(int(x) % a.ndim for x in axes)
    inv = tuple(np.argsort(axes))
    return _make(a.data.transpose(axes), (a,), lambda g: (g.transpose(inv),))


def _basic_index(idx):
    idx = idx if isinstance(idx, tuple) else (idx,)
    return all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis for i in idx)


def getitem(a, idx):
    a = _t(a)
    if isinstance(idx, Tensor):
        idx = idx.data
    elif isinstance(idx, tuple):
        idx = tuple(i.data if isinstance(i, Tensor) else i for i in idx)
    basic = _basic_index(idx)

    def backward(g):
        full = array_module(g).zeros(a.shape, g.dtype)
        if basic:
            full[idx] = g
        else:
            array_module(g).add.at(full, idx, g)
        return (full,)
    return _make(a.data[idx], (a,), backward)


def cat(tensors, axis=0, dim=None):
    """Concatenate along an axis (torch.cat). NumPy arrays in: np.concatenate."""
    axis = _ax(axis, dim)
    if not any(isinstance(t, Tensor) for t in tensors):
        return np.concatenate(tensors, axis=axis)
    ts = [_t(t) for t in tensors]
    ax = axis % ts[0].ndim
    bounds = np.cumsum([t.shape[ax] for t in ts])[:-1]
    return _make(np.concatenate([t.data for t in ts], axis=ax), ts,
                 lambda g: tuple(np.split(g, bounds, axis=ax)))


concatenate = cat


def stack(tensors, axis=0, dim=None):
    """Stack along a new axis (torch.stack). NumPy arrays in: np.stack."""
    axis = _ax(axis, dim)
    if not any(isinstance(t, Tensor) for t in tensors):
        return np.stack(tensors, axis=axis)
    ts = [_t(t) for t in tensors]
    ax = axis % (ts[0].ndim + 1)
    return _make(np.stack([t.data for t in ts], axis=ax), ts,
                 lambda g: tuple(np.moveaxis(g, ax, 0)))

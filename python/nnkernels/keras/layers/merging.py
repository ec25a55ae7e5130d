"""Merge layers: Add, Multiply, Concatenate, Dot."""
from __future__ import annotations

from ... import autograd as ag
from .base import Layer

__all__ = ['Add', 'Multiply', 'Concatenate', 'Dot']


# ----------------------------------------------------------------------- merges
class _Merge(Layer):
    def __call__(self, inputs, **kwargs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
            raise ValueError(f"{type(self).__name__}: expects a list of at least 2 inputs")
        return super().__call__(list(inputs), **kwargs)


class Add(_Merge):
    def call(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Multiply(_Merge):
    def call(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out


class Concatenate(_Merge):
    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, xs):
        return ag.cat(xs, axis=self.axis)


class Dot(_Merge):
    """Dot(axes, normalize=False) of two (N, ...) tensors: sums the product over the given axes."""

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        self.axes, self.normalize = axes, normalize

    def call(self, xs):
        a, b = xs
        ax = (self.axes, self.axes) if isinstance(self.axes, int) else tuple(self.axes)
        ax = tuple(x % t.ndim for x, t in zip(ax, (a, b)))
        if self.normalize:
            a = a / ag.sqrt((a * a).sum(axis=ax[0], keepdims=True) + 1e-12)
            b = b / ag.sqrt((b * b).sum(axis=ax[1], keepdims=True) + 1e-12)
        if a.ndim == 2 and b.ndim == 2:
            return (a * b).sum(axis=1, keepdims=True)
        # batched matmul: move the contracted axes to the inner positions
        a2 = a if ax[0] == a.ndim - 1 else a.transpose(ax[0], a.ndim - 1)
        b2 = b if ax[1] == 1 else b.transpose(ax[1], 1)
        return a2 @ b2

"""Shape layers: Flatten, Reshape, padding, cropping, up-sampling."""
from __future__ import annotations

import numpy as np

from ...nn import functional as F
from .base import Layer, _pair

__all__ = ["Flatten", "Reshape", "ZeroPadding2D", "Cropping2D", "UpSampling2D"]


# ---------------------------------------------------------------- shape layers
class Flatten(Layer):
    def call(self, x):
        return x.reshape(x.shape[0], -1)


class Reshape(Layer):
    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(target_shape)
        if sum(1 for s in self.target_shape if s == -1) > 1:
            raise ValueError(f"Reshape: at most one -1 in target_shape, got {target_shape}")

    def build(self, input_shape):
        n, m = int(np.prod(input_shape[1:])), int(np.prod([s for s in self.target_shape if s != -1]))
        if (-1 in self.target_shape and n % m) or (-1 not in self.target_shape and n != m):
            raise ValueError(f"Reshape: cannot reshape {input_shape[1:]} to {self.target_shape}")

    def call(self, x):
        return x.reshape((x.shape[0],) + self.target_shape)


def _two_pairs(v, name, layer, allow_zero=True):
    """int, (a, b) or ((top, bottom), (left, right)) -> ((top, bottom), (left, right))."""
    if isinstance(v, (int, np.integer)):
        v = ((v, v), (v, v))
    elif isinstance(v, (tuple, list)) and len(v) == 2 and all(isinstance(a, (int, np.integer)) for a in v):
        v = ((v[0], v[0]), (v[1], v[1]))
    ok = (isinstance(v, (tuple, list)) and len(v) == 2 and all(isinstance(p, (tuple, list)) and len(p) == 2 and
          all(isinstance(a, (int, np.integer)) and a >= 0 for a in p) for p in v))
    if not ok:
        raise ValueError(f"{layer}: {name} must be an int, a pair, or ((top, bottom), (left, right)) of "
                         f"non-negative ints, got {v!r}")
    return tuple(tuple(int(a) for a in p) for p in v)


class ZeroPadding2D(Layer):
    """ZeroPadding2D(padding=(1, 1)): zeros around (N, H, W, C) images."""

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = _two_pairs(padding, "padding", "ZeroPadding2D")

    def call(self, x):
        (t, b), (l, r) = self.padding
        return F.pad(x, (0, 0, l, r, t, b))


class Cropping2D(Layer):
    """Cropping2D(cropping=((0, 0), (0, 0))): rows and columns cut off (N, H, W, C) images."""

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.cropping = _two_pairs(cropping, "cropping", "Cropping2D")

    def build(self, input_shape):
        (t, b), (l, r) = self.cropping
        if t + b >= input_shape[1] or l + r >= input_shape[2]:
            raise ValueError(f"Cropping2D: cropping {self.cropping} leaves nothing of {input_shape[1:3]} images")

    def call(self, x):
        (t, b), (l, r) = self.cropping
        return x[:, t:x.shape[1] - b, l:x.shape[2] - r]


class UpSampling2D(Layer):
    """UpSampling2D(size=(2, 2)): every pixel repeated size[0] x size[1] times (nearest)."""

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        if interpolation != "nearest":
            raise ValueError(f"UpSampling2D: only interpolation='nearest' is supported, got {interpolation!r}")
        self.size = _pair(size, "size", "UpSampling2D")

    def call(self, x):
        rows = np.repeat(np.arange(x.shape[1]), self.size[0])
        cols = np.repeat(np.arange(x.shape[2]), self.size[1])
        return x[:, rows][:, :, cols]

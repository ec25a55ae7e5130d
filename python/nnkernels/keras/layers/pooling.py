"""Pooling layers, channels-last."""
from __future__ import annotations

import numpy as np

from ... import autograd as ag
from ...autograd import Tensor
from ...nn import functional as F
from .base import Layer, _nchw, _nhwc, _padding, _pair, _same_pads

__all__ = ["MaxPooling2D", "AveragePooling2D", "MaxPool2D", "AvgPool2D", "GlobalAveragePooling2D",
           "GlobalMaxPooling2D", "GlobalAveragePooling1D", "GlobalMaxPooling1D"]


# ---------------------------------------------------------------------- pooling
class MaxPooling2D(Layer):
    """MaxPooling2D(pool_size=(2, 2), strides=None, padding='valid'|'same'), channels-last."""

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = _pair(pool_size, "pool_size", type(self).__name__)
        self.strides = self.pool_size if strides is None else _pair(strides, "strides", type(self).__name__)
        self.padding = _padding(padding, type(self).__name__)

    def _pads(self, x):
        return [_same_pads(n, k, s) for n, k, s in zip(x.shape[2:], self.pool_size, self.strides)]

    def call(self, x):
        x = _nchw(x)
        if self.padding == "same":
            (t, b), (l, r) = self._pads(x)
            x = F.pad(x, (l, r, t, b), value=-np.inf)
        return _nhwc(F.max_pool2d(x, self.pool_size, self.strides))


class AveragePooling2D(MaxPooling2D):
    """AveragePooling2D(pool_size=(2, 2), strides=None, padding='valid'|'same'); 'same' averages
    only the pixels inside the image, like Keras."""

    def call(self, x):
        x = _nchw(x)
        if self.padding == "same":
            (t, b), (l, r) = self._pads(x)
            xp = ag.array_module(x.data)  # NumPy, or CuPy for a model on a GPU
            ones = xp.pad(xp.ones((1, 1) + x.shape[2:], x.dtype), ((0, 0), (0, 0), (t, b), (l, r)))
            count = F.avg_pool2d(Tensor(ones), self.pool_size, self.strides).data
            return _nhwc(F.avg_pool2d(F.pad(x, (l, r, t, b)), self.pool_size, self.strides) / Tensor(count))
        return _nhwc(F.avg_pool2d(x, self.pool_size, self.strides))


MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D


class GlobalAveragePooling2D(Layer):
    """(N, H, W, C) -> (N, C) (or (N, 1, 1, C) with keepdims=True)."""

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.keepdims = keepdims

    def call(self, x):
        return x.mean(axis=(1, 2), keepdims=self.keepdims)


class GlobalMaxPooling2D(GlobalAveragePooling2D):
    def call(self, x):
        return x.max(axis=(1, 2), keepdims=self.keepdims)


class GlobalAveragePooling1D(GlobalAveragePooling2D):
    """(N, T, C) -> (N, C): the mean over the steps (or (N, 1, C) with keepdims=True)."""

    def call(self, x):
        return x.mean(axis=1, keepdims=self.keepdims)


class GlobalMaxPooling1D(GlobalAveragePooling2D):
    """(N, T, C) -> (N, C): the maximum over the steps."""

    def call(self, x):
        return x.max(axis=1, keepdims=self.keepdims)

"""Shape layers: Flatten, Reshape, padding, cropping, up-sampling."""
from __future__ import annotations

import numpy as np

from .base import Layer

__all__ = ['Flatten', 'Reshape']


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

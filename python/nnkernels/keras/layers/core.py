"""Core layers: Dense, Embedding, Dropout and the activation layers."""
from __future__ import annotations

import numpy as np

from ... import autograd as ag
from ...nn import functional as F
from .base import Layer, _check_units, _softmax_out, get_activation

__all__ = ["Dense", "Embedding", "Dropout", "Activation", "ReLU", "Softmax", "LeakyReLU"]


class Dense(Layer):
    """Dense(units, activation=None, use_bias=True): y = act(x @ kernel + bias) on the last axis;
    kernel (in, units), glorot_uniform; bias zeros."""

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.units = _check_units(units, "units", "Dense")
        self.activation = get_activation(activation, "Dense")
        self.use_bias = use_bias
        self.kernel_initializer, self.bias_initializer = kernel_initializer, bias_initializer

    def build(self, input_shape):
        self.kernel = self.add_weight((input_shape[-1], self.units), self.kernel_initializer, name="kernel")
        self.bias = self.add_weight((self.units,), self.bias_initializer, name="bias") if self.use_bias else None

    def call(self, x):
        y = x @ self.kernel
        return self.activation(y + self.bias if self.use_bias else y)


class Embedding(Layer):
    """Embedding(input_dim, output_dim): int (N, ...) -> (N, ..., output_dim); weight `embeddings`
    (input_dim, output_dim), uniform(-0.05, 0.05)."""

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", mask_zero=False, **kwargs):
        super().__init__(**kwargs)
        self.input_dim = _check_units(input_dim, "input_dim", "Embedding")
        self.output_dim = _check_units(output_dim, "output_dim", "Embedding")
        self.embeddings = self.add_weight((self.input_dim, self.output_dim), embeddings_initializer,
                                          name="embeddings")
        self.built = True

    def call(self, x):
        ids = ag.array_module(self.embeddings.data).asarray(ag._as_data(x))
        return F.embedding(ids.astype(np.int64), self.embeddings)


class Dropout(Layer):
    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(f"Dropout: rate must be in [0, 1), got {rate!r}")
        self.rate = float(rate)

    def call(self, x):
        return F.dropout(x, self.rate, self.training)


# ------------------------------------------------------------------ activations
class Activation(Layer):
    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = get_activation(activation, "Activation")

    def call(self, x):
        return self.activation(x)


class ReLU(Layer):
    def call(self, x):
        return ag.relu(x)


class Softmax(Layer):
    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, x):
        return _softmax_out(x) if self.axis in (-1, x.ndim - 1) else ag.softmax(x, self.axis)


class LeakyReLU(Layer):
    """LeakyReLU(negative_slope=0.3); the Keras 2 name `alpha=` is accepted too."""

    def __init__(self, negative_slope=None, alpha=None, **kwargs):
        super().__init__(**kwargs)
        if negative_slope is not None and alpha is not None:
            raise ValueError("LeakyReLU: give negative_slope or alpha, not both")
        v = 0.3 if negative_slope is None and alpha is None else (negative_slope if alpha is None else alpha)
        if not isinstance(v, (int, float)) or v < 0:
            raise ValueError(f"LeakyReLU: negative_slope must be a non-negative number, got {v!r}")
        self.negative_slope = float(v)

    def call(self, x):
        return F.leaky_relu(x, self.negative_slope)

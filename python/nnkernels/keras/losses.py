"""Keras losses: `loss(y_true, y_pred)` -> scalar Tensor. With `from_logits=False` and a
prediction produced by a softmax/sigmoid activation, the loss is computed from that
activation's input (`ops.cross_entropy` / stable BCE): the same value, better numerics,
one fused kernel instead of softmax + log."""
from __future__ import annotations

import numpy as np

from .. import autograd as ag
from ..autograd import Tensor
from ..nn import functional as F

__all__ = ["Loss", "SparseCategoricalCrossentropy", "CategoricalCrossentropy", "BinaryCrossentropy",
           "MeanSquaredError", "MeanAbsoluteError", "get", "sparse_categorical_crossentropy",
           "categorical_crossentropy", "binary_crossentropy", "mse", "mae"]

EPS = 1e-7


def _logits(y_pred, kind):
    lg = getattr(y_pred, "_keras_logits", None)
    return lg[1] if lg is not None and lg[0] == kind else None


class Loss:
    name = "loss"

    def __init__(self, from_logits=False, name=None, reduction="sum_over_batch_size"):
        self.from_logits = from_logits
        if name:
            self.name = name

    def __call__(self, y_true, y_pred):
        return self.call(ag._as_data(y_true), ag._t(y_pred))


class SparseCategoricalCrossentropy(Loss):
    name = "sparse_categorical_crossentropy"

    def call(self, y, p):
        c = p.shape[-1]
        y = np.asarray(y).reshape(-1).astype(np.int64)
        if y.size and (y.min() < 0 or y.max() >= c):
            raise ValueError(f"sparse_categorical_crossentropy: labels must be in [0, {c}), "
                             f"got min {y.min()}, max {y.max()}")
        logits = p if self.from_logits else _logits(p, "softmax")
        if logits is not None:
            return F.cross_entropy(logits.reshape(-1, c), y)
        lp = ag.log(ag.clamp(p.reshape(-1, c), EPS, 1 - EPS))
        return -lp[np.arange(len(y)), y].mean()


class CategoricalCrossentropy(Loss):
    name = "categorical_crossentropy"

    def __init__(self, from_logits=False, label_smoothing=0.0, **kw):
        super().__init__(from_logits, **kw)
        self.label_smoothing = label_smoothing

    def call(self, y, p):
        c = p.shape[-1]
        if y.shape != p.shape:
            raise ValueError(f"categorical_crossentropy: y_true shape {y.shape} must match y_pred {p.shape} "
                             "(one-hot labels; use sparse_categorical_crossentropy for integer labels)")
        y = y.reshape(-1, c).astype(p.dtype)
        if self.label_smoothing:
            y = y * (1 - self.label_smoothing) + self.label_smoothing / c
        logits = p if self.from_logits else _logits(p, "softmax")
        if logits is not None:
            return F.cross_entropy(logits.reshape(-1, c), y)
        lp = ag.log(ag.clamp(p.reshape(-1, c), EPS, 1 - EPS))
        return -(Tensor(y) * lp).sum(axis=1).mean()


class BinaryCrossentropy(Loss):
    name = "binary_crossentropy"

    def call(self, y, p):
        y = y.astype(p.dtype).reshape(p.shape) if y.size == p.data.size else y
        logits = p if self.from_logits else _logits(p, "sigmoid")
        if logits is not None:
            return F.binary_cross_entropy_with_logits(logits, y)
        q = ag.clamp(p, EPS, 1 - EPS)
        t = Tensor(y)
        return -(t * ag.log(q) + (1 - t) * ag.log(1 - q)).mean()


class MeanSquaredError(Loss):
    name = "mean_squared_error"

    def call(self, y, p):
        return F.mse_loss(p, y.astype(p.dtype).reshape(p.shape))


class MeanAbsoluteError(Loss):
    name = "mean_absolute_error"

    def call(self, y, p):
        return ag.abs(p - Tensor(y.astype(p.dtype).reshape(p.shape))).mean()


_NAMES = {"sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
          "categorical_crossentropy": CategoricalCrossentropy, "binary_crossentropy": BinaryCrossentropy,
          "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError, "mae": MeanAbsoluteError,
          "mean_absolute_error": MeanAbsoluteError}


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False):
    return SparseCategoricalCrossentropy(from_logits)(y_true, y_pred)


def categorical_crossentropy(y_true, y_pred, from_logits=False):
    return CategoricalCrossentropy(from_logits)(y_true, y_pred)


def binary_crossentropy(y_true, y_pred, from_logits=False):
    return BinaryCrossentropy(from_logits)(y_true, y_pred)


def mse(y_true, y_pred):
    return MeanSquaredError()(y_true, y_pred)


def mae(y_true, y_pred):
    return MeanAbsoluteError()(y_true, y_pred)


def get(identifier):
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str) and identifier in _NAMES:
        return _NAMES[identifier]()
    if callable(identifier):
        return identifier
    raise ValueError(f"unknown loss {identifier!r} (use {sorted(_NAMES)}, a keras.losses object or a callable)")

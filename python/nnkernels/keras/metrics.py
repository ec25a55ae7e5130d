"""Keras metrics: stateful means over an epoch (`update_state`, `result`, `reset_state`)."""
from __future__ import annotations

import numpy as np

from .. import autograd as ag
from ..autograd import Tensor

__all__ = ["Metric", "Mean", "Accuracy", "SparseCategoricalAccuracy", "CategoricalAccuracy", "BinaryAccuracy",
           "MeanSquaredError", "MeanAbsoluteError", "MeanMetricWrapper", "get"]


class Metric:
    name = "metric"

    def __init__(self, name=None):
        if name:
            self.name = name
        self.reset_state()

    def reset_state(self):
        self.total, self.count = 0.0, 0

    def update_state(self, y_true, y_pred):
        v = np.asarray(self.values(np.asarray(y_true), np.asarray(y_pred)), np.float64)
        self.total += float(v.sum())
        self.count += v.size

    def result(self):
        return self.total / self.count if self.count else 0.0


class Mean(Metric):
    name = "mean"

    def update_state(self, value, weight=1):
        self.total += float(value) * weight
        self.count += weight


class Accuracy(Metric):
    name = "accuracy"

    def values(self, y, p):
        return y.reshape(p.shape) == p


class SparseCategoricalAccuracy(Metric):
    name = "sparse_categorical_accuracy"

    def values(self, y, p):
        return p.argmax(-1).reshape(-1) == y.reshape(-1)


class CategoricalAccuracy(Metric):
    name = "categorical_accuracy"

    def values(self, y, p):
        return p.argmax(-1) == y.argmax(-1)


class BinaryAccuracy(Metric):
    name = "binary_accuracy"

    def __init__(self, name=None, threshold=0.5):
        self.threshold = threshold
        super().__init__(name)

    def values(self, y, p):
        return (p > self.threshold) == (y.reshape(p.shape) > 0.5)


class MeanSquaredError(Metric):
    name = "mean_squared_error"

    def values(self, y, p):
        return ((p - y.reshape(p.shape)) ** 2).mean(axis=-1)


class MeanAbsoluteError(Metric):
    name = "mean_absolute_error"

    def values(self, y, p):
        return np.abs(p - y.reshape(p.shape)).mean(axis=-1)


class MeanMetricWrapper(Metric):
    """A metric function `fn(y_true, y_pred)` (per-sample values or one value per batch),
    averaged over the samples of an epoch."""

    def __init__(self, fn, name=None, **kwargs):
        self.fn, self.kwargs = fn, kwargs
        super().__init__(name or getattr(fn, "__name__", "metric"))

    def update_state(self, y_true, y_pred, sample_weight=None):
        p = np.asarray(y_pred)
        y = np.asarray(y_true)
        v = np.asarray(ag._as_data(self.fn(Tensor(y.astype(p.dtype) if np.issubdtype(y.dtype, np.floating)
                                                 else y), Tensor(p), **self.kwargs)), np.float64)
        n = len(p) if p.ndim else 1
        if v.ndim == 0:
            self.total += float(v) * n
            self.count += n
        else:
            self.total += float(v.sum())
            self.count += v.size


def get(identifier, loss_name=""):
    """A metric object; 'accuracy' picks the variant that matches the loss, like Keras."""
    if isinstance(identifier, Metric):
        return identifier
    if identifier in ("accuracy", "acc"):
        if "sparse_categorical" in loss_name:
            return SparseCategoricalAccuracy(name=identifier)
        if "categorical" in loss_name:
            return CategoricalAccuracy(name=identifier)
        if "binary" in loss_name:
            return BinaryAccuracy(name=identifier)
        return Accuracy(name=identifier)
    table = {"mse": MeanSquaredError, "mean_squared_error": MeanSquaredError, "mae": MeanAbsoluteError,
             "mean_absolute_error": MeanAbsoluteError, "sparse_categorical_accuracy": SparseCategoricalAccuracy,
             "categorical_accuracy": CategoricalAccuracy, "binary_accuracy": BinaryAccuracy}
    if isinstance(identifier, str) and identifier in table:
        return table[identifier](name=identifier)
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise ValueError(f"unknown metric {identifier!r} (use 'accuracy', {sorted(table)} or a keras.metrics object)")

"""Keras metrics: stateful means over an epoch (`update_state`, `result`, `reset_state`).
They compute with the array module of their inputs (NumPy, or CuPy for a model on a GPU):
the running total then stays on the device until `result()` (or `host_results()` for several
metrics at once, in one device-to-host copy) reads it."""
from __future__ import annotations

import numpy as np

from .. import autograd as ag
from ..autograd import Tensor, array_module
from ..ops._common import is_cupy

__all__ = ["Metric", "Mean", "Accuracy", "SparseCategoricalAccuracy", "CategoricalAccuracy", "BinaryAccuracy",
           "MeanSquaredError", "MeanAbsoluteError", "MeanMetricWrapper", "get"]


def _arrays(y_true, y_pred):
    """(y_true, y_pred) as arrays of one module: y_pred's (NumPy, or CuPy on a GPU)."""
    p = ag._as_data(y_pred)
    return array_module(p).asarray(ag._as_data(y_true)), p


def host_results(metrics):
    """[m.result() for m in metrics], with the totals kept on a device copied back at once."""
    on_device = [m for m in metrics if is_cupy(m.total)]
    if on_device:
        xp = array_module(on_device[0].total)
        host = xp.asnumpy(xp.stack([m.total.astype(xp.float64) for m in on_device]))
        for m, t in zip(on_device, host.tolist()):
            m.total = t
    return [m.result() for m in metrics]


class Metric:
    name = "metric"

    def __init__(self, name=None):
        if name:
            self.name = name
        self.reset_state()

    def reset_state(self):
        self.total, self.count = 0.0, 0

    def update_state(self, y_true, y_pred):
        v = self.values(*_arrays(y_true, y_pred))
        self.total = self.total + v.sum(dtype=np.float64)
        self.count += v.size

    def result(self):
        return float(self.total) / self.count if self.count else 0.0


class Mean(Metric):
    name = "mean"

    def update_state(self, value, weight=1):
        """Add `value` (a number, or a 0-d array that may stay on its device) `weight` times."""
        v = ag._as_data(value)
        self.total = self.total + (v.astype(np.float64) if is_cupy(v) else float(v)) * weight
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
        return abs(p - y.reshape(p.shape)).mean(axis=-1)


class MeanMetricWrapper(Metric):
    """A metric function `fn(y_true, y_pred)` (per-sample values or one value per batch),
    averaged over the samples of an epoch."""

    def __init__(self, fn, name=None, **kwargs):
        self.fn, self.kwargs = fn, kwargs
        super().__init__(name or getattr(fn, "__name__", "metric"))

    def update_state(self, y_true, y_pred, sample_weight=None):
        y, p = _arrays(y_true, y_pred)
        y = y.astype(p.dtype) if np.issubdtype(y.dtype, np.floating) else y
        v = array_module(p).asarray(ag._as_data(self.fn(Tensor(y), Tensor(p), **self.kwargs)), np.float64)
        n = len(p) if p.ndim else 1
        if v.ndim == 0:
            self.total = self.total + v * n
            self.count += n
        else:
            self.total = self.total + v.sum()
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

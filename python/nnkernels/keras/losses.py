"""Keras losses. The functions (`categorical_crossentropy(y_true, y_pred)`, `mse`, ...) return
one value per sample (the last axis reduced), as Keras's do; the classes
(`CategoricalCrossentropy(from_logits=False, label_smoothing=0.0)`) reduce those values with
`reduction` ('sum_over_batch_size', the default: the mean; 'sum'; None or 'none') and take
`sample_weight`. With `from_logits=False` and a prediction made by a softmax/sigmoid
activation, cross-entropies are computed from that activation's input (`log_softmax`, stable
BCE): the same value, better numerics. A loss given to `compile` as a plain function
`fn(y_true, y_pred)` may return per-sample values or a scalar. The losses compute with the
array module of `y_pred` (NumPy, or CuPy for a model on a GPU); `y_true` and `sample_weight`
are taken as arrays of that module.
"""
from __future__ import annotations

import numpy as np

from .. import autograd as ag
from ..autograd import Tensor, array_module
from ..nn import functional as F

__all__ = ["Loss", "LossFunctionWrapper", "SparseCategoricalCrossentropy", "CategoricalCrossentropy",
           "BinaryCrossentropy", "MeanSquaredError", "MeanAbsoluteError", "MeanAbsolutePercentageError",
           "MeanSquaredLogarithmicError", "Huber", "KLDivergence", "Hinge", "SquaredHinge", "CategoricalHinge",
           "LogCosh", "Poisson", "CosineSimilarity", "get", "sparse_categorical_crossentropy",
           "categorical_crossentropy", "binary_crossentropy", "mse", "mae", "mape", "msle", "mean_squared_error",
           "mean_absolute_error", "mean_absolute_percentage_error", "mean_squared_logarithmic_error", "huber",
           "kl_divergence", "kld", "hinge", "squared_hinge", "categorical_hinge", "log_cosh", "logcosh",
           "poisson", "cosine_similarity"]

EPS = 1e-7


def _logits(y_pred, kind):
    lg = getattr(y_pred, "_keras_logits", None)
    return lg[1] if lg is not None and lg[0] == kind else None


def _like(p, a):
    """`a` (an array, a Tensor's data or a list) as an array of the module of Tensor `p`'s data."""
    return array_module(p.data).asarray(ag._as_data(a))


def _pair(y_true, y_pred):
    """(y_true as a float Tensor shaped like y_pred when the sizes agree, y_pred as a Tensor)."""
    p = ag._t(y_pred)
    y = _like(p, y_true)
    if y.size == p.data.size and y.shape != p.shape:
        y = y.reshape(p.shape)
    return Tensor(y.astype(p.dtype, copy=False)), p


# ------------------------------------------------------------- per-sample losses
def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """Integer labels (N, ...) against class scores (N, ..., C) -> (N, ...)."""
    p = ag._t(y_pred)
    c = p.shape[-1]
    xp = array_module(p.data)
    y = _like(p, y_true)
    lead = p.shape[:-1]
    if y.size != int(np.prod(lead, dtype=np.int64)):
        raise ValueError(f"sparse_categorical_crossentropy: {y.size} labels for predictions of shape {p.shape}")
    y = y.reshape(-1).astype(np.int64)
    if y.size:
        lo, hi = (int(v) for v in ag._move(xp.stack([y.min(), y.max()]), ag.device("cpu")))  # one copy
        if lo < 0 or hi >= c:
            raise ValueError(f"sparse_categorical_crossentropy: labels must be in [0, {c}), got min {lo}, max {hi}")
    logits = p if from_logits else _logits(p, "softmax")
    if logits is not None:
        return F.cross_entropy(logits.reshape(-1, c), y, reduction="none").reshape(lead)
    q = p.reshape(-1, c)
    q = ag.log(ag.clamp(q / q.sum(axis=-1, keepdims=True), EPS, 1 - EPS))
    return -q[xp.arange(len(y)), y].reshape(lead)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """One-hot (or probability) targets (N, ..., C) -> (N, ...)."""
    p = ag._t(y_pred)
    y = _like(p, y_true)
    if y.shape != p.shape:
        raise ValueError(f"categorical_crossentropy: y_true shape {y.shape} must match y_pred {p.shape} "
                         "(one-hot labels; use sparse_categorical_crossentropy for integer labels)")
    y = y.astype(p.dtype)
    if label_smoothing:
        y = y * (1 - label_smoothing) + label_smoothing / p.shape[-1]
    logits = p if from_logits else _logits(p, "softmax")
    if logits is not None:
        lp = ag.log_softmax(logits, -1)
    else:
        lp = ag.log(ag.clamp(p / p.sum(axis=-1, keepdims=True), EPS, 1 - EPS))
    return -(Tensor(y) * lp).sum(axis=-1)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """The mean over the last axis of the elementwise binary cross-entropy."""
    y, p = _pair(y_true, y_pred)
    if label_smoothing:
        y = y * (1 - label_smoothing) + 0.5 * label_smoothing
    logits = p if from_logits else _logits(p, "sigmoid")
    if logits is not None:
        e = F.binary_cross_entropy_with_logits(logits, y.data, reduction="none")
    else:
        q = ag.clamp(p, EPS, 1 - EPS)
        e = -(y * ag.log(q) + (1 - y) * ag.log(1 - q))
    return e.mean(axis=-1)


def mean_squared_error(y_true, y_pred):
    y, p = _pair(y_true, y_pred)
    d = p - y
    return (d * d).mean(axis=-1)


def mean_absolute_error(y_true, y_pred):
    y, p = _pair(y_true, y_pred)
    return ag.abs(p - y).mean(axis=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    y, p = _pair(y_true, y_pred)
    return 100.0 * (ag.abs(y - p) / ag.clamp(ag.abs(y), EPS, None)).mean(axis=-1)


def mean_squared_logarithmic_error(y_true, y_pred):
    y, p = _pair(y_true, y_pred)
    d = ag.log(ag.clamp(p, EPS, None) + 1) - ag.log(ag.clamp(y, EPS, None) + 1)
    return (d * d).mean(axis=-1)


def huber(y_true, y_pred, delta=1.0):
    """0.5 e^2 where |e| <= delta, else delta (|e| - 0.5 delta); the mean over the last axis."""
    y, p = _pair(y_true, y_pred)
    a = ag.abs(p - y)
    q = ag.clamp(a, None, delta)
    return (0.5 * q * q + delta * (a - q)).mean(axis=-1)


def kl_divergence(y_true, y_pred):
    y, p = _pair(y_true, y_pred)
    y = ag.clamp(y, EPS, 1)
    return (y * ag.log(y / ag.clamp(p, EPS, 1))).sum(axis=-1)


def _pm1(y):
    """Labels in {0, 1} become {-1, 1}, as Keras's hinge losses expect."""
    d = y.data
    return Tensor(2 * d - 1) if d.size and ((d == 0) | (d == 1)).all() else y


def hinge(y_true, y_pred):
    y, p = _pair(y_true, y_pred)
    return ag.clamp(1 - _pm1(y) * p, 0, None).mean(axis=-1)


def squared_hinge(y_true, y_pred):
    y, p = _pair(y_true, y_pred)
    h = ag.clamp(1 - _pm1(y) * p, 0, None)
    return (h * h).mean(axis=-1)


def categorical_hinge(y_true, y_pred):
    y, p = _pair(y_true, y_pred)
    pos = (y * p).sum(axis=-1)
    neg = ((1 - y) * p).max(axis=-1)
    return ag.clamp(neg - pos + 1, 0, None)


def log_cosh(y_true, y_pred):
    """log(cosh(e)) = e + softplus(-2e) - log 2, computed stably."""
    y, p = _pair(y_true, y_pred)
    e = p - y
    sp = ag.clamp(-2 * e, 0, None) + ag.log(1 + ag.exp(-ag.abs(2 * e)))
    return (e + sp - float(np.log(2.0))).mean(axis=-1)


def poisson(y_true, y_pred):
    y, p = _pair(y_true, y_pred)
    return (p - y * ag.log(p + EPS)).mean(axis=-1)


def cosine_similarity(y_true, y_pred, axis=-1):
    """-cos(y_true, y_pred) along the last axis (so lower is better, as a loss)."""
    y, p = _pair(y_true, y_pred)
    yn = y / ag.sqrt(ag.clamp((y * y).sum(axis=-1, keepdims=True), 1e-12, None))
    pn = p / ag.sqrt(ag.clamp((p * p).sum(axis=-1, keepdims=True), 1e-12, None))
    return -(yn * pn).sum(axis=-1)


mse, mae, mape, msle = (mean_squared_error, mean_absolute_error, mean_absolute_percentage_error,
                        mean_squared_logarithmic_error)
kld, logcosh = kl_divergence, log_cosh


# ------------------------------------------------------------------ loss classes
def _reduce(values, reduction, sample_weight=None):
    v = ag._t(values)
    if sample_weight is not None:
        w = _like(v, sample_weight).astype(v.dtype, copy=False)
        w = w.reshape(w.shape + (1,) * (v.ndim - w.ndim)) if w.ndim < v.ndim else w
        v = v * Tensor(w)
    if reduction in (None, "none"):
        return v
    if reduction == "sum":
        return v.sum()
    return v.sum() / max(v.data.size, 1)


class Loss:
    """Base class: subclasses define `call(y_true, y_pred)` -> per-sample values; calling the
    object reduces them (`reduction`, `sample_weight`)."""
    name = "loss"
    _REDUCTIONS = ("sum_over_batch_size", "mean", "sum", "none", None)

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in self._REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be one of {self._REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction
        if name:
            self.name = name

    def __call__(self, y_true, y_pred, sample_weight=None):
        return _reduce(self.call(y_true, y_pred), self.reduction, sample_weight)

    def call(self, y_true, y_pred):
        raise NotImplementedError(f"{type(self).__name__}: Loss subclasses must define call(y_true, y_pred)")

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}


class LossFunctionWrapper(Loss):
    """A loss function `fn(y_true, y_pred, **kwargs)` as a Loss (compile wraps plain functions)."""

    def __init__(self, fn, name=None, reduction="sum_over_batch_size", **kwargs):
        super().__init__(name or getattr(fn, "__name__", "loss"), reduction)
        self.fn, self.kwargs = fn, kwargs

    def call(self, y_true, y_pred):
        p = ag._t(y_pred)
        if not isinstance(y_true, Tensor):
            y = _like(p, y_true)
            y_true = Tensor(y.astype(p.dtype) if np.issubdtype(y.dtype, np.floating) else y)
        return self.fn(y_true, p, **self.kwargs)


def _wrapper(fn, default_name, *names):
    class _L(LossFunctionWrapper):
        __doc__ = f"The mean (or `reduction`) of `{fn.__name__}` over the batch."
        name = default_name

        def __init__(self, *args, name=None, reduction="sum_over_batch_size", **kwargs):
            kwargs.update(zip(names, args))
            super().__init__(fn, name or default_name, reduction, **kwargs)
    return _L


SparseCategoricalCrossentropy = _wrapper(sparse_categorical_crossentropy, "sparse_categorical_crossentropy",
                                         "from_logits", "ignore_class")
CategoricalCrossentropy = _wrapper(categorical_crossentropy, "categorical_crossentropy",
                                   "from_logits", "label_smoothing")
BinaryCrossentropy = _wrapper(binary_crossentropy, "binary_crossentropy", "from_logits", "label_smoothing")
MeanSquaredError = _wrapper(mean_squared_error, "mean_squared_error")
MeanAbsoluteError = _wrapper(mean_absolute_error, "mean_absolute_error")
MeanAbsolutePercentageError = _wrapper(mean_absolute_percentage_error, "mean_absolute_percentage_error")
MeanSquaredLogarithmicError = _wrapper(mean_squared_logarithmic_error, "mean_squared_logarithmic_error")
Huber = _wrapper(huber, "huber_loss", "delta")
KLDivergence = _wrapper(kl_divergence, "kl_divergence")
Hinge = _wrapper(hinge, "hinge")
SquaredHinge = _wrapper(squared_hinge, "squared_hinge")
CategoricalHinge = _wrapper(categorical_hinge, "categorical_hinge")
LogCosh = _wrapper(log_cosh, "log_cosh")
Poisson = _wrapper(poisson, "poisson")
CosineSimilarity = _wrapper(cosine_similarity, "cosine_similarity")
for _n, _c in list(globals().items()):
    if isinstance(_c, type) and issubclass(_c, LossFunctionWrapper) and _c is not LossFunctionWrapper:
        _c.__name__ = _c.__qualname__ = _n

_NAMES = {"sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
          "categorical_crossentropy": CategoricalCrossentropy, "binary_crossentropy": BinaryCrossentropy,
          "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError, "mae": MeanAbsoluteError,
          "mean_absolute_error": MeanAbsoluteError, "mape": MeanAbsolutePercentageError,
          "mean_absolute_percentage_error": MeanAbsolutePercentageError, "msle": MeanSquaredLogarithmicError,
          "mean_squared_logarithmic_error": MeanSquaredLogarithmicError, "huber": Huber, "huber_loss": Huber,
          "kl_divergence": KLDivergence, "kld": KLDivergence, "hinge": Hinge, "squared_hinge": SquaredHinge,
          "categorical_hinge": CategoricalHinge, "log_cosh": LogCosh, "logcosh": LogCosh, "poisson": Poisson,
          "cosine_similarity": CosineSimilarity}
_FUNCS = {f: name for name, f in globals().items() if callable(f) and name in _NAMES and not isinstance(f, type)}


def get(identifier):
    """A Loss: from a Loss object, a name ('mse', 'categorical_crossentropy', ...) or a function."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str) and identifier in _NAMES:
        return _NAMES[identifier]()
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        name = _FUNCS.get(identifier)
        return _NAMES[name]() if name else LossFunctionWrapper(identifier)
    raise ValueError(f"unknown loss {identifier!r} (use {sorted(_NAMES)}, a keras.losses object or a callable)")

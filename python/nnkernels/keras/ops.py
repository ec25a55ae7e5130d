"""keras.ops: the common math of custom losses, metrics and layers, on nnkernels Tensors
(gradients flow through them); NumPy arrays and numbers are accepted wherever a tensor is.
The Keras names and arguments (`axis`, `keepdims`); results are Tensors."""
from __future__ import annotations

import numpy as np

from .. import autograd as ag
from ..autograd import Tensor

__all__ = ["convert_to_tensor", "convert_to_numpy", "cast", "shape", "mean", "sum", "max", "min", "std", "var",
           "prod", "square", "sqrt", "abs", "absolute", "log", "log1p", "exp", "power", "sign", "clip",
           "maximum", "minimum", "where", "argmax", "argmin", "equal", "not_equal", "greater", "greater_equal",
           "less", "less_equal", "logical_and", "logical_or", "logical_not", "matmul", "dot", "reshape",
           "transpose", "expand_dims", "squeeze", "concatenate", "stack", "ones", "zeros", "ones_like",
           "zeros_like", "one_hot", "relu", "sigmoid", "tanh", "softmax", "log_softmax", "add", "subtract",
           "multiply", "divide", "negative", "round", "floor", "arange", "tile", "flatten", "norm"]

_t = ag._t


def _const(a):
    return Tensor(ag._as_data(a))  # a NumPy or CuPy array stays where it is


def convert_to_tensor(x, dtype=None):
    if isinstance(x, Tensor) and dtype is None:
        return x
    a = ag._as_data(x)
    return Tensor(a if dtype is None else a.astype(dtype, copy=False))


def convert_to_numpy(x):
    """A NumPy copy (from the GPU too)."""
    return np.array(ag._move(ag._as_data(x), ag.device("cpu")))


def cast(x, dtype):
    """A copy of x as `dtype` ('float32', 'int64', ...); float to float keeps the gradient."""
    x = _t(x)
    dt = np.dtype(dtype)
    if np.issubdtype(dt, np.floating) and np.issubdtype(x.dtype, np.floating):
        return x.astype(dt)
    return Tensor(x.data.astype(dt))


def shape(x):
    return tuple(np.shape(ag._as_data(x)))


def mean(x, axis=None, keepdims=False):
    return _t(x).mean(axis=axis, keepdims=keepdims)


def sum(x, axis=None, keepdims=False):  # noqa: A001
    return _t(x).sum(axis=axis, keepdims=keepdims)


def max(x, axis=None, keepdims=False):  # noqa: A001
    return _t(x).max(axis=axis, keepdims=keepdims)


def min(x, axis=None, keepdims=False):  # noqa: A001
    return _t(x).min(axis=axis, keepdims=keepdims)


def var(x, axis=None, keepdims=False):
    """The biased variance, as Keras's ops.var."""
    return _t(x).var(axis=axis, keepdims=keepdims, correction=0)


def std(x, axis=None, keepdims=False):
    return _t(x).std(axis=axis, keepdims=keepdims, correction=0)


def prod(x, axis=None, keepdims=False):
    return exp(log(abs(x)).sum(axis=axis, keepdims=keepdims)) * Tensor(
        np.prod(np.sign(ag._as_data(x)), axis=axis, keepdims=keepdims))


def square(x):
    x = _t(x)
    return x * x


sqrt, log, exp = ag.sqrt, ag.log, ag.exp


def abs(x):  # noqa: A001
    return ag.abs(_t(x))


absolute = abs


def log1p(x):
    return ag.log(_t(x) + 1)


def power(x, y):
    return _t(x) ** y


def sign(x):
    return Tensor(np.sign(ag._as_data(x)))


def round(x):  # noqa: A001
    return Tensor(np.round(ag._as_data(x)))


def floor(x):
    return Tensor(np.floor(ag._as_data(x)))


def clip(x, x_min, x_max):
    return ag.clamp(_t(x), x_min, x_max)


def maximum(x, y):
    return ag.maximum(x, y)


def minimum(x, y):
    return -ag.maximum(-_t(x), -_t(y))


def where(condition, x1, x2):
    return ag.where(ag._as_data(condition), x1, x2)


def argmax(x, axis=None, keepdims=False):
    return Tensor(np.argmax(ag._as_data(x), axis=axis, keepdims=keepdims))


def argmin(x, axis=None, keepdims=False):
    return Tensor(np.argmin(ag._as_data(x), axis=axis, keepdims=keepdims))


def _cmp(fn):
    def op(x, y):
        return Tensor(fn(ag._as_data(x), ag._as_data(y)))
    op.__name__ = fn.__name__
    return op


equal, not_equal, greater, greater_equal = (_cmp(np.equal), _cmp(np.not_equal), _cmp(np.greater),
                                            _cmp(np.greater_equal))
less, less_equal, logical_and, logical_or = _cmp(np.less), _cmp(np.less_equal), _cmp(np.logical_and), \
    _cmp(np.logical_or)


def logical_not(x):
    return Tensor(np.logical_not(ag._as_data(x)))


def add(x, y):
    return _t(x) + y


def subtract(x, y):
    return _t(x) - y


def multiply(x, y):
    return _t(x) * y


def divide(x, y):
    return _t(x) / y


def negative(x):
    return -_t(x)


def matmul(x, y):
    return ag.matmul(_t(x), _t(y))


dot = matmul


def reshape(x, new_shape):
    return _t(x).reshape(tuple(new_shape))


def flatten(x):
    return _t(x).reshape(-1)


def transpose(x, axes=None):
    x = _t(x)
    return x.permute(tuple(range(x.ndim))[::-1] if axes is None else tuple(axes))


def expand_dims(x, axis):
    return _t(x).unsqueeze(axis)


def squeeze(x, axis=None):
    return _t(x).squeeze(axis)


def concatenate(xs, axis=0):
    return ag.cat([_t(x) for x in xs], axis=axis)


def stack(xs, axis=0):
    return ag.stack([_t(x) for x in xs], axis=axis)


def tile(x, repeats):
    x = _t(x)
    reps = (repeats,) if isinstance(repeats, int) else tuple(repeats)
    return x.repeat(*((1,) * (x.ndim - len(reps)) + reps))


def ones(shape, dtype="float32"):
    return Tensor(np.ones(shape, dtype))


def zeros(shape, dtype="float32"):
    return Tensor(np.zeros(shape, dtype))


def ones_like(x, dtype=None):
    return Tensor(np.ones_like(ag._as_data(x), dtype))


def zeros_like(x, dtype=None):
    return Tensor(np.zeros_like(ag._as_data(x), dtype))


def arange(start, stop=None, step=1, dtype=None):
    return Tensor(np.arange(start, stop, step, dtype=dtype) if stop is not None else np.arange(start, dtype=dtype))


def one_hot(x, num_classes, dtype="float32"):
    idx = ag._as_data(x).astype(np.int64)
    return Tensor(ag.array_module(idx).eye(num_classes, dtype=dtype)[idx])


def norm(x, ord=None, axis=None, keepdims=False):
    """The 2-norm over `axis` (all axes by default)."""
    if ord not in (None, 2, "fro", "euclidean"):
        raise ValueError(f"ops.norm: only the 2-norm is supported, got ord={ord!r}")
    return sqrt(square(x).sum(axis=axis, keepdims=keepdims))


def relu(x):
    return ag.relu(_t(x))


def sigmoid(x):
    return ag.sigmoid(_t(x))


def tanh(x):
    return ag.tanh(_t(x))


def softmax(x, axis=-1):
    return ag.softmax(_t(x), axis)


def log_softmax(x, axis=-1):
    return ag.log_softmax(_t(x), axis)

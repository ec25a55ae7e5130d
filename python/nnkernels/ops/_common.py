"""Argument checks and array plumbing shared by every op (one place, not per binding)."""
from __future__ import annotations

import math
import numbers
import os

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def is_cupy(x) -> bool:
    return type(x).__module__.split(".")[0] == "cupy"


def as_array(x, name: str) -> np.ndarray:
    """A NumPy array for `x` (array-likes are converted); CuPy arrays are refused until
    the op has a CUDA kernel."""
    if isinstance(x, np.ndarray):
        # The kernels read elements through typed pointers: a data pointer that is not a
        # multiple of the item size (a view of a byte buffer at an odd offset) is copied.
        return x if x.flags.aligned else x.copy()
    if is_cupy(x):
        raise TypeError(f"{name}: CuPy arrays are not supported by this op yet (no CUDA kernel); "
                        "pass a NumPy array")
    if hasattr(x, "numpy") and callable(x.numpy) and not isinstance(x, (list, tuple)):
        x = x.numpy()
    return np.asarray(x)


def result_float_dtype(op: str, **arrays) -> np.dtype:
    """The common float dtype of the named arrays; TypeError naming any other dtype."""
    dts = {a.dtype for a in arrays.values() if a is not None}
    if len(dts) == 1:
        (dt,) = dts
        if dt.char in "fd":  # the common case: one float dtype
            return dt
    for name, a in arrays.items():
        if a is not None and a.dtype not in FLOAT_DTYPES:
            raise TypeError(f"{op}: {name} has unsupported dtype {a.dtype} (float32 or float64 expected)")
    dt = np.result_type(*[a.dtype for a in arrays.values() if a is not None])
    return np.dtype(dt)


def kernel_ready(a: np.ndarray, dtype) -> np.ndarray:
    """`a` as `dtype` with strides the kernels can take (multiples of the item size).
    Views, transposes and negative strides pass through without a copy."""
    if a.dtype != dtype:
        a = a.astype(dtype)
    if not a.flags.aligned:
        a = a.copy()
    if not a.flags.c_contiguous and any(s % a.itemsize for s in a.strides):
        a = np.ascontiguousarray(a)
    return a


def check_out(out, shape, dtype, op: str) -> None:
    """`out=` must be a writable NumPy array of exactly the result's shape and dtype."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{op}: out must be a numpy.ndarray, got {type(out).__name__}")
    if out.shape != tuple(shape):
        raise ValueError(f"{op}: out has shape {out.shape}, expected {tuple(shape)}")
    if out.dtype != dtype:
        raise ValueError(f"{op}: out has dtype {out.dtype}, expected {dtype}")
    if not out.flags.writeable:
        raise ValueError(f"{op}: out is read-only")


def rows_contiguous(a: np.ndarray) -> bool:
    """True when the last axis is unit-stride, so a kernel can write rows directly."""
    return a.ndim == 0 or a.shape[-1] <= 1 or a.strides[-1] == a.itemsize


# ---- integer and float arguments, output sizes (checked once here for every op) -----

# The largest kernel_size / stride / padding / dilation / groups / output size accepted:
# any product of two such values fits the kernels' int64 index arithmetic.
INT_ARG_MAX = 2**31 - 1


def _is_int(v) -> bool:
    return isinstance(v, (numbers.Integral, np.integer)) and not isinstance(v, (bool, np.bool_))


def int_arg(v, name: str, op: str, minimum: int = 0, maximum: int = INT_ARG_MAX) -> int:
    """`v` as a Python int in [minimum, maximum]; ValueError naming op, argument and value."""
    if not _is_int(v):
        raise ValueError(f"{op}: {name} must be an int, got {v!r}")
    v = int(v)
    if v < minimum:
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {v}")
    if v > maximum:
        raise ValueError(f"{op}: {name} = {v} is too large (at most {maximum})")
    return v


def int_pair(v, name: str, op: str, minimum: int, maximum: int = INT_ARG_MAX):
    """An int or a pair of ints, each in [minimum, maximum], as a tuple of two Python ints."""
    if _is_int(v):
        t = (int(v), int(v))
    elif isinstance(v, (tuple, list)) and len(v) == 2 and all(_is_int(e) for e in v):
        t = (int(v[0]), int(v[1]))
    else:
        raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {v!r}")
    if min(t) < minimum:
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {v!r}")
    if max(t) > maximum:
        raise ValueError(f"{op}: {name} = {v!r} is too large (at most {maximum})")
    return t


def float_arg(v, name: str, op: str, finite: bool = False) -> float:
    """`v` as a Python float; TypeError for a non-number, ValueError if it overflows (or
    is not finite when `finite`)."""
    if isinstance(v, np.ndarray) and v.ndim == 0 and v.dtype.kind in "biuf":
        v = v.item()
    if isinstance(v, (str, bytes)) or not isinstance(v, (numbers.Real, np.number)) or \
            isinstance(v, (complex, np.complexfloating)):
        raise TypeError(f"{op}: {name} must be a real number, got {v!r}")
    try:
        f = float(v)
    except OverflowError:
        raise ValueError(f"{op}: {name} = {v!r} is too large for a float") from None
    if finite and not np.isfinite(f):
        raise ValueError(f"{op}: {name} must be finite, got {v!r}")
    return f


def shape_arg(shape, name: str, op: str) -> tuple:
    """A shape argument (e.g. input_shape): a sequence of ints >= 0."""
    try:
        dims = tuple(shape)
    except TypeError:
        raise ValueError(f"{op}: {name} must be a tuple of ints, got {shape!r}") from None
    if not all(_is_int(d) for d in dims) or any(d < 0 for d in dims):
        raise ValueError(f"{op}: {name} must be a tuple of ints >= 0, got {shape!r}")
    return tuple(int(d) for d in dims)


def _memory_bytes() -> int:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 2**48


MAX_RESULT_BYTES = _memory_bytes()


def check_result_size(op: str, shape, dtype, args: str) -> None:
    """Refuse a result larger than this machine's memory (it could never be computed),
    naming the op and the arguments that set its size, before NumPy tries to allocate it."""
    n = math.prod(int(d) for d in shape)
    nbytes = n * np.dtype(dtype).itemsize
    if nbytes > MAX_RESULT_BYTES:
        raise ValueError(f"{op}: the result would have shape {tuple(int(d) for d in shape)} "
                         f"({nbytes / 2**30:.4g} GiB), more than this machine's memory "
                         f"({MAX_RESULT_BYTES / 2**30:.4g} GiB); check {args}")

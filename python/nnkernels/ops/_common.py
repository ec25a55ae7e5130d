"""Argument checks and array plumbing shared by every op (one place, not per binding)."""
from __future__ import annotations

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def is_cupy(x) -> bool:
    return type(x).__module__.split(".")[0] == "cupy"


def as_array(x, name: str) -> np.ndarray:
    """A NumPy array for `x` (array-likes are converted); CuPy arrays are refused until
    the op has a CUDA kernel."""
    if isinstance(x, np.ndarray):
        return x
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

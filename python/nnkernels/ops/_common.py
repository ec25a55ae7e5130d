"""Argument checks and array plumbing shared by every op (one place, not per binding),
and the backend picker: the arrays' type chooses the kernels (`_C` for NumPy arrays,
`nnkernels._cuda_ops` over `_cuda` for CuPy arrays)."""
from __future__ import annotations

import math
import numbers
import os

import numpy as np

from .. import _C, _cuda_ops

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def is_cupy(x) -> bool:
    return type(x).__module__.split(".")[0] == "cupy"


def _refuse_tensor(x, name: str) -> None:
    if type(x).__name__ == "Tensor" and type(x).__module__.startswith("nnkernels.core"):
        raise TypeError(f"{name}: got an nnkernels Tensor; this op takes arrays (pass tensor.data), or call "
                        "the differentiable nk.<op> / nn.functional version, which records the graph")


def as_array(x, name: str, op: str | None = None) -> np.ndarray:
    """A NumPy array for argument `name` of `op` (array-likes are converted); CuPy arrays are
    refused (for the ops without a CUDA kernel), and so are nnkernels Tensors (never silently
    detached)."""
    where = f"{op}: {name}" if op else name
    _refuse_tensor(x, where)
    if is_cupy(x):
        raise TypeError(f"{where} is a CuPy array, and this op has no CUDA kernel yet: CuPy arrays are not "
                        "supported by this op yet; pass a NumPy array")
    if isinstance(x, np.ndarray):
        # The kernels read elements through typed pointers: a data pointer that is not a
        # multiple of the item size (a view of a byte buffer at an odd offset) is copied.
        return x if x.flags.aligned else x.copy()
    if hasattr(x, "numpy") and callable(x.numpy) and not isinstance(x, (list, tuple)):
        x = x.numpy()
    return np.asarray(x)


class _CPU:
    """NumPy arrays on the CPU kernels."""
    name = "cpu"
    xp = np
    k = _C
    gemm_dtypes = ("float32", "float64")

    @staticmethod
    def empty(shape, dtype):
        return np.empty(shape, dtype)

    @staticmethod
    def ready(a, dtype):
        return kernel_ready(a, dtype)

    @staticmethod
    def contiguous(a, dtype):
        return np.asarray(a, dtype=dtype, order="C")


class _CUDAKernels:
    """The kernels of nnkernels._cuda_ops by name; a kernel it lacks (an op with CPU
    kernels only) is a TypeError naming it, not an AttributeError."""

    def __getattr__(self, name):
        try:
            return getattr(_cuda_ops, name)
        except AttributeError:
            raise TypeError(f"{name}: CuPy arrays are not supported by this op yet (no CUDA kernel in "
                            "nnkernels._cuda_ops); pass a NumPy array") from None


class _CUDA:
    """CuPy arrays on the CUDA kernels (through nnkernels._cuda_ops, read at call time so
    tests can swap in the emulator)."""
    name = "cuda"
    k = _CUDAKernels()

    @property
    def xp(self):
        return _cuda_ops._cp()

    @property
    def gemm_dtypes(self):
        return _cuda_ops.gemm_dtypes()

    @staticmethod
    def empty(shape, dtype):
        return _cuda_ops._empty(shape, dtype)

    @staticmethod
    def ready(a, dtype):
        return _cuda_ops.ready(a, dtype)

    @staticmethod
    def contiguous(a, dtype):
        a = a.astype(dtype, copy=False)
        return a if a.flags.c_contiguous else a.copy(order="C")


CPU, CUDA = _CPU(), _CUDA()


def backend(op: str, out=None, **arrays):
    """(backend, arrays): the backend that owns the named arrays (None entries skipped and
    kept), with NumPy array-likes converted. All CuPy -> CUDA; otherwise CPU. A mix, or
    CuPy arrays on another device than the current one, is a TypeError/ValueError naming
    the arrays. `out`, when given, must be an array of that backend."""
    vals = tuple(arrays.values())
    if (out is None or type(out) is np.ndarray) and all(
            a is None or (type(a) is np.ndarray and a.flags.aligned) for a in vals):
        return CPU, vals  # the common case, checked in one pass: plain aligned NumPy arrays
    for n, a in arrays.items():
        _refuse_tensor(a, f"{op}: {n}")
    on_gpu = [n for n, a in arrays.items() if a is not None and is_cupy(a)]
    if on_gpu:
        for n, a in arrays.items():
            if a is not None and not is_cupy(a):
                raise TypeError(f"{op}: {n} is a {type(a).__module__}.{type(a).__name__} while {on_gpu[0]} is a "
                                "cupy.ndarray; pass CuPy arrays for the CUDA kernels or NumPy arrays for the CPU "
                                "kernels, not a mix")
        if out is not None and not is_cupy(out):
            raise TypeError(f"{op}: out must be a cupy.ndarray for CuPy inputs, got {type(out).__name__}")
        dev = CUDA.xp.cuda.Device().id
        for n, a in arrays.items():
            if a is not None and a.device.id != dev:
                raise ValueError(f"{op}: {n} is on device {a.device.id}, the current device is {dev}")
        return CUDA, tuple(arrays.values())
    if out is not None and not isinstance(out, np.ndarray):
        raise TypeError(f"{op}: out must be a numpy.ndarray, got {type(out).__name__}")
    return CPU, tuple(None if a is None else as_array(a, n, op) for n, a in arrays.items())


def result_float_dtype(op: str, allowed=FLOAT_DTYPES, **arrays) -> np.dtype:
    """The common float dtype of the named arrays (None skipped); TypeError naming any
    dtype not in `allowed` (dtypes or dtype names)."""
    dts = {np.dtype(a.dtype) for a in arrays.values() if a is not None}
    if len(dts) == 1:
        (dt,) = dts
        if dt.char in "fd":  # the common case: one float dtype
            return dt
    names = tuple(np.dtype(d).name if not isinstance(d, str) else d for d in allowed)
    for name, a in arrays.items():
        if a is not None and np.dtype(a.dtype).name not in names:
            raise TypeError(f"{op}: {name} has unsupported dtype {a.dtype} ({' or '.join(names)} expected)")
    if len(dts) > 1 and any(d.name == "bfloat16" for d in dts):
        raise TypeError(f"{op}: bfloat16 cannot be mixed with other dtypes ({', '.join(map(str, dts))})")
    return np.dtype(np.result_type(*dts))


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
    """`out=` (already of the inputs' backend, see `backend`) must be writable with exactly
    the result's shape and dtype."""
    if tuple(out.shape) != tuple(shape):
        raise ValueError(f"{op}: out has shape {out.shape}, expected {tuple(shape)}")
    if out.dtype != dtype:
        raise ValueError(f"{op}: out has dtype {out.dtype}, expected {dtype}")
    if not getattr(out.flags, "writeable", True):
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
    if type(v) is float and (not finite or math.isfinite(v)):
        return v  # the common case, checked first
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


def axis_arg(axis, ndim: int, op: str) -> int:
    """`axis` normalised to [0, ndim) (a 0-D array counts as 1-D); ValueError naming the op."""
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise ValueError(f"{op}: axis must be an int, got {axis!r}")
    n = max(ndim, 1)
    if not -n <= axis < n:
        raise ValueError(f"{op}: axis {axis} is out of range for an array of {ndim} dimension(s)")
    return int(axis) % n


def pool_out_size(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """Output length of a pooling window (torch's formula): with ceil_mode the last window
    must still start inside the input or its left padding."""
    eff = d * (k - 1) + 1
    o = (n + 2 * p - eff + ((s - 1) if ceil_mode else 0)) // s + 1
    if ceil_mode and (o - 1) * s >= n + p:
        o -= 1
    return o


# Codes of nk::Act (csrc/elementwise/elementwise.h) and Act (cuda/kernels.h): the same numbers.
ACT = {None: 0, "identity": 0, "relu": 1, "leaky_relu": 2, "sigmoid": 3, "tanh": 4, "gelu": 5, "gelu_tanh": 6, "silu": 7}

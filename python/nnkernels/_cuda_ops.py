"""The ops on CuPy arrays: argument checks, then the hand-written CUDA kernels (`_cuda`).

Same names, signatures and semantics as the CPU ops in `nnkernels.ops` (the lead's
dispatch sends CuPy inputs here). Every function:
  - takes CuPy arrays (a NumPy array mixed in raises TypeError naming it);
  - allocates its outputs with CuPy (CuPy's memory pool), makes inputs contiguous with
    CuPy where a kernel needs it, and queues the kernel on CuPy's current stream
    (no synchronisation, except `cross_entropy`'s target range check);
  - raises ValueError naming the argument and the shapes, TypeError naming the dtype.
Importing this module never needs CuPy or a GPU: both are loaded on first use.

Precisions: float32 and float64 everywhere; GEMM also float16 and bfloat16 (when the
installed CuPy has a bfloat16 dtype) on the tensor cores, and float32 with
``precision='tf32'`` on the tensor cores (TF32 inputs, fp32 accumulation).
"""
from __future__ import annotations

import functools
import math

import numpy as np

__all__ = [
    "gemm", "matmul",
    "max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
    "adaptive_avg_pool2d", "adaptive_avg_pool2d_backward",
    "softmax", "softmax_backward", "log_softmax", "log_softmax_backward",
    "cross_entropy", "cross_entropy_backward",
    "relu", "relu_backward", "leaky_relu", "leaky_relu_backward", "sigmoid", "sigmoid_backward",
    "tanh", "tanh_backward", "gelu", "gelu_backward", "bias_act",
]

# dtype codes of cuda/kernels.h (DType)
_F32, _F64, _F16, _BF16 = 0, 1, 2, 3
# activation codes of cuda/kernels.h (Act)
_ACT = {None: 0, "none": 0, "relu": 1, "leaky_relu": 2, "sigmoid": 3, "tanh": 4, "gelu": 5, "gelu_tanh": 6}


@functools.lru_cache(maxsize=None)
def _cp():
    import cupy

    return cupy


@functools.lru_cache(maxsize=None)
def _k():
    from . import _cuda

    return _cuda


def _stream() -> int:
    return _cp().cuda.get_current_stream().ptr


def _empty(shape, dtype):
    """Every output is allocated here (tests replace it to poison outputs with NaN)."""
    return _cp().empty(shape, dtype)


def _is_cupy(x) -> bool:
    return type(x).__module__.split(".")[0] == "cupy"


def _check_arrays(op: str, **arrays) -> None:
    """All given arrays (None skipped) are CuPy arrays on the current device."""
    kinds = {n: a for n, a in arrays.items() if a is not None}
    cupy_names = [n for n, a in kinds.items() if _is_cupy(a)]
    for n, a in kinds.items():
        if not _is_cupy(a):
            other = f" while {cupy_names[0]} is a cupy.ndarray" if cupy_names else ""
            raise TypeError(f"{op}: {n} is a {type(a).__module__}.{type(a).__name__}{other}; pass CuPy arrays "
                            "for the CUDA kernels or NumPy arrays for the CPU kernels, not a mix")
    if kinds:
        dev = _cp().cuda.Device().id
        for n, a in kinds.items():
            if a.device.id != dev:
                raise ValueError(f"{op}: {n} is on device {a.device.id}, the current device is {dev}")


@functools.lru_cache(maxsize=None)
def _bf16():
    """The bfloat16 dtype when CuPy and NumPy know one (ml_dtypes), else None."""
    try:
        import ml_dtypes

        dt = np.dtype(ml_dtypes.bfloat16)
        _cp().empty((0,), dt)
        return dt
    except Exception:
        return None


def _code(dt: np.dtype) -> int:
    dt = np.dtype(dt)
    if dt == np.float32:
        return _F32
    if dt == np.float64:
        return _F64
    if dt == np.float16:
        return _F16
    if dt.name == "bfloat16":
        return _BF16
    raise TypeError(f"unsupported dtype {dt}")


def _float_dtype(op: str, allowed=("float32", "float64"), **arrays) -> np.dtype:
    """The common float dtype of the named arrays; TypeError naming any other dtype."""
    dts = []
    for name, a in arrays.items():
        if a is None:
            continue
        if np.dtype(a.dtype).name not in allowed:
            raise TypeError(f"{op}: {name} has unsupported dtype {a.dtype} ({' or '.join(allowed)} expected)")
        dts.append(np.dtype(a.dtype))
    if len(set(dts)) == 1:
        return dts[0]
    if any(d.name == "bfloat16" for d in dts):
        raise TypeError(f"{op}: bfloat16 cannot be mixed with other dtypes ({', '.join(map(str, dts))})")
    return np.result_type(*dts)


def _ready(x, dtype):
    """x as `dtype`, C-contiguous (a copy only when needed)."""
    cp = _cp()
    if x.dtype != dtype:
        x = x.astype(dtype)
    return cp.ascontiguousarray(x)


def _pair(v, name: str, op: str):
    # The CPU ops' check (ints only, at most INT_ARG_MAX); each op checks its own minimum.
    from .ops._common import INT_ARG_MAX, int_pair

    return int_pair(v, name, op, -INT_ARG_MAX)


# ---------------------------------------------------------------------------------
# GEMM
# ---------------------------------------------------------------------------------

def _matrix_layout(x):
    """(array, trans, ld) for a 2-D operand x (R x C): the kernel reads it as a row-major
    R x C (trans False, leading dimension ld) or as a row-major C x R stored transposed
    (trans True). Copies only when neither stride is unit."""
    R, C = x.shape
    it = x.itemsize
    s0, s1 = x.strides
    if x.flags.c_contiguous:
        return x, False, max(C, 1)
    if x.flags.f_contiguous:
        return x, True, max(R, 1)
    if s1 == it and s0 > 0 and s0 % it == 0 and s0 // it >= C:
        return x, False, s0 // it
    if s0 == it and s1 > 0 and s1 % it == 0 and s1 // it >= R:
        return x, True, s1 // it
    x = _cp().ascontiguousarray(x)
    return x, False, max(C, 1)


def _batched_layout(x3):
    """(array, trans, ld, batch_stride) for a 3-D operand (B, R, C) with one layout per matrix."""
    B, R, C = x3.shape
    it = x3.itemsize
    sb = x3.strides[0]
    if B == 1:
        m, trans, ld = _matrix_layout(x3[0])
        return m, trans, ld, 0
    if sb >= 0 and sb % it == 0:
        m = x3[0]
        base, trans, ld = _matrix_layout(m)
        if base is m:  # no copy needed: the same strided layout holds for every batch
            return x3, trans, ld, sb // it
    x3 = _cp().ascontiguousarray(x3)
    return x3, False, max(C, 1), R * C


def _gemm_launch(op, dtype, M, N, K, alpha, a, ta, lda, sa, b, tb, ldb, sb, beta, c, ldc, sc, batch, precision,
                 out_code=None):
    k = _k()
    code = _code(dtype)
    args = (M, N, K, float(alpha), a.data.ptr, lda, bool(ta), sa, b.data.ptr, ldb, bool(tb), sb, float(beta),
            c.data.ptr, ldc, sc, batch, _stream())
    if code in (_F16, _BF16):
        k.gemm_tensorcore(code, code if out_code is None else out_code, *args)
    elif code == _F32 and precision == "tf32":
        k.gemm_tensorcore(_F32, _F32, *args)
    else:
        k.gemm_simt(code, *args)


def _check_precision(op, precision):
    if precision not in ("highest", "tf32"):
        raise ValueError(f"{op}: precision must be 'highest' or 'tf32', got {precision!r}")


def _gemm_dtypes():
    names = ["float32", "float64", "float16"]
    if _bf16() is not None:
        names.append("bfloat16")
    return tuple(names)


def gemm(a, b, c=None, *, alpha=1.0, beta=0.0, trans_a=False, trans_b=False, out=None, precision="highest",
         out_dtype=None):
    """``alpha * op(a) @ op(b) + beta * c`` on the GPU, ``op(x) = x.T`` when ``trans_x``.

    a: (M, K), or (K, M) with trans_a; b: (K, N), or (N, K) with trans_b; c broadcastable
    to (M, N), needed when beta != 0; out: (M, N) CuPy array, may be `c`.
    float32 ('highest': CUDA cores; 'tf32': tensor cores), float64 (CUDA cores), float16 /
    bfloat16 (tensor cores, fp32 accumulation; out_dtype=float32 keeps the fp32 result).
    """
    cp = _cp()
    _check_arrays("gemm", a=a, b=b, c=c, out=out)
    _check_precision("gemm", precision)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"gemm: a and b must be 2-D, got shapes {a.shape} and {b.shape}")
    dtype = _float_dtype("gemm", _gemm_dtypes(), a=a, b=b)
    M, K = (a.shape[1], a.shape[0]) if trans_a else a.shape
    K2, N = (b.shape[1], b.shape[0]) if trans_b else b.shape
    if K != K2:
        raise ValueError(f"gemm: inner dimensions differ: op(a) is {(M, K)} (a {a.shape}, trans_a={trans_a}), "
                         f"op(b) is {(K2, N)} (b {b.shape}, trans_b={trans_b})")
    if beta != 0 and c is None:
        raise ValueError("gemm: beta != 0 needs c")
    res_dtype = np.dtype(dtype if out_dtype is None else out_dtype)
    if res_dtype != dtype and not (res_dtype == np.float32 and dtype.itemsize == 2):
        raise ValueError(f"gemm: out_dtype must be the input dtype or float32 (for float16/bfloat16), got {res_dtype}")
    if c is not None:
        try:
            np.broadcast_shapes(c.shape, (M, N))
        except ValueError:
            raise ValueError(f"gemm: c has shape {c.shape}, not broadcastable to the result {(M, N)}") from None
    if out is not None:
        if out.shape != (M, N):
            raise ValueError(f"gemm: out has shape {out.shape}, expected {(M, N)}")
        if out.dtype != res_dtype:
            raise ValueError(f"gemm: out has dtype {out.dtype}, expected {res_dtype}")
    result = out if out is not None else _empty((M, N), res_dtype)
    if M == 0 or N == 0:
        return result
    opa = a.T if trans_a else a
    opb = b.T if trans_b else b
    A, ta, lda = _matrix_layout(_cp().asarray(opa, dtype) if opa.dtype != dtype else opa)
    B, tb, ldb = _matrix_layout(_cp().asarray(opb, dtype) if opb.dtype != dtype else opb)
    # The kernel writes rows with unit stride; use `result` itself when it can take that.
    direct = result.flags.c_contiguous or (result.strides[1] == result.itemsize and result.strides[0] > 0
                                           and result.strides[0] % result.itemsize == 0)
    if direct and out is not None and c is not out:
        direct = not (cp.shares_memory(out, a) or cp.shares_memory(out, b))
    work = result if direct else _empty((M, N), res_dtype)
    use_beta = float(beta) if c is not None else 0.0
    if use_beta != 0 and c is not work:
        cp.copyto(work, c, casting="same_kind")
    ldc = work.strides[0] // work.itemsize if M > 1 else N
    out_code = _code(res_dtype) if res_dtype != dtype else None
    _gemm_launch("gemm", dtype, M, N, K, alpha, A, ta, lda, 0, B, tb, ldb, 0, use_beta, work, ldc, 0, 1, precision,
                 out_code)
    if work is not result:
        cp.copyto(result, work)
    return result


def matmul(a, b, *, out=None, precision="highest"):
    """Matrix product with `numpy.matmul` semantics on the GPU (1-D promotion, batch
    broadcast). float32/float64, float16/bfloat16 on the tensor cores; ``precision='tf32'``
    runs float32 on the tensor cores."""
    cp = _cp()
    _check_arrays("matmul", a=a, b=b, out=out)
    _check_precision("matmul", precision)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must be at least 1-D, got shapes {a.shape} and {b.shape}")
    dtype = _float_dtype("matmul", _gemm_dtypes(), a=a, b=b)
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    M, K = a2.shape[-2:]
    K2, N = b2.shape[-2:]
    if K != K2:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} do not align: {K} (dim -1 of a) != {K2} "
                         f"(dim {-2 if b.ndim > 1 else 0} of b)")
    try:
        batch = tuple(np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2]))
    except ValueError:
        raise ValueError(f"matmul: batch dimensions of {a.shape} and {b.shape} do not broadcast") from None
    res_shape = batch + ((M,) if a.ndim > 1 else ()) + ((N,) if b.ndim > 1 else ())
    if out is not None:
        if out.shape != res_shape:
            raise ValueError(f"matmul: out has shape {out.shape}, expected {res_shape}")
        if out.dtype != dtype:
            raise ValueError(f"matmul: out has dtype {out.dtype}, expected {dtype}")
    if a2.dtype != dtype:
        a2 = a2.astype(dtype)
    if b2.dtype != dtype:
        b2 = b2.astype(dtype)
    nb = math.prod(batch)
    result = _empty(batch + (M, N), dtype)
    if result.size:
        if not batch:
            A, ta, lda = _matrix_layout(a2)
            B, tb, ldb = _matrix_layout(b2)
            _gemm_launch("matmul", dtype, M, N, K, 1.0, A, ta, lda, 0, B, tb, ldb, 0, 0.0, result, N, 0, 1, precision)
        elif b2.ndim == 2 and a2.shape[:-2] == batch and a2.flags.c_contiguous:
            # A batch of rows times one matrix: one GEMM over (batch*M) x K.
            B, tb, ldb = _matrix_layout(b2)
            _gemm_launch("matmul", dtype, nb * M, N, K, 1.0, a2, False, max(K, 1), 0, B, tb, ldb, 0, 0.0, result, N,
                         0, 1, precision)
        else:
            a3 = cp.broadcast_to(a2, batch + (M, K)).reshape(nb, M, K)
            b3 = cp.broadcast_to(b2, batch + (K, N)).reshape(nb, K, N)
            A, ta, lda, sa = _batched_layout(a3)
            B, tb, ldb, sb = _batched_layout(b3)
            _gemm_launch("matmul", dtype, M, N, K, 1.0, A, ta, lda, sa, B, tb, ldb, sb, 0.0, result, N, M * N, nb,
                         precision)
    result = result.reshape(res_shape)
    if out is not None:
        cp.copyto(out, result)
        return out
    return result


# ---------------------------------------------------------------------------------
# Pooling (NCHW; 3-D (C, H, W) inputs are taken as N = 1)
# ---------------------------------------------------------------------------------

def _pool_out(L, k, s, p, d, ceil_mode):
    eff = d * (k - 1) + 1
    num = L + 2 * p - eff
    if ceil_mode:
        o = -(-num // s) + 1
        if (o - 1) * s >= L + p:  # the last window must start inside the image or the left padding
            o -= 1
    else:
        o = num // s + 1
    return o


def _as4d(x, op, name="x"):
    if x.ndim == 3:
        return x[None], True
    if x.ndim != 4:
        raise ValueError(f"{op}: {name} must be 4-D (N, C, H, W) or 3-D (C, H, W), got shape {x.shape}")
    return x, False


def _shape4(input_shape, op):
    shp = tuple(int(v) for v in input_shape)
    if len(shp) == 3:
        return (1,) + shp, True
    if len(shp) != 4:
        raise ValueError(f"{op}: input_shape must have 4 (N, C, H, W) or 3 entries, got {tuple(input_shape)}")
    return shp, False


def _pool_params(op, H, W, kernel_size, stride, padding, dilation, ceil_mode, max_pool):
    kh, kw = _pair(kernel_size, "kernel_size", op)
    sh, sw = (kh, kw) if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0) \
        else _pair(stride, "stride", op)
    ph, pw = _pair(padding, "padding", op)
    dh, dw = _pair(dilation, "dilation", op)
    if kh <= 0 or kw <= 0:
        raise ValueError(f"{op}: kernel_size must be positive, got {(kh, kw)}")
    if sh <= 0 or sw <= 0:
        raise ValueError(f"{op}: stride must be positive, got {(sh, sw)}")
    if dh <= 0 or dw <= 0:
        raise ValueError(f"{op}: dilation must be positive, got {(dh, dw)}")
    if ph < 0 or pw < 0:
        raise ValueError(f"{op}: padding must be non-negative, got {(ph, pw)}")
    if ph * 2 > kh or pw * 2 > kw:
        raise ValueError(f"{op}: padding {(ph, pw)} must be at most half of kernel_size {(kh, kw)}")
    OH = _pool_out(H, kh, sh, ph, dh, ceil_mode)
    OW = _pool_out(W, kw, sw, pw, dw, ceil_mode)
    if OH <= 0 or OW <= 0:
        raise ValueError(f"{op}: input of size {(H, W)} is too small for kernel_size {(kh, kw)}, "
                         f"dilation {(dh, dw)}, padding {(ph, pw)} (output would be {(OH, OW)})")
    return kh, kw, sh, sw, ph, pw, dh, dw, OH, OW


def max_pool2d(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """torch.nn.functional.max_pool2d on the GPU; indices are int64, flat over H*W."""
    _check_arrays("max_pool2d", x=x)
    dtype = _float_dtype("max_pool2d", x=x)
    x4, squeeze = _as4d(x, "max_pool2d")
    N, C, H, W = x4.shape
    kh, kw, sh, sw, ph, pw, dh, dw, OH, OW = _pool_params("max_pool2d", H, W, kernel_size, stride, padding,
                                                          dilation, ceil_mode, True)
    xc = _ready(x4, dtype)
    y = _empty((N, C, OH, OW), dtype)
    idx = _empty((N, C, OH, OW), np.int64)
    _k().max_pool2d_forward(_code(dtype), N, C, H, W, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw, xc.data.ptr,
                            y.data.ptr, idx.data.ptr, _stream())
    if squeeze:
        y, idx = y[0], idx[0]
    return (y, idx) if return_indices else y


def max_pool2d_backward(grad_out, indices, input_shape):
    """Gradient of max_pool2d w.r.t. x from the saved indices: (N, C, H, W)."""
    _check_arrays("max_pool2d_backward", grad_out=grad_out, indices=indices)
    dtype = _float_dtype("max_pool2d_backward", grad_out=grad_out)
    if np.dtype(indices.dtype).kind not in "iu":
        raise TypeError(f"max_pool2d_backward: indices has dtype {indices.dtype} (int64 expected)")
    if grad_out.shape != indices.shape:
        raise ValueError(f"max_pool2d_backward: grad_out {grad_out.shape} and indices {indices.shape} differ in shape")
    shp, squeeze = _shape4(input_shape, "max_pool2d_backward")
    g4, _ = _as4d(grad_out, "max_pool2d_backward", "grad_out")
    if len(grad_out.shape) != (3 if squeeze else 4) or g4.shape[:2] != shp[:2]:
        raise ValueError(f"max_pool2d_backward: grad_out {grad_out.shape} does not match input_shape "
                         f"{tuple(input_shape)} in (N, C)")
    N, C, H, W = shp
    gc = _ready(g4, dtype)
    ic = _ready(indices.reshape(g4.shape), np.int64)
    gx = _empty(shp, dtype)
    _k().max_pool2d_backward(_code(dtype), N * C, H * W, g4.shape[2] * g4.shape[3], gc.data.ptr, ic.data.ptr,
                             gx.data.ptr, _stream())
    return gx[0] if squeeze else gx


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """torch.nn.functional.avg_pool2d on the GPU (no divisor_override)."""
    _check_arrays("avg_pool2d", x=x)
    dtype = _float_dtype("avg_pool2d", x=x)
    x4, squeeze = _as4d(x, "avg_pool2d")
    N, C, H, W = x4.shape
    kh, kw, sh, sw, ph, pw, _, _, OH, OW = _pool_params("avg_pool2d", H, W, kernel_size, stride, padding, 1,
                                                        ceil_mode, False)
    xc = _ready(x4, dtype)
    y = _empty((N, C, OH, OW), dtype)
    _k().avg_pool2d_forward(_code(dtype), N, C, H, W, OH, OW, kh, kw, sh, sw, ph, pw, bool(count_include_pad),
                            xc.data.ptr, y.data.ptr, _stream())
    return y[0] if squeeze else y


def avg_pool2d_backward(grad_out, input_shape, kernel_size, stride=None, padding=0, ceil_mode=False,
                        count_include_pad=True):
    """Gradient of avg_pool2d w.r.t. x: (N, C, H, W)."""
    _check_arrays("avg_pool2d_backward", grad_out=grad_out)
    dtype = _float_dtype("avg_pool2d_backward", grad_out=grad_out)
    shp, squeeze = _shape4(input_shape, "avg_pool2d_backward")
    N, C, H, W = shp
    kh, kw, sh, sw, ph, pw, _, _, OH, OW = _pool_params("avg_pool2d_backward", H, W, kernel_size, stride, padding,
                                                        1, ceil_mode, False)
    expect = (C, OH, OW) if squeeze else (N, C, OH, OW)
    if tuple(grad_out.shape) != expect:
        raise ValueError(f"avg_pool2d_backward: grad_out has shape {grad_out.shape}, expected {expect} for "
                         f"input_shape {tuple(input_shape)}")
    gc = _ready(grad_out, dtype)
    gx = _empty(shp, dtype)
    _k().avg_pool2d_backward(_code(dtype), N, C, H, W, OH, OW, kh, kw, sh, sw, ph, pw, bool(count_include_pad),
                             gc.data.ptr, gx.data.ptr, _stream())
    return gx[0] if squeeze else gx


def _adaptive_size(output_size, H, W, op):
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != 2:
            raise ValueError(f"{op}: output_size must be an int or a pair, got {output_size!r}")
        oh, ow = output_size
    else:
        oh = ow = output_size
    oh = H if oh is None else int(oh)
    ow = W if ow is None else int(ow)
    if oh <= 0 or ow <= 0:
        raise ValueError(f"{op}: output_size must be positive, got {(oh, ow)}")
    return oh, ow


def adaptive_avg_pool2d(x, output_size):
    """torch.nn.functional.adaptive_avg_pool2d on the GPU."""
    _check_arrays("adaptive_avg_pool2d", x=x)
    dtype = _float_dtype("adaptive_avg_pool2d", x=x)
    x4, squeeze = _as4d(x, "adaptive_avg_pool2d")
    N, C, H, W = x4.shape
    OH, OW = _adaptive_size(output_size, H, W, "adaptive_avg_pool2d")
    if H == 0 or W == 0:
        raise ValueError(f"adaptive_avg_pool2d: x has an empty spatial size {(H, W)}")
    xc = _ready(x4, dtype)
    y = _empty((N, C, OH, OW), dtype)
    _k().adaptive_avg_pool2d_forward(_code(dtype), N * C, H, W, OH, OW, xc.data.ptr, y.data.ptr, _stream())
    return y[0] if squeeze else y


def adaptive_avg_pool2d_backward(grad_out, input_shape):
    """Gradient of adaptive_avg_pool2d w.r.t. x: (N, C, H, W)."""
    _check_arrays("adaptive_avg_pool2d_backward", grad_out=grad_out)
    dtype = _float_dtype("adaptive_avg_pool2d_backward", grad_out=grad_out)
    shp, squeeze = _shape4(input_shape, "adaptive_avg_pool2d_backward")
    g4, _ = _as4d(grad_out, "adaptive_avg_pool2d_backward", "grad_out")
    N, C, H, W = shp
    if len(grad_out.shape) != (3 if squeeze else 4) or g4.shape[:2] != (N, C):
        raise ValueError(f"adaptive_avg_pool2d_backward: grad_out {grad_out.shape} does not match input_shape "
                         f"{tuple(input_shape)} in (N, C)")
    OH, OW = g4.shape[2:]
    gc = _ready(g4, dtype)
    gx = _empty(shp, dtype)
    _k().adaptive_avg_pool2d_backward(_code(dtype), N * C, H, W, OH, OW, gc.data.ptr, gx.data.ptr, _stream())
    return gx[0] if squeeze else gx


# ---------------------------------------------------------------------------------
# softmax, log_softmax, cross-entropy
# ---------------------------------------------------------------------------------

def _axis(axis, ndim, op):
    if not isinstance(axis, (int, np.integer)) or not -max(ndim, 1) <= axis < max(ndim, 1):
        raise ValueError(f"{op}: axis {axis!r} is out of range for an array of {ndim} dimensions")
    return int(axis) % max(ndim, 1)


def _rows(x, axis):
    """x with `axis` moved last, C-contiguous, as (R, L); and the moved shape."""
    cp = _cp()
    xm = cp.moveaxis(x, axis, -1) if x.ndim > 1 and axis != x.ndim - 1 else x
    return cp.ascontiguousarray(xm), xm.shape


def _unrows(y, moved_shape, axis, ndim):
    y = y.reshape(moved_shape)
    if ndim > 1 and axis != ndim - 1:
        y = _cp().moveaxis(y, -1, axis)
    return y


def _softmax(x, axis, log, op):
    _check_arrays(op, x=x)
    dtype = _float_dtype(op, x=x)
    if x.ndim == 0:
        raise ValueError(f"{op}: x must be at least 1-D, got a scalar")
    ax = _axis(axis, x.ndim, op)
    xr, moved = _rows(_ready(x, dtype) if x.dtype != dtype else x, ax)
    L = moved[-1]
    R = xr.size // L if L else 0
    y = _empty(moved, dtype)
    _k().softmax_forward(_code(dtype), R, L, xr.data.ptr, y.data.ptr, log, _stream())
    return _unrows(y, moved, ax, x.ndim)


def _softmax_backward(grad_out, y, axis, log, op):
    _check_arrays(op, grad_out=grad_out, y=y)
    dtype = _float_dtype(op, grad_out=grad_out, y=y)
    if grad_out.shape != y.shape:
        raise ValueError(f"{op}: grad_out {grad_out.shape} and y {y.shape} differ in shape")
    if y.ndim == 0:
        raise ValueError(f"{op}: y must be at least 1-D, got a scalar")
    ax = _axis(axis, y.ndim, op)
    gr, moved = _rows(grad_out.astype(dtype, copy=False), ax)
    yr, _ = _rows(y.astype(dtype, copy=False), ax)
    L = moved[-1]
    R = yr.size // L if L else 0
    gx = _empty(moved, dtype)
    _k().softmax_backward(_code(dtype), R, L, gr.data.ptr, yr.data.ptr, gx.data.ptr, log, _stream())
    return _unrows(gx, moved, ax, y.ndim)


def softmax(x, axis=-1):
    """Softmax along `axis` on the GPU."""
    return _softmax(x, axis, False, "softmax")


def log_softmax(x, axis=-1):
    """log(softmax(x)) along `axis` on the GPU, computed as x - max - log(sum(exp(x - max)))."""
    return _softmax(x, axis, True, "log_softmax")


def softmax_backward(grad_out, y, axis=-1):
    """grad_x = y * (grad_out - sum(grad_out * y)) with y = softmax(x)."""
    return _softmax_backward(grad_out, y, axis, False, "softmax_backward")


def log_softmax_backward(grad_out, y, axis=-1):
    """grad_x = grad_out - exp(y) * sum(grad_out) with y = log_softmax(x)."""
    return _softmax_backward(grad_out, y, axis, True, "log_softmax_backward")


_REDUCTIONS = {"none": 0, "mean": 1, "sum": 2}


def _ce_check(op, logits, target, reduction, label_smoothing):
    _check_arrays(op, logits=logits, target=target)
    dtype = _float_dtype(op, logits=logits)
    if logits.ndim != 2:
        raise ValueError(f"{op}: logits must be 2-D (N, C), got shape {logits.shape}")
    N, C = logits.shape
    if np.dtype(target.dtype).kind not in "iu":
        raise TypeError(f"{op}: target has dtype {target.dtype} (integer class indices expected)")
    if target.shape != (N,):
        raise ValueError(f"{op}: target has shape {target.shape}, expected {(N,)} for logits {logits.shape}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    if not 0.0 <= float(label_smoothing) <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    if C == 0 and N > 0:
        raise ValueError(f"{op}: logits has no classes (shape {logits.shape})")
    t = _ready(target, np.int64)
    if N > 0 and bool(((t < 0) | (t >= C)).any()):  # one device->host sync
        raise ValueError(f"{op}: target values must be in [0, {C}) for logits {logits.shape}, got "
                         f"min {int(t.min())}, max {int(t.max())}")
    return dtype, N, C, t


def cross_entropy(logits, target, reduction="mean", label_smoothing=0.0):
    """torch.nn.functional.cross_entropy for (N, C) logits and integer targets on the GPU.
    Returns a 0-d CuPy array for 'mean'/'sum', (N,) for 'none'."""
    dtype, N, C, t = _ce_check("cross_entropy", logits, target, reduction, label_smoothing)
    x = _ready(logits, dtype)
    red = _REDUCTIONS[reduction]
    row = _empty((N,), dtype)
    out = _empty((), dtype) if red else row
    _k().cross_entropy_forward(_code(dtype), N, C, x.data.ptr, t.data.ptr, float(label_smoothing), red,
                               row.data.ptr, out.data.ptr, _stream())
    return out


def cross_entropy_backward(grad_out, logits, target, reduction="mean", label_smoothing=0.0):
    """Gradient of cross_entropy w.r.t. logits: (N, C). grad_out is a scalar (0-d array or
    number) for 'mean'/'sum' and (N,) for 'none'."""
    cp = _cp()
    if not _is_cupy(grad_out) and not isinstance(grad_out, np.ndarray):
        grad_out = cp.asarray(grad_out, dtype=logits.dtype if _is_cupy(logits) else None)
    dtype, N, C, t = _ce_check("cross_entropy_backward", logits, target, reduction, label_smoothing)
    _check_arrays("cross_entropy_backward", grad_out=grad_out, logits=logits)
    red = _REDUCTIONS[reduction]
    if red == 0:
        if grad_out.shape != (N,):
            raise ValueError(f"cross_entropy_backward: grad_out has shape {grad_out.shape}, expected {(N,)} "
                             "for reduction='none'")
        g_stride = 1
    else:
        if grad_out.size != 1:
            raise ValueError(f"cross_entropy_backward: grad_out must be a scalar for reduction={reduction!r}, got "
                             f"shape {grad_out.shape}")
        g_stride = 0
    g = _ready(grad_out.reshape(-1), dtype)
    scale = 1.0 / N if red == 1 and N > 0 else 1.0
    x = _ready(logits, dtype)
    gx = _empty((N, C), dtype)
    _k().cross_entropy_backward(_code(dtype), N, C, g.data.ptr, g_stride, scale, x.data.ptr, t.data.ptr,
                                float(label_smoothing), gx.data.ptr, _stream())
    return gx


# ---------------------------------------------------------------------------------
# activations and bias + activation
# ---------------------------------------------------------------------------------

def _act(x, code, slope, op):
    _check_arrays(op, x=x)
    dtype = _float_dtype(op, x=x)
    xc = _ready(x, dtype)
    y = _empty(x.shape, dtype)
    _k().bias_act_forward(_code(dtype), xc.size, 1, 1, xc.data.ptr, 0, y.data.ptr, code, float(slope), _stream())
    return y


def _act_bwd(g, t, code, slope, op, tname):
    _check_arrays(op, grad_out=g, **{tname: t})
    dtype = _float_dtype(op, grad_out=g, **{tname: t})
    if g.shape != t.shape:
        raise ValueError(f"{op}: grad_out {g.shape} and {tname} {t.shape} differ in shape")
    gc = _ready(g, dtype)
    tc = _ready(t, dtype)
    gx = _empty(t.shape, dtype)
    _k().act_backward(_code(dtype), tc.size, gc.data.ptr, tc.data.ptr, gx.data.ptr, code, float(slope), _stream())
    return gx


def _gelu_code(approximate, op):
    if approximate not in ("none", "tanh"):
        raise ValueError(f"{op}: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _ACT["gelu_tanh" if approximate == "tanh" else "gelu"]


def relu(x):
    return _act(x, _ACT["relu"], 0.0, "relu")


def leaky_relu(x, negative_slope=0.01):
    return _act(x, _ACT["leaky_relu"], negative_slope, "leaky_relu")


def sigmoid(x):
    return _act(x, _ACT["sigmoid"], 0.0, "sigmoid")


def tanh(x):
    return _act(x, _ACT["tanh"], 0.0, "tanh")


def gelu(x, approximate="none"):
    return _act(x, _gelu_code(approximate, "gelu"), 0.0, "gelu")


def relu_backward(g, x):
    """g * (x > 0)."""
    return _act_bwd(g, x, _ACT["relu"], 0.0, "relu_backward", "x")


def leaky_relu_backward(g, x, negative_slope=0.01):
    """g * (1 if x > 0 else negative_slope)."""
    return _act_bwd(g, x, _ACT["leaky_relu"], negative_slope, "leaky_relu_backward", "x")


def sigmoid_backward(g, y):
    """g * y * (1 - y) with y = sigmoid(x)."""
    return _act_bwd(g, y, _ACT["sigmoid"], 0.0, "sigmoid_backward", "y")


def tanh_backward(g, y):
    """g * (1 - y**2) with y = tanh(x)."""
    return _act_bwd(g, y, _ACT["tanh"], 0.0, "tanh_backward", "y")


def gelu_backward(g, x, approximate="none"):
    """g * gelu'(x) (erf form, or the tanh approximation's derivative)."""
    return _act_bwd(g, x, _gelu_code(approximate, "gelu_backward"), 0.0, "gelu_backward", "x")


def bias_act(x, bias, activation=None, axis=1, negative_slope=0.01):
    """act(x + bias) fused, bias (x.shape[axis],) broadcast along `axis`; activation None,
    'relu', 'leaky_relu', 'sigmoid', 'tanh', 'gelu' (or 'gelu_tanh')."""
    _check_arrays("bias_act", x=x, bias=bias)
    if activation not in _ACT:
        raise ValueError(f"bias_act: activation must be None, 'relu', 'leaky_relu', 'sigmoid', 'tanh' or 'gelu', "
                         f"got {activation!r}")
    dtype = _float_dtype("bias_act", x=x, bias=bias)
    xc = _ready(x, dtype)
    C = inner = 1
    bptr = 0
    if bias is not None:
        if x.ndim == 0:
            raise ValueError("bias_act: x must be at least 1-D when a bias is given")
        ax = _axis(axis, x.ndim, "bias_act")
        C = x.shape[ax]
        inner = math.prod(x.shape[ax + 1:])
        if bias.shape != (C,):
            raise ValueError(f"bias_act: bias has shape {bias.shape}, expected {(C,)} (x {x.shape}, axis {axis})")
        bc = _ready(bias, dtype)
        bptr = bc.data.ptr
    y = _empty(x.shape, dtype)
    if y.size:
        _k().bias_act_forward(_code(dtype), xc.size, max(C, 1), max(inner, 1), xc.data.ptr, bptr, y.data.ptr,
                              _ACT[activation], float(negative_slope), _stream())
    return y

"""The CUDA backend: the `_cuda` kernels behind the signatures of the CPU kernels (`_C`).

`nnkernels.ops` checks every argument, works out the output shape and allocates the
outputs once, for either device; for CuPy arrays it then calls the function of the same
name here instead of `_C.<name>`. This module only turns arrays into what a kernel
launch takes (dtype code, pointers, leading dimensions, batch strides, CuPy's current
stream) and copies an operand to a contiguous layout where a kernel cannot read it in
place. It checks nothing. Importing it never needs CuPy or a GPU: both load on first use.

Precisions: float32 and float64 everywhere; GEMM also float16 and bfloat16 (when the
installed CuPy has a bfloat16 dtype) on the tensor cores, and float32 with
``precision='tf32'`` on the tensor cores (TF32 inputs, fp32 accumulation).
"""
from __future__ import annotations

import functools

import numpy as np

# dtype codes of cuda/kernels.h (DType)
_F32, _F64, _F16, _BF16 = 0, 1, 2, 3


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
    """Every CUDA output is allocated here (tests replace it to poison outputs with NaN)."""
    return _cp().empty(shape, dtype)


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


def gemm_dtypes() -> tuple:
    """The dtype names the CUDA GEMM takes."""
    return ("float32", "float64", "float16") + (("bfloat16",) if _bf16() is not None else ())


def _code(dt) -> int:
    dt = np.dtype(dt)
    return {"float32": _F32, "float64": _F64, "float16": _F16, "bfloat16": _BF16}[dt.name]


def _ptr(a) -> int:
    return a.data.ptr if a is not None else 0


def _c(a):
    """`a` C-contiguous (no copy when it already is)."""
    return _cp().ascontiguousarray(a)


# ---- GEMM ---------------------------------------------------------------------------

def _layout(shape2, strides2, itemsize):
    """(trans, ld) when a matrix of `shape2` with byte `strides2` can be read in place
    (row-major, or row-major transposed), else None."""
    R, C = shape2
    s0, s1 = strides2
    if (s1 == itemsize or C <= 1) and s0 >= 0 and s0 % itemsize == 0 and (s0 // itemsize >= C or R <= 1):
        return False, max(s0 // itemsize, C, 1)
    if (s0 == itemsize or R <= 1) and s1 >= 0 and s1 % itemsize == 0 and (s1 // itemsize >= R or C <= 1):
        return True, max(s1 // itemsize, R, 1)
    return None


def _matrix(x):
    """(array, trans, ld) for a 2-D operand; a contiguous copy when it cannot be read in place."""
    lay = _layout(x.shape, x.strides, x.itemsize)
    if lay is None:
        x = _c(x)
        lay = False, max(x.shape[1], 1)
    return (x,) + lay


def _launch(M, N, K, alpha, a, ta, lda, sa, b, tb, ldb, sb, beta, c, ldc, sc, batch, precision, a_ptr=None,
            b_ptr=None, c_ptr=None):
    code, out_code = _code(a.dtype), _code(c.dtype)
    args = (M, N, K, float(alpha), a_ptr or _ptr(a), lda, bool(ta), sa, b_ptr or _ptr(b), ldb, bool(tb), sb,
            float(beta), c_ptr or _ptr(c), ldc, sc, batch, _stream())
    if code in (_F16, _BF16):
        _k().gemm_tensorcore(code, out_code, *args)
    elif code == _F32 and precision == "tf32":
        _k().gemm_tensorcore(_F32, _F32, *args)
    else:
        _k().gemm_simt(code, *args)


def gemm(a, b, out, alpha, beta, trans_a, trans_b, precision="highest"):
    """out = alpha * op(a) @ op(b) + beta * out; `out` has unit-stride rows."""
    A, ta, lda = _matrix(a.T if trans_a else a)
    B, tb, ldb = _matrix(b.T if trans_b else b)
    M, N = out.shape
    ldc = out.strides[0] // out.itemsize if M > 1 else max(N, 1)
    K = a.shape[0] if trans_a else a.shape[1]
    _launch(M, N, K, alpha, A, ta, lda, 0, B, tb, ldb, 0, beta, out, ldc, 0, 1, precision)


def gemm_batched(a, offs_a, b, offs_b, out, alpha, beta, precision="highest"):
    """out[i] = alpha * a@[offs_a[i]] @ b@[offs_b[i]] + beta * out[i] for the (nb, M, N) `out`;
    a and b hold matrices with one in-place layout (ops/gemm.py's kernel_ready) at the
    given element offsets from their first element. One launch when both offsets step
    uniformly, else one launch per matrix."""
    nb, M, N = out.shape
    K = a.shape[-1]
    ta, lda = _layout(a.shape[-2:], a.strides[-2:], a.itemsize)
    tb, ldb = _layout(b.shape[-2:], b.strides[-2:], b.itemsize)
    offs_a = np.asarray(offs_a, np.int64)
    offs_b = np.asarray(offs_b, np.int64)
    sa = int(offs_a[1] - offs_a[0]) if nb > 1 else 0
    sb = int(offs_b[1] - offs_b[0]) if nb > 1 else 0
    uniform = (np.array_equal(offs_a, offs_a[0] + sa * np.arange(nb)) and
               np.array_equal(offs_b, offs_b[0] + sb * np.arange(nb)) and sa >= 0 and sb >= 0)
    if uniform:
        _launch(M, N, K, alpha, a, ta, lda, sa, b, tb, ldb, sb, beta, out, N, M * N, nb, precision,
                a_ptr=_ptr(a) + int(offs_a[0]) * a.itemsize, b_ptr=_ptr(b) + int(offs_b[0]) * b.itemsize)
        return
    for i in range(nb):
        _launch(M, N, K, alpha, a, ta, lda, 0, b, tb, ldb, 0, beta, out, N, 0, 1, precision,
                a_ptr=_ptr(a) + int(offs_a[i]) * a.itemsize, b_ptr=_ptr(b) + int(offs_b[i]) * b.itemsize,
                c_ptr=_ptr(out) + i * M * N * out.itemsize)


# ---- pooling (geometry tuple of ops/pool.py: planes, H, W, P, Q, kh, kw, sh, sw, ph, pw, dh, dw, cip) ---

def max_pool2d_forward(x, out, idx, geom):
    planes, H, W, P, Q, kh, kw, sh, sw, ph, pw, dh, dw, _ = geom
    if idx is None:
        idx = _empty(out.shape, np.int64)
    _k().max_pool2d_forward(_code(x.dtype), 1, planes, H, W, P, Q, kh, kw, sh, sw, ph, pw, dh, dw, _ptr(x),
                            _ptr(out), _ptr(idx), _stream())


def max_pool2d_backward(g, idx, gx, planes, HW, PQ):
    """Returns the count of indices outside [0, HW), like the CPU kernel (the device kernel
    skips them; counting them is one reduction and one device-to-host copy)."""
    _k().max_pool2d_backward(_code(g.dtype), planes, HW, PQ, _ptr(g), _ptr(idx), _ptr(gx), _stream())
    return int(((idx < 0) | (idx >= HW)).sum())


def avg_pool2d_forward(x, out, geom):
    planes, H, W, P, Q, kh, kw, sh, sw, ph, pw, _, _, cip = geom
    _k().avg_pool2d_forward(_code(x.dtype), 1, planes, H, W, P, Q, kh, kw, sh, sw, ph, pw, cip, _ptr(x), _ptr(out),
                            _stream())


def avg_pool2d_backward(g, gx, geom):
    planes, H, W, P, Q, kh, kw, sh, sw, ph, pw, _, _, cip = geom
    _k().avg_pool2d_backward(_code(g.dtype), 1, planes, H, W, P, Q, kh, kw, sh, sw, ph, pw, cip, _ptr(g), _ptr(gx),
                             _stream())


def adaptive_avg_pool2d_forward(x, out, planes, H, W, P, Q):
    _k().adaptive_avg_pool2d_forward(_code(x.dtype), planes, H, W, P, Q, _ptr(x), _ptr(out), _stream())


def adaptive_avg_pool2d_backward(g, gx, planes, H, W, P, Q):
    _k().adaptive_avg_pool2d_backward(_code(g.dtype), planes, H, W, P, Q, _ptr(g), _ptr(gx), _stream())


# ---- softmax, cross-entropy (the kernels walk rows: a middle axis is moved last) -------

def _rows(a, outer, L, inner):
    if inner == 1:
        return a
    return _c(_cp().moveaxis(a.reshape(outer, L, inner), 1, -1))


def _unrows(r, out, outer, L, inner):
    if r is not out:
        _cp().copyto(out, _cp().moveaxis(r, -1, 1).reshape(out.shape))


def softmax_forward(x, out, outer, L, inner, log):
    xr = _rows(x, outer, L, inner)
    yr = out if inner == 1 else _empty(xr.shape, out.dtype)
    _k().softmax_forward(_code(x.dtype), outer * inner, L, _ptr(xr), _ptr(yr), bool(log), _stream())
    _unrows(yr, out, outer, L, inner)


def softmax_backward(g, y, out, outer, L, inner, log):
    gr, yr = _rows(g, outer, L, inner), _rows(y, outer, L, inner)
    xr = out if inner == 1 else _empty(gr.shape, out.dtype)
    _k().softmax_backward(_code(g.dtype), outer * inner, L, _ptr(gr), _ptr(yr), _ptr(xr), bool(log), _stream())
    _unrows(xr, out, outer, L, inner)


def cross_entropy_forward(logits, target, loss, eps):
    N, C = logits.shape
    _k().cross_entropy_forward(_code(logits.dtype), N, C, _ptr(logits), _ptr(target), float(eps), 0, _ptr(loss),
                               _ptr(loss), _stream())


def cross_entropy_backward(logits, target, gscale, stride, out, eps):
    N, C = logits.shape
    _k().cross_entropy_backward(_code(logits.dtype), N, C, _ptr(gscale), int(stride), 1.0, _ptr(logits),
                                _ptr(target), float(eps), _ptr(out), _stream())


# ---- activations ------------------------------------------------------------------------

def act_forward(x, out, act, slope):
    _k().bias_act_forward(_code(x.dtype), x.size, 1, 1, _ptr(x), 0, _ptr(out), act, float(slope), _stream())


def act_backward(g, v, out, act, slope):
    _k().act_backward(_code(g.dtype), g.size, _ptr(g), _ptr(v), _ptr(out), act, float(slope), _stream())


def bias_act(x, bias, out, outer, C, inner, act, slope):
    _k().bias_act_forward(_code(x.dtype), x.size, max(C, 1), max(inner, 1), _ptr(x), _ptr(bias), _ptr(out), act,
                          float(slope), _stream())


def ready(a, dtype):
    """`a` as `dtype` in a layout the kernels above read in place (a copy only when needed)."""
    if a.dtype != dtype:
        a = a.astype(dtype)
    if a.ndim < 2:
        return _c(a)
    it = a.itemsize
    if _layout(a.shape[-2:], a.strides[-2:], it) is None or any(s < 0 or s % it for s in a.strides[:-2]):
        return _c(a)
    return a

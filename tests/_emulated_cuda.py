"""A host-memory stand-in for CuPy and the `_cuda` kernels, for machines without a GPU.

It checks the *Python layer* on CuPy arrays: nnkernels.ops and its CUDA backend
nnkernels._cuda_ops (the pointers, leading dimensions, transposes, batch strides and
shapes it hands to the kernels), Tensors and Modules moved to 'cuda', and
the GPU tests themselves: `EmuArray` is a NumPy array that passes for a CuPy array (and
behaves like one where NumPy differs: 0-d device results, NumPy arrays refused in its
math; `np.asarray` on it, which CuPy refuses, still goes through), and
`EmuKernels` implements every `_cuda` binding in float64 NumPy, reading and writing
memory through the raw pointers and element strides exactly as the CUDA kernels are
told to. It says nothing about the CUDA kernels; those need a GPU.
"""
from __future__ import annotations

import ctypes
import math
import types

import numpy as np

DTYPES = {0: np.dtype(np.float32), 1: np.dtype(np.float64), 2: np.dtype(np.float16)}
try:  # bfloat16 (code 3) exists where ml_dtypes does, as in nnkernels._cuda_ops
    import ml_dtypes

    DTYPES[3] = np.dtype(ml_dtypes.bfloat16)
except ImportError:
    pass


class EmuArray(np.ndarray):
    """A NumPy array that looks like a cupy.ndarray to nnkernels (module name, .data.ptr, .device)."""

    __module__ = "cupy._emulated"

    @property
    def data(self):
        return types.SimpleNamespace(ptr=self.__array_interface__["data"][0])

    @property
    def device(self):
        return types.SimpleNamespace(id=0)

    # CuPy's semantics where NumPy's differ: results (reductions, scalars taken by indexing,
    # NumPy functions called on CuPy arrays, which CuPy runs) are arrays on the device, and a
    # NumPy array mixed into a computation is a TypeError, so a host array handed to
    # device code fails here as it would on a GPU.
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        checked = inputs[:1] + inputs[2:] if method == "at" else inputs  # CuPy takes NumPy indices
        _refuse_host_arrays(ufunc.__name__, checked + tuple(kwargs.get("out", ())))
        out = kwargs.get("out")
        if out:
            kwargs["out"] = tuple(_host_view(o) for o in out)
        r = getattr(ufunc, method)(*[_host_view(a) for a in inputs], **kwargs)
        if out:
            return out[0] if len(out) == 1 else out
        return _device(r)

    def __array_function__(self, func, types, args, kwargs):
        _refuse_host_arrays(func.__name__, args)
        host = [[_host_view(v) for v in a] if isinstance(a, (list, tuple)) else _host_view(a) for a in args]
        return _device(func(*host, **{k: _host_view(v) for k, v in kwargs.items()}))

    def __getitem__(self, key):
        return _device(super().__getitem__(key))

    def get(self):
        """cupy.ndarray.get: a NumPy copy on the host."""
        return np.array(self).view(np.ndarray)


def _host_view(a):
    return a.view(np.ndarray) if isinstance(a, EmuArray) else a


def _device(r):
    """A result as CuPy gives it: arrays (0-d for scalars) on the device."""
    if isinstance(r, (tuple, list)):
        return type(r)(_device(v) for v in r)
    if isinstance(r, np.ndarray) and not isinstance(r, EmuArray):
        return r.view(EmuArray)
    if isinstance(r, np.generic):
        return np.asarray(r).view(EmuArray)
    return r


def _refuse_host_arrays(name, args):
    """TypeError for a NumPy array (not 0-d) among `args` (and the lists in them), as CuPy raises."""
    for a in args:
        for v in (a if isinstance(a, (list, tuple)) else (a,)):
            if type(v) is np.ndarray and v.ndim:
                raise TypeError(f"{name}: a NumPy array {v.shape} mixed with (emulated) CuPy arrays; "
                                "move it to the device first")


def _emu(a):
    return np.asarray(a).view(EmuArray)


class _EmuCupy(types.SimpleNamespace):
    """The names below; any other attribute is NumPy's, its functions giving device arrays
    (zeros_like, sqrt, swapaxes, eye, arange, ...)."""

    def __getattr__(self, name):
        a = getattr(np, name)
        if callable(a) and not isinstance(a, (type, np.ufunc)):  # cupy.eye, cupy.arange, ...: on the device
            return lambda *args, **kwargs: _device(a(*args, **kwargs))
        return a


def make_cupy():
    """A module-like namespace with the CuPy functions nnkernels and the tests use."""
    stream = types.SimpleNamespace(ptr=0, synchronize=lambda: None)
    cuda = types.SimpleNamespace(get_current_stream=lambda: stream, Device=lambda *a: types.SimpleNamespace(id=0))
    return _EmuCupy(
        __name__="cupy(emulated)", cuda=cuda, ndarray=EmuArray,
        float16=np.float16, float32=np.float32, float64=np.float64, int32=np.int32, int64=np.int64, nan=np.nan,
        empty=lambda shape, dtype=np.float32: _emu(np.empty(shape, dtype)),
        zeros=lambda shape, dtype=np.float32: _emu(np.zeros(shape, dtype)),
        ones=lambda shape, dtype=np.float32: _emu(np.ones(shape, dtype)),
        full=lambda shape, fill, dtype=None: _emu(np.full(shape, fill, dtype)),
        asarray=lambda a, dtype=None: _emu(np.array(a, dtype, copy=True) if not isinstance(a, EmuArray)
                                           else np.asarray(a, dtype)),
        ascontiguousarray=lambda a: _emu(np.ascontiguousarray(a)),
        moveaxis=lambda a, s, d: np.moveaxis(a, s, d),
        broadcast_to=lambda a, shape: np.broadcast_to(a, shape, subok=True),
        copyto=np.copyto, shares_memory=np.shares_memory,
        asnumpy=lambda a: np.array(a).view(np.ndarray),
    )


def _view(ptr, dtype, shape, strides):
    """A NumPy view of memory at address `ptr` (element strides)."""
    dt = np.dtype(dtype)
    shape = tuple(int(s) for s in shape)
    if any(n == 0 for n in shape):
        return np.zeros(shape, dt)
    assert ptr != 0, "null pointer handed to a kernel"
    assert all(s >= 0 for s in strides), f"negative stride {strides}"
    span = sum((n - 1) * s for n, s in zip(shape, strides)) + 1
    buf = (ctypes.c_char * (span * dt.itemsize)).from_address(ptr)
    return np.ndarray(shape, dt, buffer=buf, strides=tuple(int(s) * dt.itemsize for s in strides))


def _contig(ptr, dtype, shape):
    shape = tuple(int(s) for s in shape)
    strides, acc = [], 1
    for n in reversed(shape):
        strides.append(acc)
        acc *= max(n, 1)
    return _view(ptr, dtype, shape, tuple(reversed(strides)))


def _pool_windows(H, W, OH, OW, kh, kw, sh, sw, ph, pw):
    for oh in range(OH):
        for ow in range(OW):
            yield oh, ow, oh * sh - ph, ow * sw - pw


class EmuKernels:
    """Every `_cuda` binding, in NumPy, through raw pointers."""

    architectures = "emulated"

    def device_count(self):
        return 1

    def device_name(self, index):
        return "emulated GPU"

    # -- GEMM
    def _gemm(self, din, dout, M, N, K, alpha, A, lda, ta, sa, B, ldb, tb, sb, beta, C, ldc, sc, batch, stream):
        if M <= 0 or N <= 0 or batch <= 0:
            return
        assert lda >= max(1, M if ta else K) and ldb >= max(1, K if tb else N) and ldc >= N, (lda, ldb, ldc)
        for b in range(batch):
            a = _view(A + b * sa * din.itemsize, din, (K, M) if ta else (M, K), (lda, 1))
            bb = _view(B + b * sb * din.itemsize, din, (N, K) if tb else (K, N), (ldb, 1))
            c = _view(C + b * sc * dout.itemsize, dout, (M, N), (ldc, 1))
            r = alpha * ((a.T if ta else a).astype(np.float64) @ (bb.T if tb else bb).astype(np.float64))
            if beta != 0:
                r += beta * c.astype(np.float64)
            c[...] = r

    def gemm_simt(self, dtype, *args):
        self._gemm(DTYPES[dtype], DTYPES[dtype], *args)

    gemm_reference = gemm_simt

    def gemm_tensorcore(self, din, dout, *args):
        self._gemm(DTYPES[din], DTYPES[dout], *args)

    # -- pooling
    def max_pool2d_forward(self, dtype, N, C, H, W, OH, OW, kh, kw, sh, sw, ph, pw, dh, dw, x, y, idx, stream):
        if N * C * OH * OW == 0:
            return
        dt = DTYPES[dtype]
        xv = _contig(x, dt, (N, C, H, W)).astype(np.float64)
        yv, iv = _contig(y, dt, (N, C, OH, OW)), _contig(idx, np.int64, (N, C, OH, OW))
        best = np.full((N, C, OH, OW), -np.inf)
        bi = np.full((N, C, OH, OW), -1, np.int64)
        for oh, ow, h0, w0 in _pool_windows(H, W, OH, OW, kh, kw, sh, sw, ph, pw):
            for i in range(kh):
                for j in range(kw):
                    h, w = h0 + i * dh, w0 + j * dw
                    if 0 <= h < H and 0 <= w < W:
                        v = xv[:, :, h, w]
                        take = (bi[:, :, oh, ow] < 0) | (v > best[:, :, oh, ow])
                        best[:, :, oh, ow] = np.where(take, v, best[:, :, oh, ow])
                        bi[:, :, oh, ow] = np.where(take, h * W + w, bi[:, :, oh, ow])
        yv[...] = best
        iv[...] = bi

    def max_pool2d_backward(self, dtype, NC, HW, OHW, gy, idx, gx, stream):
        dt = DTYPES[dtype]
        out = np.zeros((NC, HW))
        if NC * OHW:
            g = _contig(gy, dt, (NC, OHW)).astype(np.float64)
            ii = _contig(idx, np.int64, (NC, OHW))
            for r in range(NC):
                keep = (ii[r] >= 0) & (ii[r] < HW)  # the kernel skips out-of-range indices
                np.add.at(out[r], ii[r][keep], g[r][keep])
        if NC * HW:
            _contig(gx, dt, (NC, HW))[...] = out

    def _avg(self, N, C, H, W, OH, OW, kh, kw, sh, sw, ph, pw, cip):
        for oh, ow, h0, w0 in _pool_windows(H, W, OH, OW, kh, kw, sh, sw, ph, pw):
            h1, w1 = min(h0 + kh, H + ph), min(w0 + kw, W + pw)
            pool = (h1 - h0) * (w1 - w0)
            h0, w0, h1, w1 = max(h0, 0), max(w0, 0), min(h1, H), min(w1, W)
            yield oh, ow, h0, h1, w0, w1, pool if cip else (h1 - h0) * (w1 - w0)

    def avg_pool2d_forward(self, dtype, N, C, H, W, OH, OW, kh, kw, sh, sw, ph, pw, cip, x, y, stream):
        if N * C * OH * OW == 0:
            return
        dt = DTYPES[dtype]
        xv, yv = _contig(x, dt, (N, C, H, W)).astype(np.float64), _contig(y, dt, (N, C, OH, OW))
        for oh, ow, h0, h1, w0, w1, div in self._avg(N, C, H, W, OH, OW, kh, kw, sh, sw, ph, pw, cip):
            yv[:, :, oh, ow] = xv[:, :, h0:h1, w0:w1].sum(axis=(2, 3)) / div

    def avg_pool2d_backward(self, dtype, N, C, H, W, OH, OW, kh, kw, sh, sw, ph, pw, cip, gy, gx, stream):
        if N * C * H * W == 0:
            return
        dt = DTYPES[dtype]
        g, out = _contig(gy, dt, (N, C, OH, OW)).astype(np.float64), np.zeros((N, C, H, W))
        for oh, ow, h0, h1, w0, w1, div in self._avg(N, C, H, W, OH, OW, kh, kw, sh, sw, ph, pw, cip):
            out[:, :, h0:h1, w0:w1] += g[:, :, oh, ow, None, None] / div
        _contig(gx, dt, (N, C, H, W))[...] = out

    @staticmethod
    def _adaptive(H, W, OH, OW):
        for oh in range(OH):
            for ow in range(OW):
                yield oh, ow, oh * H // OH, -(-(oh + 1) * H // OH), ow * W // OW, -(-(ow + 1) * W // OW)

    def adaptive_avg_pool2d_forward(self, dtype, NC, H, W, OH, OW, x, y, stream):
        if NC * OH * OW == 0:
            return
        dt = DTYPES[dtype]
        xv, yv = _contig(x, dt, (NC, H, W)).astype(np.float64), _contig(y, dt, (NC, OH, OW))
        for oh, ow, h0, h1, w0, w1 in self._adaptive(H, W, OH, OW):
            yv[:, oh, ow] = xv[:, h0:h1, w0:w1].mean(axis=(1, 2))

    def adaptive_avg_pool2d_backward(self, dtype, NC, H, W, OH, OW, gy, gx, stream):
        if NC * H * W == 0:
            return
        dt = DTYPES[dtype]
        g, out = _contig(gy, dt, (NC, OH, OW)).astype(np.float64), np.zeros((NC, H, W))
        for oh, ow, h0, h1, w0, w1 in self._adaptive(H, W, OH, OW):
            out[:, h0:h1, w0:w1] += g[:, oh, ow, None, None] / ((h1 - h0) * (w1 - w0))
        _contig(gx, dt, (NC, H, W))[...] = out

    # -- softmax / cross-entropy
    def softmax_forward(self, dtype, R, L, x, y, log, stream):
        if R * L == 0:
            return
        dt = DTYPES[dtype]
        xv = _contig(x, dt, (R, L)).astype(np.float64)
        m = xv.max(axis=1, keepdims=True)
        lse = m + np.log(np.exp(xv - m).sum(axis=1, keepdims=True))
        _contig(y, dt, (R, L))[...] = xv - lse if log else np.exp(xv - lse)

    def softmax_backward(self, dtype, R, L, gy, y, gx, log, stream):
        if R * L == 0:
            return
        dt = DTYPES[dtype]
        g, yv = _contig(gy, dt, (R, L)).astype(np.float64), _contig(y, dt, (R, L)).astype(np.float64)
        if log:
            r = g - np.exp(yv) * g.sum(axis=1, keepdims=True)
        else:
            r = yv * (g - (g * yv).sum(axis=1, keepdims=True))
        _contig(gx, dt, (R, L))[...] = r

    def cross_entropy_forward(self, dtype, N, C, logits, target, eps, reduction, row_loss, out, stream):
        dt = DTYPES[dtype]
        loss = np.zeros(N)
        if N * C:
            xv = _contig(logits, dt, (N, C)).astype(np.float64)
            t = _contig(target, np.int64, (N,))
            m = xv.max(axis=1)
            lse = m + np.log(np.exp(xv - m[:, None]).sum(axis=1))
            loss = lse - (1 - eps) * xv[np.arange(N), t] - eps / C * xv.sum(axis=1)
            _contig(row_loss, dt, (N,))[...] = loss
        if reduction:
            s = loss.sum()
            _contig(out, dt, (1,))[0] = (s / N if N else math.nan) if reduction == 1 else s

    def cross_entropy_backward(self, dtype, N, C, gout, g_stride, g_scale, logits, target, eps, gx, stream):
        if N * C == 0:
            return
        dt = DTYPES[dtype]
        xv = _contig(logits, dt, (N, C)).astype(np.float64)
        t = _contig(target, np.int64, (N,))
        g = _view(gout, dt, (N,), (g_stride,)).astype(np.float64) * g_scale
        p = np.exp(xv - xv.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        tgt = np.full((N, C), eps / C)
        tgt[np.arange(N), t] += 1 - eps
        _contig(gx, dt, (N, C))[...] = g[:, None] * (p - tgt)

    # -- elementwise
    @staticmethod
    def _act(v, act, slope):
        erf = np.vectorize(math.erf, otypes=[np.float64])
        k = math.sqrt(2 / math.pi)
        return [lambda: v, lambda: np.maximum(v, 0), lambda: np.where(v > 0, v, slope * v),
                lambda: 1 / (1 + np.exp(-v)), lambda: np.tanh(v),
                lambda: 0.5 * v * (1 + erf(v / math.sqrt(2))),
                lambda: 0.5 * v * (1 + np.tanh(k * (v + 0.044715 * v ** 3))),
                lambda: v / (1 + np.exp(-v))][act]()

    @staticmethod
    def _grad(t, act, slope):
        erf = np.vectorize(math.erf, otypes=[np.float64])
        k, c = math.sqrt(2 / math.pi), 0.044715
        if act == 5:
            return 0.5 * (1 + erf(t / math.sqrt(2))) + t * np.exp(-0.5 * t * t) / math.sqrt(2 * math.pi)
        if act == 6:
            th = np.tanh(k * (t + c * t ** 3))
            return 0.5 * (1 + th) + 0.5 * t * (1 - th * th) * k * (1 + 3 * c * t * t)
        if act == 7:
            s = 1 / (1 + np.exp(-t))
            return s * (1 + t * (1 - s))
        return [lambda: np.ones_like(t), lambda: (t > 0) * 1.0, lambda: np.where(t > 0, 1.0, slope),
                lambda: t * (1 - t), lambda: 1 - t * t][act]()

    def bias_act_forward(self, dtype, n, C, inner, x, bias, y, act, slope, stream):
        if n <= 0:
            return
        dt = DTYPES[dtype]
        xv = _contig(x, dt, (n,)).astype(np.float64)
        if bias:
            xv = xv + _contig(bias, dt, (C,)).astype(np.float64)[(np.arange(n) // inner) % C]
        _contig(y, dt, (n,))[...] = self._act(xv, act, slope)

    def act_backward(self, dtype, n, gy, t, gx, act, slope, stream):
        if n <= 0:
            return
        dt = DTYPES[dtype]
        tv = _contig(t, dt, (n,)).astype(np.float64)
        _contig(gx, dt, (n,))[...] = _contig(gy, dt, (n,)).astype(np.float64) * self._grad(tv, act, slope)

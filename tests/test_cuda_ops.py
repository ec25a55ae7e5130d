"""The CUDA kernels (cuda/*.cu) through nnkernels.ops on CuPy arrays (the CUDA backend,
nnkernels._cuda_ops), against float64 NumPy references.

The first tests (the `_cuda` extension itself) run wherever it was built. Everything in
TestOnGPU needs a usable GPU (`nk.cuda.is_available()`: `_cuda` built, a device, CuPy)
and is skipped otherwise. Outputs are poisoned (NaN, or -7 for integers) before every
kernel runs, so an element a kernel forgets to write fails the comparison.
Tolerances (relative to the largest reference value): fp32 1e-5, tf32 1e-3, bf16/fp16
1e-2, fp64 1e-12.
"""
import math

import numpy as np
import pytest

import nnkernels as nk
from nnkernels import _C
from nnkernels import _cuda_ops as cuda_backend
from nnkernels import ops
from helpers import check_op

EXPECTED_BINDINGS = [
    "device_count", "device_name", "runtime_version", "driver_version", "saxpy",
    "gemm_simt", "gemm_reference", "gemm_tensorcore",
    "max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward",
    "adaptive_avg_pool2d_forward", "adaptive_avg_pool2d_backward",
    "softmax_forward", "softmax_backward", "cross_entropy_forward", "cross_entropy_backward",
    "bias_act_forward", "act_backward",
]


def _ext():
    try:
        from nnkernels import _cuda
    except ImportError as e:
        pytest.skip(f"the _cuda extension is not built here ({e})")
    return _cuda


# ---- the extension: runs without a GPU --------------------------------------------------------

def test_extension_exposes_every_binding():
    m = _ext()
    missing = [n for n in EXPECTED_BINDINGS if not callable(getattr(m, n, None))]
    assert not missing, f"_cuda lacks {missing}"
    for n in EXPECTED_BINDINGS:
        assert getattr(m, n).__doc__, f"{n} has no docstring"


def test_binding_without_device_raises_runtime_error():
    m = _ext()
    if m.device_count() > 0:
        pytest.skip("a CUDA device is present: the no-device error path cannot be exercised")
    calls = [
        lambda: m.gemm_simt(0, 4, 4, 4, 1.0, 0, 4, False, 0, 0, 4, False, 0, 0.0, 0, 4, 0, 1, 0),
        lambda: m.gemm_tensorcore(3, 0, 4, 4, 4, 1.0, 0, 4, False, 0, 0, 4, False, 0, 0.0, 0, 4, 0, 1, 0),
        lambda: m.softmax_forward(0, 3, 5, 0, 0, False, 0),
        lambda: m.max_pool2d_forward(0, 1, 1, 4, 4, 2, 2, 2, 2, 2, 2, 0, 0, 1, 1, 0, 0, 0, 0),
        lambda: m.bias_act_forward(0, 10, 1, 1, 0, 0, 0, 1, 0.01, 0),
    ]
    for call in calls:
        with pytest.raises(RuntimeError):
            call()


def test_binding_rejects_bad_codes():
    m = _ext()
    with pytest.raises(ValueError):
        m.softmax_forward(9, 3, 5, 0, 0, False, 0)
    with pytest.raises(ValueError):
        m.bias_act_forward(0, 10, 1, 1, 0, 0, 0, 42, 0.01, 0)


def test_emulator_matches_the_real_bindings():
    """tests/_emulated_cuda.py takes exactly the arguments of each real binding, so the
    emulated runs of TestOps also check how many arguments _cuda_ops passes."""
    import inspect
    import re

    import _emulated_cuda as emu

    m = _ext()
    ek = emu.EmuKernels()
    gemm_tail = len(inspect.signature(ek._gemm).parameters) - 2  # M .. stream, without din/dout
    for name in EXPECTED_BINDINGS[5:]:
        head = getattr(m, name).__doc__.splitlines()[0]
        real = re.findall(r"(?:\(|, )(\w+): ", head)
        params = inspect.signature(getattr(ek, name)).parameters
        n_emu = len(params)
        if any(p.kind is p.VAR_POSITIONAL for p in params.values()):  # the gemm entry points
            n_emu = n_emu - 1 + gemm_tail
        assert len(real) == n_emu, f"{name}: binding takes {real}, the emulator {list(params)}"


def test_gpu_bench_exits_cleanly_without_a_gpu():
    import pathlib
    import subprocess
    import sys

    if nk.cuda.is_available():
        pytest.skip("a GPU is present: benchmarks/gpu_bench.py would run the full benchmark")
    script = pathlib.Path(__file__).resolve().parent.parent / "benchmarks" / "gpu_bench.py"
    r = subprocess.run([sys.executable, str(script), "--quick"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "no usable GPU" in r.stdout


def test_cuda_backend_mirrors_the_cpu_kernels():
    # importing nnkernels._cuda_ops never needs CuPy or a GPU; every kernel entry it has takes
    # the name (and the arguments) of the CPU kernel nnkernels.ops calls for NumPy arrays
    import inspect

    table = [n for n, f in vars(cuda_backend).items() if inspect.isfunction(f) and not n.startswith("_")
             and f.__module__ == cuda_backend.__name__ and n not in ("gemm_dtypes", "ready")]
    assert len(table) >= 14
    missing = [n for n in table if not hasattr(_C, n)]
    assert not missing, f"_cuda_ops entries without a CPU kernel of that name: {missing}"


# ---- references (float64 NumPy) ---------------------------------------------------------------

TOL = {"float32": 1e-5, "float64": 1e-12, "tf32": 1e-3, "float16": 1e-2, "bfloat16": 1e-2}


def out_size(L, k, s, p, d, ceil_mode):
    num = L + 2 * p - d * (k - 1) - 1
    o = (-(-num // s) if ceil_mode else num // s) + 1
    if ceil_mode and (o - 1) * s >= L + p:
        o -= 1
    return o


def ref_max_pool(x, k, s, p, d, ceil_mode):
    N, C, H, W = x.shape
    OH, OW = out_size(H, k, s, p, d, ceil_mode), out_size(W, k, s, p, d, ceil_mode)
    y = np.full((N, C, OH, OW), -np.inf)
    idx = np.zeros((N, C, OH, OW), np.int64)
    for oh in range(OH):
        for ow in range(OW):
            for i in range(k):
                h = oh * s - p + i * d
                if not 0 <= h < H:
                    continue
                for j in range(k):
                    w = ow * s - p + j * d
                    if not 0 <= w < W:
                        continue
                    v = x[:, :, h, w]
                    better = v > y[:, :, oh, ow]
                    y[:, :, oh, ow] = np.where(better, v, y[:, :, oh, ow])
                    idx[:, :, oh, ow] = np.where(better, h * W + w, idx[:, :, oh, ow])
    return y, idx


def ref_max_pool_backward(g, idx, shape):
    N, C, H, W = shape
    gx = np.zeros((N * C, H * W))
    gf, jf = g.reshape(N * C, g.shape[2] * g.shape[3]), idx.reshape(N * C, g.shape[2] * g.shape[3])
    for r in range(N * C):
        np.add.at(gx[r], jf[r], gf[r])
    return gx.reshape(shape)


def avg_windows(H, W, k, s, p, ceil_mode, cip):
    OH, OW = out_size(H, k, s, p, 1, ceil_mode), out_size(W, k, s, p, 1, ceil_mode)
    for oh in range(OH):
        for ow in range(OW):
            h0, w0 = oh * s - p, ow * s - p
            h1, w1 = min(h0 + k, H + p), min(w0 + k, W + p)
            pool = (h1 - h0) * (w1 - w0)
            h0, w0, h1, w1 = max(h0, 0), max(w0, 0), min(h1, H), min(w1, W)
            yield oh, ow, h0, h1, w0, w1, (pool if cip else (h1 - h0) * (w1 - w0))


def ref_avg_pool(x, k, s, p, ceil_mode, cip):
    N, C, H, W = x.shape
    OH, OW = out_size(H, k, s, p, 1, ceil_mode), out_size(W, k, s, p, 1, ceil_mode)
    y = np.zeros((N, C, OH, OW))
    for oh, ow, h0, h1, w0, w1, div in avg_windows(H, W, k, s, p, ceil_mode, cip):
        y[:, :, oh, ow] = x[:, :, h0:h1, w0:w1].sum(axis=(2, 3)) / div
    return y


def ref_avg_pool_backward(g, shape, k, s, p, ceil_mode, cip):
    gx = np.zeros(shape)
    for oh, ow, h0, h1, w0, w1, div in avg_windows(shape[2], shape[3], k, s, p, ceil_mode, cip):
        gx[:, :, h0:h1, w0:w1] += g[:, :, oh, ow, None, None] / div
    return gx


def adaptive_windows(H, W, OH, OW):
    for oh in range(OH):
        for ow in range(OW):
            yield (oh, ow, oh * H // OH, -(-(oh + 1) * H // OH), ow * W // OW, -(-(ow + 1) * W // OW))


def ref_adaptive(x, OH, OW):
    y = np.zeros(x.shape[:2] + (OH, OW))
    for oh, ow, h0, h1, w0, w1 in adaptive_windows(x.shape[2], x.shape[3], OH, OW):
        y[:, :, oh, ow] = x[:, :, h0:h1, w0:w1].mean(axis=(2, 3))
    return y


def ref_adaptive_backward(g, shape):
    gx = np.zeros(shape)
    OH, OW = g.shape[2:]
    for oh, ow, h0, h1, w0, w1 in adaptive_windows(shape[2], shape[3], OH, OW):
        gx[:, :, h0:h1, w0:w1] += g[:, :, oh, ow, None, None] / ((h1 - h0) * (w1 - w0))
    return gx


def ref_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def ref_log_softmax(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


def ref_cross_entropy(x, t, reduction, eps):
    N, C = x.shape
    lp = ref_log_softmax(x, 1)
    loss = -(1 - eps) * lp[np.arange(N), t] - eps / C * lp.sum(axis=1)
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


def ref_cross_entropy_backward(g, x, t, reduction, eps):
    N, C = x.shape
    p = ref_softmax(x, 1)
    target = np.full((N, C), eps / C)
    target[np.arange(N), t] += 1 - eps
    gi = np.broadcast_to(np.asarray(g, np.float64), (N,)) if reduction != "none" else g
    if reduction == "mean":
        gi = gi / N
    return gi[:, None] * (p - target)


def _erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x)


ACTS = {
    None: (lambda v: v, None),
    "relu": (lambda v: np.maximum(v, 0), lambda x, y: (x > 0).astype(np.float64)),
    "leaky_relu": (lambda v: np.where(v > 0, v, 0.1 * v), lambda x, y: np.where(x > 0, 1.0, 0.1)),
    "sigmoid": (lambda v: 1 / (1 + np.exp(-v)), lambda x, y: y * (1 - y)),
    "tanh": (np.tanh, lambda x, y: 1 - y * y),
    "gelu": (lambda v: 0.5 * v * (1 + _erf(v / math.sqrt(2))),
             lambda x, y: 0.5 * (1 + _erf(x / math.sqrt(2))) + x * np.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)),
}


def gelu_tanh(v):
    return 0.5 * v * (1 + np.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v ** 3)))


def gelu_tanh_grad(x):
    k, c = math.sqrt(2 / math.pi), 0.044715
    th = np.tanh(k * (x + c * x ** 3))
    return 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * k * (1 + 3 * c * x * x)


# ---- the CUDA ops on a GPU --------------------------------------------------------------------

# "cuda": the real kernels through CuPy (needs a GPU). "emulated": tests/_emulated_cuda.py
# stands in for CuPy and `_cuda` (NumPy through raw pointers), so that the Python layer's
# pointers, strides, transposes and shapes -- and these tests -- are exercised on any machine.
MODES = (["cuda"] if nk.cuda.is_available() else []) + ["emulated"]


def test_cuda_kernels_need_a_gpu():
    if not nk.cuda.is_available():
        pytest.skip("no usable GPU (needs the _cuda extension, a CUDA device and driver, and CuPy): the CUDA "
                    "kernel checks (TestOps[cuda]) are owed on a GPU machine; only TestOps[emulated] ran")


@pytest.fixture(params=MODES)
def cp(request, monkeypatch):
    if request.param == "cuda":
        import cupy as mod
    else:
        import _emulated_cuda as emu

        mod = emu.make_cupy()
        kernels = emu.EmuKernels()
        monkeypatch.setattr(cuda_backend, "_cp", lambda: mod)
        monkeypatch.setattr(cuda_backend, "_k", lambda: kernels)

    def poisoned(shape, dtype):
        dt = np.dtype(dtype)
        fill = -7 if dt.kind in "iu" else np.nan
        return mod.full(shape, fill, dtype=dt)

    monkeypatch.setattr(cuda_backend, "_empty", poisoned)
    cuda_backend._bf16.cache_clear()
    yield mod
    mod.cuda.get_current_stream().synchronize()
    cuda_backend._bf16.cache_clear()


def _bf16_dtype():
    return cuda_backend._bf16()


def on_gpu(inputs, ours, ref, tol, **kw):
    """helpers.check_op on the device the `cp` fixture set up (the GPU or the emulator, outputs
    poisoned), forward only: `ours` takes and returns device arrays, `ref` float64 NumPy ones."""
    check_op(inputs, ours, ref=ref, grad=False, arrays=True, tol=tol, devices=("cuda",), **kw)


class TestOps:
    # -- GEMM ----------------------------------------------------------------------------------
    SIZES = [(1, 1, 1), (7, 13, 5), (127, 129, 65), (128, 128, 8), (257, 131, 300), (64, 1, 33), (3, 517, 9),
             (200, 64, 0)]

    @pytest.mark.parametrize("M,N,K", SIZES)
    @pytest.mark.parametrize("trans_a", [False, True])
    @pytest.mark.parametrize("trans_b", [False, True])
    @pytest.mark.parametrize("kind", ["float32", "tf32", "float64"])
    def test_gemm_fp32_tf32_fp64(self, cp, rng, M, N, K, trans_a, trans_b, kind):
        dt = np.float64 if kind == "float64" else np.float32
        a = rng.standard_normal((K, M) if trans_a else (M, K)).astype(dt)
        b = rng.standard_normal((N, K) if trans_b else (K, N)).astype(dt)
        c = rng.standard_normal((M, N)).astype(dt)
        on_gpu([a, b, c], lambda a, b, c: ops.gemm(a, b, c, alpha=1.5, beta=-0.5, trans_a=trans_a, trans_b=trans_b,
                                                   precision="tf32" if kind == "tf32" else "highest"),
               lambda a, b, c: 1.5 * (a.T if trans_a else a) @ (b.T if trans_b else b) - 0.5 * c, TOL[kind])

    @pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
    @pytest.mark.parametrize("M,N,K", SIZES)
    @pytest.mark.parametrize("trans_a,trans_b", [(False, False), (True, False), (False, True), (True, True)])
    def test_gemm_half_tensor_cores(self, cp, rng, dtype, M, N, K, trans_a, trans_b):
        dt = np.dtype(np.float16) if dtype == "float16" else _bf16_dtype()
        if dt is None:
            pytest.skip("this CuPy has no bfloat16 dtype")
        a = rng.standard_normal((K, M) if trans_a else (M, K)).astype(dt)
        b = rng.standard_normal((N, K) if trans_b else (K, N)).astype(dt)

        def ref(a, b):
            return (a.T if trans_a else a) @ (b.T if trans_b else b)
        on_gpu([a, b], lambda a, b: ops.gemm(a, b, trans_a=trans_a, trans_b=trans_b), ref, TOL[dtype])
        on_gpu([a, b], lambda a, b: ops.gemm(a, b, trans_a=trans_a, trans_b=trans_b, out_dtype=np.float32), ref,
               1e-5, out_dtype=np.float32)  # inputs exact, fp32 accumulation

    @pytest.mark.parametrize("precision", ["highest", "tf32"])
    def test_gemm_strided_and_unaligned_views(self, cp, rng, precision):
        big = rng.standard_normal((301, 263)).astype(np.float32)
        tol = TOL["float32" if precision == "highest" else "tf32"]

        def views(m):  # odd leading dimension and unaligned start; a non-unit column stride (copied)
            return m[1:98, 3:70], m[100:167:1, 5:200:2]

        def into_strided_out(big):
            out = cp.full((98, 200), cp.nan, cp.float32)[1:, 3:101]
            ops.gemm(*views(big), out=out, precision=precision)
            return out
        on_gpu([big], lambda big: ops.matmul(*views(big), precision=precision), lambda big: np.matmul(*views(big)), tol)
        on_gpu([big], into_strided_out, lambda big: np.matmul(*views(big)), tol)

    @pytest.mark.parametrize("sa,sb", [((3, 17, 19), (3, 19, 5)), ((2, 1, 33, 7), (4, 7, 65)), ((5, 9, 4), (4, 6)),
                                       ((11,), (4, 11, 3)), ((2, 3, 8), (8,)), ((0, 4, 5), (5, 6))])
    def test_matmul_batched_broadcast(self, cp, rng, sa, sb):
        a = rng.standard_normal(sa).astype(np.float32)
        b = rng.standard_normal(sb).astype(np.float32)
        on_gpu([a, b], ops.matmul, np.matmul, TOL["float32"])
        on_gpu([a, b], lambda a, b: ops.matmul(a, b, precision="tf32"), np.matmul, TOL["tf32"])

    def test_matmul_batched_transposed_views(self, cp, rng):
        a = rng.standard_normal((6, 40, 30)).astype(np.float32)
        b = rng.standard_normal((6, 50, 40)).astype(np.float32)

        def t(m):  # read in place, transposed: (6,30,40) @ (6,40,50)
            return m.transpose(0, 2, 1)
        on_gpu([a, b], lambda a, b: ops.matmul(t(a), t(b)), lambda a, b: t(a) @ t(b), TOL["float32"])

    @pytest.mark.parametrize("dt", [np.float32, np.float64])
    def test_gemm_reference_kernel(self, cp, rng, dt):
        M, N, K = 37, 29, 41
        a = rng.standard_normal((M, K)).astype(dt)
        b = rng.standard_normal((K, N)).astype(dt)

        def naive(a, b):
            c = cuda_backend._empty((M, N), dt)
            cuda_backend._k().gemm_reference(cuda_backend._code(np.dtype(dt)), M, N, K, 1.0, a.data.ptr, K, False, 0,
                                             b.data.ptr, N, False, 0, 0.0, c.data.ptr, N, 0, 1,
                                             cp.cuda.get_current_stream().ptr)
            return c
        on_gpu([a, b], naive, np.matmul, TOL[np.dtype(dt).name])

    def test_gemm_bad_arguments(self, cp, rng):
        a = cp.ones((3, 4), cp.float32)
        with pytest.raises(ValueError, match="inner"):
            ops.gemm(a, cp.ones((5, 2), cp.float32))
        with pytest.raises(ValueError, match="precision"):
            ops.matmul(a, a.T, precision="fast")
        with pytest.raises(TypeError, match="mix"):
            ops.matmul(a, np.ones((4, 2), np.float32))
        with pytest.raises(TypeError, match="int32"):
            ops.matmul(cp.ones((3, 4), cp.int32), a.T)
        with pytest.raises(ValueError, match="needs c"):
            ops.gemm(a, a.T, beta=1.0)

    # -- pooling ---------------------------------------------------------------------------------
    POOL_CASES = [  # (N, C, H, W, k, s, p, d, ceil)
        (2, 3, 7, 9, 2, 2, 0, 1, False), (1, 1, 1, 1, 1, 1, 0, 1, False), (2, 5, 11, 13, 3, 2, 1, 1, True),
        (3, 2, 17, 10, 3, 1, 1, 2, False), (1, 4, 8, 8, 4, 3, 2, 1, True), (2, 3, 6, 9, 2, None, 0, 1, True),
        (0, 3, 5, 5, 2, 2, 0, 1, False),
    ]

    @pytest.mark.parametrize("case", POOL_CASES)
    @pytest.mark.parametrize("dt", [np.float32, np.float64])
    def test_max_pool2d(self, cp, rng, case, dt):
        N, C, H, W, k, s, p, d, ceil = case
        x = rng.standard_normal((N, C, H, W)).astype(dt)
        g = rng.standard_normal(ref_max_pool(x, k, s or k, p, d, ceil)[0].shape).astype(dt)

        def ours(x, g):  # values, int64 indices (exact) and the backward
            y, idx = ops.max_pool2d(x, k, s, p, d, ceil, return_indices=True)
            return y, idx, ops.max_pool2d_backward(g, idx, x.shape)

        def ref(x, g):
            y, idx = ref_max_pool(x, k, s or k, p, d, ceil)
            return y, idx, ref_max_pool_backward(g, idx, x.shape)
        tol = TOL[np.dtype(dt).name]
        on_gpu([x, g], ours, ref, [tol, None, tol])

    @pytest.mark.parametrize("case", POOL_CASES)
    @pytest.mark.parametrize("cip", [True, False])
    @pytest.mark.parametrize("dt", [np.float32, np.float64])
    def test_avg_pool2d(self, cp, rng, case, cip, dt):
        N, C, H, W, k, s, p, _, ceil = case
        x = rng.standard_normal((N, C, H, W)).astype(dt)
        g = rng.standard_normal(ref_avg_pool(x, k, s or k, p, ceil, cip).shape).astype(dt)
        on_gpu([x, g], lambda x, g: (ops.avg_pool2d(x, k, s, p, ceil, cip),
                                     ops.avg_pool2d_backward(g, x.shape, k, s, p, ceil, cip)),
               lambda x, g: (ref_avg_pool(x, k, s or k, p, ceil, cip),
                             ref_avg_pool_backward(g, x.shape, k, s or k, p, ceil, cip)), TOL[np.dtype(dt).name])

    @pytest.mark.parametrize("shape,osize", [((2, 3, 7, 9), (3, 4)), ((1, 2, 5, 5), 1), ((2, 1, 4, 6), (4, 6)),
                                             ((1, 3, 3, 2), (5, 7)), ((2, 2, 13, 11), (None, 3))])
    @pytest.mark.parametrize("dt", [np.float32, np.float64])
    def test_adaptive_avg_pool2d(self, cp, rng, shape, osize, dt):
        x = rng.standard_normal(shape).astype(dt)
        oh, ow = osize if isinstance(osize, tuple) else (osize, osize)
        oh = shape[2] if oh is None else oh
        g = rng.standard_normal(shape[:2] + (oh, ow)).astype(dt)
        on_gpu([x, g], lambda x, g: (ops.adaptive_avg_pool2d(x, osize), ops.adaptive_avg_pool2d_backward(g, shape)),
               lambda x, g: (ref_adaptive(x, oh, ow), ref_adaptive_backward(g, shape)), TOL[np.dtype(dt).name])

    def test_pool_noncontiguous_and_bad_args(self, cp, rng):
        x = rng.standard_normal((2, 9, 3, 11)).astype(np.float32)
        on_gpu([x], lambda x: ops.max_pool2d(x.transpose(0, 2, 1, 3), 3, 2, 1),  # (2,3,9,11), not contiguous
               lambda x: ref_max_pool(x.transpose(0, 2, 1, 3), 3, 2, 1, 1, False)[0], TOL["float32"])
        x = cp.asarray(x).transpose(0, 2, 1, 3)
        with pytest.raises(ValueError, match="padding"):
            ops.max_pool2d(x, 2, 2, 2)
        with pytest.raises(ValueError, match="4-D"):
            ops.avg_pool2d(x[0, 0], 2)
        y, idx = ops.max_pool2d(x, 2, return_indices=True)
        with pytest.raises(TypeError, match="mix"):
            ops.max_pool2d_backward(y, cp.asnumpy(idx), x.shape)
        bad = cp.asarray(np.full(idx.shape, 99, np.int64))  # outside H*W = 99: refused on both devices
        for g, i in ((y, bad), (cp.asnumpy(y), cp.asnumpy(bad))):
            with pytest.raises(ValueError, match="indices are outside"):
                ops.max_pool2d_backward(g, i, x.shape)

    # -- softmax / cross-entropy -------------------------------------------------------------------
    @pytest.mark.parametrize("shape,axis", [((4, 1), -1), ((3, 5), -1), ((7, 32), 1), ((5, 33), -1), ((2, 1000), -1),
                                            ((3, 2048), -1), ((3, 2049), -1), ((2, 5000), -1), ((4, 6, 5), 1),
                                            ((3, 7, 9), 0), ((0, 5), -1), ((17,), 0)])
    @pytest.mark.parametrize("dt", [np.float32, np.float64])
    @pytest.mark.parametrize("log", [False, True])
    def test_softmax(self, cp, rng, shape, axis, dt, log):
        x = (3 * rng.standard_normal(shape)).astype(dt)
        g = rng.standard_normal(shape).astype(dt)

        def ours(x, g):
            y = (ops.log_softmax if log else ops.softmax)(x, axis=axis)
            return y, (ops.log_softmax_backward if log else ops.softmax_backward)(g, y, axis=axis)

        def ref(x, g):
            if log:
                y = ref_log_softmax(x, axis)
                return y, g - np.exp(y) * g.sum(axis=axis, keepdims=True)
            y = ref_softmax(x, axis)
            return y, y * (g - (g * y).sum(axis=axis, keepdims=True))
        on_gpu([x, g], ours, ref, [TOL[np.dtype(dt).name], 10 * TOL[np.dtype(dt).name]])

    def test_softmax_minus_inf_row(self, cp):
        x = np.array([[-np.inf, 0.0, -np.inf], [1.0, -np.inf, 1.0]], np.float32)
        on_gpu([x], ops.softmax, lambda x: np.array([[0, 1, 0], [0.5, 0, 0.5]]), None, atol=1e-7, rtol=0)

    @pytest.mark.parametrize("N,C", [(1, 1), (7, 10), (33, 3), (5, 3000), (64, 1000), (0, 4)])
    @pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
    @pytest.mark.parametrize("eps", [0.0, 0.1])
    @pytest.mark.parametrize("dt", [np.float32, np.float64])
    def test_cross_entropy(self, cp, rng, N, C, reduction, eps, dt):
        x = (2 * rng.standard_normal((N, C))).astype(dt)
        t = rng.integers(0, C, N)
        if N == 0 and reduction == "mean":  # NaN
            on_gpu([x, t], lambda x, t: ops.cross_entropy(x, t, reduction, eps), lambda x, t: np.nan, None, atol=0,
                   rtol=0)
            return
        g = rng.standard_normal(N).astype(dt) if reduction == "none" else np.asarray(0.7, dt)
        # C = 1: the loss is 0 (errors against 1) and so is the exact gradient: measure it against
        # the gradient's scale |g|/N instead
        scale = float(np.max(np.abs(g), initial=0)) / (N if reduction == "mean" else 1) if N else 1.0
        on_gpu([x, t, g], lambda x, t, g: (ops.cross_entropy(x, t, reduction, eps),
                                           ops.cross_entropy_backward(g, x, t, reduction, eps)),
               lambda x, t, g: (ref_cross_entropy(x, t, reduction, eps),
                                ref_cross_entropy_backward(g, x, t, reduction, eps)),
               10 * TOL[np.dtype(dt).name], floor=[1.0, scale])

    def test_cross_entropy_bad_targets(self, cp):
        x = cp.zeros((3, 4), cp.float32)
        with pytest.raises(ValueError, match="target"):
            ops.cross_entropy(x, cp.asarray([0, 4, 1]))
        with pytest.raises(TypeError, match="target"):
            ops.cross_entropy(x, cp.asarray([0.0, 1.0, 1.0]))
        with pytest.raises(ValueError, match="reduction"):
            ops.cross_entropy(x, cp.asarray([0, 1, 1]), reduction="avg")

    # -- activations ---------------------------------------------------------------------------------
    @pytest.mark.parametrize("activation", [None, "relu", "leaky_relu", "sigmoid", "tanh", "gelu"])
    @pytest.mark.parametrize("shape,axis", [((2, 3, 5, 7), 1), ((9, 13), -1), ((1000, 3), 0), ((0, 4), 1)])
    @pytest.mark.parametrize("dt", [np.float32, np.float64])
    def test_bias_act_and_backward(self, cp, rng, activation, shape, axis, dt):
        x = (2 * rng.standard_normal(shape)).astype(dt)
        b = rng.standard_normal(shape[axis]).astype(dt)
        bshape = [1] * len(shape)
        bshape[axis] = shape[axis]
        f, fgrad = ACTS[activation]
        g = rng.standard_normal(shape).astype(dt)
        tol = TOL[np.dtype(dt).name]
        if activation is None:
            on_gpu([x, b], lambda x, b: ops.bias_act(x, b, None, axis=axis), lambda x, b: x + b.reshape(bshape), tol)
            return

        def ours(x, b, g):
            y = ops.bias_act(x, b, activation, axis=axis, negative_slope=0.1)
            pre = x + b.reshape(bshape)  # in dt, as the kernel adds
            bwd = {"relu": lambda: ops.relu_backward(g, pre),
                   "leaky_relu": lambda: ops.leaky_relu_backward(g, pre, 0.1),
                   "sigmoid": lambda: ops.sigmoid_backward(g, y), "tanh": lambda: ops.tanh_backward(g, y),
                   "gelu": lambda: ops.gelu_backward(g, pre)}[activation]
            return y, bwd()

        def ref(x, b, g):  # the derivative at the pre-activation the kernel sees (rounded to dt)
            pre = (x + b.reshape(bshape)).astype(dt).astype(np.float64)
            return f(x + b.reshape(bshape)), g * fgrad(pre, f(pre))
        on_gpu([x, b, g], ours, ref, [tol, 10 * tol])

    @pytest.mark.parametrize("dt", [np.float32, np.float64])
    def test_plain_activations_and_gelu_tanh(self, cp, rng, dt):
        x = (3 * rng.standard_normal((37, 11))).astype(dt)
        tol = TOL[np.dtype(dt).name]
        on_gpu([x], lambda x: (ops.relu(x[:, ::2]), ops.leaky_relu(x[:, ::2], 0.2), ops.sigmoid(x[:, ::2]),  # strided
                               ops.tanh(x[:, ::2]), ops.gelu(x[:, ::2]), ops.gelu(x[:, ::2], approximate="tanh")),
               lambda x: (np.maximum(x[:, ::2], 0), np.where(x[:, ::2] > 0, x[:, ::2], 0.2 * x[:, ::2]),
                          1 / (1 + np.exp(-x[:, ::2])), np.tanh(x[:, ::2]), ACTS["gelu"][0](x[:, ::2]),
                          gelu_tanh(x[:, ::2])), tol)
        g = rng.standard_normal((37, 6)).astype(dt)
        on_gpu([x, g], lambda x, g: ops.gelu_backward(g, x[:, ::2], approximate="tanh"),
               lambda x, g: g * gelu_tanh_grad(x[:, ::2]), 10 * tol)
        xd = cp.asarray(x)[:, ::2]
        with pytest.raises(ValueError, match="approximate"):
            ops.gelu(xd, approximate="fast")
        with pytest.raises(ValueError, match="bias"):
            ops.bias_act(cp.asarray(x), cp.ones(3, dt), "relu")


def test_ops_dispatch_cupy_inputs_to_cuda_backend(monkeypatch):
    """nk.<op> sends CuPy arrays to the CUDA backend's kernel and NumPy arrays to _C's."""
    import _emulated_cuda as emu

    mod = emu.make_cupy()
    monkeypatch.setattr(cuda_backend, "_cp", lambda: mod)
    monkeypatch.setattr(cuda_backend, "_k", lambda: emu.EmuKernels())
    seen = []
    real = cuda_backend.softmax_forward
    monkeypatch.setattr(cuda_backend, "softmax_forward", lambda *a: seen.append(a[2:]) or real(*a))
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    y = nk.softmax(mod.asarray(x), axis=0)
    assert type(y) is mod.ndarray and seen == [(1, 2, 3, False)]
    np.testing.assert_allclose(mod.asnumpy(y), nk.softmax(x, axis=0), rtol=1e-6)
    assert type(nk.softmax(x)) is np.ndarray and len(seen) == 1
    assert ops.matmul.__name__ == "matmul" and nk.ops.gemm.__doc__
    with pytest.raises(TypeError, match="CuPy"):
        ops.conv2d(mod.asarray(x[None, None]), np.ones((1, 1, 1, 1), np.float32))


@pytest.mark.parametrize("bad", [2.5, "2", (2, 2.0), 0, -1])
def test_cpu_and_cuda_reject_the_same_arguments(monkeypatch, bad):
    """One check for both devices: a float stride (silently truncated on CUDA before) is refused."""
    import _emulated_cuda as emu

    mod = emu.make_cupy()
    monkeypatch.setattr(cuda_backend, "_cp", lambda: mod)
    monkeypatch.setattr(cuda_backend, "_k", lambda: emu.EmuKernels())
    x = np.ones((1, 2, 6, 6), np.float32)
    msgs = []
    for arr in (x, mod.asarray(x)):
        for f in (ops.max_pool2d, ops.avg_pool2d):
            with pytest.raises(ValueError, match="stride") as e:
                f(arr, 2, stride=bad)
            msgs.append(str(e.value))
    assert msgs[0] == msgs[2] and msgs[1] == msgs[3]

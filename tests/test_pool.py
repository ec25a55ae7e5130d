"""Pooling (max, avg, adaptive avg), forward and backward, against float64 NumPy
references, PyTorch when importable, and finite differences."""
import numpy as np
import pytest

import nnkernels as nk
from helpers import check_op, numgrad, one_path, torch


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def out_size(n, k, s, p, d, ceil):
    o = (n + 2 * p - d * (k - 1) - 1 + ((s - 1) if ceil else 0)) // s + 1
    if ceil and (o - 1) * s >= n + p:
        o -= 1
    return o


def ref_pool(x, kind, k, s=None, p=0, d=1, ceil=False, include_pad=True):
    """float64 reference: max (value, flat index) or avg, one window at a time."""
    x = np.asarray(x, np.float64)
    k, p, d = pair(k), pair(p), pair(d)
    s = k if s is None else pair(s)
    N, C, H, W = x.shape
    P = out_size(H, k[0], s[0], p[0], d[0], ceil)
    Q = out_size(W, k[1], s[1], p[1], d[1], ceil)
    y = np.zeros((N, C, P, Q))
    idx = np.zeros((N, C, P, Q), np.int64)
    for i in range(P):
        for j in range(Q):
            rows = [i * s[0] - p[0] + a * d[0] for a in range(k[0])]
            cols = [j * s[1] - p[1] + b * d[1] for b in range(k[1])]
            vr = [r for r in rows if 0 <= r < H]
            vc = [c for c in cols if 0 <= c < W]
            win = x[:, :, vr][:, :, :, vc].reshape(N, C, -1)
            if kind == "max":
                a = np.argmax(win, axis=2)
                y[:, :, i, j] = np.take_along_axis(win, a[..., None], 2)[..., 0]
                flat = np.array([r * W + c for r in vr for c in vc])
                idx[:, :, i, j] = flat[a]
            else:
                if include_pad:
                    he = min(i * s[0] - p[0] + k[0], H + p[0]) - (i * s[0] - p[0])
                    we = min(j * s[1] - p[1] + k[1], W + p[1]) - (j * s[1] - p[1])
                    div = he * we
                else:
                    div = len(vr) * len(vc)
                y[:, :, i, j] = win.sum(axis=2) / div
    return (y, idx) if kind == "max" else y


def ref_adaptive(x, P, Q):
    x = np.asarray(x, np.float64)
    H, W = x.shape[-2:]
    y = np.zeros(x.shape[:-2] + (P, Q))
    for i in range(P):
        h0, h1 = (i * H) // P, -(-((i + 1) * H) // P)
        for j in range(Q):
            w0, w1 = (j * W) // Q, -(-((j + 1) * W) // Q)
            y[..., i, j] = x[..., h0:h1, w0:w1].mean(axis=(-2, -1))
    return y


# (shape, kernel_size, stride, padding, dilation, ceil_mode)
CONFIGS = [
    ((2, 3, 26, 26), 2, None, 0, 1, False),
    ((2, 3, 27, 29), 2, 2, 1, 1, True),
    ((1, 2, 17, 40), 3, 2, 1, 1, False),
    ((1, 2, 17, 40), 3, 2, 1, 1, True),
    ((2, 2, 13, 37), 3, 1, 1, 1, False),
    ((1, 1, 1, 1), 1, 1, 0, 1, False),
    ((1, 3, 7, 13), (2, 3), (1, 2), (1, 1), (2, 1), True),
    ((3, 1, 11, 53), (3, 5), (3, 2), (0, 2), (1, 1), False),
    ((1, 2, 19, 31), 4, 3, 2, 2, True),
    ((1, 1, 5, 97), (1, 2), (1, 2), 0, 1, False),
    # output widths around 16-lane blocks: Q = 16, 17, 34, 9 (one partial block), 33 (kw 4)
    ((1, 2, 5, 33), 2, 2, 0, 1, False),
    ((1, 2, 6, 18), 2, 1, 0, 1, False),
    ((1, 1, 3, 67), 3, 2, 1, 1, False),
    ((2, 1, 4, 10), 2, 1, 0, 1, True),
    ((1, 2, 9, 70), (2, 4), 2, (0, 1), 1, False),
]


def random_configs(n, seed=99):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        k = tuple(int(v) for v in rng.integers(1, 5, 2))
        s = tuple(int(v) for v in rng.integers(1, 4, 2))
        p = tuple(int(rng.integers(0, kk // 2 + 1)) for kk in k)
        d = tuple(int(v) for v in rng.integers(1, 3, 2))
        H, W = (int(v) for v in rng.integers(1, 40, 2))
        ceil = bool(rng.integers(0, 2))
        if out_size(H, k[0], s[0], p[0], d[0], ceil) < 1 or out_size(W, k[1], s[1], p[1], d[1], ceil) < 1:
            continue
        out.append(((1, 2, H, W), k, s, p, d, ceil))
    return out


ALL = CONFIGS + random_configs(12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cfg", ALL)
def test_max_pool2d_forward(cpu_path, rng, dtype, cfg):
    shape, k, s, p, d, ceil = cfg
    x = rng.standard_normal(shape).astype(dtype)
    for indices in (True, False):  # exact: values and flat int64 indices
        check_op([x], lambda x: nk.max_pool2d(x, k, s, p, d, ceil, return_indices=indices),
                 ref=lambda x: ref_pool(x, "max", k, s, p, d, ceil)[:1 + indices], grad=False, arrays=True, tol=0,
                 **one_path(cpu_path))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("include_pad", [True, False])
@pytest.mark.parametrize("cfg", ALL)
def test_avg_pool2d_forward(cpu_path, rng, dtype, include_pad, cfg):
    shape, k, s, p, d, ceil = cfg
    x = rng.standard_normal(shape).astype(dtype)
    check_op([x], lambda x: nk.avg_pool2d(x, k, s, p, ceil, include_pad),
             ref=lambda x: ref_pool(x, "avg", k, s, p, 1, ceil, include_pad), grad=False, arrays=True,
             tol=1e-6 if dtype == np.float32 else 1e-14, **one_path(cpu_path))


@pytest.mark.parametrize("cfg", ALL[:8])
def test_pool_vs_torch(cpu_path, rng, cfg):
    pytest.importorskip("torch")
    F = torch.nn.functional
    shape, k, s, p, d, ceil = cfg
    x = rng.standard_normal(shape).astype(np.float32)
    check_op([x], lambda x: nk.max_pool2d(x, k, s, p, d, ceil, return_indices=True),
             lambda x: F.max_pool2d(x, k, s, p, d, ceil, return_indices=True), grad=False, arrays=True, tol=0,
             **one_path(cpu_path))
    for inc in (True, False):
        check_op([x], lambda x: nk.avg_pool2d(x, k, s, p, ceil, inc), lambda x: F.avg_pool2d(x, k, s, p, ceil, inc),
                 grad=False, arrays=True, tol=1e-6, **one_path(cpu_path))


def test_max_pool2d_ties_and_nan_like_torch(cpu_path, rng):
    pytest.importorskip("torch")
    F = torch.nn.functional
    x = rng.integers(0, 3, (2, 3, 21, 37)).astype(np.float32)
    x[0, 0, 3, 5] = np.nan
    x[1, 2, 10, 10:14] = np.nan
    x[0, 1, :4, :4] = -np.inf
    for k, s, p in ((2, 2, 0), (3, 2, 1), (3, 1, 1), (2, 1, 1)):
        for indices in (True, False):  # exact, NaN where torch has NaN (the CPU kernels: the
            # emulator's float64 max does not propagate NaN)
            check_op([x], lambda x: nk.max_pool2d(x, k, s, p, return_indices=indices),
                     lambda x: F.max_pool2d(x, k, s, p, return_indices=indices), grad=False, arrays=True, atol=0,
                     rtol=0, **one_path(cpu_path, device=False))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_non_contiguous_and_unbatched(cpu_path, rng, dtype):
    base = rng.standard_normal((3, 2, 30, 44)).astype(dtype)
    x = base[:, :, ::2, ::-2].transpose(1, 0, 2, 3)
    xc = np.ascontiguousarray(x)
    np.testing.assert_array_equal(nk.max_pool2d(x, 3, 2, 1), nk.max_pool2d(xc, 3, 2, 1))
    np.testing.assert_array_equal(nk.avg_pool2d(x, 2), nk.avg_pool2d(xc, 2))
    np.testing.assert_array_equal(nk.adaptive_avg_pool2d(x, (3, 5)), nk.adaptive_avg_pool2d(xc, (3, 5)))
    y, i = nk.max_pool2d(xc[0], 2, return_indices=True)
    y4, i4 = nk.max_pool2d(xc[:1], 2, return_indices=True)
    assert y.shape == y4.shape[1:] and np.array_equal(y, y4[0]) and np.array_equal(i, i4[0])


def test_empty_batch(cpu_path):
    x = np.zeros((0, 3, 8, 8), np.float32)
    assert nk.max_pool2d(x, 2).shape == (0, 3, 4, 4)
    y, i = nk.max_pool2d(x, 2, return_indices=True)
    assert i.shape == (0, 3, 4, 4)
    assert nk.avg_pool2d(x, 3, 1, 1).shape == (0, 3, 8, 8)
    assert nk.adaptive_avg_pool2d(x, 1).shape == (0, 3, 1, 1)
    assert nk.max_pool2d_backward(np.zeros((0, 3, 4, 4), np.float32), i, x.shape).shape == x.shape


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("H,W,P,Q", [(7, 7, 1, 1), (13, 29, 4, 6), (5, 3, 7, 8), (1, 1, 1, 1), (224, 224, 7, 7),
                                     (10, 10, 10, 10)])
def test_adaptive_avg_pool2d(cpu_path, rng, dtype, H, W, P, Q):
    x = rng.standard_normal((2, 3, H, W)).astype(dtype)
    check_op([x], lambda x: nk.adaptive_avg_pool2d(x, (P, Q)), ref=lambda x: ref_adaptive(x, P, Q), grad=False,
             arrays=True, tol=2e-6 if dtype == np.float32 else 1e-13, **one_path(cpu_path))
    assert nk.adaptive_avg_pool2d(x, (None, Q)).shape == (2, 3, H, Q)


def test_adaptive_vs_torch(rng):
    pytest.importorskip("torch")
    x = rng.standard_normal((2, 3, 17, 23)).astype(np.float32)
    for size in (1, (5, 7), (17, 23), (20, 30)):
        check_op([x], lambda x: nk.adaptive_avg_pool2d(x, size),
                 lambda x: torch.nn.functional.adaptive_avg_pool2d(x, size), grad=False, arrays=True, tol=2e-6)


# ---- backward -----------------------------------------------------------------------
@pytest.mark.parametrize("cfg", [CONFIGS[i] for i in (1, 2, 4, 6, 8)])
def test_max_pool2d_backward_fd(cpu_path, rng, cfg):
    shape, k, s, p, d, ceil = cfg
    shape = (1, 1) + shape[2:]
    x = rng.permutation(np.prod(shape)).reshape(shape).astype(np.float64) * 0.01  # distinct values
    # finite differences of our own (exact) forward
    check_op([x], lambda x: nk.max_pool2d(x, k, s, p, d, ceil), ref=lambda x: nk.max_pool2d(x, k, s, p, d, ceil),
             tol=0, grad_tol=1e-8, **one_path(cpu_path))


@pytest.mark.parametrize("include_pad", [True, False])
@pytest.mark.parametrize("cfg", [CONFIGS[i] for i in (1, 2, 4, 6, 8)])
def test_avg_pool2d_backward_fd(cpu_path, rng, include_pad, cfg):
    shape, k, s, p, d, ceil = cfg
    shape = (1, 1) + shape[2:]
    x = rng.standard_normal(shape)
    check_op([x], lambda x: nk.avg_pool2d(x, k, s, p, ceil, include_pad),
             ref=lambda x: ref_pool(x, "avg", k, s, p, 1, ceil, include_pad),
             ref_grad=lambda w, x: numgrad(lambda z: np.sum(w * nk.avg_pool2d(z, k, s, p, ceil, include_pad)), [x]),
             tol=1e-14, grad_tol=1e-8, **one_path(cpu_path))


@pytest.mark.parametrize("H,W,P,Q", [(7, 9, 3, 4), (5, 3, 7, 8), (6, 6, 1, 1)])
def test_adaptive_backward_fd(cpu_path, rng, H, W, P, Q):
    x = rng.standard_normal((1, 2, H, W))
    check_op([x], lambda x: nk.adaptive_avg_pool2d(x, (P, Q)), ref=lambda x: ref_adaptive(x, P, Q),
             ref_grad=lambda w, x: numgrad(lambda z: np.sum(w * nk.adaptive_avg_pool2d(z, (P, Q))), [x]),
             tol=1e-13, grad_tol=1e-8, **one_path(cpu_path))


def test_backward_vs_torch(cpu_path, rng):
    pytest.importorskip("torch")
    F = torch.nn.functional
    x = rng.standard_normal((2, 3, 23, 31)).astype(np.float32)
    for k, s, p, ceil in ((2, 2, 0, False), (3, 2, 1, True), (3, 1, 1, False)):
        check_op([x], lambda x: nk.max_pool2d(x, k, s, p, ceil_mode=ceil),
                 lambda x: F.max_pool2d(x, k, s, p, ceil_mode=ceil), tol=0, grad_tol=1e-6, **one_path(cpu_path))
        for inc in (True, False):
            check_op([x], lambda x: nk.avg_pool2d(x, k, s, p, ceil, inc), lambda x: F.avg_pool2d(x, k, s, p, ceil, inc),
                     tol=1e-6, grad_tol=1e-6, **one_path(cpu_path))
    check_op([x], lambda x: nk.adaptive_avg_pool2d(x, (5, 7)), lambda x: F.adaptive_avg_pool2d(x, (5, 7)), tol=1e-6,
             grad_tol=1e-6, **one_path(cpu_path))


# ---- bad arguments -------------------------------------------------------------------
def test_bad_arguments():
    x = np.zeros((1, 2, 8, 8), np.float32)
    with pytest.raises(ValueError, match="stride"):
        nk.max_pool2d(x, 2, stride=-1)
    with pytest.raises(ValueError, match="stride"):
        nk.avg_pool2d(x, 2, stride=0)
    with pytest.raises(ValueError, match="kernel_size"):
        nk.max_pool2d(x, 0)
    with pytest.raises(ValueError, match="kernel_size.*larger"):
        nk.max_pool2d(x, 9)
    with pytest.raises(ValueError, match="kernel_size.*larger"):
        nk.max_pool2d(x, 3, dilation=4)
    with pytest.raises(ValueError, match="padding"):
        nk.max_pool2d(x, 2, padding=2)
    with pytest.raises(ValueError, match="padding"):
        nk.avg_pool2d(x, 3, padding=-1)
    with pytest.raises(ValueError, match="dilation"):
        nk.max_pool2d(x, 2, dilation=0)
    with pytest.raises(ValueError, match="x must be 4-D"):
        nk.max_pool2d(np.zeros((8, 8), np.float32), 2)
    with pytest.raises(TypeError, match="x has unsupported dtype"):
        nk.max_pool2d(np.zeros((1, 1, 4, 4), np.int32), 2)
    with pytest.raises(ValueError, match="output_size"):
        nk.adaptive_avg_pool2d(x, 0)
    with pytest.raises(ValueError, match="output_size"):
        nk.adaptive_avg_pool2d(x, (1, 2, 3))
    y, idx = nk.max_pool2d(x, 2, return_indices=True)
    with pytest.raises(ValueError, match="indices"):
        nk.max_pool2d_backward(y, idx + 64, x.shape)
    with pytest.raises(ValueError, match="indices"):
        nk.max_pool2d_backward(y, idx[:, :, :2], x.shape)
    with pytest.raises(ValueError, match="input_shape"):
        nk.max_pool2d_backward(y, idx, (1, 3, 8, 8))
    with pytest.raises(ValueError, match="grad_out"):
        nk.avg_pool2d_backward(y[:, :, :3], x.shape, 2)
    with pytest.raises(ValueError, match="input_shape"):
        nk.avg_pool2d_backward(y, (8, 8), 2)


def test_threads_agree(rng):
    x = rng.standard_normal((4, 8, 33, 35)).astype(np.float32)
    before = nk.get_num_threads()
    try:
        nk.set_num_threads(1)
        a = nk.max_pool2d(x, 3, 2, 1, return_indices=True)
        nk.set_num_threads(2)
        b = nk.max_pool2d(x, 3, 2, 1, return_indices=True)
    finally:
        nk.set_num_threads(before)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


# ---- the Tensor ops through helpers.check_op (every CPU path, CPU and the (emulated) GPU) ----
@pytest.mark.parametrize("shape,k,s,p,ceil", [((2, 3, 7, 9), 2, None, 0, False), ((1, 2, 8, 7), 3, 2, 1, True)])
def test_pool_check_op(shape, k, s, p, ceil):
    pytest.importorskip("torch")
    F = torch.nn.functional
    check_op([shape], lambda x: nk.max_pool2d(x, k, s, p, ceil_mode=ceil),
             lambda x: F.max_pool2d(x, k, s, p, ceil_mode=ceil), atol=1e-12, rtol=1e-12)
    check_op([shape], lambda x: nk.avg_pool2d(x, k, s, p, ceil), lambda x: F.avg_pool2d(x, k, s, p, ceil),
             atol=1e-12, rtol=1e-10)
    check_op([shape], lambda x: nk.adaptive_avg_pool2d(x, (3, 2)), lambda x: F.adaptive_avg_pool2d(x, (3, 2)),
             atol=1e-12, rtol=1e-10)

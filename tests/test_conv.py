"""conv2d / conv_transpose2d forward and backward against float64 NumPy references,
the naive C++ reference, finite differences and (when importable) torch autograd."""
import warnings

import numpy as np
import pytest

import nnkernels as nk
from helpers import check_op, one_path, rel_err, torch
from helpers import threads as num_threads

TOL = {np.float32: 3e-5, np.float64: 1e-12}


# ---- float64 NumPy references (one einsum per filter tap) ----------------------------

def _pads(padding, R, S, dil):
    if padding == "valid":
        return 0, 0, 0, 0
    if padding == "same":
        th, tw = dil[0] * (R - 1), dil[1] * (S - 1)
        return th // 2, th - th // 2, tw // 2, tw - tw // 2
    ph, pw = (padding, padding) if np.isscalar(padding) else padding
    return ph, ph, pw, pw


def _pair(v):
    return (v, v) if np.isscalar(v) else tuple(v)


def _taps(xp_shape, R, S, stride, dil):
    """(P, Q) and, per tap (r, s), the slices of the padded input it reads."""
    Hp, Wp = xp_shape[-2:]
    P = (Hp - dil[0] * (R - 1) - 1) // stride[0] + 1
    Q = (Wp - dil[1] * (S - 1) - 1) // stride[1] + 1
    taps = {}
    for r in range(R):
        for s in range(S):
            h0, w0 = r * dil[0], s * dil[1]
            taps[r, s] = (slice(h0, h0 + stride[0] * (P - 1) + 1, stride[0]),
                          slice(w0, w0 + stride[1] * (Q - 1) + 1, stride[1]))
    return P, Q, taps


def _padded(x, w, stride, padding, dilation, groups):
    """float64 w, the padded float64 x, (top, left) pads, P, Q, the taps, K and C per group."""
    w = w.astype(np.float64)
    stride, dil = _pair(stride), _pair(dilation)
    K, Cg, R, S = w.shape
    pt, pb, pl, pr = _pads(padding, R, S, dil)
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    P, Q, taps = _taps(xp.shape, R, S, stride, dil)
    return w, xp, (pt, pl), P, Q, taps, K // groups, Cg


def ref_conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    w, xp, _, P, Q, taps, Kg, Cg = _padded(x, w, stride, padding, dilation, groups)
    K = w.shape[0]
    y = np.zeros((x.shape[0], K, P, Q))
    for g in range(groups):
        xs = xp[:, g * Cg:(g + 1) * Cg]
        for (r, s), (hs, ws) in taps.items():
            y[:, g * Kg:(g + 1) * Kg] += np.einsum("ncpq,kc->nkpq", xs[:, :, hs, ws], w[g * Kg:(g + 1) * Kg, :, r, s])
    if b is not None:
        y += b.astype(np.float64)[:, None, None]
    return y


def ref_conv2d_backward(gy, x, w, stride=1, padding=0, dilation=1, groups=1):
    w, xp, (pt, pl), _, _, taps, Kg, Cg = _padded(x, w, stride, padding, dilation, groups)
    gy = gy.astype(np.float64)
    gxp = np.zeros_like(xp)
    gw = np.zeros_like(w)
    for g in range(groups):
        ks, cs = slice(g * Kg, (g + 1) * Kg), slice(g * Cg, (g + 1) * Cg)
        for (r, s), (hs, ws) in taps.items():
            gxp[:, cs, hs, ws] += np.einsum("nkpq,kc->ncpq", gy[:, ks], w[ks, :, r, s])
            gw[ks, :, r, s] = np.einsum("nkpq,ncpq->kc", gy[:, ks], xp[:, cs, hs, ws])
    H, W = x.shape[2:]
    return gxp[:, :, pt:pt + H, pl:pl + W], gw, gy.sum((0, 2, 3))


def ref_conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """The adjoint of conv2d: the conv2d input gradient for grad_out = x."""
    stride, dil, pad, op = _pair(stride), _pair(dilation), _pair(padding), _pair(output_padding)
    Cin, Cog, R, S = w.shape
    N, _, H, W = x.shape
    Ho = (H - 1) * stride[0] - 2 * pad[0] + dil[0] * (R - 1) + op[0] + 1
    Wo = (W - 1) * stride[1] - 2 * pad[1] + dil[1] * (S - 1) + op[1] + 1
    ximg = np.zeros((N, Cog * groups, Ho, Wo))
    # conv2d of that image has Hc >= H rows (more when output_padding >= stride, which a
    # dilation > stride allows): x fills the first H, the extra rows of grad_out are zero.
    Hc = (Ho + 2 * pad[0] - dil[0] * (R - 1) - 1) // stride[0] + 1
    Wc = (Wo + 2 * pad[1] - dil[1] * (S - 1) - 1) // stride[1] + 1
    xg = np.zeros((N, Cin, Hc, Wc))
    xg[:, :, :H, :W] = x
    gx, _, _ = ref_conv2d_backward(xg, ximg, w, stride, pad, dil, groups)
    if b is not None:
        gx += b.astype(np.float64)[:, None, None]
    return gx


def ref_conv_transpose2d_backward(gy, x, w, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """The gradients of sum(conv_transpose2d(x, w, b) · gy), by the adjoint identities."""
    H, W = x.shape[2:]
    cw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    conv_gy = ref_conv2d(gy, w, None, **cw)          # may have more rows than x (see the reference)
    xg = np.zeros(x.shape[:2] + conv_gy.shape[2:])
    xg[:, :, :H, :W] = x
    _, gw, _ = ref_conv2d_backward(xg, gy, w, **cw)
    return conv_gy[..., :H, :W], gw, gy.sum((0, 2, 3))


# (N, C, H, W, K, R, S, stride, padding, dilation, groups): 1s, primes, strides, dilation,
# 'same' with odd and even kernels, asymmetric pads, groups and depthwise, 1×1, wide rows.
CONFIGS = [
    (1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1),
    (2, 3, 7, 11, 5, 3, 3, 1, 1, 1, 1),
    (3, 4, 13, 13, 8, 3, 3, 1, 0, 1, 2),
    (2, 6, 12, 13, 4, 5, 3, (2, 3), 2, 1, 2),
    (3, 4, 10, 7, 6, 3, 2, 2, (1, 0), (1, 2), 2),
    (1, 5, 8, 8, 7, 1, 1, 1, 0, 1, 1),
    (2, 5, 9, 9, 3, 1, 1, 2, 1, 1, 1),
    (2, 3, 9, 11, 4, 3, 3, 1, "same", 1, 1),
    (2, 2, 20, 21, 3, 2, 4, 1, "same", 1, 1),
    (1, 3, 12, 12, 4, 3, 3, 1, "same", (2, 1), 1),
    (2, 3, 17, 19, 2, 3, 3, 1, "valid", 1, 1),
    (2, 6, 11, 11, 6, 3, 3, 1, 1, 1, 6),
    (1, 3, 5, 5, 2, 3, 3, 1, (0, 1), 1, 1),
    (1, 2, 6, 40, 3, 3, 3, 1, (2, 1), 1, 1),
    (5, 2, 3, 3, 2, 3, 3, 1, 0, 1, 1),
    (1, 17, 31, 29, 19, 3, 3, 1, 1, 1, 1),
]


def _data(rng, cfg, dtype):
    N, C, H, W, K, R, S, st, pd, dl, g = cfg
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = rng.standard_normal((K, C // g, R, S)).astype(dtype)
    b = rng.standard_normal(K).astype(dtype)
    return x, w, b, dict(stride=st, padding=pd, dilation=dl, groups=g)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cfg", CONFIGS, ids=[str(c) for c in CONFIGS])
def test_conv2d_forward_backward(cpu_path, rng, dtype, cfg):
    x, w, b, kw = _data(rng, cfg, dtype)
    scale = TOL[dtype] * np.sqrt(w[0].size)              # the length of a dot product of the forward
    wscale = TOL[dtype] * np.sqrt(x.shape[0] * np.prod(nk.conv2d(x, w, **kw).shape[2:]))  # of the weight's
    check_op([x, w, b], lambda x, w, b: nk.conv2d(x, w, b, **kw), ref=lambda x, w, b: ref_conv2d(x, w, b, **kw),
             ref_grad=lambda g, x, w, b: ref_conv2d_backward(g, x, w, **kw), tol=scale,
             grad_tol=[scale, wscale, wscale], **one_path(cpu_path, device=False))


# float32 stride-1 layers for the direct tile (14 positions × 32 channels on avx512): 1×1
# images, rows of 1, 14, 15, 29 outputs, K around the 32-channel panels, C = 1, pads 0-4
# (3 and 4: output rows that read only the zero border, and rows that skip filter rows),
# 387 taps (past the 256-tap blocks, an edge row whose first tap is in the second block),
# dilation 2, groups, a 32×32 output.
DIRECT_CONFIGS = [
    (1, 1, 1, 1, 1, 3, 3, 1, 1, 1, 1),
    (2, 1, 16, 16, 33, 3, 3, 1, 0, 1, 1),
    (3, 5, 13, 17, 32, 3, 3, 1, 1, 1, 1),
    (1, 7, 29, 31, 70, 3, 3, 1, 2, 1, 1),
    (2, 4, 11, 19, 31, 3, 3, 1, 2, 2, 1),
    (2, 6, 7, 23, 66, 3, 5, 1, (1, 2), 1, 2),
    (1, 3, 5, 1, 5, 1, 1, 1, 0, 1, 1),
    (1, 2, 34, 34, 3, 3, 3, 1, 0, 1, 1),
    (2, 3, 6, 7, 9, 3, 3, 1, 3, 1, 1),
    (1, 4, 5, 9, 16, 5, 3, 1, (4, 1), (2, 1), 1),
    (2, 43, 6, 7, 9, 3, 3, 1, 2, 1, 1),
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("cfg", DIRECT_CONFIGS, ids=[str(c) for c in DIRECT_CONFIGS])
def test_conv2d_direct_float32(cpu_path, rng, threads, cfg):
    with num_threads(threads):
        x, w, b, kw = _data(rng, cfg, np.float32)
        for xin, bias in ((x, b), (np.asfortranarray(x), None), (np.repeat(x, 2, axis=3)[..., ::2], b)):
            y = nk.conv2d(xin, w, bias, **kw)
            ref = ref_conv2d(x.astype(np.float64), w.astype(np.float64), bias, **kw)
            assert y.dtype == np.float32 and y.shape == ref.shape
            assert rel_err(y, ref) <= TOL[np.float32] * np.sqrt(w[0].size)


# float32 stride-1 grad x with 32+ input channels per group: on avx512 a direct forward conv
# of gY with the flipped filters. Pads 0-2 (and one larger than the filter's reach, which
# stays on the GEMM), dilation 2, groups, K around the 32-channel panels, rows of 1.
DIRECT_GX_CONFIGS = [
    (2, 32, 13, 13, 64, 3, 3, 1, 1, 1, 1),
    (1, 33, 9, 17, 5, 3, 3, 1, 0, 1, 1),
    (2, 40, 11, 7, 31, 3, 5, 1, (2, 1), 1, 1),
    (1, 64, 10, 12, 18, 3, 3, 1, 2, 2, 2),
    (3, 32, 1, 1, 7, 3, 3, 1, 1, 1, 1),
    (1, 32, 6, 6, 8, 3, 3, 1, 3, 1, 1),
]


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("cfg", DIRECT_GX_CONFIGS, ids=[str(c) for c in DIRECT_GX_CONFIGS])
def test_conv2d_grad_x_direct_float32(cpu_path, rng, threads, cfg):
    with num_threads(threads):
        x, w, _, kw = _data(rng, cfg, np.float32)
        gy = rng.standard_normal(nk.conv2d(x, w, **kw).shape).astype(np.float32)
        gx, gw, _ = nk.conv2d_backward(gy, x, w, **kw)
        want_gx, want_gw, _ = ref_conv2d_backward(gy.astype(np.float64), x.astype(np.float64),
                                                  w.astype(np.float64), **kw)
        assert gx.dtype == np.float32 and gx.shape == x.shape
        assert rel_err(gx, want_gx) <= TOL[np.float32] * np.sqrt(w.shape[0] * w[0, 0].size)
        assert rel_err(gw, want_gw) <= TOL[np.float32] * np.sqrt(gy[:, 0].size)


# float32 stride-1 grad w with 8+ output channels per group: on avx512 the direct gw tile
# (8 taps × 32 channels over each image). Tap counts off the 8-tap tiles (9, 45, 75), K
# around the 32-channel panels, batch 1 (threads split the tiles) and odd batches (threads
# split the images), pads 0-3 (3: past the filter's reach), dilation, groups, rows of 1.
DIRECT_GW_CONFIGS = [
    (1, 1, 9, 9, 8, 3, 3, 1, 1, 1, 1),
    (3, 5, 13, 13, 33, 3, 3, 1, 0, 1, 1),
    (2, 3, 1, 17, 31, 5, 5, 1, 2, 1, 1),
    (5, 8, 11, 7, 70, 3, 3, 1, (1, 2), (2, 1), 1),
    (2, 6, 9, 10, 32, 3, 3, 1, 3, 1, 2),
    (1, 32, 13, 13, 64, 3, 3, 1, 1, 1, 1),
]


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("cfg", DIRECT_GW_CONFIGS, ids=[str(c) for c in DIRECT_GW_CONFIGS])
def test_conv2d_grad_w_direct_float32(cpu_path, rng, threads, cfg):
    with num_threads(threads):
        x, w, _, kw = _data(rng, cfg, np.float32)
        gy = rng.standard_normal(nk.conv2d(x, w, **kw).shape).astype(np.float32)
        _, want_gw, _ = ref_conv2d_backward(gy.astype(np.float64), x.astype(np.float64),
                                            w.astype(np.float64), **kw)
        for xin, gyin in ((x, gy), (np.asfortranarray(x), gy[..., ::-1].copy()[..., ::-1])):
            gx, gw, gb = nk.conv2d_backward(gyin, xin, w, **kw)
            assert gw.dtype == np.float32 and gw.shape == w.shape
            assert rel_err(gw, want_gw) <= TOL[np.float32] * np.sqrt(gy[:, 0].size)
            assert rel_err(gb, gy.astype(np.float64).sum((0, 2, 3))) <= TOL[np.float32] * np.sqrt(gy[:, 0].size)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_thread_splits_agree(rng, threads):
    """Batch < threads, batch ≥ threads, odd splits: same answer (float64)."""
    with num_threads(threads):
        for cfg in [(1, 8, 30, 30, 16, 3, 3, 1, 1, 1, 1), (5, 8, 20, 23, 12, 3, 3, 1, 0, 1, 1),
                    (2, 8, 20, 20, 8, 3, 3, 2, 1, 1, 4), (4, 16, 9, 9, 32, 1, 1, 1, 0, 1, 1),
                    # batch 1 with many tiles: threads split the tiles of one image
                    (1, 32, 48, 48, 8, 3, 3, 1, 1, 1, 1), (1, 32, 40, 40, 8, 3, 3, 1, 0, 1, 1),
                    (1, 3, 50, 47, 5, 3, 3, 2, 1, 1, 1)]:
            x, w, b, kw = _data(rng, cfg, np.float64)
            y = nk.conv2d(x, w, b, **kw)
            assert rel_err(y, ref_conv2d(x, w, b, **kw)) <= 1e-12
            gy = rng.standard_normal(y.shape)
            for got, ref in zip(nk.conv2d_backward(gy, x, w, **kw), ref_conv2d_backward(gy, x, w, **kw)):
                assert rel_err(got, ref) <= 1e-12


def test_against_cpp_naive_reference(rng):
    x, w, b, kw = _data(rng, (2, 6, 12, 13, 4, 5, 3, (2, 3), 2, 1, 2), np.float64)
    P, Q = nk.conv2d(x, w, **kw).shape[2:]
    args = dict(stride_h=2, stride_w=3, pad_h=2, pad_w=2, dil_h=1, dil_w=1, groups=2)

    def naive(x, w, b):
        y = np.empty((2, 4, P, Q))
        nk._C.conv2d_forward(x, w, b, y, reference=True, **args)
        return y

    def naive_grad(gy, x, w, b):
        gx, gw = np.empty_like(x), np.empty_like(w)
        nk._C.conv2d_backward_data(gy, w, gx, reference=True, **args)
        nk._C.conv2d_backward_weight(gy, x, gw, reference=True, **args)
        return gx, gw, gy.sum((0, 2, 3))
    check_op([x, w, b], lambda x, w, b: nk.conv2d(x, w, b, **kw), ref=naive, ref_grad=naive_grad, tol=1e-13,
             devices=("cpu",))


def test_unbatched_noncontiguous_and_mixed_dtypes(rng):
    x = rng.standard_normal((3, 14, 18))[:, ::2, 1::2]          # (3, 7, 9), strided
    w = rng.standard_normal((4, 3, 2, 2)).astype(np.float32)
    y = nk.conv2d(x, w, padding=1)
    assert y.shape == (4, 8, 10) and y.dtype == np.float64
    assert rel_err(y, ref_conv2d(x[None], w, padding=1)[0]) <= 1e-12
    gx, gw, gb = nk.conv2d_backward(np.ones_like(y), x, w, padding=1)
    rgx, rgw, _ = ref_conv2d_backward(np.ones((1,) + y.shape), x[None], w, padding=1)
    assert gx.shape == x.shape and rel_err(gx, rgx[0]) <= 1e-12 and rel_err(gw, rgw) <= 1e-12
    xt = rng.standard_normal((9, 7, 2, 5)).transpose(2, 3, 1, 0)  # (2, 5, 7, 9), transposed
    wt = rng.standard_normal((3, 5, 3, 3))
    assert rel_err(nk.conv2d(xt, wt), ref_conv2d(xt, wt)) <= 1e-12


def test_empty_batch_and_channels(rng):
    y = nk.conv2d(np.zeros((0, 3, 5, 5)), np.ones((4, 3, 3, 3)))
    assert y.shape == (0, 4, 3, 3)
    y = nk.conv2d(np.zeros((2, 3, 5, 5)), np.ones((0, 3, 3, 3)))
    assert y.shape == (2, 0, 3, 3)
    gx, gw, gb = nk.conv2d_backward(np.zeros((0, 4, 3, 3)), np.zeros((0, 3, 5, 5)), np.ones((4, 3, 3, 3)))
    assert gx.shape == (0, 3, 5, 5) and np.all(gw == 0) and np.all(gb == 0)


# ---- conv_transpose2d ---------------------------------------------------------------

# (N, Cin, H, W, Cout, R, S, stride, padding, output_padding, groups, dilation)
TCONFIGS = [
    (1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1),
    (2, 3, 5, 7, 4, 3, 3, 1, 0, 0, 1, 1),
    (2, 4, 6, 5, 6, 3, 3, 2, 1, 1, 2, 1),
    (1, 6, 7, 7, 3, 4, 4, 2, 1, 0, 3, 1),
    (3, 2, 4, 6, 5, 3, 2, (2, 3), (1, 0), (1, 2), 1, (1, 2)),
    (2, 5, 3, 3, 7, 5, 5, 3, 2, 2, 1, 1),
    (1, 4, 9, 8, 4, 3, 3, 1, 1, 0, 4, 2),
    (2, 4, 5, 6, 3, 3, 3, 1, 0, 1, 1, 2),                 # output_padding >= stride (dilation > stride)
    (1, 2, 4, 5, 4, 3, 2, (1, 2), (0, 1), (1, 2), 2, (2, 3)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cfg", TCONFIGS, ids=[str(c) for c in TCONFIGS])
def test_conv_transpose2d(cpu_path, rng, dtype, cfg):
    N, Cin, H, W, Cout, R, S, st, pd, op, g, dl = cfg
    x = rng.standard_normal((N, Cin, H, W)).astype(dtype)
    w = rng.standard_normal((Cin, Cout // g, R, S)).astype(dtype)
    b = rng.standard_normal(Cout).astype(dtype)
    kw = dict(stride=st, padding=pd, output_padding=op, groups=g, dilation=dl)
    gy_size = N * np.prod(nk.conv_transpose2d(x, w, **kw).shape[2:])
    check_op([x, w, b], lambda x, w, b: nk.conv_transpose2d(x, w, b, **kw),
             ref=lambda x, w, b: ref_conv_transpose2d(x, w, b, **kw),
             ref_grad=lambda gy, x, w, b: ref_conv_transpose2d_backward(gy, x, w, **kw),
             tol=TOL[dtype] * np.sqrt(w[:, 0].size),
             grad_tol=[TOL[dtype] * np.sqrt(w[0].size), TOL[dtype] * np.sqrt(x[:, 0].size),
                       TOL[dtype] * np.sqrt(gy_size)], **one_path(cpu_path, device=False))


# ---- finite differences of our own forward (float64, tiny shapes) -------------------

@pytest.mark.parametrize("cfg", [(2, 4, 6, 7, 4, 3, 2, 2, 1, 1, 2), (1, 3, 5, 5, 2, 3, 3, 1, "same", 2, 1),
                                 (2, 2, 6, 6, 3, 2, 2, 1, 0, 1, 1)])
def test_conv2d_finite_differences(rng, cfg):
    x, w, b, kw = _data(rng, cfg, np.float64)
    check_op([x, w, b], lambda x, w, b: nk.conv2d(x, w, b, **kw), ref=lambda x, w, b: nk.conv2d(x, w, b, **kw),
             tol=1e-13, grad_atol=1e-6, grad_rtol=1e-6, devices=("cpu",))


def test_conv_transpose2d_finite_differences(rng):
    x = rng.standard_normal((2, 4, 4, 5))
    w = rng.standard_normal((4, 3, 3, 2))
    b = rng.standard_normal(6)
    kw = dict(stride=2, padding=1, output_padding=1, groups=2, dilation=1)
    check_op([x, w, b], lambda x, w, b: nk.conv_transpose2d(x, w, b, **kw),
             ref=lambda x, w, b: nk.conv_transpose2d(x, w, b, **kw), tol=1e-13, grad_atol=1e-6, grad_rtol=1e-6,
             devices=("cpu",))


# ---- torch (autograd) ---------------------------------------------------------------

@pytest.mark.parametrize("seed", range(12))
def test_random_configs_against_torch(seed):
    pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(seed)
    g = int(rng.choice([1, 1, 2, 3]))
    C, K = g * int(rng.integers(1, 4)), g * int(rng.integers(1, 4))
    R, S = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    st = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    dl = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    pad = "same" if seed % 4 == 0 else (int(rng.integers(0, 3)), int(rng.integers(0, 3)))
    if pad == "same":
        st = (1, 1)
    H = dl[0] * (R - 1) + 1 + int(rng.integers(0, 12))
    W = dl[1] * (S - 1) + 1 + int(rng.integers(0, 12))
    x = rng.standard_normal((int(rng.integers(1, 4)), C, H, W))
    w = rng.standard_normal((K, C // g, R, S))
    b = rng.standard_normal(K)
    kw = dict(stride=st, padding=pad, dilation=dl, groups=g)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # torch warns about 'same' with even kernels
        check_op([x, w, b], lambda x, w, b: nk.conv2d(x, w, b, **kw), lambda x, w, b: F.conv2d(x, w, b, **kw),
                 tol=1e-12, devices=("cpu",), seed=seed)
    y_shape = nk.conv2d(x, w, b, **kw).shape

    # the transposed conv with the same weights, on an input shaped like y
    if pad != "same":
        opad = (int(rng.integers(0, max(st[0], dl[0]))), int(rng.integers(0, max(st[1], dl[1]))))
        wt = rng.standard_normal((C, K // g, R, S))
        xt = rng.standard_normal((2, C) + y_shape[2:])
        bt = rng.standard_normal(K)
        tkw = dict(stride=st, padding=pad, output_padding=opad, groups=g, dilation=dl)
        check_op([xt, wt, bt], lambda x, w, b: nk.conv_transpose2d(x, w, b, **tkw),
                 lambda x, w, b: F.conv_transpose2d(x, w, b, **tkw), tol=1e-12, devices=("cpu",), seed=seed)


def test_float32_layer_against_torch(rng):
    pytest.importorskip("torch")
    F = torch.nn.functional
    x = rng.standard_normal((4, 16, 15, 15)).astype(np.float32)
    w = (rng.standard_normal((24, 16, 3, 3)) / 12).astype(np.float32)
    b = rng.standard_normal(24).astype(np.float32)
    check_op([x, w, b], lambda x, w, b: nk.conv2d(x, w, b, padding=1), lambda x, w, b: F.conv2d(x, w, b, padding=1),
             tol=1e-5, devices=("cpu",))


# ---- bad arguments ------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,word", [
    (dict(stride=-1), "stride"), (dict(stride=0), "stride"), (dict(stride=(1, 2, 3)), "stride"),
    (dict(padding=-1), "padding"), (dict(padding="full"), "padding"), (dict(padding=1.5), "padding"),
    (dict(dilation=0), "dilation"), (dict(groups=0), "groups"), (dict(groups=2), "groups"),
    (dict(padding="same", stride=2), "same"),
])
def test_bad_arguments(kwargs, word):
    x = np.zeros((1, 3, 8, 8))
    w = np.zeros((4, 3, 3, 3))
    with pytest.raises(ValueError, match=word):
        nk.conv2d(x, w, **kwargs)
    with pytest.raises(ValueError, match=word):
        nk.conv2d_backward(np.zeros((1, 4, 6, 6)), x, w, **kwargs)


def test_bad_shapes():
    x = np.zeros((1, 3, 8, 8))
    with pytest.raises(ValueError, match="kernel size"):
        nk.conv2d(x, np.zeros((4, 3, 9, 3)))                      # kernel larger than the padded input
    with pytest.raises(ValueError, match="kernel size"):
        nk.conv2d(x, np.zeros((4, 3, 3, 3)), dilation=4)
    nk.conv2d(x, np.zeros((4, 3, 9, 3)), padding=1)             # fits once padded
    with pytest.raises(ValueError, match="weight"):
        nk.conv2d(x, np.zeros((4, 3, 3)))                         # wrong weight rank
    with pytest.raises(ValueError, match="weight"):
        nk.conv2d(x, np.zeros((4, 2, 3, 3)))                      # channels do not match
    with pytest.raises(ValueError, match="groups"):
        nk.conv2d(np.zeros((1, 4, 8, 8)), np.zeros((3, 2, 3, 3)), groups=2)   # K not divisible
    with pytest.raises(ValueError, match="x"):
        nk.conv2d(np.zeros((8, 8)), np.zeros((4, 3, 3, 3)))
    with pytest.raises(ValueError, match="bias"):
        nk.conv2d(x, np.zeros((4, 3, 3, 3)), np.zeros(5))
    with pytest.raises(ValueError, match="grad_out"):
        nk.conv2d_backward(np.zeros((1, 4, 5, 6)), x, np.zeros((4, 3, 3, 3)))
    with pytest.raises(TypeError, match="int64"):
        nk.conv2d(x.astype(np.int64), np.zeros((4, 3, 3, 3)))


def test_bad_transpose_arguments():
    x = np.zeros((1, 4, 5, 5))
    w = np.zeros((4, 3, 3, 3))
    with pytest.raises(ValueError, match="output_padding"):
        nk.conv_transpose2d(x, w, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="stride"):
        nk.conv_transpose2d(x, w, stride=-2)
    with pytest.raises(ValueError, match="padding"):
        nk.conv_transpose2d(x, w, padding="same")
    with pytest.raises(ValueError, match="padding"):
        nk.conv_transpose2d(x, w, padding=5)                       # empty output
    with pytest.raises(ValueError, match="weight"):
        nk.conv_transpose2d(x, np.zeros((3, 3, 3, 3)))              # C_in mismatch
    with pytest.raises(ValueError, match="groups"):
        nk.conv_transpose2d(x, w, groups=3)
    with pytest.raises(ValueError, match="bias"):
        nk.conv_transpose2d(x, w, np.zeros(4))
    with pytest.raises(ValueError, match="grad_out"):
        nk.conv_transpose2d_backward(np.zeros((1, 3, 6, 6)), x, w)


def test_concurrent_calls_from_threads(rng):
    """The GIL is released and the scratch is per thread: parallel callers get right answers."""
    import threading

    x, w, b, kw = _data(rng, (3, 6, 21, 19, 10, 3, 3, 1, 1, 1, 2), np.float64)
    ref = ref_conv2d(x, w, b, **kw)
    gy = rng.standard_normal(ref.shape)
    rgx, rgw, _ = ref_conv2d_backward(gy, x, w, **kw)
    errs = []

    def work():
        for _ in range(5):
            errs.append(rel_err(nk.conv2d(x, w, b, **kw), ref))
            gx, gw, _ = nk.conv2d_backward(gy, x, w, **kw)
            errs.append(max(rel_err(gx, rgx), rel_err(gw, rgw)))

    ts = [threading.Thread(target=work) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert len(errs) == 40 and max(errs) <= 1e-12


def test_deep_filter_and_large_kernel(rng):
    """C·R·S much deeper than the GEMM's KC, and a kernel as large as the input."""
    x, w, b, kw = _data(rng, (2, 70, 6, 7, 5, 3, 3, 1, 1, 1, 1), np.float32)
    check_op([x, w, b], lambda x, w, b: nk.conv2d(x, w, b, **kw), ref=lambda x, w, b: ref_conv2d(x, w, b, **kw),
             grad=False, arrays=True, tol=1e-5, devices=("cpu",))
    x = rng.standard_normal((2, 3, 7, 6))
    w = rng.standard_normal((4, 3, 7, 6))
    assert nk.conv2d(x, w).shape == (2, 4, 1, 1)
    check_op([x, w], lambda x, w: nk.conv2d(x, w), ref=ref_conv2d,
             ref_grad=lambda gy, x, w: ref_conv2d_backward(gy, x, w)[:2], tol=1e-12, devices=("cpu",))


# ---- the Tensor ops through helpers.check_op (every CPU path, CPU and the (emulated) GPU) ----
def test_conv_check_op():
    pytest.importorskip("torch")
    F = torch.nn.functional
    check_op([(2, 4, 7, 6), (6, 2, 3, 3), (6,)], lambda x, w, b: nk.conv2d(x, w, b, stride=2, padding=1, groups=2),
             lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, groups=2), atol=1e-11, rtol=1e-9,
             devices=("cpu",))
    check_op([(1, 4, 4, 5), (4, 3, 3, 2)], lambda x, w: nk.conv_transpose2d(x, w, stride=2, output_padding=1),
             lambda x, w: F.conv_transpose2d(x, w, stride=2, output_padding=1), atol=1e-11, rtol=1e-9,
             devices=("cpu",))

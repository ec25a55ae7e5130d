"""LSTM/GRU cells and sequences against float64 NumPy references, finite differences
and (when importable) torch.nn.LSTM/GRU/LSTMCell/GRUCell with autograd."""
import numpy as np
import pytest

import nnkernels as nk
from helpers import check_op, rel_err, torch

# (T, B, I, H): ones, primes, H below/above/not a multiple of the 8/16-wide tiles.
SHAPES = [(1, 1, 1, 1), (1, 3, 5, 7), (4, 1, 3, 9), (7, 5, 13, 17), (3, 13, 8, 33), (2, 7, 3, 64),
          (5, 2, 11, 8), (3, 6, 1, 23), (2, 3, 4, 16), (2, 2, 3, 31)]
FTOL = {np.float32: 5e-5, np.float64: 1e-12}


def sig(x):
    return 1.0 / (1.0 + np.exp(-x))


# ---- float64 NumPy references ----------------------------------------------------

def lstm_ref(x, h0, c0, w_ih, w_hh, b_ih, b_hh):
    """Forward; returns y, hT, cT and the per-step values the backward needs."""
    x, h, c, w_ih, w_hh = (np.asarray(a, np.float64) for a in (x, h0, c0, w_ih, w_hh))
    H = h.shape[1]
    b = (0 if b_ih is None else np.asarray(b_ih, np.float64)) + (0 if b_hh is None else np.asarray(b_hh, np.float64))
    ys, saved = [], []
    for t in range(x.shape[0]):
        a = x[t] @ w_ih.T + h @ w_hh.T + b
        i, f, g, o = sig(a[:, :H]), sig(a[:, H:2 * H]), np.tanh(a[:, 2 * H:3 * H]), sig(a[:, 3 * H:])
        saved.append((h, c, i, f, g, o))
        c = f * c + i * g
        h = o * np.tanh(c)
        saved[-1] += (c,)
        ys.append(h)
    y = np.stack(ys) if ys else np.zeros((0,) + h.shape)
    return y, h, c, saved


def lstm_ref_backward(gy, ghT, gcT, x, w_ih, w_hh, saved):
    x, w_ih, w_hh = (np.asarray(a, np.float64) for a in (x, w_ih, w_hh))
    T, B, _ = x.shape
    H = w_hh.shape[1]
    dh = np.zeros((B, H)) if ghT is None else np.array(ghT, np.float64)
    dc = np.zeros((B, H)) if gcT is None else np.array(gcT, np.float64)
    gw_ih, gw_hh, gb = np.zeros_like(w_ih), np.zeros_like(w_hh), np.zeros(4 * H)
    gx = np.zeros(x.shape)
    for t in reversed(range(T)):
        hp, cp, i, f, g, o, c = saved[t]
        if gy is not None:
            dh = dh + gy[t]
        tc = np.tanh(c)
        dc = dc + dh * o * (1 - tc ** 2)
        da = np.concatenate([dc * g * i * (1 - i), dc * cp * f * (1 - f), dc * i * (1 - g ** 2),
                             dh * tc * o * (1 - o)], axis=1)
        gx[t] = da @ w_ih
        gw_ih += da.T @ x[t]
        gw_hh += da.T @ hp
        gb += da.sum(0)
        dh = da @ w_hh
        dc = dc * f
    return gx, dh, dc, gw_ih, gw_hh, gb, gb


def gru_ref(x, h0, w_ih, w_hh, b_ih, b_hh):
    x, h, w_ih, w_hh = (np.asarray(a, np.float64) for a in (x, h0, w_ih, w_hh))
    H = h.shape[1]
    bi = 0 if b_ih is None else np.asarray(b_ih, np.float64)
    bh = 0 if b_hh is None else np.asarray(b_hh, np.float64)
    ys, saved = [], []
    for t in range(x.shape[0]):
        a = x[t] @ w_ih.T + bi
        u = h @ w_hh.T + bh
        r = sig(a[:, :H] + u[:, :H])
        z = sig(a[:, H:2 * H] + u[:, H:2 * H])
        n = np.tanh(a[:, 2 * H:] + r * u[:, 2 * H:])
        saved.append((h, r, z, n, u[:, 2 * H:]))
        h = (1 - z) * n + z * h
        ys.append(h)
    y = np.stack(ys) if ys else np.zeros((0,) + h.shape)
    return y, h, saved


def gru_ref_backward(gy, ghT, x, w_ih, w_hh, saved):
    x, w_ih, w_hh = (np.asarray(a, np.float64) for a in (x, w_ih, w_hh))
    T, B, _ = x.shape
    H = w_hh.shape[1]
    dh = np.zeros((B, H)) if ghT is None else np.array(ghT, np.float64)
    gw_ih, gw_hh, gbi, gbh = np.zeros_like(w_ih), np.zeros_like(w_hh), np.zeros(3 * H), np.zeros(3 * H)
    gx = np.zeros(x.shape)
    for t in reversed(range(T)):
        hp, r, z, n, un = saved[t]
        if gy is not None:
            dh = dh + gy[t]
        dn = dh * (1 - z) * (1 - n ** 2)
        dz = dh * (hp - n) * z * (1 - z)
        dr = dn * un * r * (1 - r)
        da = np.concatenate([dr, dz, dn], axis=1)
        du = np.concatenate([dr, dz, dn * r], axis=1)
        gx[t] = da @ w_ih
        gw_ih += da.T @ x[t]
        gw_hh += du.T @ hp
        gbi += da.sum(0)
        gbh += du.sum(0)
        dh = dh * z + du @ w_hh
    return gx, dh, gw_ih, gw_hh, gbi, gbh


def make(rng, G, T, B, I, H, dtype, bias=True):
    s = 1 / np.sqrt(max(H, 1))
    p = dict(x=rng.standard_normal((T, B, I)).astype(dtype),
             h0=rng.standard_normal((B, H)).astype(dtype) * 0.5,
             c0=rng.standard_normal((B, H)).astype(dtype) * 0.5,
             w_ih=rng.uniform(-s, s, (G * H, I)).astype(dtype) * 2,
             w_hh=rng.uniform(-s, s, (G * H, H)).astype(dtype) * 2,
             b_ih=rng.uniform(-s, s, (G * H,)).astype(dtype) if bias else None,
             b_hh=rng.uniform(-s, s, (G * H,)).astype(dtype) if bias else None)
    return p


def check_all(got, ref, tol, names):
    for g, r, name in zip(got, ref, names):
        assert g.shape == np.shape(r), (name, g.shape, np.shape(r))
        assert rel_err(g, r) <= tol, (name, rel_err(g, r))


ARGS = {"lstm": ["x", "h0", "c0", "w_ih", "w_hh", "b_ih", "b_hh"],
        "gru": ["x", "h0", "w_ih", "w_hh", "b_ih", "b_hh"],
        "lstm_cell": ["x", "h", "c", "w_ih", "w_hh", "b_ih", "b_hh"],
        "gru_cell": ["x", "h", "w_ih", "w_hh", "b_ih", "b_hh"]}


def check_rnn(kind, p, tol, grad_tol, own=False, **where):
    """nk.<kind> on Tensors of the arrays in p (None biases left out), every output and
    gradient, against the float64 references (own: finite differences of our own forward)."""
    names = [n for n in ARGS[kind] if p.get(n) is not None]
    op = getattr(nk, kind)

    def args(a):
        return {**dict.fromkeys(ARGS[kind]), **dict(zip(names, a))}

    ref, back = (lstm_ref, lstm_ref_backward) if kind == "lstm" else (gru_ref, gru_ref_backward)

    def ref_grad(w, *a):
        kw = args(a)
        grads = back(*w, kw["x"], kw["w_ih"], kw["w_hh"], ref(**kw)[-1])
        return [g for g, n in zip(grads, ARGS[kind]) if n in names]

    refs = dict(ref=lambda *a: op(**args(a))) if own else dict(ref=lambda *a: ref(**args(a))[:-1], ref_grad=ref_grad)
    check_op([p[n] for n in names], lambda *a: op(**args(a)), tol=tol, grad_tol=grad_tol, devices=("cpu",), **refs,
             **where)


# ---- forward and backward against the references ----------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("T,B,I,H", SHAPES)
def test_lstm_sequence(cpu_path, rng, dtype, T, B, I, H):
    p = make(rng, 4, T, B, I, H, dtype, bias=(H % 2 == 1))
    check_rnn("lstm", p, FTOL[dtype], FTOL[dtype] * 4, paths=[cpu_path])  # y, hT, cT and every gradient


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("T,B,I,H", SHAPES)
def test_gru_sequence(cpu_path, rng, dtype, T, B, I, H):
    p = make(rng, 3, T, B, I, H, dtype, bias=(H % 2 == 1))
    del p["c0"]
    check_rnn("gru", p, FTOL[dtype], FTOL[dtype] * 4, paths=[cpu_path])  # y, hT and every gradient


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("B,H", [(300, 12), (61, 40), (7, 100), (9, 33), (17, 70)])
def test_thread_splits(rng, threads, B, H):
    """Tiles split over rows alone (a row panel per thread or more: no barrier between steps)
    or over hidden strips (fewer row panels than threads: a barrier per step)."""
    before = nk.get_num_threads()
    nk.set_num_threads(threads)
    try:
        p = make(rng, 4, 3, B, 5, H, np.float64)
        y, hT, cT, cache = nk.lstm(**p, return_cache=True)
        ry, _, _, saved = lstm_ref(**p)
        assert rel_err(y, ry) <= 1e-12
        gy = rng.standard_normal(y.shape)
        got = nk.lstm_backward(gy, None, None, cache)
        ref = lstm_ref_backward(gy, None, None, p["x"], p["w_ih"], p["w_hh"], saved)
        check_all(got, ref, 1e-11, "gx gh0 gc0 gw_ih gw_hh gb_ih gb_hh".split())
        p = make(rng, 3, 3, B, 5, H, np.float64)
        del p["c0"]
        y, hT, cache = nk.gru(**p, return_cache=True)
        ry, _, saved = gru_ref(**p)
        assert rel_err(y, ry) <= 1e-12
        got = nk.gru_backward(gy, None, cache)
        ref = gru_ref_backward(gy, None, p["x"], p["w_ih"], p["w_hh"], saved)
        check_all(got, ref, 1e-11, "gx gh0 gw_ih gw_hh gb_ih gb_hh".split())
    finally:
        nk.set_num_threads(before)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("T,B,H", [(37, 40, 37), (5, 17, 64), (6, 5, 300)])
def test_same_bits_on_one_and_two_threads(cpu_path, rng, kind, T, B, H):
    """Split by row panels (B = 40, 17) or by hidden strips (B = 5, one panel), each output
    element's sums run in the same order on one thread or two, so both agree bit for bit,
    the final-state gradients included (they enter at the first and last steps)."""
    p = make(rng, 4 if kind == "lstm" else 3, T, B, 9, H, np.float32)
    if kind == "gru":
        del p["c0"]
    gy = rng.standard_normal((T, B, H)).astype(np.float32)
    ghT = rng.standard_normal((B, H)).astype(np.float32)
    gcT = rng.standard_normal((B, H)).astype(np.float32)
    out = {}
    for n in (1, 2):
        before = nk.get_num_threads()
        nk.set_num_threads(n)
        try:
            fwd = getattr(nk, kind)(**p, return_cache=True)
            cache = fwd[-1]
            bwd = nk.lstm_backward(gy, ghT, gcT, cache) if kind == "lstm" else nk.gru_backward(gy, ghT, cache)
            out[n] = [np.asarray(a) for a in fwd[:-1]] + [np.asarray(a) for a in bwd]
        finally:
            nk.set_num_threads(before)
    for a1, a2 in zip(out[1], out[2]):
        np.testing.assert_array_equal(a1, a2)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("T,B,I,H", [(2, 3, 5, 263), (3, 2, 0, 6)])
def test_large_hidden_and_empty_input(cpu_path, rng, kind, T, B, I, H):
    """H > KC: several k-blocks in the recurrent products; I = 0: no input projection."""
    G = 4 if kind == "lstm" else 3
    p = make(rng, G, T, B, I, H, np.float64)
    if kind == "gru":
        del p["c0"]
    check_rnn(kind, p, 1e-12, 1e-11, paths=[cpu_path])


def test_none_states_and_grads(rng):
    p = make(rng, 4, 3, 2, 4, 5, np.float64, bias=False)
    y, hT, cT, cache = nk.lstm(p["x"], None, None, p["w_ih"], p["w_hh"], return_cache=True)
    z = np.zeros((2, 5))
    ry, rh, rc, saved = lstm_ref(p["x"], z, z, p["w_ih"], p["w_hh"], None, None)
    assert rel_err(y, ry) <= 1e-12
    got = nk.lstm_backward(None, None, rng.standard_normal((2, 5)), cache)
    assert got[0].shape == p["x"].shape
    got = nk.lstm_backward(None, None, None, cache)
    assert all(np.all(g == 0) for g in got)
    y, hT, cache = nk.gru(p["x"], None, p["w_ih"][:15], p["w_hh"][:15], return_cache=True)
    assert rel_err(y, gru_ref(p["x"], z, p["w_ih"][:15], p["w_hh"][:15], None, None)[0]) <= 1e-12
    assert all(np.all(g == 0) for g in nk.gru_backward(None, None, cache))


@pytest.mark.parametrize("T,B", [(0, 3), (4, 0)])
def test_empty(rng, T, B):
    p = make(rng, 4, T, B, 3, 5, np.float32)
    y, hT, cT, cache = nk.lstm(**p, return_cache=True)
    assert y.shape == (T, B, 5) and hT.shape == (B, 5)
    np.testing.assert_array_equal(hT, p["h0"])
    ghT = np.ones((B, 5), np.float32)
    gx, gh0, gc0, gw_ih, gw_hh, gb_ih, gb_hh = nk.lstm_backward(None, ghT, None, cache)
    assert gx.shape == (T, B, 3) and gw_ih.shape == (20, 3) and not gw_ih.any()
    np.testing.assert_array_equal(gh0, ghT)
    del p["c0"]
    p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"] = p["w_ih"][:15], p["w_hh"][:15], None, None
    y, hT, cache = nk.gru(**p, return_cache=True)
    assert y.shape == (T, B, 5)
    gx, gh0, *_ = nk.gru_backward(None, ghT, cache)
    np.testing.assert_array_equal(gh0, ghT)


def test_noncontiguous_and_mixed_dtypes(rng):
    p = make(rng, 4, 4, 3, 6, 7, np.float64)
    xs = np.asfortranarray(p["x"])[:, ::-1][:, ::-1]  # non-C-contiguous but equal values
    w_ih = np.ascontiguousarray(p["w_ih"].T).T           # transposed view
    y, hT, cT = nk.lstm(xs, p["h0"], p["c0"], w_ih, p["w_hh"], p["b_ih"], p["b_hh"])
    assert rel_err(y, lstm_ref(**p)[0]) <= 1e-12
    y32 = nk.lstm(p["x"].astype(np.float32), p["h0"], p["c0"], p["w_ih"], p["w_hh"])[0]
    assert y32.dtype == np.float64  # mixed inputs promote


# ---- finite differences (float64, tiny shapes) -------------------------------------


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_finite_differences(cpu_path, rng, kind):
    T, B, I, H = 3, 2, 3, 4
    G = 4 if kind == "lstm" else 3
    p = make(rng, G, T, B, I, H, np.float64)
    if kind == "gru":
        del p["c0"]
    check_rnn(kind, p, 1e-12, 1e-7, own=True, paths=[cpu_path])


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_cell_finite_differences(rng, kind):
    B, I, H = 2, 3, 5
    G = 4 if kind == "lstm" else 3
    p = make(rng, G, 1, B, I, H, np.float64)
    p["x"] = p["x"][0]
    p["h"], c0 = p.pop("h0"), p.pop("c0")
    if kind == "lstm":
        p["c"] = c0
    check_rnn(kind + "_cell", p, 1e-12, 1e-7, own=True)


# ---- torch -------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("T,B,I,H,bias", [(5, 3, 7, 11, True), (2, 1, 4, 16, False), (6, 9, 10, 29, True)])
def test_against_torch_sequence(cpu_path, rng, dtype, kind, T, B, I, H, bias):
    pytest.importorskip("torch")
    torch.manual_seed(0)
    m = (torch.nn.LSTM if kind == "lstm" else torch.nn.GRU)(I, H, bias=bias)
    names = [n for n, _ in m.named_parameters()]
    W = [p.detach().numpy().astype(dtype) for p in m.parameters()]
    states = [rng.standard_normal((B, H)).astype(dtype) for _ in range(2 if kind == "lstm" else 1)]
    x = rng.standard_normal((T, B, I)).astype(dtype)
    tol = 1e-4 if dtype == np.float32 else 1e-11
    n = len(states) + 1

    def theirs(*a):  # torch's module with our weights, in float64
        hs = tuple(h[None] for h in a[1:n])
        y, hT = torch.func.functional_call(m, dict(zip(names, a[n:])), (a[0], hs if kind == "lstm" else hs[0]))
        return (y,) + tuple(h[0] for h in (hT if kind == "lstm" else (hT,)))

    op = nk.lstm if kind == "lstm" else nk.gru
    check_op([x, *states, *W], lambda *a: op(*a[:n], *a[n:], *[None] * (4 - len(W))), theirs, tol=tol,
             grad_tol=tol * 5, paths=[cpu_path], devices=("cpu",))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("unbatched", [False, True])
def test_against_torch_cell(rng, kind, unbatched):
    pytest.importorskip("torch")
    B, I, H = 4, 6, 13
    m = (torch.nn.LSTMCell if kind == "lstm" else torch.nn.GRUCell)(I, H).double()
    names = [n for n, _ in m.named_parameters()]
    W = [p.detach().numpy().copy() for p in m.parameters()]
    shp = (lambda *s: s[1:]) if unbatched else (lambda *s: s)
    states = [rng.standard_normal(shp(B, H)) for _ in range(2 if kind == "lstm" else 1)]
    x = rng.standard_normal(shp(B, I))
    n = len(states) + 1

    def theirs(*a):  # torch's cell with our weights
        return torch.func.functional_call(m, dict(zip(names, a[n:])), (a[0], tuple(a[1:n]) if kind == "lstm" else a[1]))

    check_op([x, *states, *W], nk.lstm_cell if kind == "lstm" else nk.gru_cell, theirs, tol=1e-12, grad_tol=1e-11,
             devices=("cpu",))


# ---- the SIMD activations of each vector path ---------------------------------------

SIMD_PATHS = [p for p in nk.cpu_paths() if p != "generic"]


@pytest.mark.skipif(not SIMD_PATHS, reason="no AVX2/FMA on this CPU")
@pytest.mark.parametrize("path", SIMD_PATHS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_simd_activations(dtype, path):
    # 1..64 first: every tail length of a 16-lane (and 8-lane) vector
    x = np.concatenate([np.linspace(-3, 3, 64), np.linspace(-30, 30, 20001), np.geomspace(1e-12, 90, 3001),
                        -np.geomspace(1e-12, 90, 3001), [0.0, -0.0, 1e4, -1e4, np.inf, -np.inf]]).astype(dtype)
    x64 = x.astype(np.float64)
    ulp = np.finfo(dtype).eps

    def act(which, x):
        out = np.empty_like(x)
        nk._C.rnn_activation(x, out, which, path)
        return out
    # every entry within 4 ulp of its own size; sigmoid from x > -80 (below, float32 results are denormal)
    check_op([x], lambda x: act("tanh", x), ref=np.tanh, grad=False, arrays=True, rtol=4 * ulp,
             atol=4 * ulp * np.finfo(dtype).tiny, devices=("cpu",), paths=[nk.cpu_path()])
    keep = x > -80
    with np.errstate(over="ignore"):
        check_op([x[keep]], lambda x: act("sigmoid", x), ref=lambda x: 1 / (1 + np.exp(-x)), grad=False, arrays=True,
                 rtol=4 * ulp, atol=0, devices=("cpu",), paths=[nk.cpu_path()])
    out = act("sigmoid", x)
    assert np.all((out >= 0) & (out <= 1))
    assert out[x64 == -np.inf] == 0 and out[x64 == np.inf] == 1
    for n in range(1, 34):  # every tail length: the lanes past n are never written
        for which, f in (("tanh", np.tanh), ("sigmoid", lambda v: 1 / (1 + np.exp(-v)))):
            o = np.full(n + 3, 7.0, dtype)
            nk._C.rnn_activation(x[:n], o, which, path)
            assert np.all(o[n:] == 7.0), (which, n)
            np.testing.assert_allclose(o[:n], f(x64[:n]), rtol=4 * ulp, atol=0)
    nan = np.array([np.nan] * 9, dtype)
    for which in ("tanh", "sigmoid"):
        nk._C.rnn_activation(nan, out[:9], which, path)
        assert np.isnan(out[:9]).all()


def test_simd_activations_bad_path():
    x = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match="path"):
        nk._C.rnn_activation(x, x.copy(), "tanh", "generic")
    with pytest.raises(ValueError, match="path"):
        nk._C.rnn_activation(x, x.copy(), "tanh", "sse9")
    if SIMD_PATHS:
        with pytest.raises(ValueError, match="which"):
            nk._C.rnn_activation(x, x.copy(), "relu", SIMD_PATHS[0])


# ---- bad arguments -----------------------------------------------------------------

def test_bad_arguments(rng):
    p = make(rng, 4, 3, 2, 4, 5, np.float32)
    with pytest.raises(ValueError, match="x"):
        nk.lstm(p["x"][0], p["h0"], p["c0"], p["w_ih"], p["w_hh"])
    with pytest.raises(ValueError, match="h0"):
        nk.lstm(p["x"], p["h0"][:1], p["c0"], p["w_ih"], p["w_hh"])
    with pytest.raises(ValueError, match="c0"):
        nk.lstm(p["x"], p["h0"], p["c0"][:, :4], p["w_ih"], p["w_hh"])
    with pytest.raises(ValueError, match="w_ih"):
        nk.lstm(p["x"], p["h0"], p["c0"], p["w_ih"][:, :3], p["w_hh"])
    with pytest.raises(ValueError, match="w_ih"):
        nk.lstm(p["x"], p["h0"], p["c0"], p["w_ih"][:19], p["w_hh"])
    with pytest.raises(ValueError, match="w_hh"):
        nk.lstm(p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"][:, :4])
    with pytest.raises(ValueError, match="b_hh"):
        nk.lstm(p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"], p["b_ih"], p["b_hh"][:3])
    with pytest.raises(ValueError, match="w_hh"):  # LSTM weights given to a GRU
        nk.gru(p["x"], p["h0"], p["w_ih"][:15], p["w_hh"])
    with pytest.raises(TypeError, match="x"):
        nk.lstm(p["x"].astype(np.int32), p["h0"], p["c0"], p["w_ih"], p["w_hh"])
    *_, cache = nk.lstm(**p, return_cache=True)
    with pytest.raises(ValueError, match="grad_y"):
        nk.lstm_backward(np.zeros((3, 2, 4), np.float32), None, None, cache)
    with pytest.raises(ValueError, match="grad_cT"):
        nk.lstm_backward(None, None, np.zeros((5,), np.float32), cache)
    with pytest.raises(TypeError, match="cache"):
        nk.gru_backward(None, None, cache)
    with pytest.raises(TypeError, match="cache"):
        nk.lstm_backward(None, None, None, {"x": 1})
    with pytest.raises(ValueError, match="x"):
        nk.lstm_cell(p["x"], p["h0"], p["c0"], p["w_ih"], p["w_hh"])
    with pytest.raises(ValueError, match="h"):
        nk.lstm_cell(p["x"][0], p["h0"][:, :2], p["c0"], p["w_ih"], p["w_hh"])
    with pytest.raises(ValueError, match="w_ih"):
        nk.gru_cell(p["x"][0], p["h0"], p["w_ih"][:14], p["w_hh"][:15])
    with pytest.raises(ValueError, match="grad_h1"):
        nk.gru_cell_backward(np.zeros((2, 4)), p["x"][0], p["h0"], p["w_ih"][:15], p["w_hh"][:15])


# ---- the Tensor ops through helpers.check_op (every CPU path, CPU and the (emulated) GPU) ----
def test_gru_check_op():
    pytest.importorskip("torch")

    def theirs(x, h0, w_ih, w_hh):  # torch.nn.GRU's equations (gates r, z, n), no biases
        h, ys = h0, []
        for xt in x:
            ir, iz, inn = (xt @ w_ih.T).chunk(3, -1)
            hr, hz, hn = (h @ w_hh.T).chunk(3, -1)
            r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
            h = (1 - z) * torch.tanh(inn + r * hn) + z * h
            ys.append(h)
        return torch.stack(ys)

    check_op([(3, 2, 4), (2, 5), (15, 4), (15, 5)], lambda x, h0, w_ih, w_hh: nk.gru(x, h0, w_ih, w_hh)[0],
             theirs, atol=1e-11, rtol=1e-9, devices=("cpu",))

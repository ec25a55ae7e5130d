"""scaled_dot_product_attention and its backward against float64 NumPy references and
torch.nn.functional.scaled_dot_product_attention (+ autograd) when torch is importable."""
import threading

import numpy as np
import pytest

import nnkernels as nk
from helpers import check_op, one_path, rel_err, torch

FTOL = {np.float32: 2e-5, np.float64: 1e-12}


# ---- float64 NumPy references (the whole score matrix; small sizes only) ----------------
def _logits(q, k, mask, causal, scale):
    q, k = q.astype(np.float64), k.astype(np.float64)
    D = q.shape[-1]
    scale = 1.0 / np.sqrt(D) if scale is None else scale
    s = scale * (q @ np.swapaxes(k, -1, -2))
    Lq, Lk = s.shape[-2:]
    if causal:
        s = np.where(np.tril(np.ones((Lq, Lk), bool)), s, -np.inf)
    if mask is not None:
        s = np.where(mask, s, -np.inf) if mask.dtype == bool else s + mask.astype(np.float64)
    return s


def ref_forward(q, k, v, mask=None, causal=False, scale=None):
    s = _logits(q, k, mask, causal, scale)
    m = s.max(-1, keepdims=True)
    seen = np.isfinite(m)
    e = np.exp(s - np.where(seen, m, 0.0))
    l = e.sum(-1, keepdims=True)
    p = np.where(seen, e / np.where(seen, l, 1.0), 0.0)
    lse = np.where(seen, m + np.log(np.where(seen, l, 1.0)), -np.inf)[..., 0]
    return p @ v.astype(np.float64), lse, p


def unbroadcast(g, shape):
    while g.ndim > len(shape):
        g = g.sum(0)
    for i, n in enumerate(shape):
        if n == 1 and g.shape[i] != 1:
            g = g.sum(i, keepdims=True)
    return g


def ref_backward(go, q, k, v, mask=None, causal=False, scale=None):
    D = q.shape[-1]
    scale = 1.0 / np.sqrt(D) if scale is None else scale
    _, _, p = ref_forward(q, k, v, mask, causal, scale)
    go = go.astype(np.float64)
    gv = np.swapaxes(p, -1, -2) @ go
    dp = go @ np.swapaxes(v.astype(np.float64), -1, -2)
    ds = p * (dp - (dp * p).sum(-1, keepdims=True))
    gq = scale * ds @ k.astype(np.float64)
    gk = scale * np.swapaxes(ds, -1, -2) @ q.astype(np.float64)
    return unbroadcast(gq, q.shape), unbroadcast(gk, k.shape), unbroadcast(gv, v.shape)


def sdpa_with_lse(**kw):
    """The (out, lse) op on arrays, for check_op(arrays=True)."""
    return lambda q, k, v: nk.scaled_dot_product_attention(q, k, v, return_lse=True, **kw)


def check_sdpa(q, k, v, tol, grad_tol, mask=None, causal=False, scale=None, **where):
    """Forward and gradients against the float64 references, errors relative to the larger of
    1 and the largest value (some gradients are exactly 0, e.g. Lq = 1 causal); CPU only."""
    check_op([q, k, v], lambda q, k, v: nk.scaled_dot_product_attention(q, k, v, mask, is_causal=causal, scale=scale),
             ref=lambda q, k, v: ref_forward(q, k, v, mask, causal, scale)[0],
             ref_grad=lambda go, q, k, v: ref_backward(go, q, k, v, mask, causal, scale), tol=tol, grad_tol=grad_tol,
             floor=1.0, devices=("cpu",), **where)


def rand(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


# (batch dims, Lq, Lk, D, Dv): 1, primes, Lq != Lk, D not a multiple of 8, block edges (96).
SHAPES = [
    ((), 1, 1, 1, 1), ((2,), 5, 7, 3, 4), ((2, 3), 13, 11, 8, 8), ((1,), 1, 97, 17, 5),
    ((3,), 97, 1, 5, 9), ((2,), 96, 96, 64, 64), ((1, 2), 97, 193, 33, 31), ((2,), 200, 150, 40, 70),
]
# Register-tile edges of every path (6×16 avx2/generic, 12×32 avx512): rows 11-13, 25, 31-33
# and columns (D, Dv) 16, 31, 32, 47, 48, 100 around the one- and two-zmm tails.
TILE_SHAPES = [
    ((2,), 33, 31, 48, 32), ((1,), 12, 25, 16, 100), ((1,), 191, 289, 96, 47), ((3,), 25, 13, 31, 16),
    ((1,), 11, 200, 32, 33),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("batch,Lq,Lk,D,Dv", SHAPES + TILE_SHAPES)
def test_forward_shapes(cpu_path, rng, dtype, causal, batch, Lq, Lk, D, Dv):
    q, k, v = rand(rng, batch + (Lq, D), dtype), rand(rng, batch + (Lk, D), dtype), rand(rng, batch + (Lk, Dv), dtype)
    t = FTOL[dtype] * 4
    check_op([q, k, v], sdpa_with_lse(is_causal=causal), ref=lambda q, k, v: ref_forward(q, k, v, causal=causal)[:2],
             grad=False, arrays=True, tol=[t, None], atol=t, rtol=t, **one_path(cpu_path, device=False))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("batch,Lq,Lk,D,Dv", SHAPES[1:6] + TILE_SHAPES)
def test_backward_shapes(cpu_path, rng, dtype, causal, batch, Lq, Lk, D, Dv):
    q, k, v = rand(rng, batch + (Lq, D), dtype), rand(rng, batch + (Lk, D), dtype), rand(rng, batch + (Lk, Dv), dtype)
    check_sdpa(q, k, v, FTOL[dtype] * 4, FTOL[dtype] * 8, causal=causal, paths=[cpu_path])


MASK_SHAPES = [(7,), (5, 7), (1, 5, 7), (2, 1, 5, 7), (2, 3, 5, 7), (3, 5, 1)]


@pytest.mark.parametrize("kind", ["bool", "additive"])
@pytest.mark.parametrize("mshape", MASK_SHAPES)
def test_masks_broadcast(cpu_path, rng, kind, mshape):
    q, k, v = rand(rng, (2, 3, 5, 6), np.float64), rand(rng, (2, 3, 7, 6), np.float64), rand(rng, (2, 3, 7, 4), np.float64)
    if kind == "bool":
        mask = rng.random(mshape) < 0.6
    else:
        mask = rng.standard_normal(mshape)
        mask[rng.random(mshape) < 0.3] = -np.inf
    # lse: -inf where the reference has -inf (rows with every key masked)
    check_op([q, k, v], sdpa_with_lse(attn_mask=mask), ref=lambda q, k, v: ref_forward(q, k, v, mask)[:2], grad=False,
             arrays=True, tol=[1e-12, None], atol=1e-12, rtol=1e-12, **one_path(cpu_path, device=False))
    check_sdpa(q, k, v, 1e-12, 1e-12, mask, paths=[cpu_path])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_masked_blocks(cpu_path, rng, dtype):
    # Several q- and kv-blocks, a mask that hides whole tiles and whole rows.
    q, k, v = rand(rng, (2, 150, 24), dtype), rand(rng, (2, 230, 24), dtype), rand(rng, (2, 230, 20), dtype)
    mask = rng.random((150, 230)) < 0.5
    mask[:, :120] = False
    mask[7] = False
    out, lse = nk.scaled_dot_product_attention(q, k, v, attn_mask=mask, return_lse=True)
    assert np.all(out[:, 7] == 0) and np.all(lse[:, 7] == -np.inf)
    check_sdpa(q, k, v, FTOL[dtype] * 4, FTOL[dtype] * 8, mask, paths=[cpu_path])  # NaN or inf fails rel_err


def test_fully_masked_rows_are_zero_like_torch(rng):
    q, k, v = rand(rng, (3, 4), np.float32), rand(rng, (5, 4), np.float32), rand(rng, (5, 2), np.float32)
    mask = np.ones((3, 5), bool)
    mask[1] = False
    out, lse = nk.scaled_dot_product_attention(q, k, v, attn_mask=mask, return_lse=True)
    assert np.all(out[1] == 0) and lse[1] == -np.inf and np.isfinite(out).all()
    gq, gk, gv = nk.scaled_dot_product_attention_backward(np.ones_like(out), q, k, v, out, lse, attn_mask=mask)
    assert np.all(gq[1] == 0) and np.isfinite(gk).all() and np.isfinite(gv).all()
    # No keys at all: zeros, as torch.
    out0 = nk.scaled_dot_product_attention(q, k[:0], v[:0])
    assert out0.shape == (3, 2) and np.all(out0 == 0)


@pytest.mark.parametrize("mag", [1e9, 1e20, -1e9])
@pytest.mark.parametrize("kind", ["none", "causal", "bool"])
@pytest.mark.parametrize("L", [1, 13, 97, 300])
def test_huge_scores_forward(cpu_path, rng, mag, kind, L):
    # Scaled scores ~mag: the online softmax must subtract the running max (several
    # kv-blocks at L = 300, so the max changes between blocks) before any exp. Rows 0-2
    # of k are equal, so a query whose best key is one of them splits its weight 1/3 each.
    D = 16
    q = rand(rng, (2, L, D), np.float32)
    k = rand(rng, (2, L, D), np.float32)
    k[:, 1:3] = k[:, :1]
    v = rand(rng, (2, L, 20), np.float32)
    scale = np.float32(mag)
    mask = rng.random((L, L)) < 0.8 if kind == "bool" else None
    if mask is not None:
        mask[:, 0] = True
    out, lse = nk.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=kind == "causal",
                                               scale=float(scale), return_lse=True)
    # float64 reference from the float32 scores (their rounding decides near-ties at this size)
    s = np.einsum("bqd,bkd->bqk", q, k).astype(np.float64) * float(scale)
    if kind == "causal":
        s = np.where(np.tril(np.ones((L, L), bool)), s, -np.inf)
    if mask is not None:
        s = np.where(mask, s, -np.inf)
    m = s.max(-1, keepdims=True)
    p = np.exp(s - m)
    ref = (p / p.sum(-1, keepdims=True)) @ v.astype(np.float64)
    # Where the two best scores are well apart the softmax is one-hot: out is a row of v.
    top2 = np.sort(s, -1)[..., -2:] if L > 1 else np.stack([s[..., 0] - np.inf, s[..., 0]], -1)
    clear = (top2[..., 1] - top2[..., 0]) > 1e-5 * np.abs(top2[..., 1]) + 60
    tie = np.isclose(top2[..., 1] - top2[..., 0], 0)
    sel = clear | tie
    assert sel.mean() > 0.8
    assert np.isfinite(out).all()
    # lse = the max (finite): float32 dot products of O(1) terms, scaled by mag
    check_op([q, k, v], lambda q, k, v: (out[sel], lse), ref=lambda q, k, v: (ref[sel], m[..., 0]), grad=False,
             arrays=True, atol=[1e-5, 1e-5 * abs(mag)], rtol=[0, 1e-6], paths=[cpu_path], devices=("cpu",))


def test_huge_scores_backward(cpu_path, rng):
    # One-hot probabilities: gv is grad_out summed onto the key each query picked, gq = gk = 0.
    q, k, v, go = (rand(rng, (2, 150, 16), np.float32) for _ in range(4))

    def grads(q, k, v, go):
        out, lse = nk.scaled_dot_product_attention(q, k, v, scale=1e9, return_lse=True)
        return nk.scaled_dot_product_attention_backward(go, q, k, v, out, lse, scale=1e9)

    def ref_gv(q, k, v, go):  # the picks from the float32 scores
        s = np.einsum("bqd,bkd->bqk", q.astype(np.float32), k.astype(np.float32)).astype(np.float64)
        return np.einsum("bqk,bqd->bkd", (s == s.max(-1, keepdims=True)).astype(np.float64), go)
    gq, gk, _ = grads(q, k, v, go)
    assert np.isfinite(gq).all() and np.isfinite(gk).all()
    check_op([q, k, v, go], lambda *a: grads(*a)[2], ref=ref_gv, grad=False, arrays=True, atol=1e-5, rtol=1e-7,
             paths=[cpu_path], devices=("cpu",))


@pytest.mark.parametrize("scale", [0.3, 2.0, -0.7])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scale(cpu_path, rng, scale, dtype):
    # A negative scale turns the running max into scale·min (the avx512 max pass); 40 keys
    # and 37 queries cross the 16/32-column and 12-row tile edges.
    tol = 1e-12 if dtype == np.float64 else FTOL[dtype] * 4
    q, k, v = rand(rng, (2, 37, 5), dtype), rand(rng, (2, 40, 5), dtype), rand(rng, (2, 40, 3), dtype)
    check_op([q, k, v], sdpa_with_lse(scale=scale), ref=lambda q, k, v: ref_forward(q, k, v, scale=scale)[:2],
             grad=False, arrays=True, tol=[tol, None], atol=tol, rtol=tol, **one_path(cpu_path, device=False))
    check_sdpa(q, k, v, tol, tol * 2, scale=scale, paths=[cpu_path])


def test_broadcast_leading_dims_and_grads(rng):
    q = rand(rng, (2, 3, 6, 8), np.float64)
    k = rand(rng, (1, 3, 9, 8), np.float64)       # shared over the batch
    v = rand(rng, (9, 5), np.float64)             # shared over batch and heads
    check_sdpa(q, k, v, 1e-12, 1e-12)                # gradients summed back to the broadcast shapes


def test_noncontiguous_inputs(cpu_path, rng):
    base = rand(rng, (2, 40, 3, 30), np.float32)
    q = base[:, ::2, 0, :12]                         # strided rows
    k = np.swapaxes(rand(rng, (2, 12, 25), np.float32), 1, 2)   # transposed: last axis not unit-stride
    v = rand(rng, (2, 25, 18), np.float32)[:, ::-1, ::-2]         # negative strides
    mask = (rng.random((25, 20)) < 0.7).T             # transposed mask
    out = nk.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert rel_err(out, ref_forward(q, k, v, mask)[0]) <= 1e-5


def test_reference_kernel_matches(rng):
    q, k, v = rand(rng, (2, 37, 20), np.float64), rand(rng, (2, 41, 20), np.float64), rand(rng, (2, 41, 9), np.float64)
    mask = rng.standard_normal((37, 41))
    naive = lambda q, k, v: nk.ops.attention.scaled_dot_product_attention(q, k, v, attn_mask=mask,  # noqa: E731
                                                                          return_lse=True, _reference=True)
    check_op([q, k, v], sdpa_with_lse(attn_mask=mask), ref=naive, grad=False, arrays=True, tol=1e-13,
             devices=("cpu",))


def test_empty(rng):
    q, k, v = rand(rng, (2, 0, 4), np.float32), rand(rng, (2, 3, 4), np.float32), rand(rng, (2, 3, 5), np.float32)
    out, lse = nk.scaled_dot_product_attention(q, k, v, return_lse=True)
    assert out.shape == (2, 0, 5) and lse.shape == (2, 0)
    gq, gk, gv = nk.scaled_dot_product_attention_backward(out, q, k, v, out, lse)
    assert gq.shape == q.shape and np.all(gk == 0) and np.all(gv == 0)
    out = nk.scaled_dot_product_attention(rand(rng, (0, 3, 4), np.float32), k[:1], v[:1])
    assert out.shape == (0, 3, 5)


def test_threads_agree_and_concurrent_calls(rng):
    q, k, v = rand(rng, (3, 2, 130, 32), np.float32), rand(rng, (3, 2, 170, 32), np.float32), rand(rng, (3, 2, 170, 32), np.float32)
    ref = nk.scaled_dot_product_attention(q, k, v, is_causal=True)
    before = nk.get_num_threads()
    try:
        nk.set_num_threads(1)
        assert rel_err(nk.scaled_dot_product_attention(q, k, v, is_causal=True), ref) <= 1e-6
    finally:
        nk.set_num_threads(before)
    results = [None] * 4

    def work(i):
        results[i] = nk.scaled_dot_product_attention(q, k, v, is_causal=True)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        assert rel_err(r, ref) <= 1e-6


def test_finite_difference_gradients(rng):
    q, k, v = rand(rng, (2, 4, 3), np.float64), rand(rng, (2, 5, 3), np.float64), rand(rng, (2, 5, 2), np.float64)
    mask = rng.standard_normal((4, 5))
    for kw in ({"attn_mask": mask}, {"is_causal": True}):  # finite differences of our own forward
        sdpa = lambda q, k, v: nk.scaled_dot_product_attention(q, k, v, **kw)  # noqa: E731
        check_op([q, k, v], sdpa, ref=sdpa, tol=0, grad_atol=1e-8, grad_rtol=1e-6, devices=("cpu",))


# ---- against torch --------------------------------------------------------------------
TORCH_CASES = [
    # (q shape, Lk, Dv, mask kind, mask shape, causal, scale)
    ((2, 3, 17, 8), 23, 8, None, None, False, None),
    ((2, 3, 29, 12), 11, 5, None, None, True, None),     # causal, Lq > Lk
    ((1, 2, 11, 12), 130, 7, None, None, True, 0.5),     # causal, Lq < Lk
    ((2, 3, 19, 10), 31, 10, "bool", (19, 31), False, None),
    ((2, 3, 19, 10), 31, 10, "bool", (2, 1, 19, 31), False, 0.2),
    ((2, 3, 19, 10), 31, 6, "additive", (3, 19, 31), False, None),
    ((5, 101, 24), 97, 24, "additive", (101, 97), False, None),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", TORCH_CASES)
def test_against_torch(cpu_path, rng, dtype, case):
    pytest.importorskip("torch")
    F = torch.nn.functional
    qshape, Lk, Dv, kind, mshape, causal, scale = case
    q = rand(rng, qshape, dtype)
    k = rand(rng, qshape[:-2] + (Lk, qshape[-1]), dtype)
    v = rand(rng, qshape[:-2] + (Lk, Dv), dtype)
    mask = None
    if kind == "bool":
        mask = rng.random(mshape) < 0.7
    elif kind == "additive":
        mask = rng.standard_normal(mshape).astype(dtype)
    tmask = None if mask is None else torch.from_numpy(mask.astype(np.float64) if kind == "additive" else mask)
    check_op([q, k, v], lambda q, k, v: nk.scaled_dot_product_attention(q, k, v, mask, is_causal=causal, scale=scale),
             lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=tmask, is_causal=causal, scale=scale),
             tol=FTOL[dtype] * 4, grad_tol=FTOL[dtype] * 8, floor=1.0, **one_path(cpu_path, device=False))


def test_fully_masked_rows_match_torch(rng):
    pytest.importorskip("torch")
    q, k, v = rand(rng, (2, 6, 4), np.float32), rand(rng, (2, 5, 4), np.float32), rand(rng, (2, 5, 3), np.float32)
    mask = rng.random((6, 5)) < 0.5
    mask[2] = False
    check_op([q, k, v], lambda q, k, v: nk.scaled_dot_product_attention(q, k, v, attn_mask=mask),
             lambda q, k, v: torch.nn.functional.scaled_dot_product_attention(q, k, v,
                                                                              attn_mask=torch.from_numpy(mask)),
             grad=False, arrays=True, tol=1e-6, devices=("cpu",))


# ---- bad arguments ----------------------------------------------------------------------
def test_bad_arguments(rng):
    q, k, v = rand(rng, (2, 5, 4), np.float32), rand(rng, (2, 7, 4), np.float32), rand(rng, (2, 7, 3), np.float32)
    sdpa = nk.scaled_dot_product_attention
    with pytest.raises(ValueError, match="k has shape"):
        sdpa(q, rand(rng, (2, 7, 5), np.float32), v)
    with pytest.raises(ValueError, match="v has shape"):
        sdpa(q, k, rand(rng, (2, 6, 3), np.float32))
    with pytest.raises(ValueError, match="q must have"):
        sdpa(np.ones(4, np.float32), k, v)
    with pytest.raises(ValueError, match="leading dimensions"):
        sdpa(rand(rng, (3, 5, 4), np.float32), k, v)
    with pytest.raises(ValueError, match="attn_mask has shape"):
        sdpa(q, k, v, attn_mask=np.ones((5, 6), bool))
    with pytest.raises(ValueError, match="attn_mask has shape"):
        sdpa(q, k, v, attn_mask=np.ones((3, 5, 7), bool))
    with pytest.raises(ValueError, match="attn_mask must be None"):
        sdpa(q, k, v, attn_mask=np.ones((5, 7), bool), is_causal=True)
    with pytest.raises(TypeError, match="attn_mask"):
        sdpa(q, k, v, attn_mask=np.ones((5, 7), np.int32))
    with pytest.raises(TypeError, match="q has unsupported dtype"):
        sdpa(q.astype(np.int64), k, v)
    out, lse = sdpa(q, k, v, return_lse=True)
    bwd = nk.scaled_dot_product_attention_backward
    with pytest.raises(ValueError, match="grad_out has shape"):
        bwd(out[:, :4], q, k, v, out, lse)
    with pytest.raises(ValueError, match="lse has shape"):
        bwd(out, q, k, v, out, lse[:, :3])
    with pytest.raises(ValueError, match="out has shape"):
        bwd(out, q, k, v, out[0], lse)


@pytest.mark.parametrize("seed", range(12))
def test_random_configurations(cpu_path, seed):
    # Random sizes (block edges included), mask kinds, causal and scale, forward and backward.
    rng = np.random.default_rng(100 + seed)
    dtype = (np.float32, np.float64)[seed % 2]
    B, Lq, Lk = int(rng.integers(1, 3)), int(rng.integers(1, 200)), int(rng.integers(1, 200))
    D, Dv = int(rng.integers(1, 100)), int(rng.integers(1, 100))
    kind = ("none", "causal", "bool", "additive")[seed % 4]
    q, k, v = rand(rng, (B, Lq, D), dtype), rand(rng, (B, Lk, D), dtype), rand(rng, (B, Lk, Dv), dtype)
    mask = (rng.random((Lq, Lk)) < 0.8) if kind == "bool" else \
        rand(rng, (B, Lq, Lk), dtype) if kind == "additive" else None
    causal = kind == "causal"
    scale = None if seed % 3 else float(rng.uniform(-1, 1))
    check_sdpa(q, k, v, FTOL[dtype] * 4, FTOL[dtype] * 8, mask, causal, scale, paths=[cpu_path], seed=seed)


# ---- the Tensor ops through helpers.check_op (every CPU path, CPU and the (emulated) GPU) ----
@pytest.mark.parametrize("causal", [False, True])
def test_attention_check_op(causal):
    pytest.importorskip("torch")
    check_op([(2, 3, 5, 8), (2, 3, 6, 8), (2, 3, 6, 4)],
             lambda q, k, v: nk.scaled_dot_product_attention(q, k, v, is_causal=causal),
             lambda q, k, v: torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=causal),
             atol=1e-11, rtol=1e-9, devices=("cpu",))

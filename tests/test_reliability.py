"""Bad input is refused with a ValueError/TypeError naming the op and the argument, and
never crashes the process or returns garbage (issue 9). One regression test per case found."""
import os

import numpy as np
import pytest

import nnkernels as nk
import nnkernels.nn as nn
import nnkernels.nn.functional as F


def _raises(exc, fn, *names):
    """fn() raises `exc`; its message names every string in `names`."""
    with pytest.raises(exc) as e:
        fn()
    msg = str(e.value)
    for n in names:
        assert n in msg, f"{n!r} not in {msg!r}"
    return msg


# ---- RNN caches: every array checked against the others (was SIGSEGV) ------------

def _lstm_cache(rng, dtype=np.float32):
    T, B, I, H = 3, 2, 4, 5
    x = rng.standard_normal((T, B, I)).astype(dtype)
    w_ih = rng.standard_normal((4 * H, I)).astype(dtype)
    w_hh = rng.standard_normal((4 * H, H)).astype(dtype)
    y, hT, cT, cache = nk.lstm(x, None, None, w_ih, w_hh, return_cache=True)
    return y, cache


def _gru_cache(rng, dtype=np.float32):
    T, B, I, H = 3, 2, 4, 5
    x = rng.standard_normal((T, B, I)).astype(dtype)
    w_ih = rng.standard_normal((3 * H, I)).astype(dtype)
    w_hh = rng.standard_normal((3 * H, H)).astype(dtype)
    y, hT, cache = nk.gru(x, None, w_ih, w_hh, return_cache=True)
    return y, cache


@pytest.mark.parametrize("field", ["x", "h0", "c0", "w_ih", "w_hh", "y", "gates", "states"])
@pytest.mark.parametrize("bad", ["small", "large", "dtype", "strided", "list"])
def test_lstm_backward_rejects_tampered_cache(rng, field, bad):
    y, cache = _lstm_cache(rng)
    a = getattr(cache, field)
    if bad == "small":
        new = np.zeros((1,) * a.ndim, a.dtype)
    elif bad == "large":
        new = np.zeros(tuple(n + 7 for n in a.shape), a.dtype)
    elif bad == "dtype":
        new = a.astype(np.float64)
    elif bad == "strided":
        new = np.repeat(a, 2, axis=-1)[..., ::2]
    else:
        new = a.tolist()
    setattr(cache, field, new)
    exc = TypeError if bad in ("dtype", "list") else ValueError
    _raises(exc, lambda: nk.lstm_backward(y, None, None, cache), "lstm_backward", f"cache.{field}")


@pytest.mark.parametrize("field", ["x", "h0", "w_ih", "w_hh", "y", "gates", "states"])
@pytest.mark.parametrize("bad", ["small", "large", "dtype"])
def test_gru_backward_rejects_tampered_cache(rng, field, bad):
    y, cache = _gru_cache(rng)
    a = getattr(cache, field)
    if bad == "small":
        new = np.zeros((1,) * a.ndim, a.dtype)
    elif bad == "large":
        new = np.zeros(tuple(n + 7 for n in a.shape), a.dtype)
    else:
        new = a.astype(np.float64)
    setattr(cache, field, new)
    _raises(ValueError if bad != "dtype" else TypeError, lambda: nk.gru_backward(y, None, cache),
            "gru_backward", f"cache.{field}")


def test_untampered_cache_still_works(rng):
    y, cache = _lstm_cache(rng)
    assert all(np.all(np.isfinite(g)) for g in nk.lstm_backward(y, None, None, cache))
    y, cache = _gru_cache(rng, np.float64)
    assert all(np.all(np.isfinite(g)) for g in nk.gru_backward(y, None, cache))


# ---- pooling: empty H or W with padding returned uninitialised memory ----------------

@pytest.mark.parametrize("shape", [(1, 2, 0, 4), (2, 0, 4), (1, 2, 4, 0), (1, 2, 0, 0)])
@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize("op", ["max_pool2d", "avg_pool2d"])
def test_pool_empty_spatial_with_padding_is_refused(shape, ceil_mode, op):
    # torch refuses these inputs too ("Expected 3D or 4D ... tensor"); the output used to be
    # np.empty memory (values like 6.9e18).
    x = np.zeros(shape, np.float32)
    _raises(ValueError, lambda: getattr(nk, op)(x, 2, padding=1, ceil_mode=ceil_mode), op, "x", "empty")


def test_avg_pool2d_backward_empty_input_shape_is_refused():
    _raises(ValueError, lambda: nk.avg_pool2d_backward(np.zeros((1, 2, 1, 3), np.float32), (1, 2, 0, 4), 2,
                                                       padding=1), "avg_pool2d_backward", "input_shape")


def test_pool_empty_batch_still_works():
    x = np.zeros((0, 2, 3, 4), np.float32)
    assert nk.max_pool2d(x, 2, padding=1).shape == (0, 2, 2, 3)
    assert nk.avg_pool2d(x, 2, padding=1).shape == (0, 2, 2, 3)


@pytest.mark.parametrize("bad", [-1, 4, 5, 2**40, -2**62])
def test_max_pool2d_backward_checks_indices(bad):
    g = np.ones((1, 1, 2, 2), np.float32)
    idx = np.zeros((1, 1, 2, 2), np.int64)
    idx[0, 0, 1, 1] = bad
    _raises(ValueError, lambda: nk.max_pool2d_backward(g, idx, (1, 1, 2, 2)), "max_pool2d_backward", "indices")


def test_max_pool2d_backward_indices_into_empty_input():
    g = np.ones((1, 1, 2, 2), np.float32)
    _raises(ValueError, lambda: nk.max_pool2d_backward(g, np.zeros((1, 1, 2, 2), np.int64), (1, 1, 0, 5)),
            "max_pool2d_backward", "indices", "input_shape")


def test_max_pool2d_backward_from_forward_indices(rng):
    x = rng.standard_normal((2, 3, 5, 7)).astype(np.float32)
    y, idx = nk.max_pool2d(x, 3, 2, 1, return_indices=True)
    g = nk.max_pool2d_backward(np.ones_like(y), idx, x.shape)
    assert g.sum() == y.size


# ---- attention: huge scaled scores (online softmax must subtract the max first) -----

def _sdpa_ref(q, k, v, scale):
    s = np.einsum("bqd,bkd->bqk", q.astype(np.float64), k.astype(np.float64)) * scale
    m = s.max(-1, keepdims=True)
    p = np.exp(s - m)
    lse = (m + np.log(p.sum(-1, keepdims=True)))[..., 0]
    return (p / p.sum(-1, keepdims=True)) @ v.astype(np.float64), lse


@pytest.mark.parametrize("mult,scale", [(3e4, None), (1.0, 1e9), (1.0, 1e12), (3e2, 1e6), (1.0, 1e30)])
@pytest.mark.parametrize("L", [1, 5, 7, 37, 200])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("masked", [False, True])
def test_attention_huge_scores_match_reference(cpu_path, rng, mult, scale, L, dtype, masked):
    q = (rng.standard_normal((2, L, 8)) * mult).astype(dtype)
    k = (rng.standard_normal((2, L, 8)) * mult).astype(dtype)
    v = rng.standard_normal((2, L, 8)).astype(dtype)
    sc = 1 / np.sqrt(8) if scale is None else scale
    mask = np.ones((L, L), bool) if masked else None  # a mask takes the pre-scaled tile path
    out, lse = nk.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale, return_lse=True)
    ref, ref_lse = _sdpa_ref(q, k, v, sc)
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(lse))
    # Scores this large make the softmax one-hot; the output is then a row of v.
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-5 if dtype == np.float32 else 1e-12)
    np.testing.assert_allclose(lse, ref_lse, rtol=1e-6 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("mult", [1e2, 3e4])
def test_attention_backward_huge_scores_is_finite(cpu_path, rng, mult):
    q, k, v, go = (rng.standard_normal((2, 37, 8)).astype(np.float32) for _ in range(4))
    q *= mult
    k *= mult
    out, lse = nk.scaled_dot_product_attention(q, k, v, return_lse=True)
    gq, gk, gv = nk.scaled_dot_product_attention_backward(go, q, k, v, out, lse)
    assert all(np.all(np.isfinite(g)) for g in (gq, gk, gv))
    # One-hot probabilities: gv is grad_out summed onto the key each query picked.
    s = np.einsum("bqd,bkd->bqk", q.astype(np.float64), k.astype(np.float64))
    p = (s == s.max(-1, keepdims=True)).astype(np.float64)
    np.testing.assert_allclose(gv, np.einsum("bqk,bqd->bkd", p, go), atol=1e-5)


# ---- class indices: negative ones are refused, never wrapped to the last class ----------

def _logits(rng, N=5, C=4):
    return rng.standard_normal((N, C)).astype(np.float32)


@pytest.mark.parametrize("bad", [-1, -5, 4, 2**40])
def test_cross_entropy_loss_refuses_bad_class(rng, bad):
    y = np.array([0, 1, bad, 2, 3])
    for loss in (nn.CrossEntropyLoss(), nn.CrossEntropyLoss(weight=np.ones(4, np.float32)),
                 nn.CrossEntropyLoss(ignore_index=1), nn.CrossEntropyLoss(label_smoothing=0.1)):
        _raises(ValueError, lambda: loss(nk.tensor(_logits(rng)), y), "CrossEntropyLoss", "target", str(bad))


@pytest.mark.parametrize("bad", [-1, -3, 4])
def test_nll_loss_refuses_bad_class(rng, bad):
    x = nk.tensor(_logits(rng))
    y = np.array([0, 1, bad, 2, 3])
    _raises(ValueError, lambda: F.nll_loss(x, y), "nll_loss", "target", str(bad))
    _raises(ValueError, lambda: nn.NLLLoss()(x, y), "NLLLoss", "target", str(bad))
    _raises(ValueError, lambda: nn.NLLLoss(ignore_index=0)(x, y), "NLLLoss", "target", str(bad))


def test_nll_loss_refuses_float_target(rng):
    _raises(TypeError, lambda: F.nll_loss(nk.tensor(_logits(rng)), np.array([0., 1, 2, 3, 0])), "nll_loss",
            "target", "float64")


@pytest.mark.parametrize("n", [3, 5, 1])
def test_class_weight_of_wrong_length_is_refused(rng, n):
    x = nk.tensor(_logits(rng))
    y = np.array([0, 1, 2, 3, 0])
    w = np.ones(n, np.float32)
    _raises(ValueError, lambda: nn.CrossEntropyLoss(weight=w)(x, y), "CrossEntropyLoss", "weight", f"({n},)")
    _raises(ValueError, lambda: nn.NLLLoss(weight=w)(x, y), "NLLLoss", "weight", f"({n},)")
    _raises(ValueError, lambda: F.nll_loss(x, y, weight=w), "nll_loss", "weight")
    p = np.full((5, 4), 0.25, np.float32)
    _raises(ValueError, lambda: nn.CrossEntropyLoss(weight=w)(x, p), "CrossEntropyLoss", "weight")


def test_ignore_index_negative_is_still_ignored(rng):
    x = _logits(rng)
    y = np.array([0, -100, 2, 3, -100])
    got = nn.NLLLoss()(nk.tensor(x), y).item()
    assert np.isclose(got, -(x[0, 0] + x[2, 2] + x[3, 3]) / 3, rtol=1e-6)
    all_ignored = nn.CrossEntropyLoss()(nk.tensor(x), np.full(5, -100))
    assert np.isnan(all_ignored.item())


@pytest.mark.parametrize("t,num_classes", [([-1, 0], -1), ([0, -2], 3), ([3, 0], 3), ([0, 1], 1)])
def test_one_hot_refuses_bad_class(t, num_classes):
    _raises(ValueError, lambda: F.one_hot(np.array(t), num_classes), "one_hot", "target")


def test_one_hot_refuses_float_and_empty():
    _raises(TypeError, lambda: F.one_hot(np.array([0.0, 1.0])), "one_hot", "t")
    _raises(ValueError, lambda: F.one_hot(np.array([], np.int64)), "one_hot", "num_classes")
    assert F.one_hot(np.array([], np.int64), 3).shape == (0, 3)
    np.testing.assert_array_equal(F.one_hot(np.array([2, 0]), 3).data, [[0, 0, 1], [1, 0, 0]])


def test_weighted_losses_match_torch(rng):
    torch = pytest.importorskip("torch")
    x = _logits(rng, 6, 4)
    y = np.array([0, 1, 3, 3, 2, 1])
    w = np.array([0.5, 2.0, 1.0, 3.0], np.float32)
    p = rng.dirichlet(np.ones(4), 6).astype(np.float32)
    tx, ty, tw, tp = torch.tensor(x), torch.tensor(y), torch.tensor(w), torch.tensor(p)
    for red in ("mean", "sum", "none"):
        pairs = [
            (nn.NLLLoss(weight=w, reduction=red)(nk.tensor(x), y),
             torch.nn.NLLLoss(weight=tw, reduction=red)(tx, ty)),
            (nn.NLLLoss(weight=w, ignore_index=3, reduction=red)(nk.tensor(x), y),
             torch.nn.NLLLoss(weight=tw, ignore_index=3, reduction=red)(tx, ty)),
            (nn.CrossEntropyLoss(weight=w, reduction=red)(nk.tensor(x), p),
             torch.nn.CrossEntropyLoss(weight=tw, reduction=red)(tx, tp)),
            (nn.CrossEntropyLoss(weight=w, ignore_index=1, reduction=red)(nk.tensor(x), y),
             torch.nn.CrossEntropyLoss(weight=tw, ignore_index=1, reduction=red)(tx, ty)),
            (nn.CrossEntropyLoss(weight=w, ignore_index=3, label_smoothing=0.3, reduction=red)(nk.tensor(x), y),
             torch.nn.CrossEntropyLoss(weight=tw, ignore_index=3, label_smoothing=0.3, reduction=red)(tx, ty)),
        ]
        for got, ref in pairs:
            np.testing.assert_allclose(np.asarray(got.data), ref.numpy(), rtol=1e-5, atol=1e-6)


# ---- unhelpful exceptions: huge ints, giant outputs, None weights -------------------

_X = np.zeros((1, 2, 5, 5), np.float32)
_W = np.zeros((3, 2, 3, 3), np.float32)
_WT = np.zeros((2, 3, 3, 3), np.float32)
HUGE = [2**63, 2**64 + 1, 2**31, np.uint64(2**63)]


@pytest.mark.parametrize("v", HUGE)
@pytest.mark.parametrize("op,arg,call", [
    ("conv2d", "stride", lambda v: nk.conv2d(_X, _W, stride=v)),
    ("conv2d", "dilation", lambda v: nk.conv2d(_X, _W, dilation=v)),
    ("conv2d", "padding", lambda v: nk.conv2d(_X, _W, padding=(v, 0))),
    ("conv2d", "groups", lambda v: nk.conv2d(_X, _W, groups=v)),
    ("conv2d_backward", "stride", lambda v: nk.conv2d_backward(np.zeros((1, 3, 3, 3), np.float32), _X, _W, stride=v)),
    ("conv_transpose2d", "stride", lambda v: nk.conv_transpose2d(_X, _WT, stride=v)),
    ("conv_transpose2d", "dilation", lambda v: nk.conv_transpose2d(_X, _WT, dilation=v)),
    ("conv_transpose2d", "output_padding", lambda v: nk.conv_transpose2d(_X, _WT, output_padding=v)),
    ("max_pool2d", "stride", lambda v: nk.max_pool2d(_X, 2, stride=v)),
    ("max_pool2d", "dilation", lambda v: nk.max_pool2d(_X, 2, dilation=v)),
    ("max_pool2d", "kernel_size", lambda v: nk.max_pool2d(_X, v)),
    ("avg_pool2d", "stride", lambda v: nk.avg_pool2d(_X, 2, stride=v)),
    ("avg_pool2d", "padding", lambda v: nk.avg_pool2d(_X, 2, padding=(0, v))),
    ("avg_pool2d_backward", "stride", lambda v: nk.avg_pool2d_backward(np.zeros((1, 2, 2, 2), np.float32),
                                                                       _X.shape, 2, stride=v)),
    ("adaptive_avg_pool2d", "output_size", lambda v: nk.adaptive_avg_pool2d(_X, v)),
])
def test_huge_int_argument_is_a_value_error(op, arg, call, v):
    # was pybind11's "incompatible function arguments" / "Unable to cast Python instance"
    msg = _raises(ValueError, lambda: call(v), op, arg, str(int(v)))
    assert "incompatible" not in msg and "cast" not in msg


@pytest.mark.parametrize("op,arg,call", [
    ("conv2d", "padding", lambda: nk.conv2d(_X, _W, padding=(2**30, 0))),
    ("conv_transpose2d", "stride", lambda: nk.conv_transpose2d(_X, _WT, stride=2**30)),
    ("adaptive_avg_pool2d", "output_size", lambda: nk.adaptive_avg_pool2d(_X, 2**30)),
    ("max_pool2d_backward", "input_shape", lambda: nk.max_pool2d_backward(
        np.zeros((1, 2, 2, 2), np.float32), np.zeros((1, 2, 2, 2), np.int64), (1, 2, 2**40, 2**40))),
    ("avg_pool2d_backward", "input_shape", lambda: nk.avg_pool2d_backward(
        np.broadcast_to(np.float32(0), (1, 2, 2**28, 2**28)), (1, 2, 2**28, 2**28), 1)),
    ("matmul", "a and b", lambda: nk.matmul(np.broadcast_to(np.float32(0), (2**22, 1)),
                                             np.broadcast_to(np.float32(0), (1, 2**22)))),
    ("gemm", "a and b", lambda: nk.gemm(np.broadcast_to(np.float32(0), (2**22, 1)),
                                         np.broadcast_to(np.float32(0), (1, 2**22)))),
])
def test_giant_result_is_a_value_error(op, arg, call):
    # was NumPy's MemoryError ("Unable to allocate 96 TiB") naming neither op nor argument
    _raises(ValueError, call, op, arg)


def test_padding_2_40_names_op_argument_and_value():
    _raises(ValueError, lambda: nk.conv2d(_X, _W, padding=(2**40, 0)), "conv2d", "padding", str(2**40))


@pytest.mark.parametrize("op,arg,call", [
    ("max_pool2d_backward", "input_shape", lambda: nk.max_pool2d_backward(
        np.zeros((1, 2, 2, 2), np.float32), np.zeros((1, 2, 2, 2), np.int64), (1, 2, -2, 2))),
    ("avg_pool2d_backward", "input_shape", lambda: nk.avg_pool2d_backward(np.zeros((1, 2, 2, 2), np.float32),
                                                                          (1, 2, 4.5, 4), 2)),
    ("adaptive_avg_pool2d_backward", "input_shape", lambda: nk.adaptive_avg_pool2d_backward(
        np.zeros((1, 2, 2, 2), np.float32), None)),
])
def test_bad_input_shape(op, arg, call):
    _raises(ValueError, call, op, arg)


@pytest.mark.parametrize("op,arg,exc,call", [
    ("gemm", "alpha", TypeError, lambda: nk.gemm(np.eye(2), np.eye(2), alpha="x")),
    ("gemm", "beta", ValueError, lambda: nk.gemm(np.eye(2), np.eye(2), np.eye(2), beta=10**400)),
    ("scaled_dot_product_attention", "scale", TypeError,
     lambda: nk.scaled_dot_product_attention(_X, _X, _X, scale="big")),
    ("leaky_relu", "negative_slope", ValueError, lambda: nk.leaky_relu(_X, 10**400)),
    ("cross_entropy", "label_smoothing", TypeError,
     lambda: nk.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), label_smoothing=None)),
])
def test_bad_float_argument(op, arg, exc, call):
    _raises(exc, call, op, arg)


_RX = np.zeros((2, 1, 3), np.float32)
_RW4, _RH4 = np.zeros((4, 3), np.float32), np.zeros((4, 1), np.float32)
_RW3, _RH3 = np.zeros((3, 3), np.float32), np.zeros((3, 1), np.float32)


@pytest.mark.parametrize("op,arg,call", [
    ("lstm", "w_ih", lambda: nk.lstm(_RX, None, None, None, _RH4)),
    ("lstm", "w_hh", lambda: nk.lstm(_RX, None, None, _RW4, None)),
    ("lstm", "x", lambda: nk.lstm(None, None, None, _RW4, _RH4)),
    ("gru", "w_ih", lambda: nk.gru(_RX, None, None, _RH3)),
    ("gru", "w_hh", lambda: nk.gru(_RX, None, _RW3, None)),
    ("lstm_cell", "w_ih", lambda: nk.lstm_cell(_RX[0], None, None, None, _RH4)),
    ("lstm_cell_backward", "w_hh", lambda: nk.lstm_cell_backward(None, None, _RX[0], None, None, _RW4, None)),
    ("gru_cell", "w_hh", lambda: nk.gru_cell(_RX[0], None, _RW3, None)),
    ("gru_cell_backward", "w_ih", lambda: nk.gru_cell_backward(None, _RX[0], None, None, _RH3)),
])
def test_none_for_required_rnn_weight_is_a_type_error(op, arg, call):
    # was AttributeError "'NoneType' object has no attribute 'ndim'"
    _raises(TypeError, call, op, arg, "None")


def test_valid_big_but_sane_arguments_still_work():
    assert nk.conv2d(_X, _W, padding=(1000, 0)).shape == (1, 3, 2003, 3)
    assert nk.max_pool2d(_X, 2, stride=2**31 - 1).shape == (1, 2, 1, 1)
    assert nk.gemm(np.eye(2), np.eye(2), alpha=np.float32(2), beta=np.array(0.0)).tolist() == [[2, 0], [0, 2]]


# ---- attention: a NaN/Inf score gives NaN (as torch), never a finite made-up row ---------

@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_attention_nan_score_propagates(cpu_path, bad, dtype):
    q = np.array([[bad], [1.0]], dtype)
    k = np.array([[1.0], [2.0]], dtype)
    v = np.array([[0.3], [0.5]], dtype)
    out, lse = nk.scaled_dot_product_attention(q, k, v, return_lse=True)
    assert np.isnan(out[0]).all() and np.isnan(lse[0])  # the AVX2 path returned 0.3 (p = 1)
    assert np.isfinite(out[1]).all() and np.isfinite(lse[1])  # other rows untouched
    masked = nk.scaled_dot_product_attention(q, k, v, attn_mask=np.array([[False, False], [True, True]]))
    assert np.all(masked[0] == 0)  # a row that sees no key is still 0


def test_losses_refuse_integer_input():
    # nn.NLLLoss(weight=...) on int input cast the weights to int (0) and returned NaN
    x = nk.tensor(np.array([[3, 1]], np.int32))
    w = np.array([0.25, 1.0], np.float32)
    _raises(TypeError, lambda: nn.NLLLoss(weight=w)(x, np.array([0])), "NLLLoss", "input", "int32")
    _raises(TypeError, lambda: F.nll_loss(x, np.array([0])), "nll_loss", "input")
    _raises(TypeError, lambda: nn.CrossEntropyLoss(weight=w)(x, np.array([0])), "CrossEntropyLoss", "input")


# ---- saving is safe: atomic writes, corrupt files refused, model unchanged --------------

def _keras_model():
    from nnkernels.keras import layers, models
    return models.Sequential([layers.Dense(3, input_shape=(4,)), layers.Dense(2)])


def _writers(tmp_path):
    """(name, write(path) of a *new* state, read(path) -> dict of arrays) for every writer."""
    from nnkernels.keras import callbacks
    lin = nn.Linear(4, 3)

    def keras_save(path, seed):
        m = _keras_model()
        m.set_weights([np.full(w.shape, seed, w.dtype) for w in m.get_weights()])
        m.save_weights(path)

    def checkpoint(path, seed):
        m = _keras_model()
        m.set_weights([np.full(w.shape, seed, w.dtype) for w in m.get_weights()])
        cb = callbacks.ModelCheckpoint(path)
        cb.model = m
        cb.on_epoch_end(0, {})

    def torch_style(path, seed):
        lin.weight.data[...] = seed
        nk.save(lin.state_dict(), path)

    return [("save_weights", keras_save, ".weights.npz"), ("ModelCheckpoint", checkpoint, ".weights.npz"),
            ("nk.save", torch_style, ".npz")]


@pytest.mark.parametrize("which", ["save_weights", "ModelCheckpoint", "nk.save"])
@pytest.mark.parametrize("fail", ["savez", "replace", "fsync"])
def test_interrupted_save_keeps_the_old_file(tmp_path, monkeypatch, which, fail):
    name, write, ext = next(w for w in _writers(tmp_path) if w[0] == which)
    path = str(tmp_path / ("w" + ext))
    write(path, 1)
    good = nk.load(path)
    real_savez, real_replace, real_fsync = np.savez, os.replace, os.fsync

    class Boom(Exception):
        pass

    def savez(f, **arrays):  # writes part of the archive, then the process "dies"
        real_savez(f, **arrays)
        f.truncate(50)
        raise Boom("disk full")

    def replace(a, b):
        raise Boom("rename failed")

    def fsync(fd):
        raise Boom("fsync failed")

    monkeypatch.setattr(np, "savez", savez if fail == "savez" else real_savez)
    monkeypatch.setattr(os, "replace", replace if fail == "replace" else real_replace)
    monkeypatch.setattr(os, "fsync", fsync if fail == "fsync" else real_fsync)
    with pytest.raises(Boom):
        write(path, 2)
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == ["w" + ext]  # no temporary left behind
    after = nk.load(path)  # the old file, whole
    assert after.keys() == good.keys()
    for k in good:
        np.testing.assert_array_equal(after[k], good[k])


def test_save_replaces_atomically_and_round_trips(tmp_path):
    m = _keras_model()
    path = str(tmp_path / "m.weights.npz")
    m.save_weights(path)
    m.save_weights(path)  # overwrite
    assert os.listdir(tmp_path) == ["m.weights.npz"]
    m2 = _keras_model()
    m2.load_weights(path)
    for a, b in zip(m.get_weights(), m2.get_weights()):
        np.testing.assert_array_equal(a, b)


def _damaged(src, dst, how):
    with open(src, "rb") as f:
        data = bytearray(f.read())
    if how == "empty":
        data = b""
    elif how.startswith("cut"):
        data = data[:int(len(data) * float(how[3:]))]
    elif how == "flip":  # one byte in the middle of the stored arrays (CRC error)
        data[len(data) // 3] ^= 0xFF
    elif how == "garbage":
        data = b"PK\x03\x04" + bytes(range(256)) * 4
    with open(dst, "wb") as f:
        f.write(bytes(data))
    return dst


DAMAGE = ["empty", "cut0.1", "cut0.5", "cut0.9", "cut0.99", "flip", "garbage"]


@pytest.mark.parametrize("how", DAMAGE)
def test_damaged_keras_weights_rejected_model_unchanged(tmp_path, how):
    a = _keras_model()
    src = str(tmp_path / "a.weights.npz")
    a.set_weights([np.full(w.shape, 7, w.dtype) for w in a.get_weights()])
    a.save_weights(src)
    bad = _damaged(src, str(tmp_path / "bad.weights.npz"), how)
    m = _keras_model()
    before = [w.copy() for w in m.get_weights()]
    _raises(ValueError, lambda: m.load_weights(bad), "load_weights", "bad.weights.npz")
    for w, b in zip(m.get_weights(), before):
        np.testing.assert_array_equal(w, b)


@pytest.mark.parametrize("how", DAMAGE)
def test_damaged_state_dict_rejected_module_unchanged(tmp_path, how):
    lin = nn.Linear(4, 3)
    src = str(tmp_path / "lin.npz")
    nk.save({k: np.full(v.shape, 7, v.dtype) for k, v in lin.state_dict().items()}, src)
    bad = _damaged(src, str(tmp_path / "bad.npz"), how)
    before = {k: v.clone() for k, v in lin.state_dict().items()}
    _raises(ValueError, lambda: lin.load_state_dict(nk.load(bad)), "load", "bad.npz")
    for k, v in lin.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


# ---- unaligned arrays (a view of a byte buffer at an odd offset) are copied, not read
# through misaligned typed pointers (UBSan: misaligned load) ------------------------------

def _unaligned(a):
    raw = np.zeros(a.nbytes + 1, np.uint8)
    u = np.frombuffer(raw.data, a.dtype, count=a.size, offset=1).reshape(a.shape)
    u[...] = a
    assert not u.flags.aligned
    return u


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unaligned_inputs_give_the_aligned_result(rng, dtype):
    a, b = rng.standard_normal((5, 7)).astype(dtype), rng.standard_normal((7, 3)).astype(dtype)
    np.testing.assert_array_equal(nk.matmul(_unaligned(a), _unaligned(b)), nk.matmul(a, b))
    out = _unaligned(np.zeros((5, 3), dtype))
    nk.gemm(a, b, out=out)
    np.testing.assert_array_equal(out, nk.matmul(a, b))
    x = rng.standard_normal((2, 3, 6, 6)).astype(dtype)
    w = rng.standard_normal((4, 3, 3, 3)).astype(dtype)
    np.testing.assert_array_equal(nk.conv2d(_unaligned(x), _unaligned(w)), nk.conv2d(x, w))
    np.testing.assert_array_equal(nk.max_pool2d(_unaligned(x), 2), nk.max_pool2d(x, 2))
    np.testing.assert_array_equal(nk.softmax(_unaligned(x)), nk.softmax(x))
    np.testing.assert_array_equal(nk.gelu(_unaligned(x)), nk.gelu(x))
    q = rng.standard_normal((2, 5, 4)).astype(dtype)
    np.testing.assert_array_equal(nk.scaled_dot_product_attention(_unaligned(q), q, q),
                                  nk.scaled_dot_product_attention(q, q, q))

"""Bad input is refused with a ValueError/TypeError naming the op and the argument, and
never crashes the process or returns garbage (issue 9). One regression test per case found."""
import numpy as np
import pytest

import nnkernels as nk


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

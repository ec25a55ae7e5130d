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

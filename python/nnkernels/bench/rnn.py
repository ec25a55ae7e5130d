"""LSTM/GRU rows: whole-sequence forward and forward+backward against torch.nn.LSTM/GRU
(same thread count), or a NumPy time loop when torch is not installed."""
from __future__ import annotations

from typing import List

import numpy as np

from . import Row, rel_err, try_torch

SHAPES = [(50, 64, 64, 64), (100, 32, 128, 256)]  # (T, B, I, H), as in shared/BENCH.md


def _sig(x):
    return 1.0 / (1.0 + np.exp(-x))


def numpy_lstm(x, h, c, w_ih, w_hh, b):
    """The NumPy peer and reference: one input-projection matmul, a loop over steps."""
    H = h.shape[1]
    a_all = x @ w_ih.T + b
    ys = np.empty(x.shape[:2] + (H,), x.dtype)
    for t in range(x.shape[0]):
        a = a_all[t] + h @ w_hh.T
        i, f, g, o = _sig(a[:, :H]), _sig(a[:, H:2 * H]), np.tanh(a[:, 2 * H:3 * H]), _sig(a[:, 3 * H:])
        c = f * c + i * g
        h = o * np.tanh(c)
        ys[t] = h
    return ys, h, c


def numpy_gru(x, h, w_ih, w_hh, b_ih, b_hh):
    H = h.shape[1]
    a_all = x @ w_ih.T + b_ih
    ys = np.empty(x.shape[:2] + (H,), x.dtype)
    for t in range(x.shape[0]):
        a, u = a_all[t], h @ w_hh.T + b_hh
        r = _sig(a[:, :H] + u[:, :H])
        z = _sig(a[:, H:2 * H] + u[:, H:2 * H])
        n = np.tanh(a[:, 2 * H:] + r * u[:, 2 * H:])
        h = (1 - z) * n + z * h
        ys[t] = h
    return ys, h


def _params(rng, G, T, B, I, H, dtype):
    s = 1 / np.sqrt(H)
    return (rng.standard_normal((T, B, I)).astype(dtype), rng.standard_normal((B, H)).astype(dtype),
            rng.standard_normal((B, H)).astype(dtype), rng.uniform(-s, s, (G * H, I)).astype(dtype),
            rng.uniform(-s, s, (G * H, H)).astype(dtype), rng.uniform(-s, s, (G * H,)).astype(dtype),
            rng.uniform(-s, s, (G * H,)).astype(dtype))


def checks():
    import nnkernels as nk

    rng = np.random.default_rng(3)
    out = []
    for dtype, tol in ((np.float32, 2e-5), (np.float64, 1e-12)):
        x, h, c, wi, wh, bi, bh = (a.astype(np.float64) for a in _params(rng, 4, 5, 3, 7, 13, dtype))
        y = nk.lstm(x.astype(dtype), h, c, wi, wh, bi, bh)[0] if dtype == np.float64 else \
            nk.lstm(*(a.astype(dtype) for a in (x, h, c, wi, wh, bi, bh)))[0]
        out.append((f"lstm {np.dtype(dtype).name} T5 B3 I7 H13", rel_err(y, numpy_lstm(x, h, c, wi, wh, bi + bh)[0]), tol))
        wi, wh, bi, bh = wi[:39], wh[:39], bi[:39], bh[:39]
        y = nk.gru(*(a.astype(dtype) for a in (x, h, wi, wh, bi, bh)))[0]
        out.append((f"gru {np.dtype(dtype).name} T5 B3 I7 H13", rel_err(y, numpy_gru(x, h, wi, wh, bi, bh)[0]), tol))
    return out


def rows(quick: bool = False, dtype=np.float32) -> List[Row]:
    import nnkernels as nk

    torch = try_torch()
    rng = np.random.default_rng(0)
    out = []
    for kind in ("lstm", "gru"):
        G = 4 if kind == "lstm" else 3
        for T, B, I, H in SHAPES[:1] if quick else SHAPES:
            x, h0, c0, wi, wh, bi, bh = _params(rng, G, T, B, I, H, dtype)
            gy = rng.standard_normal((T, B, H)).astype(dtype)
            flops = 2.0 * T * B * G * H * (I + H)
            label = f"T{T} B{B} I{I} H{H}"
            if kind == "lstm":
                fwd = lambda x=x, h0=h0, c0=c0, wi=wi, wh=wh, bi=bi, bh=bh: nk.lstm(x, h0, c0, wi, wh, bi, bh)

                def fwdbwd(x=x, h0=h0, c0=c0, wi=wi, wh=wh, bi=bi, bh=bh, gy=gy):
                    *_, cache = nk.lstm(x, h0, c0, wi, wh, bi, bh, return_cache=True)
                    return nk.lstm_backward(gy, None, None, cache)

                ref = lambda x=x, h0=h0, c0=c0, wi=wi, wh=wh, bi=bi, bh=bh: numpy_lstm(
                    *(a.astype(np.float64) for a in (x, h0, c0, wi, wh)), bi.astype(np.float64) + bh)
                np_peer = lambda x=x, h0=h0, c0=c0, wi=wi, wh=wh, bi=bi, bh=bh: numpy_lstm(x, h0, c0, wi, wh, bi + bh)
            else:
                fwd = lambda x=x, h0=h0, wi=wi, wh=wh, bi=bi, bh=bh: nk.gru(x, h0, wi, wh, bi, bh)

                def fwdbwd(x=x, h0=h0, wi=wi, wh=wh, bi=bi, bh=bh, gy=gy):
                    *_, cache = nk.gru(x, h0, wi, wh, bi, bh, return_cache=True)
                    return nk.gru_backward(gy, None, cache)

                ref = lambda x=x, h0=h0, wi=wi, wh=wh, bi=bi, bh=bh: numpy_gru(
                    *(a.astype(np.float64) for a in (x, h0, wi, wh, bi, bh)))
                np_peer = lambda x=x, h0=h0, wi=wi, wh=wh, bi=bi, bh=bh: numpy_gru(x, h0, wi, wh, bi, bh)

            check = lambda fwd=fwd, ref=ref: rel_err(fwd()[0], ref()[0])
            peers, peers_fb = {}, {}
            if torch is not None:
                mod = (torch.nn.LSTM if kind == "lstm" else torch.nn.GRU)(I, H)
                with torch.no_grad():
                    for p, v in zip(mod.parameters(), (wi, wh, bi, bh)):
                        p.copy_(torch.from_numpy(v))
                xt, ht, ct = torch.from_numpy(x), torch.from_numpy(h0[None]), torch.from_numpy(c0[None])
                st = (ht, ct) if kind == "lstm" else ht

                def tfwd(mod=mod, xt=xt, st=st):
                    with torch.no_grad():
                        return mod(xt, st)

                xr, gyt = xt.clone().requires_grad_(), torch.from_numpy(gy)

                def tfwdbwd(mod=mod, xr=xr, st=st, gyt=gyt):
                    mod.zero_grad(set_to_none=True)
                    xr.grad = None
                    y, _ = mod(xr, st)
                    y.backward(gyt)

                peers["torch"], peers_fb["torch"] = tfwd, tfwdbwd
            else:
                peers["numpy"] = np_peer
            name = kind.upper()
            out.append(Row("rnn", f"{name} fwd {label}", flops, "GFLOP/s", fwd, peers, check=check, tol=2e-5))
            out.append(Row("rnn", f"{name} fwd+bwd {label}", 3 * flops, "GFLOP/s", fwdbwd, peers_fb))
    return out

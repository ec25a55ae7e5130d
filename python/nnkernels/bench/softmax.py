"""Softmax rows: bytes moved (input read + output written) per second, against torch."""
from __future__ import annotations

from typing import List

import numpy as np

from . import Row, rel_err, try_torch


def _ref_softmax(x, axis):
    x = np.asarray(x, np.float64)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def checks():
    import nnkernels as nk

    rng = np.random.default_rng(5)
    out = []
    for shape, axis in (((7, 1000), -1), ((3, 37, 11), 1)):
        x = (rng.standard_normal(shape) * 3).astype(np.float32)
        out.append((f"softmax {shape} axis={axis}", rel_err(nk.softmax(x, axis), _ref_softmax(x, axis)), 1e-6))
        out.append((f"log_softmax {shape} axis={axis}",
                    rel_err(np.exp(nk.log_softmax(x, axis)), _ref_softmax(x, axis)), 2e-6))
    x = rng.standard_normal((9, 13))
    t = rng.integers(0, 13, 9)
    lp = np.log(_ref_softmax(x, 1))
    out.append(("cross_entropy float64", rel_err(nk.cross_entropy(x, t), -lp[np.arange(9), t].mean()), 1e-13))
    return out


def rows(quick: bool = False, dtype=np.float32) -> List[Row]:
    import nnkernels as nk

    torch = try_torch()
    rng = np.random.default_rng(0)
    it = np.dtype(dtype).itemsize
    out = []

    def add(label, ours, peer, nbytes, check=None, tol=2e-6):
        out.append(Row("softmax", label, nbytes, "GB/s", ours, {"torch": peer} if peer else {}, check=check, tol=tol))

    cases = [((256, 1000), -1), ((64, 10, 28, 28), 1)]
    if not quick:
        cases += [((4096, 128), -1), ((64, 32768), -1), ((8, 1000, 256), 1)]
    for shape, axis in cases:
        x = (rng.standard_normal(shape) * 3).astype(dtype)
        tx = torch.from_numpy(x) if torch is not None else None
        label = f"{'×'.join(map(str, shape))} axis={axis}"
        nb = 2 * x.size * it
        for name, ours, tf in (("softmax", nk.softmax, "softmax"), ("log_softmax", nk.log_softmax, "log_softmax")):
            add(f"{name} {label}", lambda x=x, axis=axis, ours=ours: ours(x, axis),
                (lambda tx=tx, axis=axis, tf=tf: getattr(torch, tf)(tx, axis)) if torch else None, nb,
                check=lambda x=x, axis=axis, ours=ours, name=name: rel_err(
                    ours(x, axis), _ref_softmax(x, axis) if name == "softmax" else np.log(_ref_softmax(x, axis))))
        if quick:
            continue
        y = nk.softmax(x, axis)
        g = rng.standard_normal(shape).astype(dtype)
        peer = None
        if torch is not None:
            ty, tg = torch.from_numpy(y), torch.from_numpy(g)
            peer = lambda tg=tg, ty=ty, axis=axis: torch._softmax_backward_data(tg, ty, axis % ty.ndim, ty.dtype)
        add(f"softmax_backward {label}", lambda g=g, y=y, axis=axis: nk.softmax_backward(g, y, axis), peer,
            3 * x.size * it)

    for N, C in ((256, 1000),) if quick else ((256, 1000), (4096, 10), (64, 32000)):
        x = (rng.standard_normal((N, C)) * 3).astype(dtype)
        t = rng.integers(0, C, N)
        peer = peer_bwd = None
        if torch is not None:
            F = torch.nn.functional
            tx, tt = torch.from_numpy(x), torch.from_numpy(t)
            peer = lambda tx=tx, tt=tt: F.cross_entropy(tx, tt, label_smoothing=0.1)

            def peer_bwd(tx=tx, tt=tt):
                a = tx.detach().requires_grad_()
                F.cross_entropy(a, tt, label_smoothing=0.1).backward()
                return a.grad
        add(f"cross_entropy {N}×{C} ε=0.1", lambda x=x, t=t: nk.cross_entropy(x, t, label_smoothing=0.1), peer,
            x.size * it, check=(lambda x=x, t=t, tx=tx, tt=tt: rel_err(
                nk.cross_entropy(x, t, label_smoothing=0.1),
                F.cross_entropy(tx, tt, label_smoothing=0.1).numpy())) if torch else None)

        def ours_bwd(x=x, t=t):
            nk.cross_entropy(x, t, label_smoothing=0.1)
            return nk.cross_entropy_backward(1.0, x, t, label_smoothing=0.1)
        add(f"cross_entropy fwd+bwd {N}×{C} ε=0.1", ours_bwd, peer_bwd, 2 * x.size * it)
    return out

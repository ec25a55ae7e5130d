"""Pooling rows: bytes moved (input read + output written) per second, against torch."""
from __future__ import annotations

from typing import List

import numpy as np

from . import Row, rel_err, try_torch


def checks():
    import nnkernels as nk

    rng = np.random.default_rng(3)
    out = []
    x = rng.standard_normal((2, 3, 13, 17)).astype(np.float32)
    x64 = x.astype(np.float64)
    ref = np.maximum.reduce([x64[:, :, i:12:2, j:16:2] for i in (0, 1) for j in (0, 1)])
    out.append(("max_pool2d 2×2 float32", rel_err(nk.max_pool2d(x, 2), ref), 0.0))
    ref = np.mean([x64[:, :, i:12:2, j:16:2] for i in (0, 1) for j in (0, 1)], axis=0)
    out.append(("avg_pool2d 2×2 float32", rel_err(nk.avg_pool2d(x, 2), ref), 1e-6))
    out.append(("adaptive_avg_pool2d 1×1 float32",
                rel_err(nk.adaptive_avg_pool2d(x, 1), x64.mean(axis=(2, 3), keepdims=True)), 1e-6))
    _, idx = nk.max_pool2d(x64, 2, return_indices=True)
    g = nk.max_pool2d_backward(np.ones((2, 3, 6, 8)), idx, x.shape)
    out.append(("max_pool2d_backward float64", abs(float(g.sum()) - 2 * 3 * 6 * 8), 0.0))
    return out


def rows(quick: bool = False, dtype=np.float32) -> List[Row]:
    import nnkernels as nk

    torch = try_torch()
    rng = np.random.default_rng(0)
    out = []
    it = np.dtype(dtype).itemsize

    def add(label, ours, peer, nbytes, check=None, tol=1e-6):
        peers = {"torch": peer} if peer is not None else {}
        out.append(Row("pool", label, nbytes, "GB/s", ours, peers, check=check, tol=tol))

    shapes = [((64, 32, 26, 26), 2, 2, 0)]
    if not quick:
        shapes += [((32, 64, 56, 56), 3, 2, 1), ((8, 64, 112, 112), 3, 2, 1), ((16, 32, 28, 28), 3, 1, 1)]
    for shape, k, s, p in shapes:
        x = rng.standard_normal(shape).astype(dtype)
        tx = torch.from_numpy(x) if torch is not None else None
        F = torch.nn.functional if torch is not None else None
        y = nk.max_pool2d(x, k, s, p)
        nb = (x.size + y.size) * it
        name = f"{'×'.join(map(str, shape))} {k}×{k}/s{s}"
        add(f"max_pool2d {name}", lambda x=x, k=k, s=s, p=p: nk.max_pool2d(x, k, s, p),
            (lambda tx=tx, k=k, s=s, p=p: F.max_pool2d(tx, k, s, p)) if torch else None, nb,
            check=(lambda x=x, tx=tx, k=k, s=s, p=p: rel_err(nk.max_pool2d(x, k, s, p),
                                                              F.max_pool2d(tx, k, s, p).numpy())) if torch else None)
        nbi = nb + y.size * 8
        add(f"max_pool2d +indices {name}", lambda x=x, k=k, s=s, p=p: nk.max_pool2d(x, k, s, p, return_indices=True),
            (lambda tx=tx, k=k, s=s, p=p: F.max_pool2d(tx, k, s, p, return_indices=True)) if torch else None, nbi)
        add(f"avg_pool2d {name}", lambda x=x, k=k, s=s, p=p: nk.avg_pool2d(x, k, s, p),
            (lambda tx=tx, k=k, s=s, p=p: F.avg_pool2d(tx, k, s, p)) if torch else None, nb,
            check=(lambda x=x, tx=tx, k=k, s=s, p=p: rel_err(nk.avg_pool2d(x, k, s, p),
                                                              F.avg_pool2d(tx, k, s, p).numpy())) if torch else None)
        if quick:
            continue
        _, idx = nk.max_pool2d(x, k, s, p, return_indices=True)
        g = rng.standard_normal(y.shape).astype(dtype)
        peer = None
        if torch is not None:
            tg, tidx = torch.from_numpy(g), torch.from_numpy(idx)
            peer = lambda tg=tg, tx=tx, k=k, s=s, p=p, tidx=tidx: torch.ops.aten.max_pool2d_with_indices_backward(
                tg, tx, [k, k], [s, s], [p, p], [1, 1], False, tidx)
        add(f"max_pool2d_backward {name}", lambda g=g, idx=idx, shape=shape: nk.max_pool2d_backward(g, idx, shape),
            peer, (x.size + y.size) * it + y.size * 8)
        peer = None
        if torch is not None:
            peer = lambda tg=tg, tx=tx, k=k, s=s, p=p: torch.ops.aten.avg_pool2d_backward(
                tg, tx, [k, k], [s, s], [p, p], False, True, None)
        add(f"avg_pool2d_backward {name}", lambda g=g, shape=shape, k=k, s=s, p=p: nk.avg_pool2d_backward(
            g, shape, k, s, p), peer, nb)

    x = rng.standard_normal((64, 512, 7, 7)).astype(dtype)
    tx = torch.from_numpy(x) if torch is not None else None
    add("adaptive_avg_pool2d 64×512×7×7 → 1×1", lambda: nk.adaptive_avg_pool2d(x, 1),
        (lambda: torch.nn.functional.adaptive_avg_pool2d(tx, 1)) if torch else (lambda: x.mean(axis=(2, 3))),
        (x.size + 64 * 512) * it)
    return out

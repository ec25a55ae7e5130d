"""Activation rows: bytes moved per second (read + write), against torch."""
from __future__ import annotations

import math
from typing import List

import numpy as np

from . import Row, rel_err, try_torch


def _refs():
    """float64 references of the forward rows, by the rows' torch names."""
    erf = np.vectorize(math.erf)
    return {"relu": lambda v: np.maximum(v, 0), "sigmoid": lambda v: 1 / (1 + np.exp(-v)), "tanh": np.tanh,
            "gelu": lambda v: 0.5 * v * (1 + erf(v / math.sqrt(2))),
            "gelu_tanh": lambda v: 0.5 * v * (1 + np.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v ** 3))),
            "silu": lambda v: v / (1 + np.exp(-v))}


def checks():
    import nnkernels as nk

    x = np.linspace(-9, 9, 1001).astype(np.float32)
    x64 = x.astype(np.float64)
    refs = _refs()
    out = [(f"{k} float32", rel_err(getattr(nk, k)(x), refs[k](x64)), 2e-6)
           for k in ("relu", "sigmoid", "tanh", "gelu", "silu")]
    b = np.arange(3, dtype=np.float32)
    xb = np.ones((2, 3, 4), np.float32)
    out.append(("bias_act relu", rel_err(nk.bias_act(xb, b, "relu"), xb + b[:, None]), 0.0))
    return out


def rows(quick: bool = False, dtype=np.float32) -> List[Row]:
    import nnkernels as nk

    torch = try_torch()
    rng = np.random.default_rng(0)
    it = np.dtype(dtype).itemsize
    out = []
    n = 1 << (18 if quick else 22)
    x = (rng.standard_normal(n) * 3).astype(dtype)
    g = rng.standard_normal(n).astype(dtype)
    tx = torch.from_numpy(x) if torch is not None else None
    F = torch.nn.functional if torch is not None else None
    fwd = [("relu", nk.relu, "relu"), ("sigmoid", nk.sigmoid, "sigmoid"), ("tanh", nk.tanh, "tanh"),
           ("gelu", nk.gelu, "gelu"), ("gelu tanh", lambda a: nk.gelu(a, "tanh"), "gelu_tanh"),
           ("silu", nk.silu, "silu")]
    refs = _refs()
    # Each row checks the whole op against float64 on every 61st element (all of the
    # threads' chunks are sampled), as the other families check theirs: a FAIL names
    # nnkernels, whatever the peer computes.
    xs = x[::61].astype(np.float64)
    for name, ours, tname in fwd:
        peer = None
        if torch is not None:
            peer = {"relu": lambda: torch.relu(tx), "sigmoid": lambda: torch.sigmoid(tx),
                    "tanh": lambda: torch.tanh(tx), "gelu": lambda: F.gelu(tx),
                    "gelu_tanh": lambda: F.gelu(tx, approximate="tanh"), "silu": lambda: F.silu(tx)}[tname]
        out.append(Row("activations", f"{name} {n}", 2 * n * it, "GB/s", lambda ours=ours: ours(x),
                       {"torch": peer} if peer else {},
                       check=lambda ours=ours, ref=refs[tname]: rel_err(ours(x)[::61], ref(xs)), tol=2e-6))
    if not quick and torch is not None:
        tg = torch.from_numpy(g)
        y = nk.sigmoid(x)
        ty = torch.from_numpy(y)
        out.append(Row("activations", f"gelu_backward {n}", 3 * n * it, "GB/s", lambda: nk.gelu_backward(g, x),
                       {"torch": lambda: torch.ops.aten.gelu_backward(tg, tx)}))
        out.append(Row("activations", f"sigmoid_backward {n}", 3 * n * it, "GB/s", lambda: nk.sigmoid_backward(g, y),
                       {"torch": lambda: torch.ops.aten.sigmoid_backward(tg, ty)}))
    for shape in ((64, 32, 26, 26),) if quick else ((64, 32, 26, 26), (256, 4096)):
        xb = rng.standard_normal(shape).astype(dtype)
        b = rng.standard_normal(shape[1]).astype(dtype)
        peer = None
        if torch is not None:
            txb = torch.from_numpy(xb)
            tb = torch.from_numpy(b).reshape((-1,) + (1,) * (len(shape) - 2))
            peer = lambda txb=txb, tb=tb: torch.relu(txb + tb)
        out.append(Row("activations", f"bias_act relu {'×'.join(map(str, shape))}", 2 * xb.size * it, "GB/s",
                       lambda xb=xb, b=b: nk.bias_act(xb, b, "relu"), {"torch": peer} if peer else {},
                       check=lambda xb=xb, b=b: rel_err(nk.bias_act(xb, b, "relu"), np.maximum(
                           xb.astype(np.float64) + b.reshape((-1,) + (1,) * (xb.ndim - 2)), 0)), tol=1e-6))
    return out

"""Attention rows: fused SDPA forward (and forward + backward) against torch SDPA.

Shapes from shared/BENCH.md: B8 H8 L256 D64, B4 H8 L1024 D64, B1 H8 L4096 D64 (float32).
Work is counted as 4·B·H·Lq·Lk·D flops for the forward and 3.5× that for forward +
backward (the backward does five tile products to the forward's two). The peer is
torch.nn.functional.scaled_dot_product_attention with the same thread count, or a naive
NumPy softmax(QK^T)V when torch is not installed.

`python -m nnkernels.bench.attention --memory` measures the peak extra memory of one
L = 4096 forward in a fresh subprocess (see peak_extra_memory).
"""
from __future__ import annotations

import json
import subprocess
import sys
from typing import List

import numpy as np

from . import Row, rel_err, try_torch


def _ref(q, k, v, causal=False):
    q, k, v = (x.astype(np.float64) for x in (q, k, v))
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if causal:
        Lq, Lk = s.shape[-2:]
        s = np.where(np.tril(np.ones((Lq, Lk), bool)), s, -np.inf)
    s = np.exp(s - s.max(-1, keepdims=True))
    return (s / s.sum(-1, keepdims=True)) @ v


def _numpy_sdpa(q, k, v):
    s = q @ np.swapaxes(k, -1, -2) * np.float32(1.0 / np.sqrt(q.shape[-1]))
    s = np.exp(s - s.max(-1, keepdims=True))
    s /= s.sum(-1, keepdims=True)
    return s @ v


def checks():
    import nnkernels as nk

    rng = np.random.default_rng(11)
    out = []
    for dtype, tol in ((np.float32, 2e-5), (np.float64, 1e-12)):
        for (B, Lq, Lk, D, causal) in ((1, 1, 1, 1, False), (3, 37, 101, 20, False), (2, 130, 97, 64, True)):
            q = rng.standard_normal((B, Lq, D)).astype(dtype)
            k = rng.standard_normal((B, Lk, D)).astype(dtype)
            v = rng.standard_normal((B, Lk, D)).astype(dtype)
            got = nk.scaled_dot_product_attention(q, k, v, is_causal=causal)
            out.append((f"sdpa {np.dtype(dtype).name} {B}×{Lq}×{Lk}×{D}{' causal' if causal else ''}",
                        rel_err(got, _ref(q, k, v, causal)), tol))
    # Backward against finite differences of the forward (float64, a few entries).
    q, k, v = (rng.standard_normal((2, 9, 6)) for _ in range(3))
    o, lse = nk.scaled_dot_product_attention(q, k, v, is_causal=True, return_lse=True)
    go = rng.standard_normal(o.shape)
    gq, gk, gv = nk.scaled_dot_product_attention_backward(go, q, k, v, o, lse, is_causal=True)
    err = 0.0
    for a, g in ((q, gq), (k, gk), (v, gv)):
        for idx in ((0, 0, 0), (1, 4, 5), (1, 8, 2)):
            old = a[idx]
            a[idx] = old + 1e-6
            fp = float((nk.scaled_dot_product_attention(q, k, v, is_causal=True) * go).sum())
            a[idx] = old - 1e-6
            fm = float((nk.scaled_dot_product_attention(q, k, v, is_causal=True) * go).sum())
            a[idx] = old
            err = max(err, abs((fp - fm) / 2e-6 - g[idx]) / max(abs(g[idx]), 1.0))
    out.append(("sdpa backward vs finite differences", err, 1e-6))
    return out


SHAPES = [(8, 8, 256, 64), (4, 8, 1024, 64), (1, 8, 4096, 64)]
QUICK_SHAPES = [(2, 8, 256, 64), (1, 4, 1024, 64)]


def rows(quick: bool = False, dtype=np.float32) -> List[Row]:
    import nnkernels as nk

    torch = try_torch()
    rng = np.random.default_rng(0)
    out = []
    for (B, H, L, D) in (QUICK_SHAPES if quick else SHAPES):
        q, k, v = (rng.standard_normal((B, H, L, D)).astype(dtype) for _ in range(3))
        go = rng.standard_normal((B, H, L, D)).astype(dtype)
        flops = 4.0 * B * H * L * L * D

        def check(q=q, k=k, v=v):
            n = min(L, 256)  # a slice of query rows keeps the float64 reference small
            got = nk.scaled_dot_product_attention(q[:1, :2, :n], k[:1, :2], v[:1, :2])
            return rel_err(got, _ref(q[:1, :2, :n], k[:1, :2], v[:1, :2]))

        peers = {}
        if torch is not None:
            F = torch.nn.functional
            tq, tk, tv = (torch.from_numpy(x) for x in (q, k, v))
            peers["torch"] = lambda tq=tq, tk=tk, tv=tv: F.scaled_dot_product_attention(tq, tk, tv)
        elif L <= 1024:
            peers["numpy"] = lambda q=q, k=k, v=v: _numpy_sdpa(q, k, v)
        label = f"B{B} H{H} L{L} D{D}"
        out.append(Row("attention fwd", label, flops, "GFLOP/s",
                       lambda q=q, k=k, v=v: nk.scaled_dot_product_attention(q, k, v), peers, check=check,
                       tol=2e-5))
        if L <= 1024:
            def ours_fb(q=q, k=k, v=v, go=go):
                o, lse = nk.scaled_dot_product_attention(q, k, v, return_lse=True)
                return nk.scaled_dot_product_attention_backward(go, q, k, v, o, lse)

            peers_fb = {}
            if torch is not None:
                tgo = torch.from_numpy(go)

                def torch_fb(q=q, k=k, v=v, tgo=tgo):
                    tq, tk, tv = (torch.from_numpy(x).requires_grad_() for x in (q, k, v))
                    torch.nn.functional.scaled_dot_product_attention(tq, tk, tv).backward(tgo)
                    return tq.grad, tk.grad, tv.grad

                peers_fb["torch"] = torch_fb
            out.append(Row("attention fwd+bwd", label, 3.5 * flops, "GFLOP/s", ours_fb, peers_fb))
        if L == 1024:
            cq, ck, cv = (torch.from_numpy(x) for x in (q, k, v)) if torch is not None else (None,) * 3
            peers_c = {} if torch is None else {
                "torch": lambda: torch.nn.functional.scaled_dot_product_attention(cq, ck, cv, is_causal=True)}
            out.append(Row("attention fwd causal", label, flops / 2, "GFLOP/s",
                           lambda q=q, k=k, v=v: nk.scaled_dot_product_attention(q, k, v, is_causal=True),
                           peers_c))
    return out


# ---- peak extra memory ------------------------------------------------------------------
_MEM_CHILD = r"""
import json, resource, sys, tracemalloc
import numpy as np
B, H, L, D, who = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
rng = np.random.default_rng(0)
q, k, v = (rng.standard_normal((B, H, L, D), dtype=np.float32) for _ in range(3))
if who == "torch":
    import torch
    torch.set_num_threads(int(sys.argv[6]))
    tq, tk, tv = (torch.from_numpy(x) for x in (q, k, v))
    run = lambda: torch.nn.functional.scaled_dot_product_attention(tq, tk, tv)
    s = torch.from_numpy(rng.standard_normal((1, 1, 128, D), dtype=np.float32))
    torch.nn.functional.scaled_dot_product_attention(s, s, s)
else:
    import nnkernels as nk
    nk.set_num_threads(int(sys.argv[6]))
    run = lambda: nk.scaled_dot_product_attention(q, k, v)
    small = rng.standard_normal((1, 1, 128, D), dtype=np.float32)
    nk.scaled_dot_product_attention(small, small, small)   # OpenMP team and code pages in place
out_bytes = B * H * L * D * 4


def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024


try:  # reset the peak-RSS mark (Linux): VmHWM then measures this call alone
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    base = status("VmRSS")
except OSError:
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
tracemalloc.start()
o = run()
_, traced_peak = tracemalloc.get_traced_memory()
tracemalloc.stop()
try:
    peak = status("VmHWM")
except OSError:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
rss1 = peak
rss0 = base
print(json.dumps({"rss_delta": rss1 - rss0, "traced_peak": traced_peak, "out_bytes": out_bytes}))
"""


def peak_extra_memory(B=1, H=8, L=4096, D=64, who="nnkernels", threads=None):
    """Peak memory of one forward beyond the inputs, in a fresh subprocess: the ru_maxrss
    growth (all allocations, C++ scratch included) and tracemalloc's peak (NumPy
    allocations, which include the output). Returns a dict of bytes."""
    import nnkernels as nk

    threads = threads or nk.get_num_threads()
    res = subprocess.run([sys.executable, "-c", _MEM_CHILD, str(B), str(H), str(L), str(D), who, str(threads)],
                         capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def _main():
    import argparse

    p = argparse.ArgumentParser(description="attention peak extra memory at B1 H8 L4096 D64")
    p.add_argument("--memory", action="store_true")
    p.add_argument("--L", type=int, default=4096)
    args = p.parse_args()
    if args.memory:
        L = args.L
        score = L * L * 4
        for who in ("nnkernels", "torch"):
            try:
                m = peak_extra_memory(L=L, who=who)
            except Exception as e:  # torch missing
                print(f"{who}: not measured ({e.__class__.__name__})")
                continue
            extra = m["rss_delta"] - m["out_bytes"]
            print(f"{who:10s} rss growth {m['rss_delta'] / 2**20:7.2f} MiB, of which output "
                  f"{m['out_bytes'] / 2**20:.2f} MiB -> extra {extra / 2**20:7.2f} MiB = "
                  f"{extra / score:.3f} of one L×L fp32 matrix ({score / 2**20:.0f} MiB); "
                  f"tracemalloc peak {m['traced_peak'] / 2**20:.2f} MiB")


if __name__ == "__main__":
    _main()

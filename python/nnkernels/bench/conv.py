"""conv2d rows: the four layers of shared/BENCH.md, forward and forward+backward,
against torch.nn.functional.conv2d (+ autograd) with the same thread count."""
from __future__ import annotations

from typing import List

import numpy as np

from . import Row, rel_err, try_torch

# (N, C, H, W, K, R, S): the layers of a small CNN and two ResNet-like layers, each at
# padding 0 and 1 (PADDINGS).
LAYERS = [(64, 1, 28, 28, 32, 3, 3), (64, 32, 13, 13, 64, 3, 3), (32, 64, 56, 56, 64, 3, 3),
          (8, 128, 28, 28, 128, 3, 3)]
QUICK_LAYERS = [(16, 1, 28, 28, 32, 3, 3), (16, 32, 13, 13, 64, 3, 3), (4, 64, 56, 56, 64, 3, 3),
                (2, 128, 28, 28, 128, 3, 3)]

PADDINGS = (0, 1)


def _ref_conv(x, w, stride=1, pad=0):
    """float64 NumPy reference (one einsum per filter tap)."""
    x = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    K, C, R, S = w.shape
    P = (x.shape[2] - R) // stride + 1
    Q = (x.shape[3] - S) // stride + 1
    y = np.zeros((x.shape[0], K, P, Q))
    for r in range(R):
        for s in range(S):
            patch = x[:, :, r:r + stride * (P - 1) + 1:stride, s:s + stride * (Q - 1) + 1:stride]
            y += np.einsum("ncpq,kc->nkpq", patch, w[:, :, r, s].astype(np.float64))
    return y


def checks():
    import nnkernels as nk

    rng = np.random.default_rng(3)
    out = []
    for dtype, tol in ((np.float32, 1e-5), (np.float64, 1e-12)):
        for (N, C, H, W, K, R, S, st, pd) in ((2, 3, 9, 11, 5, 3, 3, 1, 1), (3, 8, 10, 7, 7, 3, 2, 2, 0),
                                               (1, 16, 6, 6, 4, 1, 1, 1, 0)):
            x = rng.standard_normal((N, C, H, W)).astype(dtype)
            w = rng.standard_normal((K, C, R, S)).astype(dtype)
            out.append((f"conv2d {np.dtype(dtype).name} {N}×{C}×{H}×{W} k{K} {R}×{S} s{st} p{pd}",
                        rel_err(nk.conv2d(x, w, stride=st, padding=pd), _ref_conv(x, w, st, pd)), tol))
    return out


def rows(quick: bool = False, dtype=np.float32) -> List[Row]:
    import nnkernels as nk

    torch = try_torch()
    rng = np.random.default_rng(0)
    out = []
    for (N, C, H, W, K, R, S) in (QUICK_LAYERS if quick else LAYERS):
        for pad in PADDINGS:
            out += _layer_rows(nk, torch, rng, dtype, N, C, H, W, K, R, S, pad)
    return out


def _layer_rows(nk, torch, rng, dtype, N, C, H, W, K, R, S, pad) -> List[Row]:
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = (rng.standard_normal((K, C, R, S)) / np.sqrt(C * R * S)).astype(dtype)
    b = rng.standard_normal(K).astype(dtype)
    P, Q = H + 2 * pad - R + 1, W + 2 * pad - S + 1
    gy = rng.standard_normal((N, K, P, Q)).astype(dtype)
    flops = 2.0 * N * K * P * Q * C * R * S
    label = f"N{N} C{C} {H}×{W} K{K} {R}×{S} p{pad}"

    def fwd():
        return nk.conv2d(x, w, b, padding=pad)

    def fwd_bwd():
        nk.conv2d(x, w, b, padding=pad)
        return nk.conv2d_backward(gy, x, w, padding=pad)

    def check():
        return rel_err(nk.conv2d(x, w, b, padding=pad), _ref_conv(x, w, 1, pad) + b[:, None, None])

    def check_bwd():
        # grad_w = sum over images of gy · patches (float64 einsum), grad_x checked in the tests
        gx, gw, gb = nk.conv2d_backward(gy, x, w, padding=pad)
        xs = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        ref = np.stack([np.einsum("nkpq,ncpq->kc", gy.astype(np.float64), xs[:, :, r:r + P, s:s + Q])
                        for r in range(R) for s in range(S)], -1)
        return max(rel_err(gw, ref.reshape(K, C, R, S)), rel_err(gb, gy.astype(np.float64).sum((0, 2, 3))))

    peers_f, peers_fb = {}, {}
    if torch is not None:
        F = torch.nn.functional
        tx, tw, tb, tgy = (torch.from_numpy(a) for a in (x, w, b, gy))

        def t_fwd():
            with torch.no_grad():
                return F.conv2d(tx, tw, tb, padding=pad)

        def t_fwd_bwd():
            xr = tx.detach().requires_grad_(True)
            wr = tw.detach().requires_grad_(True)
            br = tb.detach().requires_grad_(True)
            F.conv2d(xr, wr, br, padding=pad).backward(tgy)
            return xr.grad, wr.grad, br.grad

        peers_f["torch"] = t_fwd
        peers_fb["torch"] = t_fwd_bwd
    return [Row("conv2d fwd", label, flops, "GFLOP/s", fwd, peers_f, check=check, tol=1e-4),
            Row("conv2d fwd+bwd", label, 3 * flops, "GFLOP/s", fwd_bwd, peers_fb, check=check_bwd, tol=1e-4)]


def cpu_time_table(threads: int = 1, reps: int = 9, quick: bool = False) -> str:
    """Ratios from process CPU time (min of `reps`, interleaved) instead of wall time.

    On a machine shared with other jobs the wall-clock figures mostly measure the
    scheduler (torch's spinning OpenMP workers suffer most); CPU time at one thread is
    the steadier comparison. Returns a markdown table.
    """
    import time

    import nnkernels as nk

    torch = try_torch()
    if torch is None:
        return "torch not installed"
    nk.set_num_threads(threads)
    torch.set_num_threads(threads)
    lines = ["| layer | pass | nnkernels GFLOP/s | torch GFLOP/s | ratio |", "|---|---|---|---|---|"]
    for row in rows(quick):
        fns = {"nnkernels": row.ours, "torch": row.peers["torch"]}
        for f in fns.values():
            f()
        best = {k: float("inf") for k in fns}
        for _ in range(reps):
            for k, f in fns.items():
                t0 = time.process_time()
                f()
                best[k] = min(best[k], time.process_time() - t0)
        lines.append(f"| {row.label} | {row.group.replace('conv2d ', '')} | {row.work / best['nnkernels'] / 1e9:.1f} | "
                     f"{row.work / best['torch'] / 1e9:.1f} | {best['torch'] / best['nnkernels']:.2f}× |")
    return "\n".join(lines)


if __name__ == "__main__":
    import argparse

    p = argparse.ArgumentParser(description="conv2d vs torch by process CPU time")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--reps", type=int, default=9)
    p.add_argument("--quick", action="store_true")
    a = p.parse_args()
    print(cpu_time_table(a.threads, a.reps, a.quick))

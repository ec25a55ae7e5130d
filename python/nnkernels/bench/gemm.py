"""GEMM rows: square sizes, skinny shapes and a batch of small matrices."""
from __future__ import annotations

from typing import List

import numpy as np

from . import Row, rel_err, try_torch


def checks():
    import nnkernels as nk

    rng = np.random.default_rng(7)
    out = []
    for dtype, tol in ((np.float32, 1e-5), (np.float64, 1e-12)):
        for M, N, K in ((1, 1, 1), (17, 33, 65), (150, 7, 300)):
            a = rng.standard_normal((M, K)).astype(dtype)
            b = rng.standard_normal((K, N)).astype(dtype)
            out.append((f"matmul {np.dtype(dtype).name} {M}×{N}×{K}",
                        rel_err(nk.matmul(a, b), a.astype(np.float64) @ b), tol))
    a = rng.standard_normal((4, 9, 5)).astype(np.float32)
    b = rng.standard_normal((5, 6)).astype(np.float32)
    out.append(("matmul batched", rel_err(nk.matmul(a, b), a.astype(np.float64) @ b), 1e-5))
    return out


def rows(quick: bool = False, dtype=np.float32) -> List[Row]:
    import nnkernels as nk

    torch = try_torch()
    rng = np.random.default_rng(0)
    shapes = [(n, n, n) for n in ((64, 256, 512) if quick else (64, 128, 256, 512, 1024, 2048))]
    shapes += [] if quick else [(1000, 37, 500), (4096, 64, 64), (64, 4096, 64)]
    batched = [(64, 64, 64, 64)] if quick else [(256, 64, 64, 64)]
    out = []

    def make(label, a, b, flops):
        peers = {"numpy": lambda: np.matmul(a, b)}
        if torch is not None:
            ta, tb = torch.from_numpy(a), torch.from_numpy(b)
            peers["torch"] = lambda: torch.matmul(ta, tb)
        out.append(Row("gemm", label, flops, "GFLOP/s", lambda: nk.matmul(a, b), peers,
                       check=lambda: rel_err(nk.matmul(a, b), a.astype(np.float64) @ b), tol=1e-5))

    for M, N, K in shapes:
        a = rng.standard_normal((M, K)).astype(dtype)
        b = rng.standard_normal((K, N)).astype(dtype)
        make(f"{M}×{N}×{K}", a, b, 2.0 * M * N * K)
    for B, M, N, K in batched:
        a = rng.standard_normal((B, M, K)).astype(dtype)
        b = rng.standard_normal((B, K, N)).astype(dtype)
        make(f"{B} × {M}×{N}×{K}", a, b, 2.0 * B * M * N * K)
    return out

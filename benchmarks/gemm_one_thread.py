"""One-thread GEMM against the one-core FMA roof of the CPU path in use.

    python benchmarks/gemm_one_thread.py            # path chosen by detection
    NNKERNELS_CPU=avx2 python benchmarks/gemm_one_thread.py

Each side is called as NumPy's users call it (nk.matmul / np.matmul with out=, torch.mm with
out=), ROUNDS (default 3) rounds of the sides in turn, each side's best round kept.
The roof is measured in the same run by benchmarks/fma_roof.c (24 independent FMA chains on
zmm for avx512, ymm for avx2; compiled with the system's gcc). GEMM figures are the best of
9 calls by thread CPU time, so time the scheduler gives to other processes is not counted.
The peers run on one thread in the same run, interleaved with nnkernels size by size (NumPy's
BLAS through threadpoolctl, torch.mm), so the table shows how much of the roof a tuned
library reaches on this machine; unset OPENBLAS_CORETYPE for OpenBLAS's own kernel choice.
"""
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import nnkernels as nk

HERE = os.path.dirname(os.path.abspath(__file__))
ROUNDS = int(os.environ.get("ROUNDS", "3"))


def fma_roof(path: str) -> float:
    """GFLOP/s of one core's FMA loop on `path` ('avx512' or 'avx2'), or NaN without gcc."""
    exe = os.path.join(tempfile.gettempdir(), "nk_fma_roof")
    try:
        subprocess.run(["gcc", "-O2", "-o", exe, os.path.join(HERE, "fma_roof.c")], check=True,
                       capture_output=True)
        return float(subprocess.run([exe, path], check=True, capture_output=True, text=True).stdout)
    except (OSError, subprocess.CalledProcessError, ValueError):
        return float("nan")


def best_gflops(fn, n: int) -> float:
    """2n³ flops over the best of 9 calls of fn by thread CPU time."""
    fn()
    best = 1e9
    for _ in range(9):
        t = time.thread_time()
        fn()
        best = min(best, time.thread_time() - t)
    return 2 * n**3 / best / 1e9


def peers(a, b, c):
    """(name, one-thread call) of each peer installed: NumPy's BLAS and torch.mm."""
    out = [("numpy", lambda: np.matmul(a, b, out=c))]
    try:
        import torch
    except ImportError:
        return out
    torch.set_num_threads(1)
    at, bt, ct = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(c)
    return out + [("torch", lambda: torch.mm(at, bt, out=ct))]


def main() -> int:
    nk.set_num_threads(1)
    path = nk.cpu_path()
    roof_of = (lambda: fma_roof(path)) if path in ("avx2", "avx512") else (lambda: float("nan"))
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
    except ImportError:
        print("threadpoolctl is needed to run NumPy's BLAS on one thread", file=sys.stderr)
        return 1
    blas = ", ".join(f"{i['internal_api']} {i.get('architecture') or ''}".strip() for i in threadpool_info()
                     if i["user_api"] == "blas")
    rng = np.random.default_rng(0)
    header = None
    rows, roofs = [], []
    with threadpool_limits(1, user_api="blas"):
        for n in (256, 512, 1024, 2048):
            a = rng.random((n, n), dtype=np.float32)
            b = rng.random((n, n), dtype=np.float32)
            c = np.empty((n, n), np.float32)
            runs = [("nnkernels", lambda: nk.matmul(a, b, out=c))] + peers(a, b, c)
            header = [name for name, _ in runs]
            roofs.append(roof_of())  # the host's clock drifts: the roof is taken at every size
            best = [0.0] * len(runs)
            for _ in range(ROUNDS):  # rounds of the sides in turn: a slow spell hits all of them
                best = [max(g, best_gflops(fn, n)) for g, (_, fn) in zip(best, runs)]
            rows.append((n, best))
    roof = max(roofs)
    print(f"path {path}, kernel {nk._C.kernel_names()['sgemm']}, one-core FMA roof {roof:.1f} GFLOP/s "
          f"(best of {len(roofs)} runs of the loop, one before each size: "
          + " ".join(f"{r:.0f}" for r in roofs) + f"); NumPy's BLAS: {blas}\n")
    print("| n³ | " + " | ".join(f"{h} GFLOP/s | of roof" for h in header) + " |")
    print("|---|" + "---|---|" * len(header))
    for n, gs in rows:
        print(f"| {n}³ | " + " | ".join(f"{g:.1f} | {g / roof * 100:.0f} %" for g in gs) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

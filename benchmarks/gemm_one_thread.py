"""One-thread GEMM against the one-core FMA roof of the CPU path in use.

    python benchmarks/gemm_one_thread.py            # path chosen by detection
    NNKERNELS_CPU=avx2 python benchmarks/gemm_one_thread.py

The roof is measured in the same run by benchmarks/fma_roof.c (24 independent FMA chains on
zmm for avx512, ymm for avx2; compiled with the system's gcc). GEMM figures are the best of
9 calls by thread CPU time, so time the scheduler gives to other processes is not counted.
"""
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import nnkernels as nk

HERE = os.path.dirname(os.path.abspath(__file__))


def fma_roof(path: str) -> float:
    """GFLOP/s of one core's FMA loop on `path` ('avx512' or 'avx2'), or NaN without gcc."""
    exe = os.path.join(tempfile.gettempdir(), "nk_fma_roof")
    try:
        subprocess.run(["gcc", "-O2", "-o", exe, os.path.join(HERE, "fma_roof.c")], check=True,
                       capture_output=True)
        return float(subprocess.run([exe, path], check=True, capture_output=True, text=True).stdout)
    except (OSError, subprocess.CalledProcessError, ValueError):
        return float("nan")


def main() -> int:
    nk.set_num_threads(1)
    path = nk.cpu_path()
    roof = fma_roof(path) if path in ("avx2", "avx512") else float("nan")
    print(f"path {path}, kernel {nk._C.kernel_names()['sgemm']}, one-core FMA roof {roof:.1f} GFLOP/s\n")
    print("| n³ | GFLOP/s | of roof |\n|---|---|---|")
    rng = np.random.default_rng(0)
    for n in (256, 512, 1024, 2048):
        a = rng.random((n, n), dtype=np.float32)
        b = rng.random((n, n), dtype=np.float32)
        c = np.empty((n, n), np.float32)
        nk.gemm(a, b, out=c)
        best = 1e9
        for _ in range(9):
            t = time.thread_time()
            nk.gemm(a, b, out=c)
            best = min(best, time.thread_time() - t)
        g = 2 * n**3 / best / 1e9
        print(f"| {n}³ | {g:.1f} | {g / roof * 100:.0f} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

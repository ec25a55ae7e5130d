"""`python -m nnkernels`: a self-check of every kernel built, then a benchmark table
against NumPy (and PyTorch when it is installed), measured in this run."""
from __future__ import annotations

import argparse
import sys

import numpy as np


def self_check() -> bool:
    import nnkernels as nk
    from .bench import rel_err

    rng = np.random.default_rng(7)
    checks = []
    for dtype, tol in ((np.float32, 1e-5), (np.float64, 1e-12)):
        for M, N, K in ((1, 1, 1), (17, 33, 65), (150, 7, 300)):
            a = rng.standard_normal((M, K)).astype(dtype)
            b = rng.standard_normal((K, N)).astype(dtype)
            checks.append((f"matmul {np.dtype(dtype).name} {M}×{N}×{K}",
                           rel_err(nk.matmul(a, b), a.astype(np.float64) @ b), tol))
    a = rng.standard_normal((4, 9, 5)).astype(np.float32)
    b = rng.standard_normal((5, 6)).astype(np.float32)
    checks.append(("matmul batched", rel_err(nk.matmul(a, b), a.astype(np.float64) @ b), 1e-5))
    ok = True
    for name, err, tol in checks:
        good = err <= tol
        ok &= good
        print(f"  {'ok  ' if good else 'FAIL'} {name:32s} rel err {err:.1e}")
    return ok


def main(argv=None) -> int:
    import nnkernels as nk
    from . import bench

    p = argparse.ArgumentParser(prog="python -m nnkernels", description=__doc__)
    p.add_argument("--quick", action="store_true", help="small sizes, few repetitions (seconds)")
    p.add_argument("--no-bench", action="store_true", help="self-check only")
    p.add_argument("--threads", type=int, default=None, help="threads for nnkernels and the peers")
    p.add_argument("--only", default=None, help="comma-separated kernel families: " + ",".join(bench.ROW_BUILDERS))
    args = p.parse_args(argv)

    if args.threads:
        nk.set_num_threads(args.threads)
    nk.show_config()
    print("\nself-check against float64 NumPy:")
    ok = self_check()
    if args.no_bench:
        return 0 if ok else 1

    torch = bench.try_torch()
    bench.sync_threads(torch, nk.get_num_threads())
    families = args.only.split(",") if args.only else list(bench.ROW_BUILDERS)
    print(f"\nbenchmark ({nk.get_num_threads()} threads; ratio = nnkernels throughput / peer, higher is better;"
          f" PyTorch {'%s' % torch.__version__ if torch else 'not installed'}):")
    rows = []
    for fam in families:
        rows += bench.ROW_BUILDERS[fam](args.quick)
    results = bench.run_rows(rows, reps=3 if args.quick else 7, min_time=0.01 if args.quick else 0.05)
    print(bench.format_table(results))
    sys.stdout.flush()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""`python -m nnkernels`: a self-check of every kernel built, then a benchmark table
against NumPy (and PyTorch when it is installed), measured in this run."""
from __future__ import annotations

import argparse
import sys
import time



def self_check(families) -> bool:
    from . import bench

    ok = True
    for fam in families:
        for name, err, tol in bench.family(fam).checks():
            good = err <= tol
            ok &= good
            print(f"  {'ok  ' if good else 'FAIL'} {name:40s} rel err {err:.1e}")
    return ok


def main(argv=None) -> int:
    import nnkernels as nk
    from . import bench

    p = argparse.ArgumentParser(prog="python -m nnkernels", description=__doc__)
    p.add_argument("--quick", action="store_true", help="small sizes, few repetitions (seconds)")
    p.add_argument("--no-bench", action="store_true", help="self-check only")
    p.add_argument("--threads", type=int, default=None, help="threads for nnkernels and the peers")
    p.add_argument("--only", default=None, help="comma-separated kernel families: " + ",".join(bench.FAMILIES))
    p.add_argument("--plot", default=None, metavar="PNG",
                   help="also draw the ratios as a bar chart into PNG (needs matplotlib)")
    args = p.parse_args(argv)

    if args.threads:
        nk.set_num_threads(args.threads)
    families = args.only.split(",") if args.only else list(bench.FAMILIES)
    unknown = [f for f in families if f not in bench.FAMILIES]
    if unknown:
        p.error(f"unknown families {unknown}; choose from {bench.FAMILIES}")
    nk.show_config()
    print("\nself-check against float64 NumPy:")
    ok = self_check(families)
    if args.no_bench:
        return 0 if ok else 1

    torch = bench.try_torch()
    bench.sync_threads(torch, nk.get_num_threads())
    print(f"\nbenchmark ({nk.get_num_threads()} threads; ratio = nnkernels throughput / peer, higher is better;"
          f" PyTorch {'%s' % torch.__version__ if torch else 'not installed'}):")
    rows = []
    for fam in families:
        rows += bench.family(fam).rows(args.quick)
    t0 = time.perf_counter()
    results = bench.stream_rows(rows, reps=3 if args.quick else 7, min_time=0.01 if args.quick else 0.05)
    print(f"\n{len(results)} rows in {time.perf_counter() - t0:.0f} s")
    if args.plot:
        from .bench.plot import plot_ratios, ratios_from_results
        title = f"nnkernels {nk.__version__} vs peers: `python -m nnkernels{' --quick' if args.quick else ''}`"
        plot_ratios(ratios_from_results(results), args.plot, title, bench.machine())
        print(f"bar chart written to {args.plot}")
    sys.stdout.flush()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

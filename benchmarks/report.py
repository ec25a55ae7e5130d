"""Measure every kernel family side by side with its peers and print (or write) the
markdown tables for benchmarks/RESULTS.md.

    python benchmarks/report.py                     # all families, print
    python benchmarks/report.py --only gemm --write # replace the gemm section of RESULTS.md

Sections are keyed by family and CPU path ("gemm avx512"), so the tables of one path do
not replace another's. Against NumPy, unset OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE in this
command only (env -u ...): the table names the BLAS kernel NumPy ran.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import subprocess
import sys

import numpy as np

import nnkernels as nk
from nnkernels import bench

HERE = os.path.dirname(os.path.abspath(__file__))


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        m = re.search(r"Model name:\s*(.+)", out)
        cpu = m.group(1).strip() if m else cpu
    except OSError:
        pass
    torch = bench.try_torch()
    return (f"{cpu}, {os.cpu_count()} cores, {nk.get_num_threads()} threads, CPU path {nk.cpu_path()}; "
            f"NumPy {np.__version__} ({bench.blas_kernel()}), PyTorch {torch.__version__ if torch else 'not installed'}")


def section(family: str, quick: bool, key: str) -> str:
    rows = bench.family(family).rows(quick)
    results = bench.run_rows(rows, reps=3 if quick else 9, min_time=0.01 if quick else 0.1,
                             log=lambda line: print(line, file=sys.stderr))
    date = datetime.date.today().isoformat()
    env = "env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE " if "OPENBLAS_CORETYPE" not in os.environ else ""
    path = f"NNKERNELS_CPU={nk.cpu_path()} "
    cmd = f"{env}{path}python benchmarks/report.py --only {family}" + (" --quick" if quick else "")
    return (f"<!-- begin {key} -->\n## {family} ({nk.cpu_path()} path)\n\n{date}; {machine()}\n\n`{cmd}`\n\n"
            f"{bench.format_table(results)}\n<!-- end {key} -->\n")


def write(path: str, key: str, text: str) -> None:
    old = open(path).read() if os.path.exists(path) else "# Benchmark results\n\n"
    pat = re.compile(rf"<!-- begin {re.escape(key)} -->.*?<!-- end {re.escape(key)} -->\n", re.S)
    new = pat.sub(lambda _: text, old) if pat.search(old) else old.rstrip("\n") + "\n\n" + text
    with open(path, "w") as f:
        f.write(new)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", default=",".join(bench.FAMILIES))
    p.add_argument("--quick", action="store_true")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md in place")
    args = p.parse_args(argv)
    bench.PAUSE = float(os.environ.get("NNKERNELS_BENCH_PAUSE", "0.3"))
    if args.threads:
        nk.set_num_threads(args.threads)
    bench.sync_threads(bench.try_torch(), nk.get_num_threads())
    for fam in args.only.split(","):
        key = f"{fam} {nk.cpu_path()}"
        text = section(fam, args.quick, key)
        print(text)
        if args.write:
            write(os.path.join(HERE, "RESULTS.md"), key, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

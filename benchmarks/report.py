"""Measure every kernel family side by side with its peers and print (or write) the
markdown tables for benchmarks/RESULTS.md.

    python benchmarks/report.py                     # all families, print
    python benchmarks/report.py --only gemm --write # replace the gemm section of RESULTS.md
    python benchmarks/report.py --plot ratios.png   # measure, print, and draw the ratios as bars
    python benchmarks/report.py --plot benchmarks/ratios_avx512.png --from-results
                                                    # draw RESULTS.md's tables for this CPU path

Sections are keyed by family and CPU path ("gemm avx512"), so the tables of one path do
not replace another's. Against NumPy, unset OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE in this
command only (env -u ...): the table names the BLAS kernel NumPy ran.
"""
from __future__ import annotations

import argparse
import datetime
import os
import re
import sys


import nnkernels as nk
from nnkernels import bench

HERE = os.path.dirname(os.path.abspath(__file__))


def machine() -> str:
    return bench.machine()


def section(family: str, quick: bool, key: str, measured=None) -> str:
    rows = bench.family(family).rows(quick)
    results = bench.stream_rows(rows, reps=3 if quick else 9, min_time=0.01 if quick else 0.1, out=sys.stderr)
    if measured is not None:
        measured += results
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
    p.add_argument("--plot", default=None, metavar="PNG", help="draw the ratios as a bar chart into PNG")
    p.add_argument("--from-results", action="store_true",
                   help="with --plot: measure nothing, draw the tables of RESULTS.md for this CPU path "
                        "(the sections '<family> <path>' named by --only)")
    args = p.parse_args(argv)
    bench.PAUSE = float(os.environ.get("NNKERNELS_BENCH_PAUSE", "0.3"))
    if args.threads:
        nk.set_num_threads(args.threads)
    families = args.only.split(",")
    if args.from_results:
        if not args.plot:
            p.error("--from-results needs --plot PNG")
        return plot_from_results(families, args.plot)
    bench.sync_threads(bench.try_torch(), nk.get_num_threads())
    measured = []
    for fam in families:
        key = f"{fam} {nk.cpu_path()}"
        text = section(fam, args.quick, key, measured)
        print(text)
        if args.write:
            write(os.path.join(HERE, "RESULTS.md"), key, text)
    if args.plot:
        from nnkernels.bench.plot import plot_ratios, ratios_from_results
        cmd = "python benchmarks/report.py --only " + ",".join(families) + (" --quick" if args.quick else "")
        plot_ratios(ratios_from_results(measured), args.plot, f"nnkernels vs peers ({datetime.date.today()}): "
                    f"`{cmd}`", machine())
        print(f"bar chart written to {args.plot}", file=sys.stderr)
    return 0


def plot_from_results(families, png, path=None) -> int:
    """Draw the RESULTS.md sections '<family> <path>' (measured tables) into png."""
    from nnkernels.bench.plot import plot_ratios, ratios_from_markdown
    path = path or nk.cpu_path()
    text = open(os.path.join(HERE, "RESULTS.md")).read()
    rows, found, dates, machines = [], [], set(), set()
    for fam in families:
        key = f"{fam} {path}"
        m = re.search(rf"<!-- begin {re.escape(key)} -->(.*?)<!-- end {re.escape(key)} -->", text, re.S)
        if m is None:
            print(f"RESULTS.md has no section '{key}': skipped", file=sys.stderr)
            continue
        found.append(fam)
        rows += ratios_from_markdown(m.group(1))
        info = re.search(r"^(\d{4}-\d{2}-\d{2}); (.+)$", m.group(1), re.M)
        if info:
            dates.add(info.group(1))
            machines.add(re.sub(r", \d+ threads", "", info.group(2)).split(";")[0])
    if not rows:
        print("nothing to draw", file=sys.stderr)
        return 1
    title = (f"nnkernels vs peers, {path} path, measured {', '.join(sorted(dates))}: RESULTS.md sections "
             f"{', '.join(found)}")
    plot_ratios(rows, png, title, "; ".join(sorted(machines)))
    print(f"bar chart of {len(rows)} rows written to {png}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

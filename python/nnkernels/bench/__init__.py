"""Side-by-side timing used by `python -m nnkernels` and benchmarks/.

Every row times nnkernels and its peers in the same process, interleaved (one call
of each in turn, after a warm-up), and reports medians and the ratio nnkernels/peer
of throughput (higher is better). Rows check correctness before they time.
"""
from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import numpy as np


def try_torch():
    try:
        import torch
    except Exception:
        return None
    return torch


def blas_kernel() -> str:
    """The BLAS NumPy runs and the kernel it picked (threadpoolctl), e.g. 'openblas SkylakeX'.
    OPENBLAS_CORETYPE in the environment pins it (see ../shared/BENCH.md, Method)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "BLAS kernel unknown: pip install threadpoolctl"
    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    if not blas:
        return "BLAS not loaded"
    i = blas[0]
    pinned = os.environ.get("OPENBLAS_CORETYPE")
    return f"{i.get('internal_api')} {i.get('architecture') or ''}".strip() + (
        f", OPENBLAS_CORETYPE={pinned}" if pinned else "")


def machine() -> str:
    """One line: CPU model, cores, threads, CPU path, NumPy and its BLAS, PyTorch."""
    import platform
    import re
    import subprocess

    import nnkernels as nk
    cpu = platform.processor() or "unknown CPU"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        m = re.search(r"Model name:\s*(.+)", out)
        cpu = m.group(1).strip() if m else cpu
    except OSError:
        pass
    torch = try_torch()
    return (f"{cpu}, {os.cpu_count()} cores, {nk.get_num_threads()} threads, CPU path {nk.cpu_path()}; "
            f"NumPy {np.__version__} ({blas_kernel()}), PyTorch {torch.__version__ if torch else 'not installed'}")


def sync_threads(torch, n: int) -> None:
    """Make torch use the same number of threads as nnkernels."""
    if torch is not None:
        torch.set_num_threads(n)


# Seconds between two timed blocks (NNKERNELS_BENCH_PAUSE overrides): 0.1 for the main
# job's table, 0.3 (BENCH.md's method) for benchmarks/report.py, which sets it.
PAUSE = float(os.environ.get("NNKERNELS_BENCH_PAUSE", "0.1"))


def time_interleaved(fns: Dict[str, Callable[[], object]], reps: int = 7, warmup: int = 2,
                     min_time: float = 0.0, pause: Optional[float] = None) -> Dict[str, float]:
    """Median seconds per call of each function, called in turn `reps` times. Between two
    blocks the clock rests `pause` seconds, so that neither side's idle pool threads (OpenBLAS,
    OpenMP) are still spinning when the other is timed (../shared/BENCH.md, Method)."""
    for _ in range(warmup):
        for f in fns.values():
            f()
    samples: Dict[str, List[float]] = {k: [] for k in fns}
    # Repeat short calls so each sample lasts at least ~min_time seconds.
    inner = {}
    for k, f in fns.items():
        t0 = time.perf_counter()
        f()
        dt = time.perf_counter() - t0
        inner[k] = max(1, int(min_time / max(dt, 1e-9)))
    pause = PAUSE if pause is None else pause
    for _ in range(reps):
        for k, f in fns.items():
            n = inner[k]
            if pause and len(fns) > 1:
                time.sleep(pause)
            t0 = time.perf_counter()
            for _ in range(n):
                f()
            samples[k].append((time.perf_counter() - t0) / n)
    return {k: statistics.median(v) for k, v in samples.items()}


@dataclass
class Row:
    """One benchmark row: a label, the work (flops or bytes), and the callables."""
    group: str
    label: str
    work: float                       # flops (unit 'GFLOP/s') or bytes moved (unit 'GB/s')
    unit: str
    ours: Callable[[], object]
    peers: Dict[str, Callable[[], object]] = field(default_factory=dict)
    check: Optional[Callable[[], float]] = None   # returns a relative error, run before timing
    tol: float = 1e-4


@dataclass
class Result:
    row: Row
    seconds: Dict[str, float]
    err: Optional[float]

    def rate(self, who: str) -> float:
        return self.row.work / self.seconds[who] / 1e9

    def ratio(self, peer: str) -> float:
        return self.seconds[peer] / self.seconds["nnkernels"]


def run_rows(rows: List[Row], reps: int = 7, min_time: float = 0.05, log=None) -> List[Result]:
    results = []
    for row in rows:
        err = row.check() if row.check is not None else None
        fns = {"nnkernels": row.ours, **row.peers}
        secs = time_interleaved(fns, reps=reps, min_time=min_time)
        res = Result(row, secs, err)
        results.append(res)
        if log is not None:
            log(format_result(res))
    return results


def _eta(sec: float) -> str:
    return f"{sec:.0f} s" if sec < 90 else f"{sec / 60:.1f} min"


class Progress:
    """A status line for a run of rows: how many are done, the time so far and an estimate
    of the time left (the mean time per timed function so far, times the functions left).
    On a terminal it is redrawn in place and erased before each table row is printed; on
    other streams it is not written (the rows themselves stream there)."""

    def __init__(self, rows: List[Row], stream=None):
        import sys
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.weights = [1 + len(r.peers) for r in rows]
        self.total, self.done, self.i = sum(self.weights), 0, 0
        self.start = time.perf_counter()

    def estimate(self) -> Optional[float]:
        """Seconds left, or None before the first row is done."""
        if not self.done:
            return None
        el = time.perf_counter() - self.start
        return el / self.done * (self.total - self.done)

    def status(self, row: Optional[Row] = None) -> str:
        el = time.perf_counter() - self.start
        left = self.estimate()
        what = f" {row.group} {row.label}" if row is not None else ""
        tail = "estimating the time left" if left is None else f"about {_eta(left)} left"
        return f"[{self.i + 1}/{len(self.weights)}]{what} · {_eta(el)} so far, {tail}"

    def begin(self, row: Row) -> None:
        if self.tty:
            self.stream.write("\r" + self.status(row) + "\x1b[K")
            self.stream.flush()

    def clear(self) -> None:
        if self.tty:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def end(self) -> None:
        self.done += self.weights[self.i]
        self.i += 1


def stream_rows(rows: List[Row], reps: int = 7, min_time: float = 0.05, out=None, status=None) -> List[Result]:
    """Measure `rows` one after another, printing the table header at once and each row to
    `out` as soon as it is measured, with a Progress line on `status` (a terminal)."""
    import sys
    out = out if out is not None else sys.stdout
    peers: List[str] = []
    for r in rows:
        peers += [p for p in r.peers if p not in peers]
    prog = Progress(rows, status)
    out.write(format_header(peers) + "\n")
    out.flush()
    results = []
    for row in rows:
        prog.begin(row)
        res = run_rows([row], reps=reps, min_time=min_time)[0]
        prog.end()
        prog.clear()
        out.write(format_result(res, peers) + "\n")
        out.flush()
        results.append(res)
    return results


def format_header(peers: List[str]) -> str:
    cols = ["group", "shape", "unit", "nnkernels"] + peers + [f"ratio vs {p}" for p in peers] + ["rel err"]
    return "| " + " | ".join(cols) + " |\n|" + "---|" * len(cols)


def format_result(res: Result, peers: Optional[List[str]] = None) -> str:
    peers = peers if peers is not None else [p for p in res.seconds if p != "nnkernels"]
    cells = [res.row.group, res.row.label, res.row.unit, f"{res.rate('nnkernels'):.1f}"]
    cells += [f"{res.rate(p):.1f}" if p in res.seconds else "-" for p in peers]
    cells += [f"{res.ratio(p):.2f}×" if p in res.seconds else "-" for p in peers]
    cells.append("-" if res.err is None else f"{res.err:.1e}" + ("" if res.err <= res.row.tol else " FAIL"))
    return "| " + " | ".join(cells) + " |"


def format_table(results: List[Result]) -> str:
    peers: List[str] = []
    for r in results:
        for p in r.seconds:
            if p != "nnkernels" and p not in peers:
                peers.append(p)
    lines = [format_header(peers)] + [format_result(r, peers) for r in results]
    return "\n".join(lines)


def rel_err(x, ref) -> float:
    x = np.asarray(x, np.float64)
    ref = np.asarray(ref, np.float64)
    if ref.size == 0:
        return 0.0
    return float(np.max(np.abs(x - ref)) / max(float(np.max(np.abs(ref))), 1e-30))


# ---- kernel families ----------------------------------------------------------
# Each family is a module nnkernels/bench/<name>.py with two functions:
#   checks() -> list of (name, rel_err, tol)   used by the self-check of `python -m nnkernels`
#   rows(quick: bool) -> list of Row            benchmark rows against the peers
FAMILIES = ["gemm", "conv", "pool", "softmax", "activations", "attention", "rnn", "train"]


def family(name: str):
    import importlib

    return importlib.import_module(f"{__name__}.{name}")

"""Data-parallel training and allreduce on this machine (nnkernels.distributed, backend 'mpi').

    python benchmarks/distributed.py              # both parts; prints the Markdown for RESULTS.md
    python benchmarks/distributed.py --quick      # a short smoke run

1. The seed CNN's epoch (Keras: Conv2D(32, 3x3, relu) on 28x28x1, MaxPooling2D(2), Flatten,
   Dense(10, softmax); Adam; 2048 synthetic samples, global batch 64, 32 steps):
   1 rank x 1 thread, 1 rank x 2 threads, 2 ranks x 1 thread (batch 32 per rank). The
   one-rank runs are plain processes (no process group); the two-rank run is `fit` under
   init_process_group, launched by nnkernels.distributed.run. The three configurations run
   in 3 interleaved rounds of 3 timed epochs each (after a warm-up epoch per run); step
   time = epoch time / 32, best and median. Scaling efficiency = speedup over 1 x 1 / 2.
   Checked before the figures count: the two ranks end with identical weights.

2. Allreduce of float32 buffers from 4 KiB to 64 MiB on 2 ranks, each size timed four
   ways on the same buffer, interleaved: raw mpi4py `COMM_WORLD.Allreduce(IN_PLACE, buf)`
   against `nnkernels.distributed.all_reduce(buf)` (blocking, under the watchdog; what
   DistributedDataParallel's last bucket uses), and raw `COMM_WORLD.Iallreduce(IN_PLACE,
   buf).Wait()` against `all_reduce(buf, async_op=True).wait()` (MPI_Iallreduce, what the
   other buckets use). Bandwidth = bytes / median time, each repetition timed by the
   slower rank (for 2 ranks the algorithm and bus bandwidths are the same). Checked
   first: every rank's result is the exact sum, for every way.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
N_SAMPLES, BATCH = 2048, 64


# ------------------------------------------------------------------ roles (run inside ranks)
def role_cnn(out, epochs):
    import nnkernels as nk
    import nnkernels.distributed as dist
    from nnkernels.keras import callbacks, layers, models
    world = 1
    if os.environ.get("OMPI_COMM_WORLD_SIZE") or os.environ.get("PMI_SIZE"):
        dist.init_process_group("mpi")
        world = dist.get_world_size()
    rank = dist.get_rank() if world > 1 else 0
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N_SAMPLES, 28, 28, 1)).astype(np.float32)
    y = rng.integers(0, 10, N_SAMPLES)
    nk.manual_seed(0)
    m = models.Sequential([layers.Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)),
                           layers.MaxPooling2D((2, 2)), layers.Flatten(), layers.Dense(10, activation="softmax")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    times = []

    class Timer(callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.t)
    m.fit(x, y, batch_size=BATCH // world, epochs=epochs + 1, verbose=0, callbacks=[Timer()])
    res = {"world": world, "threads": nk.get_num_threads(), "epoch_s": times[1:], "steps": N_SAMPLES // BATCH}
    if world > 1:
        w = np.concatenate([a.ravel() for a in m.get_weights()]).astype(np.float64)
        lo, hi = w.copy(), w.copy()
        dist.all_reduce(lo, op=dist.ReduceOp.MIN)
        dist.all_reduce(hi, op=dist.ReduceOp.MAX)
        res["ranks_identical"] = bool(np.array_equal(lo, hi))
        dist.destroy_process_group()
    if rank == 0:
        with open(out, "w") as f:
            json.dump(res, f)


def role_allreduce(out, quick):
    from mpi4py import MPI
    import nnkernels.distributed as dist
    dist.init_process_group("mpi")
    comm, rank = MPI.COMM_WORLD, dist.get_rank()
    sizes = [1 << k for k in range(12, 27, 2)]  # bytes: 4 KiB .. 64 MiB
    if quick:
        sizes = sizes[::3]
    ways = ("raw", "nk", "raw_async", "nk_async")

    def run(way, buf):
        if way == "raw":
            comm.Allreduce(MPI.IN_PLACE, buf)
        elif way == "nk":
            dist.all_reduce(buf)
        elif way == "raw_async":
            comm.Iallreduce(MPI.IN_PLACE, buf).Wait()
        else:
            dist.all_reduce(buf, async_op=True).wait()
    rows = []
    for nbytes in sizes:
        n = nbytes // 4
        buf = np.empty(n, np.float32)
        # correctness first: the exact sum on every rank, for each way
        for way in ways:
            buf[:] = rank + 1
            run(way, buf)
            ok = np.array([np.all(buf == 3.0)], np.int64)
            comm.Allreduce(MPI.IN_PLACE, ok, op=MPI.MIN)
            assert ok[0] == 1, f"allreduce {way} of {nbytes} bytes gave a wrong sum"
        reps = max(5, min(400, int(2e8 / max(nbytes, 1) / 8)))
        if quick:
            reps = max(3, reps // 20)
        t = {w: [] for w in ways}
        for _ in range(reps):
            for way in ways:
                comm.Barrier()
                t0 = time.perf_counter()
                run(way, buf)
                dt = np.array([time.perf_counter() - t0])
                comm.Allreduce(MPI.IN_PLACE, dt, op=MPI.MAX)   # the slower rank's time
                t[way].append(float(dt[0]))
        rows.append({"bytes": nbytes, "reps": reps, **{k: float(np.median(v)) for k, v in t.items()}})
    if rank == 0:
        with open(out, "w") as f:
            json.dump({"rows": rows, "mpi": MPI.Get_library_version().splitlines()[0]}, f)
    dist.destroy_process_group()


# ------------------------------------------------------------------ driver
def _run(cmd, env):
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    if r.returncode != 0:
        sys.exit(f"benchmark run failed: {' '.join(cmd)}\n{r.stdout}\n{r.stderr}")


def _env(threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    import nnkernels
    pkg = os.path.dirname(os.path.dirname(nnkernels.__file__))
    env["PYTHONPATH"] = pkg + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def cnn_part(epochs, rounds):
    """Each configuration `rounds` times, interleaved (1x1, 1x2, 2x1, 1x1, ...), so a spell of
    load from elsewhere hits all of them; best and median over every timed epoch."""
    res = {}
    me = os.path.abspath(__file__)
    configs = ((1, 1), (1, 2), (2, 1))
    for _ in range(rounds):
        for ranks, threads in configs:
            with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
                out = f.name
            role = [me, "--role", "cnn", "--out", out, "--epochs", str(epochs)]
            if ranks == 1:
                _run([sys.executable] + role, _env(threads))
            else:
                _run([sys.executable, "-m", "nnkernels.distributed.run", "-n", str(ranks), "--threads",
                      str(threads)] + role, _env(threads))
            with open(out) as f:
                r = json.load(f)
            os.unlink(out)
            acc = res.setdefault((ranks, threads), {"epoch_s": [], "identical": True, "steps": r["steps"]})
            acc["epoch_s"] += r["epoch_s"]
            acc["identical"] &= r.get("ranks_identical", True)
    steps = res[(1, 1)]["steps"]
    best = {k: min(v["epoch_s"]) for k, v in res.items()}
    med = {k: float(np.median(v["epoch_s"])) for k, v in res.items()}
    lines = ["| configuration | step time, best (ms) | step time, median (ms) | throughput vs 1×1 (best) | "
             "scaling efficiency on 2 cores (best) |", "|---|---|---|---|---|"]
    for (ranks, threads), r in res.items():
        note = (" (ranks identical: " + ("yes" if r["identical"] else "NO") + ")") if ranks > 1 else ""
        k = (ranks, threads)
        sp = best[(1, 1)] / best[k]
        eff = "—" if ranks * threads == 1 else f"{sp / (ranks * threads) * 100:.0f} %"
        lines.append(f"| {ranks} rank{'s' if ranks > 1 else ''} × {threads} thread{'s' if threads > 1 else ''}"
                     f"{note} | {best[k] / steps * 1e3:.1f} | {med[k] / steps * 1e3:.1f} | {sp:.2f}× | {eff} |")
    lines.append("")
    lines.append(f"2 ranks × 1 thread against 1 rank × 2 threads: {best[(1, 2)] / best[(2, 1)]:.2f}× the throughput "
                 f"(best epochs), {med[(1, 2)] / med[(2, 1)]:.2f}× (medians); {len(res[(1, 1)]['epoch_s'])} timed "
                 f"epochs of {steps} steps (global batch {BATCH}) per configuration, {rounds} interleaved rounds.")
    return "\n".join(lines)


def allreduce_part(quick):
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = f.name
    cmd = [sys.executable, "-m", "nnkernels.distributed.run", "-n", "2", "--threads", "1",
           os.path.abspath(__file__), "--role", "allreduce", "--out", out] + (["--quick"] if quick else [])
    _run(cmd, _env(1))
    with open(out) as f:
        data = json.load(f)
    os.unlink(out)
    lines = [f"{data['mpi']}", "",
             "| buffer | mpi4py Allreduce GB/s | nk all_reduce GB/s | ratio | mpi4py Iallreduce+Wait GB/s | "
             "nk all_reduce(async_op=True).wait() GB/s | ratio |",
             "|---|---|---|---|---|---|---|"]
    for r in data["rows"]:
        b = r["bytes"]
        size = f"{b >> 20} MiB" if b >= 1 << 20 else f"{b >> 10} KiB"
        bw = {k: b / r[k] / 1e9 for k in ("raw", "nk", "raw_async", "nk_async")}
        lines.append(f"| {size} | {bw['raw']:.2f} | {bw['nk']:.2f} | {bw['nk'] / bw['raw']:.2f}× | "
                     f"{bw['raw_async']:.2f} | {bw['nk_async']:.2f} | {bw['nk_async'] / bw['raw_async']:.2f}× |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--epochs", type=int, default=None, help="timed epochs per run (default 3)")
    ap.add_argument("--rounds", type=int, default=None, help="interleaved rounds of the configurations (default 3)")
    ap.add_argument("--only", choices=["cnn", "allreduce"], default=None)
    ap.add_argument("--role", choices=["cnn", "allreduce"], default=None, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    epochs = a.epochs or (1 if a.quick else 3)
    rounds = a.rounds or (1 if a.quick else 3)
    if a.role == "cnn":
        return role_cnn(a.out, epochs)
    if a.role == "allreduce":
        return role_allreduce(a.out, a.quick)
    import platform
    model = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?")
    print(f"Machine: {model}, {os.cpu_count()} cores; Python {platform.python_version()}; "
          f"load average before: {os.getloadavg()[0]:.2f}")
    if a.only in (None, "cnn"):
        print("\n### Seed CNN epoch, 1 rank × 2 threads against 2 ranks × 1 thread\n")
        print(cnn_part(epochs, rounds), flush=True)
    if a.only in (None, "allreduce"):
        print("\n### Allreduce bandwidth, 2 ranks, against raw mpi4py on the same buffers\n")
        print(allreduce_part(a.quick), flush=True)
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

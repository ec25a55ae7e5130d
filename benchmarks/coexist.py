"""Kernel threads sharing the CPU with NumPy's BLAS threads and with other processes.

Four measurements (issue 17), each a ratio measured in one run, so the machine's speed
cancels out:

  loop      a 256³ NumPy matmul (OpenBLAS threads) followed by one nnkernels call, for
            three calls; each call's median time in the loop against its back-to-back
            time (1.0 = no interference). torch's same call in the same loop alongside.
  small     back-to-back medians of small calls (64³ matmul, softmax 256×1000,
            max_pool2d 64×32×26×26): absolute times, to compare between builds.
  busy      a 2-thread training run of a small model (the MNIST-1D GRU and CNN shapes)
            while another process keeps one core busy, against the same run on an idle
            machine (slowdown; 1.0 = none).
  pipeline  a training loop whose data pipeline runs a NumPy matmul before every step,
            against the sum of the two run alone (1.0 = no interference).

Run it on a quiet machine, with NumPy's OpenBLAS unpinned, from the repository root:
  PYTHONPATH=python env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/coexist.py
  (--only loop,busy ... picks sections; --threads N sets both libraries' threads;
   --share-blas 0 leaves NumPy's OpenBLAS threads alone, as NNKERNELS_SHARE_BLAS=0 does)
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np

import nnkernels as nk
import nnkernels.nn as nn
from nnkernels.bench import blas_kernel, try_torch


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def med(xs):
    return statistics.median(xs)


def back_to_back(f, n):
    """Median seconds per call over n calls in a row (after two warm-up calls)."""
    f(); f()
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    return med(ts)


def alternating(f, g, n):
    """Calls f, g, f, g ... and returns the median seconds of each in that loop."""
    f(); g(); f(); g()
    tf, tg = [], []
    for _ in range(n):
        t0 = time.perf_counter()
        f()
        t1 = time.perf_counter()
        g()
        t2 = time.perf_counter()
        tf.append(t1 - t0)
        tg.append(t2 - t1)
    return med(tf), med(tg)


LOOP_CALLS = ("matmul 256³", "max_pool2d 64×32×26×26 (2×2)", "conv2d 64×32×26² 3×3→32")


def loop_row(label, who, reps):
    """One row of the loop table, measured in a process of its own (no other library's
    pool has run in it, so nothing of a previous row is still spinning)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((256, 256), dtype=np.float32)
    b = rng.standard_normal((256, 256), dtype=np.float32)
    xp = rng.standard_normal((64, 32, 26, 26), dtype=np.float32)
    wc = rng.standard_normal((32, 32, 3, 3), dtype=np.float32)
    npmm = lambda: a @ b
    if who == "nnkernels":
        f = {LOOP_CALLS[0]: lambda: nk.matmul(a, b),
             LOOP_CALLS[1]: lambda: nk.max_pool2d(xp, 2),
             LOOP_CALLS[2]: lambda: nk.conv2d(xp, wc, padding=1)}[label]
    else:
        import torch
        import torch.nn.functional as F
        ta, tb, tx, tw = (torch.from_numpy(v) for v in (a, b, xp, wc))
        f = {LOOP_CALLS[0]: lambda: torch.matmul(ta, tb),
             LOOP_CALLS[1]: lambda: F.max_pool2d(tx, 2),
             LOOP_CALLS[2]: lambda: F.conv2d(tx, tw, padding=1)}[label]
    # Blocks of each in turn, so a slow spell of the host lands on all of them alike.
    stats = getattr(nk._C, "_thread_stats", dict)
    blocks, per = 10, max(5, reps // 10)
    alone, np_alone, loop, np_loop = [], [], [], []
    s_alone, s_loop = {}, {}
    add = lambda acc, d: {k: acc.get(k, 0) + v for k, v in d.items()}
    for _ in range(blocks):
        time.sleep(0.4)     # OpenBLAS's idle workers spin ~0.1-0.2 s after its last call
        stats()
        alone.append(back_to_back(f, per))
        s_alone = add(s_alone, stats())
        time.sleep(0.15)
        np_alone.append(back_to_back(npmm, per))
        time.sleep(0.15)
        stats()
        t_np, t_f = alternating(npmm, f, per)
        s_loop = add(s_loop, stats())
        loop.append(t_f)
        np_loop.append(t_np)
    return dict(alone=med(alone), loop=med(loop), np_alone=med(np_alone), np_loop=med(np_loop),
                pool_alone=s_alone, pool_loop=s_loop)


def in_subprocess(args):
    """Runs this script with `args` in a fresh interpreter and returns its last line (JSON)."""
    out = subprocess.run([sys.executable, os.path.abspath(__file__), *args], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def section_loop(torch, reps, threads):
    print(f"{'call':<30} {'who':<9} {'alone ms':>9} {'in loop':>9} {'ratio':>6} | "
          f"{'np alone':>8} {'np loop':>8} {'np ratio':>8}")
    rows = []
    for label in LOOP_CALLS:
        for who in ("nnkernels", "torch") if torch is not None else ("nnkernels",):
            r = in_subprocess(["--row", f"{who}|{label}", "--reps", str(reps), "--threads", str(threads)]
                              + ["--share-blas", os.environ.get("NNKERNELS_SHARE_BLAS", "1")])
            rows.append((label, who, r))
            print(f"{label:<30} {who:<9} {r['alone'] * 1e3:9.3f} {r['loop'] * 1e3:9.3f} "
                  f"{r['alone'] / r['loop']:6.2f} | {r['np_alone'] * 1e3:8.3f} {r['np_loop'] * 1e3:8.3f} "
                  f"{r['np_alone'] / r['np_loop']:8.2f}", flush=True)
    return rows


def section_small(torch, reps):
    rng = np.random.default_rng(1)
    a = rng.standard_normal((64, 64), dtype=np.float32)
    s = rng.standard_normal((256, 1000), dtype=np.float32)
    xp = rng.standard_normal((64, 32, 26, 26), dtype=np.float32)
    calls = {"matmul 64³": lambda: nk.matmul(a, a),
             "softmax 256×1000": lambda: nk.softmax(s, axis=-1),
             "max_pool2d 64×32×26×26": lambda: nk.max_pool2d(xp, 2)}
    print(f"{'call':<26} {'back-to-back median µs':>24}")
    out = {}
    for label, f in calls.items():
        time.sleep(0.3)
        t = min(back_to_back(f, reps) for _ in range(3))
        out[label] = t
        print(f"{label:<26} {t * 1e6:24.1f}", flush=True)
    return out


class GRUNet(nn.Module):
    """The MNIST-1D GRU: a bidirectional GRU (6 units) over 40 steps, then a linear head."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU(1, 6, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(12 * 40, 10)

    def forward(self, x):
        h, _ = self.rnn(x.reshape(x.shape[0], 40, 1))
        return self.fc(h.reshape(x.shape[0], -1))


class CNNNet(nn.Module):
    """A small image CNN (two 3×3 convolutions, pooling, a linear head) on 28×28 inputs."""

    def __init__(self):
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(1, 16, 3, padding=1), nn.Conv2d(16, 32, 3, padding=1)
        self.pool, self.fc = nn.MaxPool2d(2), nn.Linear(32 * 7 * 7, 10)

    def forward(self, x):
        x = self.pool(nk.relu(self.c1(x)))
        x = self.pool(nk.relu(self.c2(x)))
        return self.fc(x.reshape(x.shape[0], -1))


def trainer(kind, seed=0):
    rng = np.random.default_rng(seed)
    if kind == "GRU":
        model, x = GRUNet(), rng.standard_normal((100, 40), dtype=np.float32)
    else:
        model, x = CNNNet(), rng.standard_normal((64, 1, 28, 28), dtype=np.float32)
    y = rng.integers(0, 10, len(x))
    opt = nk.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()

    def step(xb=x):
        loss = loss_fn(model(nk.tensor(xb)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return step, x


def timed_steps(step, n):
    step(); step()
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - t0) / n


def section_busy(steps):
    rows = []
    for kind in ("GRU", "CNN"):
        step, _ = trainer(kind)
        time.sleep(0.3)
        idle = timed_steps(step, steps)
        hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            time.sleep(0.5)
            busy = timed_steps(step, steps)
        finally:
            hog.kill()
            hog.wait()
        rows.append((kind, idle, busy))
        print(f"{kind} training step ({nk.get_num_threads()} threads): idle {idle * 1e3:.2f} ms, "
              f"one core busy {busy * 1e3:.2f} ms, slowdown {busy / idle:.2f}x", flush=True)
    return rows


def section_pipeline(steps):
    rng = np.random.default_rng(2)
    raw = rng.standard_normal((64, 784), dtype=np.float32)
    proj = rng.standard_normal((784, 784), dtype=np.float32) / 28
    step, _ = trainer("CNN")
    pipe = lambda: (raw @ proj).reshape(64, 1, 28, 28)          # a NumPy BLAS "augmentation"
    time.sleep(0.3)
    t_train = timed_steps(step, steps)
    time.sleep(0.3)
    t_pipe = back_to_back(pipe, 4 * steps)
    time.sleep(0.3)
    t_mix = timed_steps(lambda: step(pipe()), steps)
    r = (t_train + t_pipe) / t_mix
    print(f"CNN step {t_train * 1e3:.2f} ms + pipeline matmul {t_pipe * 1e3:.3f} ms alone; "
          f"together {t_mix * 1e3:.2f} ms: speed kept {r:.2f}", flush=True)
    return t_train, t_pipe, t_mix


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", default="loop,small,busy,pipeline")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=300)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--share-blas", type=int, default=1,
                    help="1 (the default, as at import): NumPy's OpenBLAS threads run on nnkernels's "
                         "pool (nk.share_threads_with_blas); 0: OpenBLAS keeps its own")
    ap.add_argument("--row", help=argparse.SUPPRESS)   # internal: one loop row, JSON out
    args = ap.parse_args(argv)
    os.environ["NNKERNELS_SHARE_BLAS"] = "1" if args.share_blas else "0"   # rows: subprocesses
    shared = bool(getattr(nk, "share_threads_with_blas", lambda on: [])(bool(args.share_blas))) \
        and bool(args.share_blas)                                            # old builds: absent
    nk.set_num_threads(args.threads)
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(args.threads, user_api="blas")
    except ImportError:
        pass
    if args.row:
        who, label = args.row.split("|", 1)
        if who == "torch":
            import torch
            torch.set_num_threads(args.threads)
        print(json.dumps(loop_row(label, who, args.reps)))
        return
    torch = try_torch()
    if torch is not None:
        torch.set_num_threads(args.threads)
    print(f"# {cpu_model()}, nnkernels {nk.cpu_path()} path, {args.threads} threads; "
          f"NumPy BLAS: {blas_kernel()}; torch {getattr(torch, '__version__', 'absent')}; "
          f"spin window {getattr(nk._C, 'get_spin_us', lambda: '(OpenMP)')()} µs; "
          f"NumPy's BLAS threads on nnkernels's pool: {'yes' if shared else 'no'}")
    only = set(args.only.split(","))
    if "small" in only:
        section_small(torch, max(args.reps, 1000))   # first: nothing else has run yet
    if "loop" in only:
        section_loop(torch, args.reps, args.threads)
    if "busy" in only:
        section_busy(args.steps)
    if "pipeline" in only:
        section_pipeline(args.steps)


if __name__ == "__main__":
    main()

"""A/B of nnkernels builds on GEMM shapes or workloads, each build in its own processes, in turn.

    cp -rL python/nnkernels /tmp/before/        # before a change (a built tree)
    ... change, rebuild ...
    python benchmarks/ab_builds.py 64x4096x64,1024x1024x1024 /tmp/before python [torch]
    python benchmarks/ab_builds.py lstm-fb:100x32x128x256,keras-cnn /tmp/before python

Workloads (milliseconds a call, lower is better; nnkernels builds only): lstm-fwd:TxBxIxH
and lstm-fb:TxBxIxH (nk.lstm, and with nk.lstm_backward), keras-cnn (one train_on_batch
of the seed CNN at batch 64, nnkernels.bench.train). A process times 12 samples of a few
calls on the wall clock and reports its best and median sample, as for the shapes.

Each argument after the shapes is a directory holding an `nnkernels` package, or `torch`
(torch.mm on as many threads). For every shape the builds run ROUNDS (default 4) rounds in
turn, a fresh process each; a process times 15 samples of 20 calls of `nk.matmul(a, b,
out=c)` (T threads, default 2; wall clock, or thread CPU time when T=1) and reports its best
sample and its median sample. The table shows each build's best GFLOP/s over the rounds (a
slow spell of a shared host hits every build alike, and the best is what the code can do)
and, in brackets, the median of the processes' medians (what a user typically gets: the
host's two vCPUs often run at different speeds, which the best sample hides).
"""
import os
import statistics
import subprocess
import sys

CHILD = r'''
import os, sys, time
import numpy as np
where, shape, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
M, N, K = (int(v) for v in shape.split("x"))
rng = np.random.default_rng(0)
a, b = rng.standard_normal((M, K)).astype(np.float32), rng.standard_normal((K, N)).astype(np.float32)
c = np.empty((M, N), np.float32)
if where == "torch":
    import torch
    torch.set_num_threads(threads)
    at, bt, ct = torch.from_numpy(a), torch.from_numpy(b), torch.from_numpy(c)
    fn = lambda: torch.mm(at, bt, out=ct)
else:
    sys.path.insert(0, where)
    import nnkernels as nk
    nk.set_num_threads(threads)
    fn = lambda: nk.matmul(a, b, out=c)
clock = time.thread_time if threads == 1 else time.perf_counter
calls = 20 if M * N * K < 2**28 else 2
for _ in range(calls):
    fn()
times = []
for _ in range(15):
    t = clock()
    for _ in range(calls):
        fn()
    times.append((clock() - t) / calls)
times.sort()
print(2 * M * N * K / times[0] / 1e9, 2 * M * N * K / times[7] / 1e9)
'''

WORK = r'''
import sys, time
import numpy as np
where, work, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, where)
import nnkernels as nk
nk.set_num_threads(threads)
kind, _, arg = work.partition(":")
rng = np.random.default_rng(0)
if kind in ("lstm-fwd", "lstm-fb"):
    T, B, I, H = (int(v) for v in arg.split("x"))
    f = lambda *s: (0.1 * rng.standard_normal(s)).astype(np.float32)
    x, h0, c0, wi, wh, bi, bh, gy = f(T, B, I), f(B, H), f(B, H), f(4 * H, I), f(4 * H, H), f(4 * H), f(4 * H), f(T, B, H)
    def fn():
        if kind == "lstm-fwd":
            return nk.lstm(x, h0, c0, wi, wh, bi, bh)
        *_, cache = nk.lstm(x, h0, c0, wi, wh, bi, bh, return_cache=True)
        return nk.lstm_backward(gy, None, None, cache)
elif kind == "keras-cnn":
    import nnkernels.bench.train as tr
    m = tr._cnn_keras()
    xb, yb = rng.standard_normal((64, 28, 28, 1)).astype(np.float32), rng.integers(0, 10, 64)
    fn = lambda: m.train_on_batch(xb, yb)
else:
    raise SystemExit(f"unknown workload {work!r}")
for _ in range(3):
    fn()
times = []
for _ in range(12):
    t = time.perf_counter()
    for _ in range(4):
        fn()
    times.append((time.perf_counter() - t) / 4)
times.sort()
print(1e3 * times[0], 1e3 * times[6])
'''


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    shapes, builds = sys.argv[1].split(","), sys.argv[2:]
    threads = os.environ.get("T", "2")
    rounds = int(os.environ.get("ROUNDS", "4"))
    env = dict(os.environ, NNKERNELS_CUDA=os.environ.get("NNKERNELS_CUDA", "OFF"))
    print(f"T={threads}, best (median) of {rounds} rounds, GFLOP/s (shapes) or ms (workloads): "
          + " | ".join(builds))
    for shape in shapes:
        work = not shape[0].isdigit()
        got = {b: [] for b in builds}
        for _ in range(rounds):
            for b in builds:
                out = subprocess.run([sys.executable, "-c", WORK if work else CHILD, b, shape, threads],
                                     capture_output=True, text=True, env=env)
                if out.returncode:
                    print(out.stderr, file=sys.stderr)
                    return 1
                got[b].append([float(v) for v in out.stdout.split()[-2:]])
        best = min if work else max  # ms or GFLOP/s
        print(f"{shape}: " + " | ".join(f"{best(g[0] for g in got[b]):.{2 if work else 0}f} "
                                        f"({statistics.median(g[1] for g in got[b]):.{2 if work else 0}f})"
                                        for b in builds), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

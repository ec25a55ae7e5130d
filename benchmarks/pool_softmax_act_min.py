"""Best-of-N timings (nnkernels vs torch, same thread count, interleaved) for the pooling,
softmax and activation rows. On a shared, oversubscribed machine the minimum over many
runs is far more stable than the median that `python -m nnkernels` reports.

    python benchmarks/pool_softmax_act_min.py [threads ...]
"""
import sys
import time

import numpy as np

import nnkernels as nk


def best(f, n=60):
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    return min(ts)


def main(threads):
    import torch
    F = torch.nn.functional
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 32, 26, 26)).astype(np.float32)
    x3 = rng.standard_normal((32, 64, 56, 56)).astype(np.float32)
    s = (rng.standard_normal((256, 1000)) * 3).astype(np.float32)
    s4 = rng.standard_normal((64, 10, 28, 28)).astype(np.float32)
    t = rng.integers(0, 1000, 256)
    a = (rng.standard_normal(1 << 22) * 3).astype(np.float32)
    b = rng.standard_normal(32).astype(np.float32)
    g7 = rng.standard_normal((64, 512, 7, 7)).astype(np.float32)
    y = nk.softmax(s)
    gs = rng.standard_normal(s.shape).astype(np.float32)
    cases = [
        ("max_pool2d 64×32×26×26 2×2", x.nbytes * 1.25, lambda: nk.max_pool2d(x, 2), lambda tx: F.max_pool2d(tx, 2), x),
        ("max_pool2d 32×64×56×56 3×3/s2/p1", x3.nbytes * 1.25, lambda: nk.max_pool2d(x3, 3, 2, 1),
         lambda tx: F.max_pool2d(tx, 3, 2, 1), x3),
        ("avg_pool2d 64×32×26×26 2×2", x.nbytes * 1.25, lambda: nk.avg_pool2d(x, 2), lambda tx: F.avg_pool2d(tx, 2), x),
        ("adaptive_avg_pool2d 64×512×7×7 → 1×1", g7.nbytes, lambda: nk.adaptive_avg_pool2d(g7, 1),
         lambda tx: F.adaptive_avg_pool2d(tx, 1), g7),
        ("softmax_backward 256×1000", 3 * s.nbytes, lambda: nk.softmax_backward(gs, y),
         lambda tx: torch._softmax_backward_data(torch.from_numpy(gs), tx, 1, tx.dtype), y),
        ("softmax 256×1000 last axis", 2 * s.nbytes, lambda: nk.softmax(s), lambda tx: torch.softmax(tx, -1), s),
        ("log_softmax 64×10×28×28 axis=1", 2 * s4.nbytes, lambda: nk.log_softmax(s4, 1),
         lambda tx: torch.log_softmax(tx, 1), s4),
        ("cross_entropy 256×1000", s.nbytes, lambda: nk.cross_entropy(s, t),
         lambda tx: F.cross_entropy(tx, torch.from_numpy(t)), s),
        ("relu 4M", 2 * a.nbytes, lambda: nk.relu(a), lambda tx: torch.relu(tx), a),
        ("sigmoid 4M", 2 * a.nbytes, lambda: nk.sigmoid(a), lambda tx: torch.sigmoid(tx), a),
        ("gelu 4M", 2 * a.nbytes, lambda: nk.gelu(a), lambda tx: F.gelu(tx), a),
        ("bias_act relu 64×32×26×26", 2 * x.nbytes, lambda: nk.bias_act(x, b, "relu"),
         lambda tx: torch.relu(tx + torch.from_numpy(b)[:, None, None]), x),
    ]
    for nt in threads:
        nk.set_num_threads(nt)
        torch.set_num_threads(nt)
        print(f"\n{nt} thread(s): name | nnkernels ms (GB/s) | torch ms (GB/s) | ratio")
        for name, nbytes, ours, theirs, arr in cases:
            tx = torch.from_numpy(arr)
            ours(), theirs(tx)
            to, tt = best(ours), best(lambda: theirs(tx))
            print(f"{name} | {to * 1e3:.3f} ({nbytes / to / 1e9:.1f}) | {tt * 1e3:.3f} ({nbytes / tt / 1e9:.1f}) | "
                  f"{tt / to:.2f}×")


if __name__ == "__main__":
    main([int(v) for v in sys.argv[1:]] or [1, 2])

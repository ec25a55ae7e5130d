"""conv2d forward, grad x and grad w, each alone, against torch on the BENCH.md layers.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE NNKERNELS_CPU=avx512 python benchmarks/conv_parts.py
    python benchmarks/conv_parts.py --layer 64,32,13,13,64 --pad 0     # one layer

report.py times a layer's forward + backward as one row; this splits it into the three
products so a short row can be traced to its part. torch's parts are
`aten.convolution_backward` with one output mask each (the same oneDNN kernels its autograd
calls). Both sides run on the same thread count, timed as report.py times its rows
(nnkernels.bench.time_interleaved: blocks of >= 50 ms in turn, a pause between blocks so
neither side's idle threads still spin, median of 7); ratio = torch time / ours (> 1:
nnkernels faster).
"""
import argparse
import time

import numpy as np

import nnkernels as nk
from nnkernels.bench import time_interleaved

LAYERS = [(64, 1, 28, 28, 32), (64, 32, 13, 13, 64), (32, 64, 56, 56, 64), (8, 128, 28, 28, 128)]


def parts(N, C, H, W, K, pad, torch):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    w = rng.standard_normal((K, C, 3, 3)).astype(np.float32)
    P, Q = H + 2 * pad - 2, W + 2 * pad - 2
    gy = rng.standard_normal((N, K, P, Q)).astype(np.float32)
    gx, gw = np.empty_like(x), np.empty_like(w)
    kw = dict(stride_h=1, stride_w=1, pad_h=pad, pad_w=pad, dil_h=1, dil_w=1, groups=1)
    xt, wt, gyt = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(gy)

    def tb(mask):
        return lambda: torch.ops.aten.convolution_backward(gyt, xt, wt, None, [1, 1], [pad, pad], [1, 1],
                                                           False, [0, 0], 1, mask)
    return {
        "fwd": (lambda: nk.conv2d(x, w, padding=pad), lambda: torch.nn.functional.conv2d(xt, wt, padding=pad)),
        "grad x": (lambda: nk._C.conv2d_backward_data(gy, w, gx, **kw), tb([True, False, False])),
        "grad w": (lambda: nk._C.conv2d_backward_weight(gy, x, gw, **kw), tb([False, True, False])),
    }, 2.0 * N * K * P * Q * C * 9


def main():
    import torch
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--layer", default=None, help="N,C,H,W,K (3×3 filters); default: the four BENCH layers")
    p.add_argument("--pad", type=int, default=None, help="0 or 1; default: both")
    p.add_argument("--threads", type=int, default=None)
    a = p.parse_args()
    if a.threads:
        nk.set_num_threads(a.threads)
    torch.set_num_threads(nk.get_num_threads())
    layers = [tuple(int(v) for v in a.layer.split(","))] if a.layer else LAYERS
    print(f"nnkernels {nk.__version__} path {nk.cpu_path()}, torch {torch.__version__}, "
          f"{nk.get_num_threads()} threads")
    print("| layer | part | nnkernels GFLOP/s | torch GFLOP/s | ratio |\n|---|---|---|---|---|")
    for N, C, H, W, K in layers:
        for pad in [a.pad] if a.pad is not None else [0, 1]:
            cases, flops = parts(N, C, H, W, K, pad, torch)
            for name, (ours, peer) in cases.items():
                t = time_interleaved({"ours": ours, "torch": peer}, reps=7, min_time=0.05)
                to, tp = t["ours"], t["torch"]
                print(f"| N{N} C{C} {H}×{W} K{K} p{pad} | {name} | {flops / to / 1e9:.0f} | "
                      f"{flops / tp / 1e9:.0f} | {tp / to:.2f}× |", flush=True)


if __name__ == "__main__":
    main()

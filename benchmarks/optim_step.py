"""The fused optimizer update and the embedding gradient against the NumPy code they
replaced, on the LSTM text model of nnkernels/bench/train.py (Embedding 10000×64, LSTM 64,
Dense 1: 656k parameters; 64 sequences of 80 tokens), and the whole training step.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/optim_step.py

Each figure is the median of 7 blocks. The NumPy Adam is nnkernels's own array path
(`Adam._passes`, which CuPy and non-contiguous parameters take); the NumPy embedding
gradient is written out here as nn/functional.py had it before the C++ kernel.
"""
import time

import numpy as np

import nnkernels as nk
from nnkernels import _C


def median_ms(fn, n=20, blocks=7):
    fn()
    out = []
    for _ in range(blocks):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        out.append((time.perf_counter() - t) / n * 1e3)
    return float(np.median(out))


def numpy_embedding_backward(idx, g, V):
    flat = idx.reshape(-1)
    order = np.argsort(flat, kind="stable")
    rows, start = np.unique(flat[order], return_index=True)
    gw = np.zeros((V, g.shape[-1]), g.dtype)
    gw[rows] = np.add.reduceat(g.reshape(-1, g.shape[-1])[order], start, axis=0)
    return gw


def main():
    rng = np.random.default_rng(0)
    B, T, V, E, H = 64, 80, 10000, 64, 64
    sizes = [V * E, 4 * H * E, 4 * H * H, 4 * H, H, 1]
    ps = [rng.standard_normal(n).astype(np.float32) for n in sizes]
    gs = [rng.standard_normal(n).astype(np.float32) for n in sizes]
    ms = [np.zeros_like(p) for p in ps]
    vs = [np.zeros_like(p) for p in ps]
    step = [0]

    def fused():
        step[0] += 1
        for p, g, m, v in zip(ps, gs, ms, vs):
            _C.adam_step(p, g, m, v, None, 1e-3, 0.9, 0.999, 1e-8, 0.0, False, step[0])

    opt = nk.optim.Adam([nk.Tensor(ps[-1])], lr=1e-3)
    hyper = opt.param_groups[0]

    def passes():
        step[0] += 1
        for p, g, m, v in zip(ps, gs, ms, vs):
            opt._passes(np, hyper, p, g, m, v, None, step[0])

    idx = rng.integers(0, V, (B, T))
    g = rng.standard_normal((B, T, E)).astype(np.float32)
    print(f"nnkernels {nk.__version__}, cpu path {nk.cpu_path()}, {nk.get_num_threads()} threads")
    print("| what | nnkernels (ms) | NumPy (ms) | speed-up |\n|---|---|---|---|")
    a, b = median_ms(fused), median_ms(passes)
    print(f"| Adam step, {sum(sizes)} parameters | {a:.2f} | {b:.2f} | {b / a:.1f}× |")
    a, b = median_ms(lambda: _C.embedding_backward(idx, g, V)), median_ms(lambda: numpy_embedding_backward(idx, g, V))
    print(f"| embedding backward, {B}×{T} indices into {V}×{E} | {a:.2f} | {b:.2f} | {b / a:.1f}× |")

    from nnkernels.bench import train
    lab = rng.integers(0, 2, B).astype(np.float32)
    model = train._lstm_keras()
    print(f"| whole Keras training step (train_on_batch) | {median_ms(lambda: model.train_on_batch(idx, lab), n=5):.2f} | | |")


if __name__ == "__main__":
    main()

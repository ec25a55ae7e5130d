"""Attention, the avx512 and avx2 paths and torch SDPA interleaved in one process.

Each round times one call of each (nnkernels switches path with nk.set_cpu_path); the
ratios are medians of the per-round ratios, so a load change on a shared machine hits all
three alike. T threads (default 2; T=1 uses thread CPU time), R rounds (default 11),
MODES=fwd,fb. Shapes as arguments, BxHxLxD (default the BENCH.md three):
    T=2 R=9 PYTHONPATH=python python benchmarks/attention_paths.py
fwd+bwd (fb) counts 3.5× the forward's 4·B·H·L²·D flops, as python/nnkernels/bench/attention.py.
"""
import os, sys, time, statistics as st
import numpy as np, torch, nnkernels as nk
T = int(os.environ.get("T", "2")); nk.set_num_threads(T); torch.set_num_threads(T)
R = int(os.environ.get("R", "11"))
F = torch.nn.functional
clock = time.thread_time if T == 1 else time.perf_counter
shapes = [tuple(int(x) for x in s.split("x")) for s in (sys.argv[1:] or ["8x8x256x64", "4x8x1024x64", "1x8x4096x64"])]
modes = os.environ.get("MODES", "fwd,fb").split(",")
for (B, H, L, D) in shapes:
    rng = np.random.default_rng(0)
    q, k, v, go = (rng.standard_normal((B, H, L, D)).astype(np.float32) for _ in range(4))
    tq, tk, tv, tgo = (torch.from_numpy(x) for x in (q, k, v, go))
    def nkf(): nk.scaled_dot_product_attention(q, k, v)
    def tf(): F.scaled_dot_product_attention(tq, tk, tv)
    def nkfb():
        o, lse = nk.scaled_dot_product_attention(q, k, v, return_lse=True)
        nk.scaled_dot_product_attention_backward(go, q, k, v, o, lse)
    def tfb():
        a, b, c = (x.detach().requires_grad_() for x in (tq, tk, tv))
        F.scaled_dot_product_attention(a, b, c).backward(tgo)
    for mode in modes:
        if mode == "fb" and L > 1024: continue
        fn, tfn = (nkf, tf) if mode == "fwd" else (nkfb, tfb)
        fl = 4.0 * B * H * L * L * D * (1 if mode == "fwd" else 3.5)
        r = {"avx512": [], "avx2": [], "torch": []}
        for _ in range(R):
            for name in r:
                if name != "torch": nk.set_cpu_path(name)
                f = tfn if name == "torch" else fn
                f(); t0 = clock(); f(); r[name].append(clock() - t0)
        nk.set_cpu_path("avx512")
        vt = st.median([t / a for t, a in zip(r["torch"], r["avx512"])])
        v2 = st.median([t / a for t, a in zip(r["avx2"], r["avx512"])])
        g = {n: fl / st.median(x) / 1e9 for n, x in r.items()}
        print(f"T{T} B{B} H{H} L{L} D{D} {mode:4s} GF/s(med) avx512 {g['avx512']:6.1f} avx2 {g['avx2']:6.1f} torch {g['torch']:6.1f} | avx512/torch {vt:.2f}x  avx512/avx2 {v2:.2f}x", flush=True)

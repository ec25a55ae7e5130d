"""One-thread GEMM vs the one-core roof (~95 GFLOP/s), best of 9 by thread CPU time."""
import time, numpy as np, nnkernels as nk
nk.set_num_threads(1)
for n in (256, 512, 1024, 2048):
    a = np.random.rand(n, n).astype(np.float32); b = np.random.rand(n, n).astype(np.float32)
    nk.matmul(a, b); best = 1e9
    for _ in range(9):
        t = time.thread_time(); nk.matmul(a, b); best = min(best, time.thread_time() - t)
    print(f"| {n}³ | {2*n**3/best/1e9:.1f} | {2*n**3/best/1e9/95*100:.0f} % |")

#!/usr/bin/env python
"""GPU benchmark of nnkernels' CUDA kernels against CuPy (cuBLAS) and PyTorch CUDA, one run.

    python benchmarks/gpu_bench.py            # full sizes (GEMM 4096^3 and 8192^3, large tensors)
    python benchmarks/gpu_bench.py --quick    # smaller sizes, a smoke run
    python benchmarks/gpu_bench.py --out benchmarks/RESULTS.md   # also append the table there

1. Correctness first: every op against a float64 reference on awkward sizes; any failure
   stops the run (exit 1) before anything is timed.
2. Timing: CUDA events around each call, fresh random inputs generated (untimed) before
   every repetition, warm-up calls dropped, the median reported. PyTorch runs on the same
   data (zero-copy through __cuda_array_interface__) when it is importable with CUDA.
3. A markdown table with the device name: time per call, TFLOP/s (GEMM) or GB/s (the
   memory-bound ops, counting the bytes the op must read and write), and the ratios
   ours/peer (> 1 = faster than the peer) or, for memory-bound ops, the fraction of the
   device-to-device copy bandwidth measured in the same run.
On a machine without a usable GPU it prints why and exits 0.
"""
from __future__ import annotations

import argparse
import statistics
import sys

import numpy as np


def _gpu_or_exit():
    import nnkernels as nk

    if not nk.cuda.is_available():
        info = nk.cuda.info()
        print("gpu_bench: no usable GPU here (needs the _cuda extension, a CUDA device and driver, and CuPy); "
              f"nothing to run. nk.cuda.info() = {info}")
        sys.exit(0)
    import cupy as cp

    from nnkernels import ops

    try:
        import torch

        torch = torch if torch.cuda.is_available() else None
    except Exception:
        torch = None
    return nk, cp, ops, torch


def _bf16():
    """The bfloat16 dtype the CUDA backend takes, or None."""
    from nnkernels import _cuda_ops

    return _cuda_ops._bf16()


def rel_err(x, ref):
    x = np.asarray(x, np.float64)
    ref = np.asarray(ref, np.float64)
    return float(np.max(np.abs(x - ref)) / max(np.max(np.abs(ref)), 1e-30)) if ref.size else 0.0


def torch_bf16_matmul(torch, a, b):
    """Our bf16 tensor-core GEMM on torch tensors through the raw binding (for CuPy builds
    without a bfloat16 dtype). a (M, K), b (K, N) contiguous bf16 CUDA tensors."""
    from nnkernels import _cuda

    M, K = a.shape
    N = b.shape[1]
    c = torch.empty(M, N, device=a.device, dtype=torch.bfloat16)
    _cuda.gemm_tensorcore(3, 3, M, N, K, 1.0, a.data_ptr(), K, False, 0, b.data_ptr(), N, False, 0, 0.0,
                          c.data_ptr(), N, 0, 1, torch.cuda.current_stream().cuda_stream)
    return c


# ------------------------------------------------------------------------------------------------
# correctness
# ------------------------------------------------------------------------------------------------

def checks(cp, ops, torch=None):
    rng = np.random.default_rng(7)
    rows = []

    def add(name, got, ref, tol):
        e = rel_err(cp.asnumpy(got).astype(np.float64), ref)
        rows.append((name, e, tol))

    M, N, K = 517, 263, 301
    a = rng.standard_normal((M, K)).astype(np.float32)
    b = rng.standard_normal((K, N)).astype(np.float32)
    ref = a.astype(np.float64) @ b.astype(np.float64)
    add("gemm fp32 (CUDA cores)", ops.matmul(cp.asarray(a), cp.asarray(b)), ref, 1e-5)
    add("gemm tf32 (tensor cores)", ops.matmul(cp.asarray(a), cp.asarray(b), precision="tf32"), ref, 1e-3)
    add("gemm fp32 a^T b^T", ops.gemm(cp.asarray(a.T.copy()), cp.asarray(b.T.copy()), trans_a=True, trans_b=True),
        ref, 1e-5)
    for name, dt in (("fp16", np.dtype(np.float16)), ("bf16", _bf16())):
        if dt is None:
            continue
        ah, bh = a.astype(dt), b.astype(dt)
        refh = ah.astype(np.float64) @ bh.astype(np.float64)
        add(f"gemm {name} (tensor cores)", ops.matmul(cp.asarray(ah), cp.asarray(bh)), refh, 1e-2)
    if _bf16() is None and torch is not None:
        at = torch.as_tensor(a, device="cuda").to(torch.bfloat16)
        bt = torch.as_tensor(b, device="cuda").to(torch.bfloat16)
        refh = at.double().cpu().numpy() @ bt.double().cpu().numpy()
        got = torch_bf16_matmul(torch, at, bt).float().cpu().numpy()
        rows.append(("gemm bf16 (tensor cores, via torch)", rel_err(got, refh), 1e-2))
    x = rng.standard_normal((3, 5, 23, 19)).astype(np.float32)
    y, idx = ops.max_pool2d(cp.asarray(x), 3, 2, 1, return_indices=True)
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    OH, OW = y.shape[2:]
    ref = np.full((3, 5, OH, OW), -np.inf)
    for i in range(3):
        for j in range(3):
            ref = np.maximum(ref, xp[:, :, i:i + 2 * OH:2, j:j + 2 * OW:2])
    add("max_pool2d 3x3/2 pad 1", y, ref, 1e-6)
    ya = ops.avg_pool2d(cp.asarray(x), 2)
    add("avg_pool2d 2x2", ya, x[:, :, :22, :18].astype(np.float64).reshape(3, 5, 11, 2, 9, 2).mean(axis=(3, 5)), 1e-5)
    add("adaptive_avg_pool2d 1x1", ops.adaptive_avg_pool2d(cp.asarray(x), 1),
        x.astype(np.float64).mean(axis=(2, 3), keepdims=True), 1e-5)
    s = rng.standard_normal((37, 3001)).astype(np.float32) * 3
    e = np.exp(s - s.max(-1, keepdims=True).astype(np.float64))
    add("softmax 37x3001", ops.softmax(cp.asarray(s)), e / e.sum(-1, keepdims=True), 1e-5)
    lg = rng.standard_normal((129, 1000)).astype(np.float32)
    t = rng.integers(0, 1000, 129)
    lp = lg.astype(np.float64) - lg.max(-1, keepdims=True)
    lp = lp - np.log(np.exp(lp).sum(-1, keepdims=True))
    add("cross_entropy mean", ops.cross_entropy(cp.asarray(lg), cp.asarray(t)), -lp[np.arange(129), t].mean(), 1e-5)
    bias = rng.standard_normal(5).astype(np.float32)
    add("bias_act relu", ops.bias_act(cp.asarray(x), cp.asarray(bias), "relu"),
        np.maximum(x.astype(np.float64) + bias[None, :, None, None], 0), 1e-6)
    return rows


# ------------------------------------------------------------------------------------------------
# timing
# ------------------------------------------------------------------------------------------------

class Timer:
    def __init__(self, cp, reps, warmup):
        self.cp, self.reps, self.warmup = cp, reps, warmup
        self.start, self.end = cp.cuda.Event(), cp.cuda.Event()

    def __call__(self, make_inputs, fn):
        """Median milliseconds of fn(*make_inputs()), fresh inputs each repetition."""
        cp = self.cp
        times = []
        for r in range(self.warmup + self.reps):
            args = make_inputs()
            cp.cuda.Device().synchronize()
            self.start.record()
            fn(*args)
            self.end.record()
            self.end.synchronize()
            if r >= self.warmup:
                times.append(cp.cuda.get_elapsed_time(self.start, self.end))
            del args
        return statistics.median(times)


def cupy_tf32(cp, on):
    """Switch CuPy's float32 matmul to TF32 tensor cores (cuBLAS) or back; False if unsupported."""
    try:
        from cupy._core import _routines_linalg as lin

        lin.set_compute_type(cp.float32, lin.COMPUTE_TYPE_TF32 if on else lin.COMPUTE_TYPE_DEFAULT)
        return True
    except Exception:
        return False


def bench(cp, ops, torch, quick):
    timer = Timer(cp, reps=5 if quick else 10, warmup=2)
    rng = cp.random.default_rng(0)
    rows = []  # (op, size, ours_ms, cupy_ms, torch_ms, unit_value_fn)

    def tt(x):
        return torch.as_tensor(x, device="cuda") if torch is not None else None

    # device-to-device copy bandwidth: the roof for the memory-bound ops
    nbytes = (1 << 28) if quick else (1 << 30)
    src = cp.empty(nbytes // 4, cp.float32)
    dst = cp.empty_like(src)
    copy_ms = timer(lambda: (), lambda: cp.cuda.runtime.memcpyAsync(dst.data.ptr, src.data.ptr, nbytes, 3,
                                                                     cp.cuda.get_current_stream().ptr))
    copy_gbs = 2 * nbytes / copy_ms / 1e6
    del src, dst
    rows.append(("copy D2D", f"{nbytes >> 20} MiB", copy_ms, None, None, f"{copy_gbs:.0f} GB/s", ""))

    # GEMM
    sizes = [2048] if quick else [4096, 8192]
    bf16 = _bf16()
    variants = [("fp32 CUDA cores", np.float32, "highest"), ("tf32 tensor cores", np.float32, "tf32"),
                ("fp16 tensor cores", np.float16, "highest")]
    if bf16 is not None or torch is not None:
        variants.append(("bf16 tensor cores", bf16, "highest"))
    for n in sizes:
        flop = 2.0 * n ** 3
        for name, dt, prec in variants:
            def make(dt=dt):
                a = rng.standard_normal((n, n), dtype=cp.float32)
                b = rng.standard_normal((n, n), dtype=cp.float32)
                if dt is not None and np.dtype(dt) != np.float32:
                    return a.astype(dt), b.astype(dt)
                return a, b

            if dt is not None:
                ours = timer(make, lambda a, b, p=prec: ops.matmul(a, b, precision=p))
            else:  # bf16 without a CuPy bfloat16 dtype: our kernel on torch tensors
                ours = timer(lambda: (torch.randn(n, n, device="cuda", dtype=torch.bfloat16),
                                      torch.randn(n, n, device="cuda", dtype=torch.bfloat16)),
                             lambda a, b: torch_bf16_matmul(torch, a, b))
            peer_cp = None
            if dt is not None:
                tf = prec == "tf32"
                if not tf or cupy_tf32(cp, True):
                    peer_cp = timer(make, lambda a, b: cp.matmul(a, b))
                if tf:
                    cupy_tf32(cp, False)
            peer_t = None
            if torch is not None:
                tdt = {"fp32 CUDA cores": torch.float32, "tf32 tensor cores": torch.float32,
                       "fp16 tensor cores": torch.float16, "bf16 tensor cores": torch.bfloat16}[name]
                prev = torch.backends.cuda.matmul.allow_tf32
                torch.backends.cuda.matmul.allow_tf32 = prec == "tf32"

                def tmake():
                    return (torch.randn(n, n, device="cuda", dtype=tdt), torch.randn(n, n, device="cuda", dtype=tdt))

                peer_t = timer(tmake, lambda a, b: torch.matmul(a, b))
                torch.backends.cuda.matmul.allow_tf32 = prev
            tflops = f"{flop / ours / 1e9:.1f} TFLOP/s" if ours else "-"
            rows.append((f"matmul {name}", f"{n}^3", ours, peer_cp, peer_t, tflops, ""))

    # memory-bound ops, against the copy roof
    N, C, H, W = (64, 64, 112, 112) if quick else (256, 64, 112, 112)
    R, L = (1 << 14, 4096) if quick else (1 << 16, 4096)

    def mk_img():
        return (rng.standard_normal((N, C, H, W), dtype=cp.float32),)

    def mk_rows():
        return (rng.standard_normal((R, L), dtype=cp.float32),)

    img_bytes = N * C * H * W * 4
    tF = torch.nn.functional if torch is not None else None
    mem_ops = [
        ("max_pool2d 2x2/2 fwd (+int64 idx)", mk_img, lambda x: ops.max_pool2d(x, 2, return_indices=True),
         None, (lambda x: tF.max_pool2d(x, 2, return_indices=True)) if torch else None,
         img_bytes + img_bytes // 4 * 3),
        ("max_pool2d 3x3/2 pad 1 fwd", mk_img, lambda x: ops.max_pool2d(x, 3, 2, 1), None,
         (lambda x: tF.max_pool2d(x, 3, 2, 1)) if torch else None, img_bytes + img_bytes // 4),
        ("avg_pool2d 2x2/2 fwd", mk_img, lambda x: ops.avg_pool2d(x, 2), None,
         (lambda x: tF.avg_pool2d(x, 2)) if torch else None, img_bytes + img_bytes // 4),
        ("avg_pool2d 2x2/2 bwd", lambda: (rng.standard_normal((N, C, H // 2, W // 2), dtype=cp.float32),),
         lambda g: ops.avg_pool2d_backward(g, (N, C, H, W), 2), None, None, img_bytes + img_bytes // 4),
        ("adaptive_avg_pool2d ->1x1", mk_img, lambda x: ops.adaptive_avg_pool2d(x, 1),
         lambda x: x.mean(axis=(2, 3), keepdims=True),
         (lambda x: tF.adaptive_avg_pool2d(x, 1)) if torch else None, img_bytes),
        (f"softmax rows {L}", mk_rows, lambda x: ops.softmax(x),
         lambda x: (lambda e: e / e.sum(-1, keepdims=True))(cp.exp(x - x.max(-1, keepdims=True))),
         (lambda x: torch.softmax(x, -1)) if torch else None, 2 * R * L * 4),
        (f"log_softmax rows {L}", mk_rows, lambda x: ops.log_softmax(x), None,
         (lambda x: torch.log_softmax(x, -1)) if torch else None, 2 * R * L * 4),
        (f"softmax bwd rows {L}", lambda: (rng.standard_normal((R, L), dtype=cp.float32),
                                          rng.random((R, L), dtype=cp.float32)),
         lambda g, y: ops.softmax_backward(g, y), None, None, 3 * R * L * 4),
        (f"cross_entropy {R}x{L}", lambda: (rng.standard_normal((R, L), dtype=cp.float32),
                                          rng.integers(0, L, R, dtype=cp.int64)),
         lambda x, t: ops.cross_entropy(x, t), None,
         (lambda x, t: tF.cross_entropy(x, t)) if torch else None, R * L * 4),
        ("bias_act gelu NCHW", lambda: (rng.standard_normal((N, C, H, W), dtype=cp.float32),
                                        rng.standard_normal(C, dtype=cp.float32)),
         lambda x, b: ops.bias_act(x, b, "gelu"), None,
         (lambda x, b: tF.gelu(x + b[None, :, None, None])) if torch else None, 2 * img_bytes),
    ]
    for name, make, ours_fn, cp_fn, t_fn, moved in mem_ops:
        ours = timer(make, ours_fn)
        peer_cp = timer(make, cp_fn) if cp_fn else None
        # PyTorch gets the same kind of data as torch tensors (converted outside the timed region)
        peer_t = timer(lambda: tuple(tt(a) for a in make()), t_fn) if t_fn else None
        gbs = moved / ours / 1e6
        rows.append((name, f"{moved / 2**20:.0f} MiB moved", ours, peer_cp, peer_t, f"{gbs:.0f} GB/s",
                     f"{gbs / copy_gbs:.0%} of copy"))
    return rows


def table(dev, rows, check_rows):
    out = [f"### nnkernels CUDA kernels on {dev}", "",
           "| op | size | nnkernels ms | CuPy ms | PyTorch ms | ours/CuPy | ours/PyTorch | throughput | roof |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|"]

    def f(v):
        return f"{v:.3f}" if v is not None else "-"

    def ratio(ours, peer):
        return f"{peer / ours:.2f}x" if ours and peer else "-"

    for name, size, ours, pc, pt, thr, roof in rows:
        out.append(f"| {name} | {size} | {f(ours)} | {f(pc)} | {f(pt)} | {ratio(ours, pc)} | {ratio(ours, pt)} | "
                   f"{thr} | {roof} |")
    out += ["", "ratios are peer time / our time (> 1: nnkernels faster); roof = achieved bandwidth / "
            "device-to-device copy bandwidth of the same run", "",
            "correctness (relative error vs float64 reference): " +
            ", ".join(f"{n} {e:.1e}" for n, e, _ in check_rows)]
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes")
    ap.add_argument("--out", help="append the markdown table to this file")
    args = ap.parse_args(argv)
    nk, cp, ops, torch = _gpu_or_exit()
    dev = nk.cuda.info()["devices"][cp.cuda.Device().id]
    print(f"device: {dev}; CuPy {cp.__version__}; PyTorch {torch.__version__ if torch else 'not available'}")
    check_rows = checks(cp, ops, torch)
    bad = [(n, e, t) for n, e, t in check_rows if not e <= t]
    for n, e, t in check_rows:
        print(f"  check {n:32s} rel err {e:.2e} (tol {t:.0e}) {'ok' if e <= t else 'FAIL'}")
    if bad:
        print(f"gpu_bench: {len(bad)} correctness check(s) failed; not timing.")
        return 1
    rows = bench(cp, ops, torch, args.quick)
    text = table(dev, rows, check_rows)
    print(text)
    if args.out:
        with open(args.out, "a") as fh:
            fh.write("\n" + text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

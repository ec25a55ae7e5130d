"""The one test helper for ops: `check_op` (after tinygrad's helper_test_op), plus the
shared error measure `rel_err` and finite differences `numgrad`.

    check_op([(4, 5)], lambda x: nk.gelu(x), lambda x: torch.nn.functional.gelu(x))

compares forward values and gradients of `ours` (nnkernels Tensors in) against
`torch_fn` (torch tensors in) when torch is installed, otherwise against `ref` (float64
NumPy arrays in) with gradients by central finite differences of `ref` -- on every CPU
path this machine runs (nk.cpu_paths()) and on every device ('cuda': the real GPU, else
the NumPy-backed emulator of tests/_emulated_cuda.py).
"""
from __future__ import annotations

import contextlib
import math

import numpy as np

import nnkernels as nk

try:
    import torch
except ImportError:  # the NumPy / finite-difference references are used instead
    torch = None


def rel_err(x, ref, floor=1e-30):
    """max |x - ref| / max |ref| (the denominator at least `floor`); inf for an unexpected NaN."""
    x = np.asarray(x, np.float64)
    ref = np.asarray(ref, np.float64)
    if ref.size == 0:
        return 0.0
    if np.isnan(x).any() and not np.isnan(ref).any():
        return math.inf
    return float(np.max(np.abs(x - ref)) / max(np.max(np.abs(ref)), floor))


def numgrad(f, arrays, eps=1e-6):
    """Central finite differences of the scalar f(*arrays) with respect to each array
    (float64; the arrays are perturbed in place and restored)."""
    grads = []
    for a in arrays:
        g = np.zeros_like(a, dtype=np.float64)
        for i in np.ndindex(a.shape):
            old = a[i]
            a[i] = old + eps
            fp = f(*arrays)
            a[i] = old - eps
            fm = f(*arrays)
            a[i] = old
            g[i] = (fp - fm) / (2 * eps)
        grads.append(g)
    return grads


@contextlib.contextmanager
def on_device(device):
    """Run the block with `device` usable: 'cpu'; 'cuda' on the real GPU when there is one,
    else with CuPy and _cuda replaced by the emulator (restored after)."""
    if device == "cpu" or nk.cuda.is_available():
        yield
        return
    import _emulated_cuda as emu

    from nnkernels import _cuda_ops

    mod, kernels = emu.make_cupy(), emu.EmuKernels()
    saved = _cuda_ops._cp, _cuda_ops._k, nk.cuda.is_available
    _cuda_ops._cp, _cuda_ops._k, nk.cuda.is_available = (lambda: mod), (lambda: kernels), (lambda: True)
    try:
        yield
    finally:
        _cuda_ops._cp, _cuda_ops._k, nk.cuda.is_available = saved


@contextlib.contextmanager
def _cpu_path(path):
    old = nk.cpu_path()
    nk.set_cpu_path(path)
    try:
        yield
    finally:
        nk.set_cpu_path(old)


def check_op(shapes, ours, torch_fn=None, atol=1e-6, rtol=1e-5, grad=True, *, ref=None, dtype=np.float64,
             low=-2.0, high=2.0, seed=0, paths=None, devices=("cpu", "cuda"), grad_atol=None, grad_rtol=None):
    """Forward (and with `grad`, the gradient of sum(out * w) for random w) of
    `ours(*Tensors)` against the reference, for inputs of `shapes` drawn uniformly from
    [low, high). The reference is `torch_fn(*torch tensors)` when torch is installed and
    `torch_fn` is given, else `ref(*float64 arrays)` (gradients by finite differences).
    Runs on `paths` (default: every CPU path) and `devices`. Returns the number of
    comparisons made."""
    rng = np.random.default_rng(seed)
    xs = [rng.uniform(low, high, s).astype(dtype) for s in shapes]
    want, want_grads = _reference(xs, torch_fn, ref, grad, rng)
    w = want_grads[-1] if grad else None
    grad_atol = atol if grad_atol is None else grad_atol
    grad_rtol = rtol if grad_rtol is None else grad_rtol
    n = 0
    for device in devices:
        for path in (paths or nk.cpu_paths()) if device == "cpu" else [nk.cpu_path()]:
            with on_device(device), _cpu_path(path):
                ts = [nk.tensor(x).to(device).requires_grad_(grad) for x in xs]
                out = ours(*ts)
                where = f"[{device}, {path}]"
                np.testing.assert_allclose(out.cpu().numpy(), want, atol=atol, rtol=rtol, err_msg=f"forward {where}")
                n += 1
                if grad:
                    (out * nk.tensor(w.astype(out.dtype)).to(device)).sum().backward()
                    for k, (t, g) in enumerate(zip(ts, want_grads[:-1])):
                        assert t.grad is not None, f"input {k} got no gradient {where}"
                        np.testing.assert_allclose(t.grad.cpu().numpy(), g, atol=grad_atol, rtol=grad_rtol,
                                                   err_msg=f"gradient of input {k} {where}")
                        n += 1
    return n


def _reference(xs, torch_fn, ref, grad, rng):
    """(forward, [gradients..., w]) of the reference at xs."""
    if torch is not None and torch_fn is not None:
        tx = [torch.tensor(x.astype(np.float64), requires_grad=grad) for x in xs]
        out = torch_fn(*tx)
        want = out.detach().numpy()
        if not grad:
            return want, []
        w = rng.standard_normal(want.shape)
        (out * torch.tensor(w)).sum().backward()
        return want, [t.grad.numpy() for t in tx] + [w]
    if ref is None:
        raise ValueError("check_op: torch is not installed and no NumPy `ref` was given")
    x64 = [x.astype(np.float64) for x in xs]
    want = np.asarray(ref(*x64))
    if not grad:
        return want, []
    w = rng.standard_normal(want.shape)
    return want, numgrad(lambda *a: float((np.asarray(ref(*a)) * w).sum()), x64) + [w]

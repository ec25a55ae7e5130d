"""The one test helper for ops: `check_op` (after tinygrad's helper_test_op), plus the
shared error measure `rel_err`, finite differences `numgrad` and `on_device`.

check_op compares an op's forward values and, with `grad`, its gradients against a
reference, on every CPU path this machine runs (nk.cpu_paths()) and on every device
('cuda': the real GPU, else the NumPy-backed emulator of tests/_emulated_cuda.py):

    check_op([(4, 5)], lambda x: nk.gelu(x), lambda x: torch.nn.functional.gelu(x))

The reference is `torch_fn` (float64 torch tensors in) when torch is installed, else
`ref` (float64 NumPy arrays in), its gradients by `ref_grad` or by central finite
differences of `ref`. What a test of a new op passes:
- inputs: shapes (drawn uniformly from [low, high) as `dtype`) or given arrays (their own
  dtype; integer and bool arrays go in undifferentiated: targets, indices, masks);
- ours: the op on Tensors (`arrays=True`: on plain NumPy / device arrays, forward only);
  it may return several outputs, integer ones (indices) are compared exactly;
- tolerances: `atol`/`rtol` elementwise (np.testing.assert_allclose), or `tol` normwise
  (rel_err; `floor` is its smallest denominator), with `grad_*` variants for gradients;
  any of them may be a list: one per output (forward) or per float input (gradients);
- where: `paths` and `devices` (a test parametrised over conftest's `cpu_path` passes
  `**one_path(cpu_path)`, so paths are looped once, and the device once per case).
Float outputs must have the reference's shape and their inputs' float dtype (or `out_dtype`).
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
def threads(n):
    """Run the block with nnkernels on `n` threads (the previous count restored after)."""
    before = nk.get_num_threads()
    nk.set_num_threads(n)
    try:
        yield
    finally:
        nk.set_num_threads(before)


@contextlib.contextmanager
def _cpu_path(path):
    old = nk.cpu_path()
    nk.set_cpu_path(path)
    try:
        yield
    finally:
        nk.set_cpu_path(old)


def one_path(cpu_path, device=True):
    """check_op's `paths`/`devices` for a test parametrised over conftest's cpu_path: that
    path, and (with `device`, for ops the device backend has) the device with the best path."""
    best = cpu_path == nk.cpu_paths()[-1]
    return dict(paths=[cpu_path], devices=("cpu", "cuda") if device and best else ("cpu",))


def _is_float(a):
    dt = np.asarray(a).dtype
    return dt.kind == "f" or dt.name == "bfloat16"


def check_op(inputs, ours, torch_fn=None, atol=1e-6, rtol=1e-5, grad=True, *, ref=None, ref_grad=None,
             dtype=np.float64, low=-2.0, high=2.0, seed=0, paths=None, devices=("cpu", "cuda"), tol=None,
             floor=1e-30, grad_atol=None, grad_rtol=None, grad_tol=None, arrays=False, out_dtype=None):
    """Forward (and with `grad`, the gradient of sum(out * w) for random w, per float input)
    of `ours` against the reference; see the module docstring for the arguments.
    `ref_grad(w, *float64 inputs)` gives the reference gradients of the float inputs (w a
    tuple for several outputs) where finite differences of `ref` would be too slow.
    Returns the number of comparisons made."""
    assert not (arrays and grad), "check_op: arrays=True checks the forward only (grad=False)"
    rng = np.random.default_rng(seed)
    xs = [np.array(s) if isinstance(s, (np.ndarray, np.generic)) else rng.uniform(low, high, s).astype(dtype)
          for s in inputs]
    want, want_grads, w = _reference(xs, torch_fn, ref, ref_grad, grad, rng)
    if grad_tol is None and grad_atol is None and grad_rtol is None:
        grad_tol = tol  # gradients as the forward unless told otherwise
    grad_atol = atol if grad_atol is None else grad_atol
    grad_rtol = rtol if grad_rtol is None else grad_rtol
    floats = [x.dtype for x in xs if _is_float(x)]
    out_dtype = out_dtype or (np.result_type(*floats) if floats else None)
    n = 0
    for device in devices:
        for path in (paths or nk.cpu_paths()) if device == "cpu" else [nk.cpu_path()]:
            with on_device(device), _cpu_path(path):
                ts = [nk.tensor(x).to(device).requires_grad_(grad and _is_float(x)) for x in xs]
                outs = ours(*(t.data if arrays else t for t in ts))
                outs = outs if isinstance(outs, tuple) else (outs,)
                where = f"[{device}, {path}]"
                assert len(outs) == len(want), f"{len(outs)} outputs, the reference has {len(want)} {where}"
                for k, (o, r) in enumerate(zip(outs, want)):
                    got = (nk.Tensor(o) if arrays else o).cpu().numpy()
                    what = f"forward output {k} {where}"
                    assert np.shape(got) == np.shape(r), f"{what}: shape {np.shape(got)}, want {np.shape(r)}"
                    if not _is_float(r):
                        assert got.dtype == r.dtype, f"{what}: dtype {got.dtype}, want {r.dtype}"
                        np.testing.assert_array_equal(got, r, err_msg=what)
                    else:
                        assert out_dtype is None or got.dtype == out_dtype, f"{what}: dtype {got.dtype}"
                        _compare(got, r, _pick(atol, k), _pick(rtol, k), _pick(tol, k), _pick(floor, k), what)
                    n += 1
                if grad:
                    loss = sum((o * nk.tensor(wk.astype(o.dtype)).to(device)).sum()
                               for o, wk in zip(outs, w) if wk is not None)
                    loss.backward()
                    for k, (t, g) in enumerate(zip([t for t in ts if t.dtype.kind == "f"], want_grads)):
                        what = f"gradient of float input {k} {where}"
                        assert t.grad is not None, f"{what}: none"
                        got = t.grad.cpu().numpy()
                        assert got.shape == np.shape(g), f"{what}: shape {got.shape}, want {np.shape(g)}"
                        _compare(got, g, _pick(grad_atol, k), _pick(grad_rtol, k), _pick(grad_tol, k),
                                 _pick(floor, k), what)
                        n += 1
    return n


def _pick(tol, k):
    return tol[k] if isinstance(tol, (list, tuple)) else tol


def _compare(got, want, atol, rtol, tol, floor, what):
    if tol is None:
        np.testing.assert_allclose(got, want, atol=atol, rtol=rtol, err_msg=what)
    else:
        err = rel_err(got, want, floor)
        assert err <= tol, f"{what}: rel_err {err:.3g} > {tol:.3g}"


def _reference(xs, torch_fn, ref, ref_grad, grad, rng):
    """(forward outputs, gradients of the float inputs, w per output (None: not float))."""
    if torch is not None and torch_fn is not None:
        tx = [torch.tensor(x.astype(np.float64), requires_grad=True) if _is_float(x) else torch.from_numpy(x)
              for x in xs]
        outs = torch_fn(*tx)
        outs = outs if isinstance(outs, tuple) else (outs,)
        want = tuple(o.detach().numpy() for o in outs)
        w = [rng.standard_normal(o.shape) if _is_float(o) else None for o in want]
        if not grad:
            return want, [], w
        sum((o * torch.tensor(wk)).sum() for o, wk in zip(outs, w) if wk is not None).backward()
        return want, [t.grad.numpy() for t in tx if t.requires_grad], w
    if ref is None:
        raise ValueError("check_op: torch is not installed (or no torch_fn) and no NumPy `ref` was given")
    x64 = [x.astype(np.float64) if _is_float(x) else x for x in xs]

    def call(*a):
        outs = ref(*a)
        return tuple(np.asarray(o) for o in outs) if isinstance(outs, tuple) else (np.asarray(outs),)

    want = call(*x64)
    w = [rng.standard_normal(o.shape) if _is_float(o) else None for o in want]
    if not grad:
        return want, [], w
    if ref_grad is not None:
        return want, list(ref_grad(w[0] if len(w) == 1 else tuple(w), *x64)), w
    fl = [i for i, x in enumerate(x64) if _is_float(x)]

    def loss(*floats):
        a = list(x64)
        for i, f in zip(fl, floats):
            a[i] = f
        return float(sum((o * wk).sum() for o, wk in zip(call(*a), w) if wk is not None))

    return want, numgrad(loss, [x64[i] for i in fl]), w

"""One program, two libraries: a compat test is written once in the PyTorch style against `T`
(the library: nnkernels, imported as torch would be, or real torch), using `T.nn`,
`T.nn.functional`, `T.optim`; `both(program)` runs it under each in one test so the results
(values, shapes, return types, gradients) can be compared one to one. Without torch installed
those tests skip; the nnkernels-only checks still run.
"""
import numpy as np
import pytest

import nnkernels

try:
    import torch
except ImportError:  # the nnkernels flavour still runs
    torch = None

def as_np(x):
    """Tensor (either library), array or number -> float64 NumPy."""
    if torch is not None and isinstance(x, torch.Tensor):
        x = x.detach().numpy()
    elif isinstance(x, nnkernels.Tensor):
        x = x.numpy()
    return np.asarray(x, np.float64)


def both(program, *args):
    """(nnkernels result, torch result) of program(T, *args); skips when torch is missing."""
    if torch is None:
        pytest.skip("torch is not installed")
    return program(nnkernels, *args), program(torch, *args)


def copy_weights(src, dst):
    """Copy an nnkernels module's state dict into a torch module (same names, same layout)."""
    dst.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in src.state_dict().items()})


def close(a, b, tol=2e-5):
    a, b = as_np(a), as_np(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    scale = max(float(np.max(np.abs(b))) if b.size else 0.0, 1.0)
    assert float(np.max(np.abs(a - b))) <= tol * scale if a.size else True, float(np.max(np.abs(a - b)))


def fill(T, module, seed=0, scale=0.3):
    """Set every parameter of `module` to the same seeded values in either library."""
    r = np.random.default_rng(seed)
    for _, p in module.named_parameters():
        v = (r.standard_normal(tuple(p.shape)) * scale).astype(np.float32)
        if T is nnkernels:
            p.data[...] = v
        else:
            with torch.no_grad():
                p.copy_(torch.tensor(v))
    return module

"""Tensor creation (zeros, ones, full, randn, rand, arange, eye, linspace, randint) and
the seeded generator behind it and layer initialisation."""
from __future__ import annotations

import numpy as np

from ..core.tensor import Tensor

__all__ = ["manual_seed", "zeros", "ones", "full", "zeros_like", "ones_like", "randn", "rand", "arange",
           "eye", "linspace", "randint"]


_rng = np.random.default_rng()


def manual_seed(seed):
    """Seed the generator behind nk.randn/nk.rand and layer initialisation."""
    global _rng
    _rng = np.random.default_rng(seed)
    return _rng


def get_rng():
    return _rng


def _shape(shape):
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else tuple(shape)


def zeros(*shape, dtype=np.float32, requires_grad=False):
    return Tensor(np.zeros(_shape(shape), dtype), requires_grad)


def ones(*shape, dtype=np.float32, requires_grad=False):
    return Tensor(np.ones(_shape(shape), dtype), requires_grad)


def full(shape, value, dtype=np.float32, requires_grad=False):
    return Tensor(np.full(_shape((shape,)), value, dtype), requires_grad)


def zeros_like(t, dtype=None):
    return Tensor(np.zeros(t.shape, dtype or t.dtype))


def ones_like(t, dtype=None):
    return Tensor(np.ones(t.shape, dtype or t.dtype))


def randn(*shape, dtype=np.float32, requires_grad=False):
    return Tensor(_rng.standard_normal(_shape(shape)).astype(dtype), requires_grad)


def rand(*shape, dtype=np.float32, requires_grad=False):
    return Tensor(_rng.random(_shape(shape)).astype(dtype), requires_grad)


def arange(*args, dtype=None):
    return Tensor(np.arange(*args, dtype=dtype))


def eye(n, m=None, dtype=np.float32, requires_grad=False):
    """torch.eye: (n, m) with ones on the diagonal."""
    return Tensor(np.eye(int(n), None if m is None else int(m), dtype=dtype), requires_grad)


def linspace(start, end, steps, dtype=np.float32, requires_grad=False):
    """torch.linspace: `steps` evenly spaced values from start to end, both included."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"linspace: steps must be a non-negative integer, got {steps!r}")
    return Tensor(np.linspace(float(start), float(end), int(steps)).astype(dtype), requires_grad)


def randint(low=0, high=None, size=None, dtype=np.int64):
    """torch.randint(high, size) or torch.randint(low, high, size): integers in [low, high)."""
    if size is None:  # randint(high, size)
        low, high, size = 0, low, high
    if size is None or high is None:
        raise TypeError("randint: expected randint(high, size) or randint(low, high, size); size is required")
    if high <= low:
        raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
    size = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
    return Tensor(_rng.integers(low, high, size).astype(dtype))

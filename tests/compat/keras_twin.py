"""One program, two libraries, Keras flavour: a compat program is written once against `K`
(the library: `nnkernels.keras`, or real Keras 3 on its torch backend), and `both_keras`
runs it under each so the results can be compared. Without Keras (or torch) those tests
skip; the nnkernels-only checks still run."""
import os

import numpy as np
import pytest

import nnkernels.keras as nkeras

os.environ.setdefault("KERAS_BACKEND", "torch")  # before keras is imported; only Keras reads it
try:
    import torch  # noqa: F401
    import keras as real_keras
except ImportError:
    real_keras = None


def need_keras():
    if real_keras is None:
        pytest.skip("keras 3 (with torch) is not installed")
    return real_keras


def to_np(x):
    """A Tensor / Keras tensor / array -> float64 NumPy."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    elif hasattr(x, "numpy"):
        x = x.numpy()
    return np.asarray(x, np.float64)


def both_keras(program, *args):
    """(nnkernels result, Keras result) of program(K, *args); skips without Keras."""
    k = need_keras()
    return program(nkeras, *args), program(k, *args)


def close(a, b, tol=1e-5):
    a, b = to_np(a), to_np(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    scale = max(float(np.max(np.abs(b))) if b.size else 0.0, 1.0)
    err = float(np.max(np.abs(a - b))) if a.size else 0.0
    assert err <= tol * scale, err


# Keras 3 on NumPy 2 warns inside its own Variable.numpy(); not ours to fix.
KERAS_WARNINGS = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")

"""Keras initializers (`keras.initializers.GlorotUniform()`, or their names in `add_weight`):
each is a callable `(shape, dtype) -> ndarray` drawing from the nnkernels generator
(`keras.utils.set_random_seed` / `nk.manual_seed`)."""
from __future__ import annotations

import numpy as np

__all__ = ["Initializer", "Zeros", "Ones", "Constant", "RandomNormal", "RandomUniform", "GlorotUniform",
           "GlorotNormal", "HeNormal", "HeUniform", "Orthogonal", "get"]


def _rng():
    from .. import autograd
    return autograd.get_rng()


def _fans(shape):
    """Keras's fans: the last two axes are (in, out), the axes before them the receptive field."""
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    rf = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return shape[-2] * rf, shape[-1] * rf


class Initializer:
    def __call__(self, shape, dtype="float32"):
        return np.asarray(self.sample(tuple(shape)), dtype=dtype)


class Zeros(Initializer):
    def sample(self, shape):
        return np.zeros(shape)


class Ones(Initializer):
    def sample(self, shape):
        return np.ones(shape)


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = value

    def sample(self, shape):
        return np.full(shape, self.value)


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev = mean, stddev

    def sample(self, shape):
        return _rng().normal(self.mean, self.stddev, shape)


class RandomUniform(Initializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval = minval, maxval

    def sample(self, shape):
        return _rng().uniform(self.minval, self.maxval, shape)


class _Scaled(Initializer):
    """Variance scaling: uniform(+-sqrt(3 s / n)) or a normal of std sqrt(s / n) truncated at 2 std."""
    scale, fan, uniform = 1.0, "avg", True

    def __init__(self, seed=None):
        pass

    def sample(self, shape):
        fi, fo = _fans(shape)
        n = {"in": fi, "out": fo, "avg": (fi + fo) / 2}[self.fan]
        if self.uniform:
            lim = np.sqrt(3.0 * self.scale / max(n, 1))
            return _rng().uniform(-lim, lim, shape)
        std = np.sqrt(self.scale / max(n, 1)) / 0.87962566103423978  # std of a normal truncated at +-2
        v = _rng().normal(0.0, 1.0, shape)
        bad = np.abs(v) > 2
        while bad.any():
            v[bad] = _rng().normal(0.0, 1.0, int(bad.sum()))
            bad = np.abs(v) > 2
        return v * std


class GlorotUniform(_Scaled):
    pass


class GlorotNormal(_Scaled):
    uniform = False


class HeUniform(_Scaled):
    scale, fan = 2.0, "in"


class HeNormal(_Scaled):
    scale, fan, uniform = 2.0, "in", False


class LecunNormal(_Scaled):
    fan, uniform = "in", False


class Orthogonal(Initializer):
    def __init__(self, gain=1.0, seed=None):
        self.gain = gain

    def sample(self, shape):
        rows, cols = int(np.prod(shape[:-1])), shape[-1]
        a = _rng().normal(0.0, 1.0, (max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))
        q = q if rows >= cols else q.T
        return self.gain * q.reshape(shape)


_NAMES = {"zeros": Zeros, "ones": Ones, "random_normal": RandomNormal, "random_uniform": RandomUniform,
          "uniform": RandomUniform, "normal": RandomNormal, "glorot_uniform": GlorotUniform,
          "glorot_normal": GlorotNormal, "he_uniform": HeUniform, "he_normal": HeNormal,
          "lecun_normal": LecunNormal, "orthogonal": Orthogonal}


def get(identifier):
    if isinstance(identifier, Initializer) or (callable(identifier) and not isinstance(identifier, type)):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if isinstance(identifier, str) and identifier.lower() in _NAMES:
        return _NAMES[identifier.lower()]()
    raise ValueError(f"unknown initializer {identifier!r} (use {sorted(_NAMES)}, a keras.initializers object "
                     "or a callable(shape, dtype))")

"""Parameter initialisers (the `torch.nn.init` names); they fill `tensor.data` in place."""
from __future__ import annotations

import math

import numpy as np

from .. import autograd as ag

__all__ = ["uniform_", "normal_", "zeros_", "ones_", "constant_", "xavier_uniform_", "xavier_normal_",
           "kaiming_uniform_", "kaiming_normal_", "orthogonal_", "calculate_fan_in_and_fan_out"]


def calculate_fan_in_and_fan_out(t):
    shape = t.shape
    if len(shape) < 2:
        raise ValueError(f"fan in/out needs at least 2 dimensions, got shape {shape}")
    rf = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * rf, shape[0] * rf


def _fill(t, values):
    t.data[...] = values.astype(t.dtype)
    return t


def uniform_(t, a=0.0, b=1.0):
    return _fill(t, ag.get_rng().uniform(a, b, t.shape))


def normal_(t, mean=0.0, std=1.0):
    return _fill(t, ag.get_rng().normal(mean, std, t.shape))


def zeros_(t):
    t.data[...] = 0
    return t


def ones_(t):
    t.data[...] = 1
    return t


def constant_(t, val):
    t.data[...] = val
    return t


def xavier_uniform_(t, gain=1.0):
    fi, fo = calculate_fan_in_and_fan_out(t)
    a = gain * math.sqrt(6.0 / (fi + fo))
    return uniform_(t, -a, a)


def xavier_normal_(t, gain=1.0):
    fi, fo = calculate_fan_in_and_fan_out(t)
    return normal_(t, 0.0, gain * math.sqrt(2.0 / (fi + fo)))


def _gain(nonlinearity, a):
    if nonlinearity == "leaky_relu":
        return math.sqrt(2.0 / (1 + a * a))
    return {"relu": math.sqrt(2.0), "tanh": 5.0 / 3, "linear": 1.0, "sigmoid": 1.0}[nonlinearity]


def kaiming_uniform_(t, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    fi, fo = calculate_fan_in_and_fan_out(t)
    bound = _gain(nonlinearity, a) * math.sqrt(3.0 / (fi if mode == "fan_in" else fo))
    return uniform_(t, -bound, bound)


def kaiming_normal_(t, a=0.0, mode="fan_in", nonlinearity="leaky_relu"):
    fi, fo = calculate_fan_in_and_fan_out(t)
    return normal_(t, 0.0, _gain(nonlinearity, a) / math.sqrt(fi if mode == "fan_in" else fo))


def orthogonal_(t, gain=1.0):
    rows = t.shape[0]
    cols = t.data.size // rows
    a = ag.get_rng().normal(0.0, 1.0, (max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(t, gain * q.reshape(t.shape))

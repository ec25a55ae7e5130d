"""torch.nn.utils: gradient clipping (clip_grad_norm_, clip_grad_value_), in place on `.grad`."""
from __future__ import annotations

import math

import numpy as np

from ..autograd import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _grads(parameters):
    ps = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p for p in ps if p._grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale all gradients together so that their joint `norm_type` norm is at most `max_norm`
    (factor max_norm / (norm + 1e-6), never above 1, as torch). Returns the norm before clipping
    as a 0-d Tensor. norm_type may be float('inf') (the largest absolute entry)."""
    ps = _grads(parameters)
    norm_type = float(norm_type)
    if not ps:
        return Tensor(np.zeros((), np.float32))
    if math.isinf(norm_type):
        total = max(float(np.max(np.abs(p._grad))) if p._grad.size else 0.0 for p in ps)
    else:
        total = sum(float(np.sum(np.abs(p._grad.astype(np.float64)) ** norm_type)) for p in ps) ** (1 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {total}; "
                           f"pass error_if_nonfinite=False to clip anyway")
    coef = min(float(max_norm) / (total + 1e-6), 1.0)
    if coef < 1.0:
        for p in ps:
            p._grad *= p._grad.dtype.type(coef)
    return Tensor(np.asarray(total, ps[0]._grad.dtype))


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient entry into [-clip_value, clip_value], in place."""
    c = float(clip_value)
    for p in _grads(parameters):
        np.clip(p._grad, -c, c, out=p._grad)

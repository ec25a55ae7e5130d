"""The losses and metrics given to `compile`, per model output: one loss (or a list / a dict
keyed by output name), `loss_weights`, and metrics (a list, a list of lists, or a dict).
The logged names are Keras's: 'loss', then '<output>_loss' and '<output>_<metric>' when the
model has several outputs."""
from __future__ import annotations

import copy

import numpy as np

from .. import autograd as ag
from . import losses as losses_mod
from . import metrics as metrics_mod

__all__ = ["CompiledLoss", "CompiledMetrics"]


def _per_output(value, names, what):
    """`value` given once, as a list (one per output) or as a dict by output name -> a list."""
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise ValueError(f"compile: {what} for unknown output(s) {unknown}; the outputs are {names}")
        return [value.get(n) for n in names]
    if isinstance(value, (list, tuple)):
        if len(value) != len(names):
            raise ValueError(f"compile: {len(value)} {what} for {len(names)} outputs {names}")
        return list(value)
    return [value if i == 0 or what != "loss" else copy.deepcopy(value) for i, _ in enumerate(names)]


def pick(y, i, names):
    """The targets of output i from y given as a list or as a dict by output name."""
    if isinstance(y, dict):
        return y[names[i]]
    return y[i]


class CompiledLoss:
    def __init__(self, loss, loss_weights, output_names):
        self.names = output_names  # None: a single output
        if output_names is None:
            self.losses = [losses_mod.get(loss)]
            self.weights = [1.0 if loss_weights is None else float(np.ravel(loss_weights)[0])]
        else:
            self.losses = [None if l is None else losses_mod.get(l) for l in _per_output(loss, output_names, "loss")]
            self.weights = [1.0 if w is None else float(w) for w in
                            (_per_output(loss_weights, output_names, "loss_weights")
                             if loss_weights is not None else [None] * len(output_names))]

    @property
    def name(self):
        return getattr(self.losses[0], "name", "loss") if self.names is None else "loss"

    def loss_names(self):
        return [] if self.names is None else [f"{n}_loss" for n, l in zip(self.names, self.losses) if l is not None]

    def __call__(self, y, out, sample_weight=None):
        """(total loss Tensor, {'<output>_loss': Tensor} for several outputs)."""
        if self.names is None:
            return self._one(self.losses[0], y, out, sample_weight) * self.weights[0], {}
        total, parts = None, {}
        for i, (name, loss, w) in enumerate(zip(self.names, self.losses, self.weights)):
            if loss is None:
                continue
            v = self._one(loss, pick(y, i, self.names), out[i], sample_weight)
            parts[f"{name}_loss"] = v
            total = v * w if total is None else total + v * w
        return total, parts

    @staticmethod
    def _one(loss, y, out, sample_weight):
        if isinstance(loss, losses_mod.Loss):
            return loss(y, out, sample_weight=sample_weight)
        return ag._t(loss(y, out))


class CompiledMetrics:
    def __init__(self, metrics, output_names, losses):
        self.slots = []  # (output index or None, metric)
        if output_names is None:
            lname = getattr(losses[0], "name", "")
            self.slots = [(None, metrics_mod.get(m, lname)) for m in _as_list(metrics)]
            return
        per = _per_output(metrics, output_names, "metrics") if isinstance(metrics, dict) or (
            isinstance(metrics, (list, tuple)) and len(metrics) == len(output_names)
            and all(isinstance(m, (list, tuple, dict)) or m is None for m in metrics)) else \
            [copy.deepcopy(metrics) for _ in output_names]
        for i, (name, ms, loss) in enumerate(zip(output_names, per, losses)):
            for m in _as_list(ms):
                obj = copy.deepcopy(metrics_mod.get(m, getattr(loss, "name", "")))
                obj.name = f"{name}_{obj.name}"
                self.slots.append((i, obj))

    @property
    def names(self):
        return [m.name for _, m in self.slots]

    def reset(self):
        for _, m in self.slots:
            m.reset_state()

    def update(self, y, out, output_names):
        for i, m in self.slots:
            yi, oi = (y, out) if i is None else (pick(y, i, output_names), out[i])
            m.update_state(ag._as_data(yi), ag._as_data(oi))


def _as_list(m):
    if m is None:
        return []
    return list(m) if isinstance(m, (list, tuple)) else [m]

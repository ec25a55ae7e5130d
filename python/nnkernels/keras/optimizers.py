"""Keras optimizers (`keras.optimizers.Adam(learning_rate=...)`). They are created without
parameters, like Keras; `Model.compile`/`fit` binds them to the model's weights and the
update runs in `nnkernels.optim`. `learning_rate` may be a number or a
`keras.optimizers.schedules` schedule (evaluated at `iterations`, the number of steps taken)."""
from __future__ import annotations

import inspect
import math

import numpy as np

from .. import autograd as ag
from .. import optim
from ..autograd import Tensor, array_module
from ..ops._common import is_cupy
from .layers.base import _recording
from . import schedules
from .schedules import LearningRateSchedule

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "get", "schedules"]


class Optimizer:
    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _recording(cls.__init__)

    def get_config(self):
        """The constructor arguments (a schedule given as learning_rate saved as its current value)."""
        init, args, kwargs = self.__dict__["_init_record"]
        cfg = dict(inspect.signature(init).bind(self, *args, **kwargs).arguments)
        cfg.pop("self")
        cfg.update(cfg.pop("kw", {}))
        cfg["learning_rate"] = self.learning_rate
        return cfg

    def __init__(self, learning_rate, **config):
        if isinstance(learning_rate, LearningRateSchedule):
            self._schedule, self._lr = learning_rate, float(learning_rate(0))
        elif not isinstance(learning_rate, (int, float)) or learning_rate <= 0:
            raise ValueError(f"{type(self).__name__}: learning_rate must be a positive number or a "
                             f"keras.optimizers.schedules schedule, got {learning_rate!r}")
        else:
            self._schedule, self._lr = None, float(learning_rate)
        self.config = config
        self.iterations = 0
        self._opt = None

    @property
    def learning_rate(self):
        """The rate the next step uses (a schedule's value at `iterations`)."""
        return float(self._schedule(self.iterations)) if self._schedule is not None else self._lr

    @learning_rate.setter
    def learning_rate(self, v):
        if isinstance(v, LearningRateSchedule):
            self._schedule = v
            return
        self._schedule, self._lr = None, float(v)
        self._set_lr(self._lr)

    def _set_lr(self, lr):
        if self._opt is not None:
            for g in self._opt.param_groups:
                g["lr"] = lr

    def build(self, params):
        self._opt = self._make(list(params))

    @property
    def built(self):
        return self._opt is not None

    def _to(self, device):
        """Move the state arrays (moments, ...) to `device`, where fit moved the weights."""
        for st in (self._opt.state.values() if self._opt is not None else ()):
            for k, v in st.items():
                if hasattr(v, "shape") and getattr(v, "ndim", 0):
                    st[k] = ag._move(v, device)

    def _host_state_dict(self):
        """The wrapped optimizer's state_dict with its arrays on the host (for saving)."""
        sd = self._opt.state_dict()
        for st in sd["state"].values():
            for k, v in st.items():
                if is_cupy(ag._as_data(v)):
                    st[k] = Tensor(ag._move(ag._as_data(v), ag.device("cpu")))
        return sd

    def zero_grad(self):
        self._opt.zero_grad()

    def step(self):
        if self._schedule is not None:
            self._set_lr(self.learning_rate)
        self._opt.step()
        self.iterations += 1


class _KerasAdam(optim.Adam):
    """Keras's Adam adds epsilon to sqrt(v) before the bias correction: torch's formula with
    epsilon / sqrt(1 - beta_2^t), so sparse (embedding) gradients move the same as in Keras."""

    def _update(self, g, p, grad, st):
        t = st.get("step", 0) + 1
        super()._update(dict(g, eps=g["eps"] / math.sqrt(1 - g["betas"][1] ** t)), p, grad, st)


class _KerasAdamW(_KerasAdam):
    _decoupled = True


class _KerasRMSprop(optim.RMSprop):
    """Keras's RMSprop: lr * g / sqrt(v + epsilon) (epsilon inside the root); momentum on the increment."""

    def _update(self, g, p, grad, st):
        a = g["alpha"]
        sq = optim._buffer(st, "square_avg", p)
        sq *= a
        sq += (1 - a) * grad * grad
        if g["centered"]:
            ga = optim._buffer(st, "grad_avg", p)
            ga *= a
            ga += (1 - a) * grad
            denom = sq - ga * ga + g["eps"]
        else:
            denom = sq + g["eps"]
        inc = g["lr"] * grad / array_module(denom).sqrt(denom)
        if g["momentum"]:
            buf = optim._buffer(st, "momentum_buffer", p)
            buf *= g["momentum"]
            buf += inc
            inc = buf
        p -= inc.astype(p.dtype, copy=False)


class SGD(Optimizer):
    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None, **kw):
        super().__init__(learning_rate)
        self.momentum, self.nesterov, self.weight_decay = momentum, nesterov, weight_decay or 0.0

    def _make(self, params):
        return optim.SGD(params, lr=self._lr, momentum=self.momentum, nesterov=self.nesterov,
                         weight_decay=self.weight_decay)


class Adam(Optimizer):
    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 weight_decay=None, **kw):
        super().__init__(learning_rate)
        self.betas, self.epsilon, self.amsgrad, self.weight_decay = (beta_1, beta_2), epsilon, amsgrad, weight_decay

    def _make(self, params):
        cls = _KerasAdamW if self.weight_decay else _KerasAdam  # Keras decay is decoupled
        return cls(params, lr=self._lr, betas=self.betas, eps=self.epsilon, weight_decay=self.weight_decay or 0.0,
                   amsgrad=self.amsgrad)


class AdamW(Adam):
    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, **kw):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay)


class RMSprop(Optimizer):
    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, **kw):
        super().__init__(learning_rate)
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, centered

    def _make(self, params):
        return _KerasRMSprop(params, lr=self._lr, alpha=self.rho, eps=self.epsilon, momentum=self.momentum,
                             centered=self.centered)


_NAMES = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop}


def get(identifier):
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _NAMES:
        return _NAMES[identifier.lower()]()
    raise ValueError(f"unknown optimizer {identifier!r} (use {sorted(_NAMES)} or a keras.optimizers object)")

"""Optimizers in the PyTorch style: `opt = nk.optim.Adam(model.parameters(), lr=1e-3)`;
`opt.zero_grad(); loss.backward(); opt.step()`. Updates are in place on `p.data`
(NumPy glue: a handful of elementwise passes per parameter)."""
from __future__ import annotations

import math

import numpy as np

from .. import _C
from ..autograd import array_module
from . import lr_scheduler  # noqa: F401

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "lr_scheduler"]


class Optimizer:
    def __init__(self, params, defaults):
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.defaults = defaults
        self.param_groups = []
        for g in groups:
            g = dict(g)
            g["params"] = list(g["params"])
            for k, v in defaults.items():
                g.setdefault(k, v)
            self.param_groups.append(g)
        self.state = {}

    def zero_grad(self, set_to_none=True):
        for g in self.param_groups:
            for p in g["params"]:
                if set_to_none or p._grad is None:
                    p._grad = None
                else:
                    p._grad[...] = 0

    def state_dict(self):
        """torch's layout: {'state': {index: {name: Tensor or number}}, 'param_groups': [{hyper-
        parameters..., 'params': [index, ...]}]}, parameters numbered in group order. Copies."""
        from ..autograd import Tensor
        index, groups, state = {}, [], {}
        for g in self.param_groups:
            ids = []
            for p in g["params"]:
                index.setdefault(id(p), len(index))
                ids.append(index[id(p)])
            groups.append({**{k: v for k, v in g.items() if k != "params"}, "params": ids})
        for g in self.param_groups:
            for p in g["params"]:
                st = self.state.get(id(p))
                if st:
                    state[index[id(p)]] = {k: Tensor(np.array(v)) if isinstance(v, np.ndarray) else v
                                           for k, v in st.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore what state_dict() gave (or a torch optimizer's, same layout): the groups must
        hold the same numbers of parameters; moment buffers must have the parameters' shapes."""
        groups = state_dict["param_groups"]
        name = type(self).__name__
        if len(groups) != len(self.param_groups) or any(
                len(a["params"]) != len(b["params"]) for a, b in zip(groups, self.param_groups)):
            raise ValueError(f"{name}.load_state_dict: the state dict has groups of "
                             f"{[len(g['params']) for g in groups]} parameters, this optimizer "
                             f"{[len(g['params']) for g in self.param_groups]}")
        by_index = {}
        for saved, g in zip(groups, self.param_groups):
            by_index.update(zip(saved["params"], g["params"]))
        new = {}
        for i, st in state_dict["state"].items():
            p = by_index[int(i)]
            d = {}
            for k, v in st.items():
                a = np.asarray(v)
                if k == "step":
                    d[k] = int(a.item())
                elif a.ndim == 0 and not hasattr(v, "shape"):
                    d[k] = v
                else:
                    if a.shape != p.shape:
                        raise ValueError(f"{name}.load_state_dict: state {k!r} of parameter {i} has shape "
                                         f"{a.shape}, the parameter {p.shape}")
                    d[k] = np.array(a, dtype=p.dtype)
            new[id(p)] = d
        for saved, g in zip(groups, self.param_groups):
            for k, v in saved.items():
                if k != "params":
                    g[k] = tuple(v) if isinstance(v, list) and k == "betas" else v
        self.state = new

    def _params(self):
        for g in self.param_groups:
            for p in g["params"]:
                if p._grad is not None:
                    yield g, p, p._grad, self.state.setdefault(id(p), {})

    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for g, p, grad, st in self._params():
            self._update(g, p.data, grad, st)
        return loss


def _buffer(st, name, p):
    """State array `name` of a parameter: zeros like `p` the first time, then the same array
    (dict.setdefault would allocate a fresh zeros array on every step only to drop it)."""
    a = st.get(name)
    if a is None:
        a = st[name] = array_module(p).zeros_like(p)
    return a


def _fusable(p, *state):
    """The fused C++ update applies: plain contiguous float32/float64 NumPy arrays of one dtype."""
    return (type(p) is np.ndarray and p.dtype in (np.float32, np.float64) and p.flags.c_contiguous
            and all(type(a) is np.ndarray and a.dtype == p.dtype and a.flags.c_contiguous for a in state))


def _check(name, v, cls, lo=0.0):
    if not isinstance(v, (int, float)) or v < lo:
        raise ValueError(f"{cls}: invalid {name} {v!r}")
    return float(v)


class SGD(Optimizer):
    """p -= lr * (g + wd p) with optional (Nesterov) momentum, like torch.optim.SGD."""

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        for n, v in (("lr", lr), ("momentum", momentum), ("weight_decay", weight_decay)):
            _check(n, v, "SGD")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: nesterov needs momentum > 0 and dampening 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov))

    def _update(self, g, p, grad, st):
        if g["weight_decay"]:
            grad = grad + g["weight_decay"] * p
        mu = g["momentum"]
        if mu:
            buf = st.get("momentum_buffer")
            if buf is None:
                buf = st["momentum_buffer"] = grad.copy()
            else:
                buf *= mu
                buf += (1 - g["dampening"]) * grad
            grad = grad + mu * buf if g["nesterov"] else buf
        p -= p.dtype.type(g["lr"]) * grad


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias correction; weight_decay is L2 added to the gradient."""

    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
        name = type(self).__name__
        _check("lr", lr, name)
        _check("eps", eps, name)
        _check("weight_decay", weight_decay, name)
        if not all(0 <= b < 1 for b in betas):
            raise ValueError(f"{name}: invalid betas {betas}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad))

    def _update(self, g, p, grad, st):
        st["step"] = st.get("step", 0) + 1
        m, v = _buffer(st, "exp_avg", p), _buffer(st, "exp_avg_sq", p)
        vmax = _buffer(st, "max_exp_avg_sq", p) if g["amsgrad"] else None
        if _fusable(p, m, v, *(() if vmax is None else (vmax,))):  # one pass in C++ (csrc/optim/optim.cpp)
            _C.adam_step(p, np.ascontiguousarray(grad, dtype=p.dtype), m, v, vmax, g["lr"], *g["betas"], g["eps"],
                         g["weight_decay"], self._decoupled, st["step"])
        else:                                         # array passes (CuPy, non-contiguous)
            self._passes(array_module(p), g, p, grad, m, v, vmax, st["step"])

    def _passes(self, xp, g, p, grad, m, v, vmax, t):
        """The step as whole-array operations of `xp` (numpy or cupy), in place."""
        b1, b2 = g["betas"]
        lr, wd = g["lr"], g["weight_decay"]
        if wd:
            if self._decoupled:
                p *= p.dtype.type(1 - lr * wd)
            else:
                grad = grad + wd * p
        tmp = xp.multiply(grad, grad)                 # one scratch array, reused below
        m *= b1
        m += (1 - b1) * grad
        v *= b2
        tmp *= 1 - b2
        v += tmp
        if vmax is not None:
            xp.maximum(vmax, v, out=vmax)
            v = vmax
        xp.sqrt(v, out=tmp)                           # denom = sqrt(v / (1 - b2^t)) + eps
        tmp *= 1.0 / math.sqrt(1 - b2 ** t)
        tmp += g["eps"]
        xp.divide(m, tmp, out=tmp)
        tmp *= lr / (1 - b1 ** t)
        p -= tmp


class AdamW(Adam):
    """Adam with decoupled weight decay (default 0.01), like torch.optim.AdamW."""

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)


class RMSprop(Optimizer):
    """RMSprop like torch.optim.RMSprop (alpha, eps, weight_decay, momentum, centered)."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
        for n, v in (("lr", lr), ("alpha", alpha), ("eps", eps), ("weight_decay", weight_decay),
                     ("momentum", momentum)):
            _check(n, v, "RMSprop")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered))

    def _update(self, g, p, grad, st):
        xp = array_module(p)
        if g["weight_decay"]:
            grad = grad + g["weight_decay"] * p
        a = g["alpha"]
        sq = _buffer(st, "square_avg", p)
        sq *= a
        sq += (1 - a) * grad * grad
        if g["centered"]:
            ga = _buffer(st, "grad_avg", p)
            ga *= a
            ga += (1 - a) * grad
            avg = xp.sqrt(sq - ga * ga) + g["eps"]
        else:
            avg = xp.sqrt(sq) + g["eps"]
        if g["momentum"]:
            buf = _buffer(st, "momentum_buffer", p)
            buf *= g["momentum"]
            buf += grad / avg
            p -= (g["lr"] * buf).astype(p.dtype, copy=False)
        else:
            p -= (g["lr"] * grad / avg).astype(p.dtype, copy=False)

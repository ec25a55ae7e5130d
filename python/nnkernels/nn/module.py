"""Module and Parameter, the base of every layer (parameters, buffers, state dicts,
train/eval, devices), and the argument checks the layers share."""
from __future__ import annotations

from collections import OrderedDict, namedtuple

import numpy as np

from .. import autograd as ag
from ..autograd import Tensor
from ..ops._common import int_pair

__all__ = ["Parameter", "Module"]


class Parameter(Tensor):
    """A Tensor that a Module registers as a trainable parameter (requires_grad=True)."""

    def __init__(self, data, requires_grad=True):
        super().__init__(data.data if isinstance(data, Tensor) else np.asarray(data), requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


def _pos_int(name, v, layer, allow_zero=False):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < (0 if allow_zero else 1):
        raise ValueError(f"{layer}: {name} must be a {'non-negative' if allow_zero else 'positive'} integer, got {v!r}")
    return int(v)


def _pair_arg(name, v, layer, allow_zero=False):
    return int_pair(v, name, layer, 0 if allow_zero else 1)


def _prob(name, p, layer):
    if not isinstance(p, (int, float)) or not 0 <= p <= 1:
        raise ValueError(f"{layer}: {name} must be a probability in [0, 1], got {p!r}")
    return float(p)


class IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What load_state_dict returns (torch's _IncompatibleKeys)."""

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()


class StateDictError(RuntimeError, KeyError):
    """load_state_dict(strict=True) with missing/unexpected keys: torch raises RuntimeError;
    it is also a KeyError, what nnkernels raised before."""

    __str__ = RuntimeError.__str__


class Module:
    """Base class: registers Parameters, sub-Modules and buffers assigned as attributes."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        for d in (self._parameters, self._buffers, self._modules):
            d.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        elif name in self.__dict__.get("_buffer_names", ()):
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)
            return
        self.__dict__.pop(name, None)

    def __getattr__(self, name):
        d = self.__dict__
        for key in ("_parameters", "_buffers", "_modules"):
            if key in d and name in d[key]:
                return d[key][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name):
        for d in (self._parameters, self._buffers, self._modules):
            if name in d:
                del d[name]
                return
        object.__delattr__(self, name)

    def register_buffer(self, name, tensor, persistent=True):
        self.__dict__.setdefault("_buffer_names", set()).add(name)
        if not persistent:
            self.__dict__.setdefault("_non_persistent", set()).add(name)
        self._buffers[name] = tensor if tensor is None or isinstance(tensor, Tensor) else Tensor(tensor)

    def register_parameter(self, name, param):
        if param is None:
            self._parameters[name] = None
        else:
            setattr(self, name, param)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # -- traversal
    def named_children(self):
        return iter(self._modules.items())

    def children(self):
        return (m for _, m in self.named_children())

    def named_modules(self, prefix=""):
        yield prefix, self
        for name, m in self._modules.items():
            if m is not None:
                yield from m.named_modules(prefix + ("." if prefix else "") + name)

    def modules(self):
        return (m for _, m in self.named_modules())

    def named_parameters(self, prefix="", recurse=True):
        seen = set()
        mods = self.named_modules(prefix) if recurse else [(prefix, self)]
        for mp, m in mods:
            for name, p in m._parameters.items():
                if p is not None and id(p) not in seen:
                    seen.add(id(p))
                    yield mp + ("." if mp else "") + name, p

    def parameters(self, recurse=True):
        return (p for _, p in self.named_parameters(recurse=recurse))

    def named_buffers(self, prefix=""):
        for mp, m in self.named_modules(prefix):
            for name, b in m._buffers.items():
                if b is not None:
                    yield mp + ("." if mp else "") + name, b

    def buffers(self):
        return (b for _, b in self.named_buffers())

    def apply(self, fn):
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # -- state
    def _save_to(self, sd, prefix, keep_vars):
        """torch's order: this module's parameters, then its persistent buffers, then each child."""
        skip = self.__dict__.get("_non_persistent", ())
        for name, t in list(self._parameters.items()) + [(n, b) for n, b in self._buffers.items() if n not in skip]:
            if t is not None:
                sd[prefix + name] = t if keep_vars else Tensor(np.array(t.numpy()))
        for name, m in self._modules.items():
            if m is not None:
                m._save_to(sd, prefix + name + ".", keep_vars)

    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """Ordered name -> Tensor, like torch: per module its parameters then its buffers, in
        registration order, children after. The Tensors are detached copies (keep_vars=True:
        the parameters and buffers themselves)."""
        sd = OrderedDict() if destination is None else destination
        self._save_to(sd, prefix, keep_vars)
        return sd

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy Tensors/arrays into parameters and buffers; returns torch's named result
        (missing_keys, unexpected_keys). With strict=True (default) any missing or unexpected key
        is a RuntimeError (also a KeyError, as before). Every key and shape is checked before
        anything changes, so a bad state dict raises and leaves the module as it was."""
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            msg = f"Error(s) in loading state_dict for {type(self).__name__}:"
            if missing:
                msg += " Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + "."
            if unexpected:
                msg += " Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + "."
            raise StateDictError(msg)
        for k, t in own.items():
            if k in state_dict:
                v = np.asarray(state_dict[k].numpy() if isinstance(state_dict[k], Tensor) else state_dict[k])
                if v.shape != t.shape:
                    raise ValueError(f"load_state_dict: {k} has shape {v.shape} in the state dict, "
                                     f"the module expects {t.shape}")
        for k, t in own.items():
            if k in state_dict:
                v = state_dict[k]
                t.data[...] = np.asarray(v.numpy() if isinstance(v, Tensor) else v)
        return IncompatibleKeys(missing, unexpected)

    def train(self, mode=True):
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if set_to_none or p._grad is None:
                p._grad = None
            else:
                p._grad[...] = 0

    def requires_grad_(self, flag=True):
        for p in self.parameters():
            p.requires_grad = flag
        return self

    def to(self, device=None, dtype=None):
        """Move every parameter and buffer (and any gradient) to `device` ('cpu', 'cuda',
        'cuda:0', 'auto') and/or cast the floating ones to `dtype`, in place; returns self.
        'cuda' needs a usable GPU (nk.cuda.require names what is missing)."""
        if isinstance(device, type) or isinstance(device, np.dtype):
            device, dtype = None, device
        dev = None if device is None else ag.device(device)
        for t in list(self.parameters()) + list(self.buffers()):
            if dtype is not None and np.issubdtype(t.dtype, np.floating):
                t.data = t.data.astype(dtype)
            if dev is not None and t.device.type != dev.type:
                t.data = ag._move(t.data, dev)
                if t._grad is not None:
                    t._grad = ag._move(t._grad, dev)
        return self

    def cuda(self):
        return self.to("cuda")

    def cpu(self):
        return self.to("cpu")

    def float(self):
        return self.to(dtype=np.float32)

    def double(self):
        return self.to(dtype=np.float64)

    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = [f"({n}): " + repr(m).replace("\n", "\n  ") for n, m in self._modules.items()]
        if not lines:
            return f"{type(self).__name__}({self.extra_repr()})"
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"

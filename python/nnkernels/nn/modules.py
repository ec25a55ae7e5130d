"""Layers in the PyTorch style: `__init__` creates parameters (torch's default
initialisation), `forward` calls `nnkernels.nn.functional`. Shapes follow torch (NCHW)."""
from __future__ import annotations

import math
from collections import OrderedDict, namedtuple

import numpy as np

from .. import autograd as ag
from ..autograd import Tensor
from . import functional as F
from . import init

__all__ = ["Parameter", "Module", "Sequential", "ModuleList", "Identity", "Linear", "Flatten", "Unflatten",
           "Dropout", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "GELU", "Softmax", "LogSoftmax", "Conv2d",
           "ConvTranspose2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "Embedding", "BatchNorm1d",
           "BatchNorm2d", "LayerNorm", "LSTM", "GRU", "LSTMCell", "GRUCell", "MultiheadAttention",
           "TransformerEncoderLayer", "TransformerEncoder",
           "TransformerDecoderLayer", "TransformerDecoder", "CrossEntropyLoss", "NLLLoss", "MSELoss", "BCELoss", "BCEWithLogitsLoss"]


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
    t = (v, v) if isinstance(v, (int, np.integer)) else tuple(v) if isinstance(v, (tuple, list)) else None
    if t is None or len(t) != 2:
        raise ValueError(f"{layer}: {name} must be an int or a pair of ints, got {v!r}")
    return tuple(_pos_int(name, x, layer, allow_zero) for x in t)


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


class Sequential(Module):
    """Modules applied in order; `Sequential(m1, m2)` or `Sequential(OrderedDict(...))`."""

    def __init__(self, *mods):
        super().__init__()
        if len(mods) == 1 and isinstance(mods[0], (dict, OrderedDict)):
            for k, m in mods[0].items():
                setattr(self, k, m)
        else:
            for i, m in enumerate(mods):
                setattr(self, str(i), m)

    def append(self, m):
        setattr(self, str(len(self._modules)), m)
        return self

    def __getitem__(self, i):
        mods = list(self._modules.values())
        return Sequential(*mods[i]) if isinstance(i, slice) else mods[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x


class ModuleList(Module):
    def __init__(self, mods=()):
        super().__init__()
        for m in mods:
            self.append(m)

    def append(self, m):
        setattr(self, str(len(self._modules)), m)
        return self

    def __getitem__(self, i):
        return list(self._modules.values())[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class Identity(Module):
    def forward(self, x):
        return x


# ----------------------------------------------------------------- dense
class Linear(Module):
    """y = x W^T + b. x (..., in_features) -> (..., out_features). torch.nn.Linear."""

    def __init__(self, in_features, out_features, bias=True, dtype=np.float32):
        super().__init__()
        self.in_features = _pos_int("in_features", in_features, "Linear")
        self.out_features = _pos_int("out_features", out_features, "Linear")
        self.weight = Parameter(np.empty((out_features, in_features), dtype))
        self.bias = Parameter(np.empty(out_features, dtype)) if bias else None
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if bias:
            b = 1 / math.sqrt(in_features)
            init.uniform_(self.bias, -b, b)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Flatten(Module):
    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return ag.flatten(x, self.start_dim, self.end_dim)


class Unflatten(Module):
    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim, self.size = dim, tuple(unflattened_size)

    def forward(self, x):
        d = self.dim % x.ndim
        return x.reshape(x.shape[:d] + self.size + x.shape[d + 1:])


class Dropout(Module):
    def __init__(self, p=0.5):
        super().__init__()
        self.p = _prob("p", p, "Dropout")

    def forward(self, x):
        return F.dropout(x, self.p, self.training)


# ------------------------------------------------------------ activations
class ReLU(Module):
    def __init__(self, inplace=False):
        super().__init__()

    def forward(self, x):
        return ag.relu(x)


class LeakyReLU(Module):
    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)


class Sigmoid(Module):
    def forward(self, x):
        return ag.sigmoid(x)


class Tanh(Module):
    def forward(self, x):
        return ag.tanh(x)


class GELU(Module):
    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, self.approximate)


class Softmax(Module):
    def __init__(self, dim=-1):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, x):
        return ag.softmax(x, self.dim)


class LogSoftmax(Softmax):
    def forward(self, x):
        return ag.log_softmax(x, self.dim)


# ------------------------------------------------------------------ conv
def _conv_padding(padding, layer):
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(f"{layer}: padding must be an int, a pair, 'same' or 'valid', got {padding!r}")
        return padding
    return _pair_arg("padding", padding, layer, allow_zero=True)


class Conv2d(Module):
    """x (N, C, H, W) -> (N, K, P, Q). weight (K, C/groups, R, S). torch.nn.Conv2d."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", dtype=np.float32):
        super().__init__()
        L = "Conv2d"
        self.in_channels = _pos_int("in_channels", in_channels, L)
        self.out_channels = _pos_int("out_channels", out_channels, L)
        self.kernel_size = _pair_arg("kernel_size", kernel_size, L)
        self.stride = _pair_arg("stride", stride, L)
        self.padding = _conv_padding(padding, L)
        self.dilation = _pair_arg("dilation", dilation, L)
        self.groups = _pos_int("groups", groups, L)
        if padding_mode != "zeros":
            raise ValueError(f"{L}: only padding_mode='zeros' is supported, got {padding_mode!r}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{L}: in_channels ({in_channels}) and out_channels ({out_channels}) must be divisible "
                             f"by groups ({groups})")
        if self.padding == "same" and self.stride != (1, 1):
            raise ValueError(f"{L}: padding='same' needs stride 1, got {self.stride}")
        self.weight = Parameter(np.empty((out_channels, in_channels // groups) + self.kernel_size, dtype))
        self.bias = Parameter(np.empty(out_channels, dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init.calculate_fan_in_and_fan_out(self.weight)
            init.uniform_(self.bias, -1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in))

    def forward(self, x):
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}")


class ConvTranspose2d(Module):
    """x (N, C, H, W) -> (N, K, P, Q). weight (C, K/groups, R, S). torch.nn.ConvTranspose2d."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", dtype=np.float32):
        super().__init__()
        L = "ConvTranspose2d"
        self.in_channels = _pos_int("in_channels", in_channels, L)
        self.out_channels = _pos_int("out_channels", out_channels, L)
        self.kernel_size = _pair_arg("kernel_size", kernel_size, L)
        self.stride = _pair_arg("stride", stride, L)
        self.padding = _pair_arg("padding", padding, L, allow_zero=True)
        self.output_padding = _pair_arg("output_padding", output_padding, L, allow_zero=True)
        self.dilation = _pair_arg("dilation", dilation, L)
        self.groups = _pos_int("groups", groups, L)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{L}: in_channels ({in_channels}) and out_channels ({out_channels}) must be divisible "
                             f"by groups ({groups})")
        if any(op >= max(s, d) for op, s, d in zip(self.output_padding, self.stride, self.dilation)):
            raise ValueError(f"{L}: output_padding {self.output_padding} must be smaller than stride {self.stride} "
                             f"or dilation {self.dilation}")
        self.weight = Parameter(np.empty((in_channels, out_channels // groups) + self.kernel_size, dtype))
        self.bias = Parameter(np.empty(out_channels, dtype)) if bias else None
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if bias:
            fan_in, _ = init.calculate_fan_in_and_fan_out(self.weight)
            init.uniform_(self.bias, -1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in))

    def forward(self, x):
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding, self.output_padding,
                                  self.groups, self.dilation)


class MaxPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        L = "MaxPool2d"
        self.kernel_size = _pair_arg("kernel_size", kernel_size, L)
        self.stride = self.kernel_size if stride is None else _pair_arg("stride", stride, L)
        self.padding = _pair_arg("padding", padding, L, allow_zero=True)
        self.dilation = _pair_arg("dilation", dilation, L)
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size)):
            raise ValueError(f"{L}: padding {self.padding} must be at most half of kernel_size {self.kernel_size}")
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                            self.return_indices)


class AvgPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__()
        L = "AvgPool2d"
        self.kernel_size = _pair_arg("kernel_size", kernel_size, L)
        self.stride = self.kernel_size if stride is None else _pair_arg("stride", stride, L)
        self.padding = _pair_arg("padding", padding, L, allow_zero=True)
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size)):
            raise ValueError(f"{L}: padding {self.padding} must be at most half of kernel_size {self.kernel_size}")
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)


class AdaptiveAvgPool2d(Module):
    def __init__(self, output_size):
        super().__init__()
        t = (output_size, output_size) if not isinstance(output_size, (tuple, list)) else tuple(output_size)
        if len(t) != 2 or any(v is not None and (not isinstance(v, (int, np.integer)) or v < 1) for v in t):
            raise ValueError(f"AdaptiveAvgPool2d: output_size must be a positive int or pair, got {output_size!r}")
        self.output_size = t

    def forward(self, x):
        size = tuple(x.shape[2 + i] if v is None else v for i, v in enumerate(self.output_size))
        return F.adaptive_avg_pool2d(x, size)


# ------------------------------------------------------- embedding and norms
class Embedding(Module):
    """int indices (...) -> (..., embedding_dim); weight ~ N(0, 1). torch.nn.Embedding."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, dtype=np.float32):
        super().__init__()
        self.num_embeddings = _pos_int("num_embeddings", num_embeddings, "Embedding")
        self.embedding_dim = _pos_int("embedding_dim", embedding_dim, "Embedding")
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} out of range for {num_embeddings} embeddings")
            padding_idx %= num_embeddings
        self.padding_idx = padding_idx
        self.weight = Parameter(np.empty((num_embeddings, embedding_dim), dtype))
        init.normal_(self.weight)
        if padding_idx is not None:
            self.weight.data[padding_idx] = 0

    def forward(self, idx):
        return F.embedding(idx, self.weight, self.padding_idx)


class _BatchNorm(Module):
    _dims = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 dtype=np.float32):
        super().__init__()
        self.num_features = _pos_int("num_features", num_features, type(self).__name__)
        self.eps, self.momentum = float(eps), float(momentum)
        self.affine, self.track_running_stats = affine, track_running_stats
        self.weight = Parameter(np.ones(num_features, dtype)) if affine else None
        self.bias = Parameter(np.zeros(num_features, dtype)) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dtype)))
            self.register_buffer("num_batches_tracked", Tensor(np.zeros((), np.int64)))
        else:
            self.running_mean = self.running_var = None

    def forward(self, x):
        if x.ndim not in self._dims or x.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}: expected input of {self._dims} dims with "
                             f"{self.num_features} channels on axis 1, got shape {x.shape}")
        use_batch = self.training or not self.track_running_stats
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data += 1
        return F.batch_norm(x, self.running_mean if self.training else self.running_mean,
                            self.running_var, self.weight, self.bias, use_batch, self.momentum, self.eps)


class BatchNorm1d(_BatchNorm):
    """x (N, C) or (N, C, L), per-channel statistics. torch.nn.BatchNorm1d."""
    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """x (N, C, H, W), per-channel statistics. torch.nn.BatchNorm2d."""
    _dims = (4,)


class LayerNorm(Module):
    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, dtype=np.float32):
        super().__init__()
        shp = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)
        for s in shp:
            _pos_int("normalized_shape", s, "LayerNorm")
        self.normalized_shape, self.eps = shp, float(eps)
        self.weight = Parameter(np.ones(shp, dtype)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(shp, dtype)) if elementwise_affine and bias else None

    def forward(self, x):
        if x.shape[x.ndim - len(self.normalized_shape):] != self.normalized_shape:
            raise ValueError(f"LayerNorm: input shape {x.shape} does not end with {self.normalized_shape}")
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)


# -------------------------------------------------------------------- rnn
class _RNNBase(Module):
    _gates = 0
    _name = ""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, dtype=np.float32):
        super().__init__()
        L = self._name
        self.input_size = _pos_int("input_size", input_size, L)
        self.hidden_size = _pos_int("hidden_size", hidden_size, L)
        self.num_layers = _pos_int("num_layers", num_layers, L)
        self.dropout = _prob("dropout", dropout, L)
        self.bias, self.batch_first, self.bidirectional = bias, batch_first, bidirectional
        nd = 2 if bidirectional else 1
        k = 1 / math.sqrt(hidden_size)
        G = self._gates * hidden_size
        for layer in range(num_layers):
            for d in range(nd):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                isz = input_size if layer == 0 else hidden_size * nd
                names = [("weight_ih" + sfx, (G, isz)), ("weight_hh" + sfx, (G, hidden_size))]
                if bias:
                    names += [("bias_ih" + sfx, (G,)), ("bias_hh" + sfx, (G,))]
                for name, shp in names:
                    setattr(self, name, Parameter(np.empty(shp, dtype)))
                    init.uniform_(getattr(self, name), -k, k)

    def _weights(self, layer, d):
        sfx = f"_l{layer}" + ("_reverse" if d else "")
        w = [getattr(self, "weight_ih" + sfx), getattr(self, "weight_hh" + sfx)]
        return w + ([getattr(self, "bias_ih" + sfx), getattr(self, "bias_hh" + sfx)] if self.bias else [None, None])

    def forward(self, input, hx=None):
        """input (T, B, I) [(B, T, I) if batch_first] -> output (T, B, D*H), h_n (L*D, B, H) [, c_n]."""
        x = ag._t(input)
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            raise ValueError(f"{self._name}: input must be (T, B, {self.input_size}) "
                             f"{'(batch_first) ' if self.batch_first else ''}or unbatched, got {x.shape}")
        unbatched = x.ndim == 2
        if unbatched:
            x = x.unsqueeze(1)
        elif self.batch_first:
            x = x.permute(1, 0, 2)
        B = x.shape[1]
        nd = 2 if self.bidirectional else 1
        lstm = self._gates == 4
        if hx is None:
            z = Tensor(np.zeros((self.num_layers * nd, B, self.hidden_size), x.dtype))
            hx = (z, z) if lstm else z
        h0s = hx[0] if lstm else hx
        c0s = hx[1] if lstm else None
        if unbatched:
            h0s = h0s.unsqueeze(1)
            c0s = c0s.unsqueeze(1) if lstm else None
        hn, cn = [], []
        for layer in range(self.num_layers):
            outs = []
            for d in range(nd):
                xi = x[::-1] if d else x
                w = self._weights(layer, d)
                i = layer * nd + d
                if lstm:
                    y, h, c = F.lstm(xi, h0s[i], c0s[i], *w)
                    cn.append(c)
                else:
                    y, h = F.gru(xi, h0s[i], *w)
                hn.append(h)
                outs.append(y[::-1] if d else y)
            x = outs[0] if nd == 1 else ag.cat(outs, axis=2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        if unbatched:
            out = x[:, 0]
        else:
            out = x.permute(1, 0, 2) if self.batch_first else x
        h_n = ag.stack(hn, axis=0)
        if unbatched:
            h_n = h_n[:, 0]
        if lstm:
            c_n = ag.stack(cn, axis=0)
            return out, (h_n, c_n[:, 0] if unbatched else c_n)
        return out, h_n


class LSTM(_RNNBase):
    """Multi-layer (bi)directional LSTM on the sequence kernel `ops.lstm`. torch.nn.LSTM."""
    _gates, _name = 4, "LSTM"


class GRU(_RNNBase):
    """Multi-layer (bi)directional GRU on the sequence kernel `ops.gru`. torch.nn.GRU."""
    _gates, _name = 3, "GRU"


class _CellBase(Module):
    _gates = 0

    def __init__(self, input_size, hidden_size, bias=True, dtype=np.float32):
        super().__init__()
        L = type(self).__name__
        self.input_size = _pos_int("input_size", input_size, L)
        self.hidden_size = _pos_int("hidden_size", hidden_size, L)
        G, k = self._gates * hidden_size, 1 / math.sqrt(hidden_size)
        self.weight_ih = Parameter(np.empty((G, input_size), dtype))
        self.weight_hh = Parameter(np.empty((G, hidden_size), dtype))
        self.bias_ih = Parameter(np.empty(G, dtype)) if bias else None
        self.bias_hh = Parameter(np.empty(G, dtype)) if bias else None
        for p in self.parameters():
            init.uniform_(p, -k, k)


class LSTMCell(_CellBase):
    """(x (B, I), (h, c) (B, H)) -> (h1, c1); one step of the sequence kernel. torch.nn.LSTMCell."""
    _gates = 4

    def forward(self, input, hx=None):
        x = ag._t(input)
        if hx is None:
            z = Tensor(np.zeros((x.shape[0], self.hidden_size), x.dtype))
            hx = (z, z)
        _, h, c = F.lstm(x.unsqueeze(0), hx[0], hx[1], self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return h, c


class GRUCell(_CellBase):
    """(x (B, I), h (B, H)) -> h1; one step of the sequence kernel. torch.nn.GRUCell."""
    _gates = 3

    def forward(self, input, hx=None):
        x = ag._t(input)
        if hx is None:
            hx = Tensor(np.zeros((x.shape[0], self.hidden_size), x.dtype))
        _, h = F.gru(x.unsqueeze(0), hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return h


# --------------------------------------------------------------- attention
class MultiheadAttention(Module):
    """torch.nn.MultiheadAttention (same parameter names). query (L, B, E) [(B, L, E) if
    batch_first]; attn_mask / key_padding_mask: bool True = masked out, or additive float.
    Returns (output, weights averaged over heads, or None when need_weights=False)."""

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, batch_first=False, dtype=np.float32):
        super().__init__()
        L = "MultiheadAttention"
        self.embed_dim = _pos_int("embed_dim", embed_dim, L)
        self.num_heads = _pos_int("num_heads", num_heads, L)
        if embed_dim % num_heads:
            raise ValueError(f"{L}: embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
        self.dropout = _prob("dropout", dropout, L)
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        self.in_proj_weight = Parameter(np.empty((3 * embed_dim, embed_dim), dtype))
        init.xavier_uniform_(self.in_proj_weight)
        self.in_proj_bias = Parameter(np.zeros(3 * embed_dim, dtype)) if bias else None
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype)
        if bias:
            init.zeros_(self.out_proj.bias)

    def _mask(self, attn_mask, key_padding_mask, B, L, S, dtype):
        """One additive float mask (B, heads, L, S) or None (torch semantics in, sdpa's out)."""
        m = None
        for mask, shape in ((attn_mask, None), (key_padding_mask, (B, 1, 1, S))):
            if mask is None:
                continue
            a = ag._as_data(mask)
            if shape is None and a.ndim == 3:
                a = a.reshape(B, self.num_heads, L, S)
            elif shape is not None:
                a = a.reshape(shape)
            a = np.where(a, -np.inf, 0.0).astype(dtype) if a.dtype == bool else a.astype(dtype)
            m = a if m is None else m + a
        if m is None:
            return None
        return np.ascontiguousarray(np.broadcast_to(m, (B, self.num_heads, L, S)))

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        q, k, v = ag._t(query), ag._t(key), ag._t(value)
        if not self.batch_first:
            q, k, v = q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)
        B, L, E = q.shape
        S = k.shape[1]
        if E != self.embed_dim:
            raise ValueError(f"MultiheadAttention: query has {E} features, expected embed_dim {self.embed_dim}")
        w, b = self.in_proj_weight, self.in_proj_bias
        bs = (None, None, None) if b is None else (b[:E], b[E:2 * E], b[2 * E:])
        h, D = self.num_heads, self.head_dim

        def heads(t, wi, bi, n):
            return F.linear(t, wi, bi).reshape(B, n, h, D).transpose(1, 2)
        qh = heads(q, w[:E], bs[0], L)
        kh = heads(k, w[E:2 * E], bs[1], S)
        vh = heads(v, w[2 * E:], bs[2], S)
        mask = self._mask(attn_mask, key_padding_mask, B, L, S, q.dtype)
        if is_causal and mask is None:
            mask = np.ascontiguousarray(np.broadcast_to(
                np.where(np.tril(np.ones((L, S), bool)), 0.0, -np.inf).astype(q.dtype), (B, h, L, S)))
        weights = None
        if (self.dropout and self.training) or need_weights:
            s = (qh @ kh.transpose(-1, -2)) * (1.0 / math.sqrt(D))
            if mask is not None:
                s = s + Tensor(mask)
            p = ag.softmax(s, -1)
            weights = p.detach()
            if average_attn_weights:
                weights = weights.mean(axis=1)
            o = F.dropout(p, self.dropout, self.training) @ vh
        else:
            o = F.scaled_dot_product_attention(qh, kh, vh, attn_mask=mask)
        o = self.out_proj(o.transpose(1, 2).reshape(B, L, E))
        if not self.batch_first:
            o = o.transpose(0, 1)
        return o, weights


class TransformerEncoderLayer(Module):
    """Self-attention + feed-forward block (post-norm by default). torch.nn.TransformerEncoderLayer."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu", layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, dtype=np.float32):
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation(activation, "TransformerEncoderLayer")

    def _sa(self, x, mask, kpm, is_causal):
        return self.dropout1(self.self_attn(x, x, x, attn_mask=mask, key_padding_mask=kpm, need_weights=False,
                                            is_causal=is_causal)[0])

    def _ff(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        x = ag._t(src)
        if self.norm_first:
            x = x + self._sa(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff(self.norm2(x))
        x = self.norm1(x + self._sa(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff(x))


def _activation(activation, layer):
    if activation in ("relu", "gelu"):  # modules, not functions, so the layer pickles
        return ReLU() if activation == "relu" else GELU()
    if callable(activation):
        return activation
    raise ValueError(f"{layer}: activation must be 'relu', 'gelu' or callable, got {activation!r}")


def _clones(layer, n, name):
    import copy
    _pos_int("num_layers", n, name)
    return ModuleList([copy.deepcopy(layer) for _ in range(n)])


class TransformerEncoder(Module):
    """A stack of `num_layers` deep copies of `encoder_layer`, then the optional `norm`.
    src (S, B, E) [(B, S, E) if batch_first] -> same shape. torch.nn.TransformerEncoder."""

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True, mask_check=True):
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers, "TransformerEncoder")
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=bool(is_causal))
        return x if self.norm is None else self.norm(x)


class TransformerDecoderLayer(Module):
    """Self-attention, attention over `memory`, feed-forward (post-norm by default).
    tgt (T, B, E), memory (S, B, E) [batch first if batch_first] -> (T, B, E).
    torch.nn.TransformerDecoderLayer (same parameter names)."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu", layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, dtype=np.float32):
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            dtype=dtype)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1, self.dropout2, self.dropout3 = Dropout(dropout), Dropout(dropout), Dropout(dropout)
        self.activation = _activation(activation, "TransformerDecoderLayer")

    def _sa(self, x, mask, kpm, is_causal):
        return self.dropout1(self.self_attn(x, x, x, attn_mask=mask, key_padding_mask=kpm, need_weights=False,
                                            is_causal=is_causal)[0])

    def _mha(self, x, mem, mask, kpm, is_causal):
        return self.dropout2(self.multihead_attn(x, mem, mem, attn_mask=mask, key_padding_mask=kpm,
                                                 need_weights=False, is_causal=is_causal)[0])

    def _ff(self, x):
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        x, mem = ag._t(tgt), ag._t(memory)
        if self.norm_first:
            x = x + self._sa(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha(self.norm2(x), mem, memory_mask, memory_key_padding_mask, memory_is_causal)
            return x + self._ff(self.norm3(x))
        x = self.norm1(x + self._sa(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
        x = self.norm2(x + self._mha(x, mem, memory_mask, memory_key_padding_mask, memory_is_causal))
        return self.norm3(x + self._ff(x))


class TransformerDecoder(Module):
    """A stack of `num_layers` deep copies of `decoder_layer`, then the optional `norm`.
    torch.nn.TransformerDecoder."""

    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers, "TransformerDecoder")
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        x = tgt
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask, memory_key_padding_mask=memory_key_padding_mask,
                      tgt_is_causal=bool(tgt_is_causal), memory_is_causal=memory_is_causal)
        return x if self.norm is None else self.norm(x)


# ------------------------------------------------------------------ losses
class _Loss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"{type(self).__name__}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        self.reduction = reduction


class CrossEntropyLoss(_Loss):
    """logits (N, C) [or (N, C, d...)], target (N,) class indices or (N, C) probabilities."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__(reduction)
        if not 0 <= label_smoothing <= 1:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1], got {label_smoothing}")
        self.weight = None if weight is None else ag._as_data(weight)
        if self.weight is not None and self.weight.ndim != 1:
            raise ValueError(f"CrossEntropyLoss: weight must be 1-D (C,), got shape {self.weight.shape}")
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input, target):
        try:
            return F.cross_entropy(input, target, self.weight, ignore_index=self.ignore_index,
                                   reduction=self.reduction, label_smoothing=self.label_smoothing)
        except (ValueError, TypeError) as e:
            raise type(e)(str(e).replace("cross_entropy:", "CrossEntropyLoss:", 1)) from None


class NLLLoss(_Loss):
    """log-probabilities (N, C), target (N,) class indices; weight (C,), ignore_index as torch."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean"):
        if isinstance(weight, str):  # NLLLoss("sum"): the reduction, as before weight existed
            weight, reduction = None, weight
        super().__init__(reduction)
        self.weight = None if weight is None else ag._as_data(weight)
        if self.weight is not None and self.weight.ndim != 1:
            raise ValueError(f"NLLLoss: weight must be 1-D (C,), got shape {self.weight.shape}")
        self.ignore_index = ignore_index

    def forward(self, input, target):
        try:
            return F.nll_loss(input, target, self.reduction, weight=self.weight, ignore_index=self.ignore_index)
        except (ValueError, TypeError) as e:
            raise type(e)(str(e).replace("nll_loss:", "NLLLoss:", 1)) from None


class MSELoss(_Loss):
    def forward(self, input, target):
        return F.mse_loss(input, target, self.reduction)


class BCELoss(_Loss):
    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + binary cross-entropy in one stable step; weight (broadcast over the loss) and
    pos_weight (per class, the last axis) as torch.nn.BCEWithLogitsLoss."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean", pos_weight=None):
        if isinstance(weight, str):
            weight, reduction = None, weight
        super().__init__(reduction)
        self.weight, self.pos_weight = weight, pos_weight

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)

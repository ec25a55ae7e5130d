"""Keras layers (the `tf.keras.layers` names) as a thin veneer over `nnkernels.nn`.

Images are channels-last (N, H, W, C); each image layer moves the channels to axis 1,
calls the NCHW module, and moves them back. A layer learns its input shape on the first
call (or from `input_shape=`) and then builds its `nn` module, initialised like Keras
(glorot_uniform kernels, orthogonal recurrent kernels, zero biases, LSTM forget bias 1).
"""
from __future__ import annotations

import itertools
import math
from collections import defaultdict

import numpy as np

from .. import autograd as ag
from .. import nn
from ..autograd import Tensor
from ..nn import functional as F
from ..nn import init

__all__ = ["Layer", "InputLayer", "Input", "KerasTensor", "Dense", "Conv2D", "Conv2DTranspose", "MaxPooling2D",
           "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Flatten", "Reshape", "Embedding",
           "LSTM", "GRU", "Dropout", "BatchNormalization", "LayerNormalization", "LeakyReLU", "ReLU", "Activation",
           "Softmax", "MultiHeadAttention", "Add", "Multiply", "Concatenate", "Dot", "MaxPool2D", "AvgPool2D",
           "Conv1D"]

_counters = defaultdict(itertools.count)


def _snake(name):
    out = "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
    return out.replace("2_d", "2d").replace("1_d", "1d")


# ------------------------------------------------------------------ activations
def _softmax_out(x):
    y = ag.softmax(x, -1)
    y._keras_logits = ("softmax", x)  # lets a cross-entropy loss work from the logits
    return y


def _sigmoid_out(x):
    y = ag.sigmoid(x)
    y._keras_logits = ("sigmoid", x)
    return y


ACTIVATIONS = {
    None: lambda x: x, "linear": lambda x: x, "relu": ag.relu, "sigmoid": _sigmoid_out, "tanh": ag.tanh,
    "softmax": _softmax_out, "log_softmax": lambda x: ag.log_softmax(x, -1), "gelu": F.gelu,
    "leaky_relu": lambda x: F.leaky_relu(x, 0.2), "silu": lambda x: x * ag.sigmoid(x),
    "swish": lambda x: x * ag.sigmoid(x), "softplus": lambda x: ag.log(1 + ag.exp(x)),
    "elu": lambda x: ag.where(x.numpy() > 0, x, ag.exp(ag.clamp(x, None, 0)) - 1),
}


_ELEMENTWISE = {None, "linear", "relu", "sigmoid", "tanh", "gelu", "leaky_relu", "silu", "swish", "softplus", "elu"}


def _act_nchw(act, y):
    """Apply a Keras activation to an NCHW result and return it channels-last. Elementwise
    activations run before the permute, on the kernel's contiguous output, so the next
    image layer gets back a contiguous NCHW array without a copy."""
    if act in _ELEMENTWISE:
        return _nhwc(ACTIVATIONS[act](y))
    return get_activation(act)(_nhwc(y))


def get_activation(act, layer="Activation"):
    if callable(act):
        return act
    if act not in ACTIVATIONS:
        raise ValueError(f"{layer}: unknown activation {act!r} (known: {sorted(k for k in ACTIVATIONS if k)})")
    return ACTIVATIONS[act]


# ------------------------------------------------------------- symbolic tensors
class KerasTensor:
    """A symbolic tensor of the functional API: a shape (batch first, None) and the node
    (layer call) that produces it."""

    def __init__(self, shape, node=None, index=0, dtype="float32", name=None):
        self.shape = (None,) + tuple(shape)
        self.node, self.index, self.dtype, self.name = node, index, dtype, name

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, name={self.name}>"


class Node:
    def __init__(self, layer, args, kwargs):
        self.layer, self.args, self.kwargs = layer, args, kwargs

    def inputs(self):
        return [t for t in _flat(self.args) if isinstance(t, KerasTensor)]


def Input(shape=None, batch_size=None, name=None, dtype="float32"):
    """A symbolic input of per-sample `shape` (no batch axis)."""
    if shape is None or any(s is not None and (not isinstance(s, (int, np.integer)) or s < 1)
                            for s in tuple(shape)):
        raise ValueError(f"Input: shape must be a tuple of positive ints (None for variable length), got {shape!r}")
    return KerasTensor(tuple(shape), dtype=dtype, name=name or f"input_layer_{next(_counters['input'])}")


def _flat(x):
    if isinstance(x, (list, tuple)):
        return [y for e in x for y in _flat(e)]
    return [x]


def _map(fn, x):
    if isinstance(x, (list, tuple)):
        return type(x)(_map(fn, e) for e in x)
    return fn(x)


# ------------------------------------------------------------------ base layer
class Layer(nn.Module):
    """Base Keras layer: `build(input_shape)` once (shape without batch), then `call(inputs)`."""

    def __init__(self, name=None, input_shape=None, input_dim=None, trainable=True, dtype=None, **kwargs):
        super().__init__()
        kwargs.pop("input_length", None)
        kwargs.pop("batch_input_shape", None)
        if kwargs:
            raise ValueError(f"{type(self).__name__}: unexpected argument(s) {sorted(kwargs)}")
        base = _snake(type(self).__name__)
        n = next(_counters[base])
        self.name = name or (base if n == 0 else f"{base}_{n}")
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        self.input_shape_arg = None if input_shape is None else tuple(input_shape)
        self.built = False
        self.trainable = trainable
        self.output_shape = None
        object.__setattr__(self, "training", False)  # Keras layers run in inference mode unless fit() says so

    # -- Keras API
    @property
    def trainable(self):
        return self.__dict__.get("_trainable", True)

    @trainable.setter
    def trainable(self, value):
        """Like Keras, setting it sets every layer inside too. A compiled model trains with the
        values it saw at `compile()` (Model.compile records them), so `d.trainable = False`
        between `d.compile(...)` and `gan.compile(...)` freezes d only inside gan."""
        for m in self.modules():
            if isinstance(m, Layer):
                object.__setattr__(m, "_trainable", bool(value))

    def build(self, input_shape):
        pass

    def call(self, inputs):
        raise NotImplementedError

    @property
    def weights(self):
        return list(self.parameters())

    @property
    def trainable_weights(self):
        return list(self.parameters()) if self.trainable else []

    def count_params(self):
        return int(sum(p.data.size for p in self.parameters()))

    def get_weights(self):
        return [np.array(p.numpy()) for p in self.parameters()]

    def set_weights(self, weights):
        ps = list(self.parameters())
        if len(weights) != len(ps) or any(np.shape(w) != p.shape for w, p in zip(weights, ps)):
            raise ValueError(f"{self.name}.set_weights: expected shapes {[p.shape for p in ps]}, "
                             f"got {[np.shape(w) for w in weights]}")
        for p, w in zip(ps, weights):
            p.data[...] = w

    def _ensure_built(self, shapes):
        if not self.built:
            self.build(shapes)
            self.built = True
            self.train(self.training)
            if not self.trainable:
                self.requires_grad_(False)

    def __call__(self, *args, **kwargs):
        flat = _flat(args)
        if any(isinstance(t, KerasTensor) for t in flat):
            return self._symbolic_call(args, kwargs)
        first = args[0]
        shapes = _map(lambda t: tuple(t.shape[1:]), first)
        self._ensure_built(shapes)
        first = _map(lambda t: t if isinstance(t, Tensor) else Tensor(np.asarray(t)), first)
        return self.call(first, *args[1:], **kwargs)

    def _symbolic_call(self, args, kwargs):
        """Build from the symbolic shapes, run once on a zero batch to learn the output shape."""
        def dummy(t):
            if not isinstance(t, KerasTensor):
                return t
            shape = tuple(1 if s is None else s for s in t.shape[1:])
            return Tensor(np.zeros((2,) + shape, np.float32))
        dargs = _map(dummy, args)
        was = self.training
        self.eval()
        try:
            with ag.no_grad():
                out = self.__call__(*dargs, **kwargs)
        finally:
            self.train(was)
        node = Node(self, args, kwargs)
        outs = out if isinstance(out, (list, tuple)) else [out]
        kts = [KerasTensor(o.shape[1:], node, i, name=f"{self.name}_out{i}") for i, o in enumerate(outs)]
        node.outputs = kts
        self.output_shape = kts[0].shape if len(kts) == 1 else [k.shape for k in kts]
        return kts if isinstance(out, (list, tuple)) else kts[0]

    def extra_repr(self):
        return f"name={self.name}"


class InputLayer(Layer):
    def __init__(self, shape=None, input_shape=None, **kwargs):
        super().__init__(input_shape=shape or input_shape, **kwargs)

    def call(self, x):
        return x


def _check_units(v, name, layer):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"{layer}: {name} must be a positive integer, got {v!r}")
    return int(v)


def _pair(v, name, layer):
    t = (v, v) if isinstance(v, (int, np.integer)) else tuple(v) if isinstance(v, (tuple, list)) else None
    if t is None or len(t) != 2 or any(not isinstance(a, (int, np.integer)) or a < 1 for a in t):
        raise ValueError(f"{layer}: {name} must be a positive int or a pair of them, got {v!r}")
    return tuple(int(a) for a in t)


def _padding(p, layer):
    if not isinstance(p, str) or p.lower() not in ("valid", "same"):
        raise ValueError(f"{layer}: padding must be 'valid' or 'same', got {p!r}")
    return p.lower()


def _same_pads(n, k, s, d=1):
    """Keras/TF 'same': output ceil(n/s), the odd pixel of padding at the end."""
    out = -(-n // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
    return total // 2, total - total // 2


def _nchw(x):
    return x.permute(0, 3, 1, 2)


def _nhwc(x):
    return x.permute(0, 2, 3, 1)


def _glorot(p):
    init.xavier_uniform_(p)


# ------------------------------------------------------------------------ dense
class Dense(Layer):
    """Dense(units, activation=None, use_bias=True): y = act(x @ kernel + bias) on the last axis."""

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.units = _check_units(units, "units", "Dense")
        self.activation = get_activation(activation, "Dense")
        self.use_bias = use_bias

    def build(self, input_shape):
        self.linear = nn.Linear(input_shape[-1], self.units, bias=self.use_bias)
        _glorot(self.linear.weight)
        if self.use_bias:
            init.zeros_(self.linear.bias)

    def call(self, x):
        return self.activation(self.linear(x))


# ------------------------------------------------------------------------- conv
class Conv2D(Layer):
    """Conv2D(filters, kernel_size, strides=1, padding='valid'|'same', dilation_rate=1, activation=None).
    Input (N, H, W, C) -> (N, P, Q, filters)."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None, dilation_rate=(1, 1),
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        L = "Conv2D"
        self.filters = _check_units(filters, "filters", L)
        self.kernel_size = _pair(kernel_size, "kernel_size", L)
        self.strides = _pair(strides, "strides", L)
        self.padding = _padding(padding, L)
        self.dilation_rate = _pair(dilation_rate, "dilation_rate", L)
        self.groups = _check_units(groups, "groups", L)
        if data_format not in (None, "channels_last"):
            raise ValueError(f"{L}: only data_format='channels_last' is supported, got {data_format!r}")
        if self.filters % self.groups:
            raise ValueError(f"{L}: filters ({filters}) must be divisible by groups ({groups})")
        self.activation = get_activation(activation, L)
        self.act_name = activation
        self.use_bias = use_bias

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"Conv2D: expected input (H, W, C) per sample, got {input_shape}")
        c = input_shape[-1]
        if c % self.groups:
            raise ValueError(f"Conv2D: input channels ({c}) must be divisible by groups ({self.groups})")
        self.conv = nn.Conv2d(c, self.filters, self.kernel_size, self.strides, 0, self.dilation_rate, self.groups,
                              bias=self.use_bias)
        _glorot(self.conv.weight)
        if self.use_bias:
            init.zeros_(self.conv.bias)

    def call(self, x):
        x = _nchw(x)
        if self.padding == "same":
            (t, b), (l, r) = (_same_pads(n, k, s, d) for n, k, s, d in
                              zip(x.shape[2:], self.kernel_size, self.strides, self.dilation_rate))
            if t == b and l == r:
                return _act_nchw(self.act_name, F.conv2d(x, self.conv.weight, self.conv.bias, self.strides, (t, l),
                                                         self.dilation_rate, self.groups))
            x = F.pad(x, (l, r, t, b))
        return _act_nchw(self.act_name, self.conv(x))


class Conv1D(Layer):
    """Conv1D(filters, kernel_size, strides=1, padding='valid'|'same'): (N, L, C) -> (N, L', filters)."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", dilation_rate=1, activation=None,
                 use_bias=True, **kwargs):
        super().__init__(**kwargs)
        k = kernel_size[0] if isinstance(kernel_size, (tuple, list)) else kernel_size
        s = strides[0] if isinstance(strides, (tuple, list)) else strides
        d = dilation_rate[0] if isinstance(dilation_rate, (tuple, list)) else dilation_rate
        self.conv2d = Conv2D(filters, (k, 1), (s, 1), padding, dilation_rate=(d, 1), activation=activation,
                             use_bias=use_bias, name=self.name + "_2d")

    def call(self, x):
        return self.conv2d(x.unsqueeze(2))[:, :, 0]


class Conv2DTranspose(Layer):
    """Conv2DTranspose(filters, kernel_size, strides=1, padding='valid'|'same'): output H*s ('same')
    or (H-1)*s + k ('valid'). Input (N, H, W, C) -> (N, P, Q, filters)."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", output_padding=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True, **kwargs):
        super().__init__(**kwargs)
        L = "Conv2DTranspose"
        self.filters = _check_units(filters, "filters", L)
        self.kernel_size = _pair(kernel_size, "kernel_size", L)
        self.strides = _pair(strides, "strides", L)
        self.padding = _padding(padding, L)
        self.dilation_rate = _pair(dilation_rate, "dilation_rate", L)
        self.activation = get_activation(activation, L)
        self.act_name = activation
        self.use_bias = use_bias
        pads, ops = [], []
        for k, s, d in zip(self.kernel_size, self.strides, self.dilation_rate):
            ke = d * (k - 1) + 1
            if self.padding == "valid":
                p, op = 0, 0
            elif ke >= s:
                p = -(-(ke - s) // 2)
                op = 2 * p - (ke - s)
            else:
                p, op = 0, s - ke
            if op and op >= max(s, d):
                raise ValueError(f"{L}: padding='same' with kernel {self.kernel_size} and strides {self.strides} "
                                 "is not supported")
            pads.append(p)
            ops.append(op)
        if output_padding is not None:
            ops = list(_pair(output_padding, "output_padding", L)) if output_padding else [0, 0]
        self.pads, self.ops = tuple(pads), tuple(ops)

    def build(self, input_shape):
        self.conv = nn.ConvTranspose2d(input_shape[-1], self.filters, self.kernel_size, self.strides, self.pads,
                                       self.ops, bias=self.use_bias, dilation=self.dilation_rate)
        _glorot(self.conv.weight)
        if self.use_bias:
            init.zeros_(self.conv.bias)

    def call(self, x):
        return _act_nchw(self.act_name, self.conv(_nchw(x)))


# ---------------------------------------------------------------------- pooling
class MaxPooling2D(Layer):
    """MaxPooling2D(pool_size=(2, 2), strides=None, padding='valid'|'same'), channels-last."""

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = _pair(pool_size, "pool_size", type(self).__name__)
        self.strides = self.pool_size if strides is None else _pair(strides, "strides", type(self).__name__)
        self.padding = _padding(padding, type(self).__name__)

    def _pads(self, x):
        return [_same_pads(n, k, s) for n, k, s in zip(x.shape[2:], self.pool_size, self.strides)]

    def call(self, x):
        x = _nchw(x)
        if self.padding == "same":
            (t, b), (l, r) = self._pads(x)
            x = F.pad(x, (l, r, t, b), value=-np.inf)
        return _nhwc(F.max_pool2d(x, self.pool_size, self.strides))


class AveragePooling2D(MaxPooling2D):
    """AveragePooling2D(pool_size=(2, 2), strides=None, padding='valid'|'same'); 'same' averages
    only the pixels inside the image, like Keras."""

    def call(self, x):
        x = _nchw(x)
        if self.padding == "same":
            (t, b), (l, r) = self._pads(x)
            ones = np.pad(np.ones((1, 1) + x.shape[2:], x.dtype), ((0, 0), (0, 0), (t, b), (l, r)))
            count = F.avg_pool2d(Tensor(ones), self.pool_size, self.strides).data
            return _nhwc(F.avg_pool2d(F.pad(x, (l, r, t, b)), self.pool_size, self.strides) / Tensor(count))
        return _nhwc(F.avg_pool2d(x, self.pool_size, self.strides))


MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D


class GlobalAveragePooling2D(Layer):
    """(N, H, W, C) -> (N, C) (or (N, 1, 1, C) with keepdims=True)."""

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.keepdims = keepdims

    def call(self, x):
        return x.mean(axis=(1, 2), keepdims=self.keepdims)


class GlobalMaxPooling2D(GlobalAveragePooling2D):
    def call(self, x):
        return x.max(axis=(1, 2), keepdims=self.keepdims)


# ---------------------------------------------------------------- shape layers
class Flatten(Layer):
    def call(self, x):
        return x.reshape(x.shape[0], -1)


class Reshape(Layer):
    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(target_shape)
        if sum(1 for s in self.target_shape if s == -1) > 1:
            raise ValueError(f"Reshape: at most one -1 in target_shape, got {target_shape}")

    def build(self, input_shape):
        n, m = int(np.prod(input_shape)), int(np.prod([s for s in self.target_shape if s != -1]))
        if (-1 in self.target_shape and n % m) or (-1 not in self.target_shape and n != m):
            raise ValueError(f"Reshape: cannot reshape {input_shape} to {self.target_shape}")

    def call(self, x):
        return x.reshape((x.shape[0],) + self.target_shape)


class Embedding(Layer):
    """Embedding(input_dim, output_dim): int (N, ...) -> (N, ..., output_dim); uniform(-0.05, 0.05) init."""

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", mask_zero=False, **kwargs):
        super().__init__(**kwargs)
        self.input_dim = _check_units(input_dim, "input_dim", "Embedding")
        self.output_dim = _check_units(output_dim, "output_dim", "Embedding")
        self.embedding = nn.Embedding(self.input_dim, self.output_dim)
        init.uniform_(self.embedding.weight, -0.05, 0.05)

    def call(self, x):
        return self.embedding(x)


# -------------------------------------------------------------------------- rnn
class _RNN(Layer):
    _cls = None

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 return_sequences=False, return_state=False, go_backwards=False, dropout=0.0,
                 recurrent_dropout=0.0, unit_forget_bias=True, reset_after=True, **kwargs):
        super().__init__(**kwargs)
        L = type(self).__name__
        self.units = _check_units(units, "units", L)
        if activation != "tanh" or recurrent_activation != "sigmoid":
            raise ValueError(f"{L}: only activation='tanh', recurrent_activation='sigmoid' are supported "
                             "(the sequence kernels fuse them)")
        if recurrent_dropout:
            raise ValueError(f"{L}: recurrent_dropout is not supported")
        if not reset_after:
            raise ValueError(f"{L}: only reset_after=True (the PyTorch/cuDNN formulation) is supported")
        self.dropout = float(dropout)
        self.use_bias, self.unit_forget_bias = use_bias, unit_forget_bias
        self.return_sequences, self.return_state, self.go_backwards = return_sequences, return_state, go_backwards

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(f"{type(self).__name__}: expected input (timesteps, features) per sample, "
                             f"got {input_shape}")
        self.rnn = self._cls(input_shape[-1], self.units, bias=self.use_bias, batch_first=True)
        for name, p in self.rnn.named_parameters():
            if name.startswith("weight_ih"):
                _glorot(p)
            elif name.startswith("weight_hh"):
                g = p.shape[0] // self.units  # orthogonal per gate block, like Keras' (units, g*units)
                for i in range(g):
                    blk = Tensor(np.empty((self.units, self.units), p.dtype))
                    init.orthogonal_(blk)
                    p.data[i * self.units:(i + 1) * self.units] = blk.data
            else:
                init.zeros_(p)
        if self.use_bias and self.unit_forget_bias and self._cls is nn.LSTM:
            self.rnn.bias_ih_l0.data[self.units:2 * self.units] = 1.0

    def call(self, x, initial_state=None):
        if self.dropout and self.training:
            x = F.dropout(x, self.dropout, True)
        if self.go_backwards:
            x = x[:, ::-1]
        hx = None
        if initial_state is not None:
            st = [s if isinstance(s, Tensor) else Tensor(s) for s in initial_state]
            hx = tuple(s.unsqueeze(0) for s in st) if self._cls is nn.LSTM else st[0].unsqueeze(0)
        y, state = self.rnn(x, hx)
        out = y if self.return_sequences else y[:, -1]
        if not self.return_state:
            return out
        if self._cls is nn.LSTM:
            return [out, state[0][0], state[1][0]]
        return [out, state[0]]


class LSTM(_RNN):
    """LSTM(units, return_sequences=False, return_state=False): (N, T, F) -> (N, units) or (N, T, units)."""
    _cls = nn.LSTM


class GRU(_RNN):
    """GRU(units, ...) with reset_after=True (the PyTorch formulation)."""
    _cls = nn.GRU


# ------------------------------------------------------------- regularisation
class Dropout(Layer):
    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(f"Dropout: rate must be in [0, 1), got {rate!r}")
        self.rate = float(rate)

    def call(self, x):
        return F.dropout(x, self.rate, self.training)


class BatchNormalization(Layer):
    """BatchNormalization(axis=-1, momentum=0.99, epsilon=1e-3) over the channels (last) axis."""

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, **kwargs):
        super().__init__(**kwargs)
        if axis != -1:
            raise ValueError(f"BatchNormalization: only axis=-1 (channels-last) is supported, got {axis!r}")
        if not 0 <= momentum <= 1:
            raise ValueError(f"BatchNormalization: momentum must be in [0, 1], got {momentum!r}")
        self.momentum, self.epsilon, self.center, self.scale = momentum, epsilon, center, scale

    def build(self, input_shape):
        c = input_shape[-1]
        self.bn = nn.BatchNorm1d(c, eps=self.epsilon, momentum=1 - self.momentum)
        if not self.scale:
            self.bn.weight = None
        if not self.center:
            self.bn.bias = None

    def call(self, x):
        if x.ndim == 2:
            return self.bn(x)
        perm = (0, x.ndim - 1) + tuple(range(1, x.ndim - 1))
        inv = (0,) + tuple(range(2, x.ndim)) + (1,)
        y = x.permute(perm)
        y = F.batch_norm(y, self.bn.running_mean, self.bn.running_var, self.bn.weight, self.bn.bias,
                         self.training, self.bn.momentum, self.bn.eps)
        return y.permute(inv)


class LayerNormalization(Layer):
    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, **kwargs):
        super().__init__(**kwargs)
        if axis != -1:
            raise ValueError(f"LayerNormalization: only axis=-1 is supported, got {axis!r}")
        self.epsilon, self.center, self.scale = epsilon, center, scale

    def build(self, input_shape):
        self.norm = nn.LayerNorm(input_shape[-1], eps=self.epsilon, bias=self.center)
        if not self.scale:
            self.norm.weight = None

    def call(self, x):
        return self.norm(x)


# ------------------------------------------------------------------ activations
class Activation(Layer):
    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = get_activation(activation, "Activation")

    def call(self, x):
        return self.activation(x)


class ReLU(Layer):
    def call(self, x):
        return ag.relu(x)


class Softmax(Layer):
    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, x):
        return _softmax_out(x) if self.axis in (-1, x.ndim - 1) else ag.softmax(x, self.axis)


class LeakyReLU(Layer):
    """LeakyReLU(negative_slope=0.3); the Keras 2 name `alpha=` is accepted too."""

    def __init__(self, negative_slope=None, alpha=None, **kwargs):
        super().__init__(**kwargs)
        if negative_slope is not None and alpha is not None:
            raise ValueError("LeakyReLU: give negative_slope or alpha, not both")
        v = 0.3 if negative_slope is None and alpha is None else (negative_slope if alpha is None else alpha)
        if not isinstance(v, (int, float)) or v < 0:
            raise ValueError(f"LeakyReLU: negative_slope must be a non-negative number, got {v!r}")
        self.negative_slope = float(v)

    def call(self, x):
        return F.leaky_relu(x, self.negative_slope)


# -------------------------------------------------------------------- attention
class MultiHeadAttention(Layer):
    """MultiHeadAttention(num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True, output_shape=None).
    layer(query, value, key=None, attention_mask=None) with (N, T, dim) tensors; attention_mask
    (N, T, S) bool, True = attend. Attention itself runs on ops.scaled_dot_product_attention."""

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True, output_shape=None, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = _check_units(num_heads, "num_heads", "MultiHeadAttention")
        self.key_dim = _check_units(key_dim, "key_dim", "MultiHeadAttention")
        self.value_dim = _check_units(value_dim or key_dim, "value_dim", "MultiHeadAttention")
        self.dropout, self.use_bias, self.out_dim = float(dropout), use_bias, output_shape

    def build(self, shapes):
        qs, vs, ks = shapes
        h, kd, vd = self.num_heads, self.key_dim, self.value_dim
        self.query_dense = nn.Linear(qs[-1], h * kd, bias=self.use_bias)
        self.key_dense = nn.Linear(ks[-1], h * kd, bias=self.use_bias)
        self.value_dense = nn.Linear(vs[-1], h * vd, bias=self.use_bias)
        self.output_dense = nn.Linear(h * vd, self.out_dim or qs[-1], bias=self.use_bias)
        for m in (self.query_dense, self.key_dense, self.value_dense, self.output_dense):
            _glorot(m.weight)
            if self.use_bias:
                init.zeros_(m.bias)

    def __call__(self, query, value=None, key=None, **kwargs):
        if value is None:
            raise ValueError("MultiHeadAttention: call it as layer(query, value[, key])")
        if any(isinstance(t, KerasTensor) for t in (query, value, key)):
            return self._symbolic_call((query, value) + ((key,) if key is not None else ()), kwargs)
        k = value if key is None else key
        self._ensure_built((tuple(query.shape[1:]), tuple(value.shape[1:]), tuple(k.shape[1:])))
        return self.call(query, value, key, **kwargs)

    def call(self, query, value, key=None, attention_mask=None, return_attention_scores=False, training=None,
             use_causal_mask=False):
        q, v = ag._t(query), ag._t(value)
        k = v if key is None else ag._t(key)
        B, T, _ = q.shape
        S = k.shape[1]
        h = self.num_heads

        def split(t, lin, n, d):
            return lin(t).reshape(B, n, h, d).transpose(1, 2)
        qh = split(q, self.query_dense, T, self.key_dim)
        kh = split(k, self.key_dense, S, self.key_dim)
        vh = split(v, self.value_dense, S, self.value_dim)
        mask = None
        if attention_mask is not None:
            m = ag._as_data(attention_mask).astype(bool)
            mask = np.ascontiguousarray(np.broadcast_to(m.reshape(B, 1, T, S), (B, h, T, S)))
        if use_causal_mask:
            c = np.broadcast_to(np.tril(np.ones((T, S), bool)), (B, h, T, S))
            mask = np.ascontiguousarray(c if mask is None else mask & c)
        scores = None
        if return_attention_scores or (self.dropout and self.training):
            s = (qh @ kh.transpose(-1, -2)) * (1.0 / math.sqrt(self.key_dim))
            if mask is not None:
                s = s + Tensor(np.where(mask, 0.0, -np.inf).astype(s.dtype))
            p = ag.softmax(s, -1)
            scores = p.detach()
            o = F.dropout(p, self.dropout, self.training) @ vh
        else:
            o = F.scaled_dot_product_attention(qh, kh, vh, attn_mask=mask)
        o = self.output_dense(o.transpose(1, 2).reshape(B, T, h * self.value_dim))
        return [o, scores] if return_attention_scores else o


# ----------------------------------------------------------------------- merges
class _Merge(Layer):
    def __call__(self, inputs, **kwargs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
            raise ValueError(f"{type(self).__name__}: expects a list of at least 2 inputs")
        return super().__call__(list(inputs), **kwargs)


class Add(_Merge):
    def call(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Multiply(_Merge):
    def call(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out


class Concatenate(_Merge):
    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis

    def call(self, xs):
        return ag.cat(xs, axis=self.axis)


class Dot(_Merge):
    """Dot(axes, normalize=False) of two (N, ...) tensors: sums the product over the given axes."""

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        self.axes, self.normalize = axes, normalize

    def call(self, xs):
        a, b = xs
        ax = (self.axes, self.axes) if isinstance(self.axes, int) else tuple(self.axes)
        ax = tuple(x % t.ndim for x, t in zip(ax, (a, b)))
        if self.normalize:
            a = a / ag.sqrt((a * a).sum(axis=ax[0], keepdims=True) + 1e-12)
            b = b / ag.sqrt((b * b).sum(axis=ax[1], keepdims=True) + 1e-12)
        if a.ndim == 2 and b.ndim == 2:
            return (a * b).sum(axis=1, keepdims=True)
        # batched matmul: move the contracted axes to the inner positions
        a2 = a if ax[0] == a.ndim - 1 else a.transpose(ax[0], a.ndim - 1)
        b2 = b if ax[1] == 1 else b.transpose(ax[1], 1)
        return a2 @ b2

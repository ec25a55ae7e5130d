"""The Keras layer machinery: `Layer` (build / call / add_weight / weights), symbolic
`Input`s of the functional API, activations and the shape helpers the layer families share.

Images are channels-last (N, H, W, C); image layers move the channels to axis 1, call the
NCHW kernels and move them back. A layer builds on its first call (or from `input_shape=`)
with the input's full shape (batch axis first). Weights are seen in Keras's layout and order
(`weights`, `get_weights`, `set_weights`, `.kernel`/`.bias`), whatever layout the nnkernels
module underneath uses.
"""
from __future__ import annotations

import inspect
import itertools
import re
from collections import defaultdict

import numpy as np

from ... import autograd as ag
from ... import nn
from ...autograd import Tensor
from ...nn import functional as F
from ...nn import init
from .. import initializers

__all__ = ["Layer", "InputLayer", "Input", "KerasTensor", "Variable"]

_counters = defaultdict(itertools.count)


def _snake(name):
    """Keras's default layer names: 'BatchNormalization' -> 'batch_normalization', 'LSTM' -> 'lstm'."""
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


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
    "leaky_relu": lambda x: F.leaky_relu(x, 0.2), "silu": F.silu, "swish": F.silu,
    "softplus": lambda x: ag.log(1 + ag.exp(x)),
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
    if isinstance(x, dict):
        return [y for e in x.values() for y in _flat(e)]
    if isinstance(x, (list, tuple)):
        return [y for e in x for y in _flat(e)]
    return [x]


def _map(fn, x):
    if isinstance(x, dict):
        return {k: _map(fn, v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_map(fn, e) for e in x)
    return fn(x)


# ---------------------------------------------------------------------- weights
class Variable(nn.Parameter):
    """A Keras weight: a Tensor with `name`, `path`, `trainable`, `assign(value)`. Weights a
    layer keeps in another layout underneath (a Conv2D's NCHW kernel) are shown through a
    Variable over a view (writes go through) or a copy (RNN gate blocks; use set_weights)."""

    def __init__(self, data, name="variable", trainable=True, path=None):
        super().__init__(data, requires_grad=trainable)
        self.name, self.trainable, self.path = name, bool(trainable), path or name

    def assign(self, value):
        v = ag._move(ag._as_data(value), self.device)
        if v.shape != self.shape:
            raise ValueError(f"Variable {self.path}.assign: expected shape {self.shape}, got {v.shape}")
        self.data[...] = v
        return self

    def __repr__(self):
        return f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}>"


def _recording(init):
    """Wrap a layer class's __init__ so the outermost call keeps (init, args, kwargs)."""
    def __init__(self, *args, **kwargs):
        if "_init_record" not in self.__dict__:
            object.__setattr__(self, "_init_record", (init, args, kwargs))
        init(self, *args, **kwargs)
    __init__.__doc__, __init__.__wrapped__ = init.__doc__, init
    return __init__


def _accepts(fn, name):
    try:
        ps = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in ps or any(p.kind is p.VAR_KEYWORD for p in ps.values())


# ------------------------------------------------------------------ base layer
class Layer(nn.Module):
    """Base Keras layer: `build(input_shape)` once (the full shape, batch axis first), then
    `call(inputs, training=None)`; `add_weight` creates weights inside `build`."""

    def __init__(self, name=None, input_shape=None, input_dim=None, trainable=True, dtype=None, **kwargs):
        super().__init__()
        kwargs.pop("input_length", None)
        kwargs.pop("batch_input_shape", None)
        kwargs.pop("autocast", None)
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
        object.__setattr__(self, "_added", [])
        object.__setattr__(self, "training", False)  # Keras layers run in inference mode unless fit() says so

    def __init_subclass__(cls, **kwargs):
        """Each layer class records the arguments it was made with (its config, for model.save)."""
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _recording(cls.__init__)

    def get_config(self):
        """The constructor arguments this layer was made with (its current name included)."""
        rec = self.__dict__.get("_init_record")
        if rec is None:
            return {"name": self.name, "trainable": self.trainable}
        init, args, kwargs = rec
        bound = inspect.signature(init).bind(self, *args, **kwargs)
        cfg = {}
        for k, v in list(bound.arguments.items())[1:]:
            if inspect.signature(init).parameters[k].kind is inspect.Parameter.VAR_KEYWORD:
                cfg.update(v)
            elif inspect.signature(init).parameters[k].kind is not inspect.Parameter.VAR_POSITIONAL:
                cfg[k] = v
        cfg["name"] = self.name
        if not self.trainable:
            cfg["trainable"] = False
        return cfg

    @classmethod
    def from_config(cls, config):
        return cls(**config)

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
        raise NotImplementedError(f"{type(self).__name__}: Layer subclasses must define call(self, inputs)")

    def add_weight(self, shape=None, initializer="glorot_uniform", dtype=None, trainable=True, name=None,
                   regularizer=None, constraint=None, **kwargs):
        """A new weight of `shape`, initialised by `initializer` (a name, an initializer object
        or a callable(shape, dtype)); trainable ones are trained by fit."""
        shape = () if shape is None else tuple(int(s) for s in shape)
        value = initializers.get(initializer)(shape, dtype or "float32")
        name = name or f"variable_{len(self._added)}"
        v = Variable(np.asarray(value, dtype or np.float32).reshape(shape), name, trainable, f"{self.name}/{name}")
        self._added.append(v)
        nn.Module.__setattr__(self, f"_weight_{len(self._added) - 1}_{name}", v)
        return v

    def _own_weights(self):
        """This layer's own weights (not its sublayers'), as Variables in Keras's order."""
        return [v for v in self._added if v.trainable] + [v for v in self._added if not v.trainable]

    def _set_own_weights(self, arrays):
        for v, a in zip(self._own_weights(), arrays):
            v.data[...] = a

    def _sublayers(self):
        return [m for m in self.children() if isinstance(m, Layer)]

    def _weight_tree(self):
        """[(layer, its own weights)] for this layer and every sublayer, in Keras's order."""
        out, seen = [], set()

        def walk(layer):
            if id(layer) in seen:
                return
            seen.add(id(layer))
            out.append((layer, layer._own_weights()))
            for sub in layer._sublayers():
                walk(sub)
        walk(self)
        return out

    @property
    def weights(self):
        return [v for _, ws in self._weight_tree() for v in ws]

    @property
    def trainable_weights(self):
        if not self.trainable:
            return []
        return [v for layer, ws in self._weight_tree() if layer.trainable for v in ws if v.trainable]

    @property
    def non_trainable_weights(self):
        if not self.trainable:
            return self.weights
        return [v for layer, ws in self._weight_tree() for v in ws if not (layer.trainable and v.trainable)]

    @property
    def variables(self):
        return self.weights

    def count_params(self):
        return int(sum(v.data.size for v in self.weights))

    def get_weights(self):
        """The weights as NumPy arrays, in Keras's order and layout (Dense kernel (in, units), ...)."""
        return [np.array(v.numpy()) for v in self.weights]

    def set_weights(self, weights):
        tree = self._weight_tree()
        want = [tuple(v.shape) for _, ws in tree for v in ws]
        got = [tuple(np.shape(w)) for w in weights]
        if want != got:
            raise ValueError(f"{self.name}.set_weights: expected {len(want)} arrays of shapes {want}, "
                             f"got {len(got)} of shapes {got}")
        i = 0
        for layer, ws in tree:
            if ws:
                layer._load_own_weights(weights[i:i + len(ws)])
                i += len(ws)

    def _load_own_weights(self, arrays):
        """_set_own_weights with `arrays` (NumPy, lists) moved to where this layer's weights are."""
        p = next(iter(self.parameters()), None)
        dev = ag.device("cpu") if p is None else p.device
        self._set_own_weights([ag._move(ag._as_data(a), dev) for a in arrays])

    def _ensure_built(self, shapes):
        if not self.built:
            self.build(shapes)
            self.built = True
            self.train(self.training)
            if not self.trainable:
                self.requires_grad_(False)

    def __call__(self, *args, training=None, **kwargs):
        flat = _flat(args)
        if any(isinstance(t, KerasTensor) for t in flat):
            return self._symbolic_call(args, kwargs)
        first = _map(lambda t: t if isinstance(t, Tensor) else Tensor(np.asarray(t)), args[0])
        self._ensure_built(_map(lambda t: tuple(t.shape), first))
        if training is not None and bool(training) != self.training:
            was = self.training
            self.train(bool(training))
            try:
                return self._run_call(first, args[1:], kwargs)
            finally:
                self.train(was)
        return self._run_call(first, args[1:], kwargs)

    def _run_call(self, first, rest, kwargs):
        if "training" not in kwargs and _accepts(self.call, "training"):
            kwargs = dict(kwargs, training=self.training)
        out = self.call(first, *rest, **kwargs)
        o = out[0] if isinstance(out, (list, tuple)) and out else out
        if isinstance(o, Tensor) and o.ndim:
            self.output_shape = (None,) + tuple(o.shape[1:])
        return out

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




def _view(layer, name, data, trainable=True):
    """A Variable over `data` (a view of the layer's own storage, or a copy) named like Keras's."""
    return Variable(data, name, trainable, f"{layer.name}/{name}")

"""The Tensor core of the autograd: the Tensor (an array plus the graph that produced it),
grad mode, the graph walk of `backward()`, and the elementwise, reduction, shape and
creation ops written as small closures (`_make(out, parents, backward)`, backward right
next to the forward). The kernel-backed ops are `Function`s in the family modules of
this package; a Tensor's array is NumPy on the CPU or CuPy on CUDA (`Tensor.to`).
"""
from __future__ import annotations

import contextlib
import threading

import numpy as np

from ..ops._common import is_cupy

__all__ = ["Tensor", "tensor", "from_numpy", "no_grad", "enable_grad", "is_grad_enabled",
           "set_grad_enabled", "cat", "stack", "zeros", "ones", "zeros_like", "ones_like",
           "randn", "rand", "arange", "full", "manual_seed", "float32", "float64", "int64", "long",
           "exp", "log", "sqrt", "var", "std", "abs", "maximum", "where", "argmax", "flatten", "clamp", "device", "save",
           "load", "queue_callback"]

float32 = np.float32
float64 = np.float64
int64 = long = np.int64


def array_module(*arrays):
    """numpy, or cupy when any of `arrays` is a CuPy array: the module to compute with so
    the same code runs on either device."""
    for a in arrays:
        if is_cupy(a):
            return _cuda_backend()._cp()
    return np


# ------------------------------------------------------------------ grad mode
_state = threading.local()


def is_grad_enabled() -> bool:
    return getattr(_state, "enabled", True)


class set_grad_enabled(contextlib.ContextDecorator):
    def __init__(self, mode: bool):
        self.mode = bool(mode)

    def __enter__(self):
        self.prev = is_grad_enabled()
        _state.enabled = self.mode

    def __exit__(self, *exc):
        _state.enabled = self.prev
        return False


class no_grad(set_grad_enabled):
    """Context manager / decorator: ops inside record no graph (like torch.no_grad)."""

    def __init__(self):
        super().__init__(False)


class enable_grad(set_grad_enabled):
    def __init__(self):
        super().__init__(True)


# --------------------------------------------------------------------- Tensor
def _as_data(x, dtype=None):
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, np.ndarray) or is_cupy(x):
        return x if dtype is None else x.astype(dtype, copy=False)
    return np.asarray(x, dtype=dtype)


class Tensor:
    """An array plus the graph that produced it. See the module docstring."""

    __array_priority__ = 1000  # numpy scalars/arrays defer to Tensor's reflected ops

    def __init__(self, data, requires_grad=False, dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        if not (isinstance(data, np.ndarray) or is_cupy(data)):
            keep = isinstance(data, np.generic)
            data = np.asarray(data, dtype=dtype)
            if dtype is None and data.dtype == np.float64 and not keep:
                data = data.astype(np.float32)  # Python floats default to float32, like torch
        elif dtype is not None:
            data = data.astype(dtype, copy=False)
        self.data = data
        self.requires_grad = bool(requires_grad)
        self._grad = None
        self._parents = ()
        self._backward = None

    # -- basic properties
    shape = property(lambda self: tuple(self.data.shape))
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    size_ = property(lambda self: self.data.size)
    is_leaf = property(lambda self: self._backward is None)
    # The Function that produced this Tensor (the backward closure for the core ops); None for a leaf.
    grad_fn = property(lambda self: None if self._backward is None else getattr(self, "_fn", self._backward))

    @property
    def device(self):
        """device('cpu') or device('cuda:<index>'), where the array lives."""
        return device(f"cuda:{self.data.device.id}") if is_cupy(self.data) else device("cpu")

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

    def dim(self):
        return self.data.ndim

    def numel(self):
        return int(self.data.size)

    def __len__(self):
        return len(self.data)

    @property
    def grad(self):
        return None if self._grad is None else Tensor(self._grad)

    @grad.setter
    def grad(self, value):
        self._grad = None if value is None else _as_data(value)

    def numpy(self):
        if is_cupy(self.data):
            return self.data.get()
        return self.data

    def item(self):
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def detach(self):
        return Tensor(self.data)

    def clone(self):
        return _make(self.data.copy(), (self,), lambda g: (g,))

    def requires_grad_(self, flag=True):
        self.requires_grad = bool(flag)
        return self

    def zero_(self):
        self.data[...] = 0
        return self

    def to(self, device=None, dtype=None):
        """A Tensor on `device` ('cpu', 'cuda', 'cuda:0', 'auto') and/or of `dtype`; self when
        nothing changes. Differentiable: the gradient moves back to this Tensor's device."""
        t = self
        if isinstance(device, type) or isinstance(device, np.dtype):
            device, dtype = None, device
        if dtype is not None:
            t = t.astype(dtype)
        if device is None:
            return t
        dev = _device_cls(device)
        if dev.type == t.device.type:
            return t
        return _make(_move(t.data, dev), (t,), lambda g, src=t.device: (_move(g, src),))

    def cuda(self):
        return self.to("cuda")

    def cpu(self):
        return self.to("cpu")

    def float(self):
        return self.astype(np.float32)

    def double(self):
        return self.astype(np.float64)

    def long(self):
        return Tensor(self.data.astype(np.int64))

    def astype(self, dtype):
        if self.data.dtype == dtype:
            return self
        src = self.data.dtype
        return _make(self.data.astype(dtype), (self,), lambda g: (g.astype(src),))

    def __repr__(self):
        g = ", requires_grad=True" if self.requires_grad else ""
        return f"tensor({np.array2string(np.asarray(self.numpy()), separator=', ')}{g})"

    def __hash__(self):
        return id(self)

    def __bool__(self):
        return bool(self.data)

    def __float__(self):
        return float(self.data)

    def __int__(self):
        return int(self.data)

    def __dlpack__(self, **kwargs):  # torch.tensor(t) / torch.from_dlpack(t) / np.from_dlpack(t)
        return (self.data if self.data.flags.c_contiguous else self.data.copy()).__dlpack__(**kwargs) if not is_cupy(self.data) \
            else self.data.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self.data.__dlpack_device__()

    def __array__(self, dtype=None, copy=None):
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)

    # -- hooks (torch names; nnkernels.distributed's gradient reducer is the user)
    _hooks = ()  # post-accumulate-grad hooks; a tuple on the instance once one is registered

    def register_post_accumulate_grad_hook(self, hook):
        """Call `hook(self)` each time backward has finished accumulating this leaf's .grad
        (torch.Tensor.register_post_accumulate_grad_hook). Returns a handle with `.remove()`."""
        if not self.is_leaf:
            raise RuntimeError("register_post_accumulate_grad_hook: only leaf tensors accumulate .grad")
        self._hooks = self._hooks + (hook,)
        return _HookHandle(self, hook)

    # -- backward
    def backward(self, gradient=None):
        """Accumulate d(self)/d(leaf) into every leaf's .grad that requires grad."""
        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad and has no graph")
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward: gradient must be given for a non-scalar output of shape {self.shape}")
            gradient = np.ones_like(self.data)
        grads = {id(self): _as_data(gradient, self.dtype)}
        outer, _callbacks.queue = getattr(_callbacks, "queue", None), []
        try:
            self._backward_walk(grads)
            for fn in _callbacks.queue:
                fn()
        finally:
            _callbacks.queue = outer

    def _backward_walk(self, grads):
        for node in reversed(_topo(self)):
            g = grads.pop(id(node), None)
            if g is None:
                continue
            if node._backward is None:
                if node.requires_grad:
                    node._grad = g.copy() if node._grad is None else node._grad + g
                    for hook in node._hooks:  # the leaf's grad is final for this backward
                        hook(node)
                continue
            for p, pg in zip(node._parents, node._backward(g)):
                if pg is None or not p.requires_grad:
                    continue
                if isinstance(pg, _Slot):  # one output of a Function with several: collect them all
                    slots = grads.setdefault(id(p), [None] * p._outputs.n)
                    slots[pg.i] = pg.g if slots[pg.i] is None else slots[pg.i] + pg.g
                    continue
                if pg.shape != p.data.shape:
                    pg = _unbroadcast(pg, p.data.shape)
                if pg.dtype != p.data.dtype:
                    pg = pg.astype(p.data.dtype)
                k = id(p)
                grads[k] = pg if k not in grads else grads[k] + pg

    # -- arithmetic (defined below as functions)
    def __add__(self, o): return add(self, o)
    def __radd__(self, o): return add(o, self)
    def __sub__(self, o): return sub(self, o)
    def __rsub__(self, o): return sub(o, self)
    def __mul__(self, o): return mul(self, o)
    def __rmul__(self, o): return mul(o, self)
    def __truediv__(self, o): return div(self, o)
    def __rtruediv__(self, o): return div(o, self)
    def __pow__(self, o): return pow(self, o)
    def __rpow__(self, o): return pow(o, self)
    def __matmul__(self, o): return matmul(self, o)
    def __rmatmul__(self, o): return matmul(o, self)
    def __neg__(self): return neg(self)
    def __pos__(self): return self
    def __getitem__(self, idx): return getitem(self, idx)

    def __iadd__(self, o):  # in-place on data only (no graph), like updating a buffer
        if self.requires_grad and is_grad_enabled():
            return add(self, o)
        self.data += _as_data(o)
        return self

    # comparisons give boolean tensors without graph
    def __lt__(self, o): return Tensor(self.data < _as_data(o))
    def __le__(self, o): return Tensor(self.data <= _as_data(o))
    def __gt__(self, o): return Tensor(self.data > _as_data(o))
    def __ge__(self, o): return Tensor(self.data >= _as_data(o))
    def __eq__(self, o): return Tensor(self.data == _as_data(o))
    def __ne__(self, o): return Tensor(self.data != _as_data(o))

    # -- methods that forward to the functions below
    def sum(self, axis=None, keepdims=False, dim=None, keepdim=None):
        return sum_(self, _ax(axis, dim), _kd(keepdims, keepdim))

    def mean(self, axis=None, keepdims=False, dim=None, keepdim=None):
        return mean(self, _ax(axis, dim), _kd(keepdims, keepdim))

    def max(self, dim=None, keepdim=False, axis=None, keepdims=False):
        """torch semantics for an int `dim`: (values, indices); otherwise (axis=, tuples, None) the values."""
        if isinstance(dim, (int, np.integer)):
            return MaxResult(max_(self, dim, keepdim), Tensor(_argext(self.data, dim, keepdim, np.argmax)))
        return max_(self, _ax(axis, dim), keepdim or keepdims)

    def min(self, dim=None, keepdim=False, axis=None, keepdims=False):
        if isinstance(dim, (int, np.integer)):
            return MaxResult(-max_(-self, dim, keepdim), Tensor(_argext(self.data, dim, keepdim, np.argmin)))
        return -max_(-self, _ax(axis, dim), keepdim or keepdims)

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None):
        """torch.Tensor.var: unbiased (correction=1) by default; `unbiased=False` or
        `correction=0` gives the biased (population) variance."""
        return var(self, _ax(axis, dim), unbiased, _kd(keepdim, keepdims), correction=correction)

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None):
        """torch.Tensor.std: sqrt of var, unbiased by default."""
        return std(self, _ax(axis, dim), unbiased, _kd(keepdim, keepdims), correction=correction)

    def argmax(self, axis=None, dim=None, keepdim=False):
        return argmax(self, axis, dim, keepdim)

    def reshape(self, *shape):
        return reshape(self, shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape)

    view = reshape

    def flatten(self, start_dim=0, end_dim=-1):
        return flatten(self, start_dim, end_dim)

    def unsqueeze(self, dim):
        d = dim if dim >= 0 else self.ndim + 1 + dim
        return reshape(self, self.shape[:d] + (1,) + self.shape[d:])

    def squeeze(self, dim=None):
        if dim is None:
            return reshape(self, tuple(s for s in self.shape if s != 1))
        d = dim % self.ndim
        return self if self.shape[d] != 1 else reshape(self, self.shape[:d] + self.shape[d + 1:])

    def transpose(self, *axes):
        if len(axes) == 2 and all(isinstance(a, int) for a in axes):
            perm = list(range(self.ndim))
            a, b = axes
            perm[a], perm[b] = perm[b], perm[a]
            return permute(self, perm)
        if len(axes) == 0:
            return permute(self, tuple(reversed(range(self.ndim))))
        return permute(self, axes[0] if len(axes) == 1 else axes)

    def permute(self, *dims):
        return permute(self, dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims)

    @property
    def T(self):
        return permute(self, tuple(reversed(range(self.ndim))))

    def contiguous(self):
        return self

    def expand(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        shape = tuple(s if s != -1 else self.shape[i - len(shape) + self.ndim] for i, s in enumerate(shape))
        return add(self, Tensor(np.zeros(shape, self.dtype)))

    def relu(self): return relu(self)
    def sigmoid(self): return sigmoid(self)
    def tanh(self): return tanh(self)
    def exp(self): return exp(self)
    def log(self): return log(self)
    def sqrt(self): return sqrt(self)
    def abs(self): return abs(self)
    def clamp(self, min=None, max=None): return clamp(self, min, max)
    clip = clamp

    def softmax(self, axis=-1, dim=None):
        return softmax(self, _ax(axis, dim))

    def log_softmax(self, axis=-1, dim=None):
        return log_softmax(self, _ax(axis, dim))

    def __getstate__(self):  # pickling keeps the values, never the graph
        return {"data": self.numpy(), "requires_grad": self.requires_grad, "_grad": self._grad,
                "_parents": (), "_backward": None}

    def __setstate__(self, st):
        self.__dict__.update(st)


class _HookHandle:
    def __init__(self, tensor, hook):
        self.tensor, self.hook = tensor, hook

    def remove(self):
        self.tensor._hooks = tuple(h for h in self.tensor._hooks if h is not self.hook)


_callbacks = threading.local()  # .queue: the callbacks of the backward running in this thread


def queue_callback(fn):
    """Run `fn()` once, when the backward now running in this thread has finished
    (torch's engine.queue_callback). Called from a hook during backward."""
    if getattr(_callbacks, "queue", None) is None:
        raise RuntimeError("queue_callback: no backward is running in this thread")
    _callbacks.queue.append(fn)


class MaxResult(tuple):
    """(values, indices) like torch.return_types.max."""

    def __new__(cls, values, indices):
        return super().__new__(cls, (values, indices))

    values = property(lambda self: self[0])
    indices = property(lambda self: self[1])


def _argext(a, dim, keepdim, fn):
    i = fn(a, axis=dim)
    return np.expand_dims(i, dim) if keepdim else i


def _ax(axis, dim):
    return dim if dim is not None else axis


def _kd(keepdims, keepdim):
    return keepdim if keepdim is not None else keepdims


def _topo(root):
    """Nodes reachable from root, every node after all its parents (iterative post-order DFS)."""
    order, visited, stack = [], set(), [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for p in node._parents:
            if p.requires_grad and id(p) not in visited:
                stack.append((p, False))
    return order


def _unbroadcast(g, shape):
    """Sum g over the axes that broadcasting added or stretched to reach its shape."""
    extra = g.ndim - len(shape)
    if extra > 0:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def _make(data, parents, backward):
    """A new Tensor for `data`; records `backward` when grad mode is on and a parent needs it."""
    out = Tensor(data)
    if is_grad_enabled() and any(p.requires_grad for p in parents):
        out.requires_grad = True
        out._parents = tuple(parents)
        out._backward = backward
    return out


def _t(x, like=None):
    """x as a Tensor; Python scalars take the dtype of `like` (no silent upcast)."""
    if isinstance(x, Tensor):
        return x
    if like is not None and isinstance(x, (int, float, bool, np.number)) and np.issubdtype(like.dtype, np.floating):
        return Tensor(np.asarray(x, like.dtype))
    return Tensor(x)


def tensor(data, requires_grad=False, dtype=None):
    """A new leaf Tensor (copies data). Python floats default to float32, like torch."""
    d = data.data if isinstance(data, Tensor) else data
    arr = d.copy() if isinstance(d, np.ndarray) else d
    return Tensor(arr, requires_grad=requires_grad, dtype=dtype)


def from_numpy(a):
    """A Tensor sharing memory with the NumPy array `a`."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(a).__name__}")
    return Tensor(a)


# --------------------------------------------------------------- elementwise
def add(a, b):
    a, b = _t(a, b if isinstance(b, Tensor) else None), _t(b, a if isinstance(a, Tensor) else None)
    return _make(a.data + b.data, (a, b), lambda g: (g, g))


def sub(a, b):
    a, b = _t(a, b if isinstance(b, Tensor) else None), _t(b, a if isinstance(a, Tensor) else None)
    return _make(a.data - b.data, (a, b), lambda g: (g, -g))


def mul(a, b):
    a, b = _t(a, b if isinstance(b, Tensor) else None), _t(b, a if isinstance(a, Tensor) else None)
    return _make(a.data * b.data, (a, b), lambda g: (g * b.data, g * a.data))


def div(a, b):
    a, b = _t(a, b if isinstance(b, Tensor) else None), _t(b, a if isinstance(a, Tensor) else None)
    out = a.data / b.data
    return _make(out, (a, b), lambda g: (g / b.data, -g * out / b.data))


def pow(a, b):
    a, b = _t(a, b if isinstance(b, Tensor) else None), _t(b, a if isinstance(a, Tensor) else None)
    out = a.data ** b.data

    def backward(g):
        ga = g * b.data * a.data ** (b.data - 1)
        gb = g * out * np.log(np.where(a.data > 0, a.data, 1)) if b.requires_grad else None
        return ga, gb
    return _make(out, (a, b), backward)


def neg(a):
    return _make(-a.data, (a,), lambda g: (-g,))


def exp(a):
    a = _t(a)
    out = np.exp(a.data)
    return _make(out, (a,), lambda g: (g * out,))


def log(a):
    a = _t(a)
    return _make(np.log(a.data), (a,), lambda g: (g / a.data,))


def sqrt(a):
    a = _t(a)
    out = np.sqrt(a.data)
    return _make(out, (a,), lambda g: (g / (2 * out),))


def abs(a):
    a = _t(a)
    return _make(np.abs(a.data), (a,), lambda g: (g * np.sign(a.data),))


def clamp(a, min=None, max=None):
    a = _t(a)
    out = np.clip(a.data, min, max)
    return _make(out, (a,), lambda g: (g * (out == a.data),))


def maximum(a, b):
    a, b = _t(a, b if isinstance(b, Tensor) else None), _t(b, a if isinstance(a, Tensor) else None)
    m = a.data >= b.data
    return _make(np.maximum(a.data, b.data), (a, b), lambda g: (g * m, g * ~m))


def where(cond, a, b):
    c = _as_data(cond).astype(bool)
    a, b = _t(a, b if isinstance(b, Tensor) else None), _t(b, a if isinstance(a, Tensor) else None)
    return _make(np.where(c, a.data, b.data), (a, b), lambda g: (np.where(c, g, 0), np.where(c, 0, g)))


# ------------------------------------------------------------------ reductions
def _norm_axis(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axis = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(a % ndim for a in axis)


def _expand_back(g, shape, axes, keepdims):
    if not keepdims:
        g = np.expand_dims(g, axes)
    return np.broadcast_to(g, shape)


def sum_(a, axis=None, keepdims=False):
    a = _t(a)
    axes = _norm_axis(axis, a.ndim)
    return _make(a.data.sum(axis=axes, keepdims=keepdims), (a,),
                 lambda g: (_expand_back(g, a.shape, axes, keepdims),))


def mean(a, axis=None, keepdims=False):
    a = _t(a)
    axes = _norm_axis(axis, a.ndim)
    n = int(np.prod([a.shape[i] for i in axes])) if axes else 1
    return _make(a.data.mean(axis=axes, keepdims=keepdims), (a,),
                 lambda g: (_expand_back(g / n, a.shape, axes, keepdims),))


def max_(a, axis=None, keepdims=False):
    """Max over axes; the gradient is split evenly between tied maxima."""
    a = _t(a)
    axes = _norm_axis(axis, a.ndim)
    m = a.data.max(axis=axes, keepdims=True)

    def backward(g):
        mask = a.data == m
        g = _expand_back(g, a.shape, axes, keepdims)
        return (g * mask / mask.sum(axis=axes, keepdims=True),)
    return _make(m if keepdims else np.squeeze(m, axis=axes), (a,), backward)


def argmax(a, axis=None, dim=None, keepdim=False):
    axis = _ax(axis, dim)
    i = np.argmax(_as_data(a), axis=axis)
    return Tensor(np.expand_dims(i, axis) if keepdim and axis is not None else i)


def min_(a, axis=None, keepdims=False):
    return -max_(-_t(a), axis, keepdims)


class device(str):
    """A device, like torch.device: 'cpu' or 'cuda[:index]' ('auto': the GPU when one is
    usable, else 'cpu'). A str, so it compares equal to its name; `.type` and `.index`."""

    def __new__(cls, name="cpu"):
        name = str(name)
        if name == "auto":
            from .. import cuda
            name = "cuda" if cuda.is_available() else "cpu"
        kind, _, index = name.partition(":")
        if kind not in ("cpu", "cuda") or (index and not (kind == "cuda" and index.isdigit())):
            raise ValueError(f"device: unknown device {name!r} (expected 'cpu', 'cuda', 'cuda:<index>' or 'auto')")
        self = super().__new__(cls, name)
        self.type, self.index = kind, int(index) if index else None
        return self


_device_cls = device


def _move(a, dev):
    """Array `a` on device `dev` (a copy across devices; CuPy's current device for 'cuda')."""
    if dev.type == "cpu":
        return a if not is_cupy(a) else _cuda_backend()._cp().asnumpy(a)
    from .. import cuda
    cuda.require("Tensor.to('cuda')")
    if dev.index is not None and dev.index != 0:
        raise ValueError(f"Tensor.to: only the current CUDA device is supported here, got {str(dev)!r}")
    return _cuda_backend()._cp().asarray(a)


def _cuda_backend():
    from .. import _cuda_ops
    return _cuda_ops


def save(obj, path):
    """torch.save: write obj to `path` atomically (a temporary file in the same directory renamed
    over `path`, never half-written). A state dict, an optimizer state dict or a nested
    checkpoint (dicts/lists/tuples of Tensors, arrays, numbers, strings) is stored as arrays plus
    a JSON description, no pickle; anything else (a whole Module) is pickled and loads back only
    with load(path, weights_only=False)."""
    from .._io import pack, write_npz
    write_npz(path, pack(obj))


def load(path, map_location=None, weights_only=None):
    """torch.load for files written by nk.save: Tensors come back as Tensors, nested containers
    as they were. A pickled object (a whole Module) needs weights_only=False, as in torch >= 2.6.
    A truncated or corrupt file is a ValueError naming the file."""
    from .._io import read_npz, unpack
    return unpack(read_npz(path, "load"), path, weights_only)


# ---------------------------------------------------------------- shape ops
def var(a, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None):
    """torch.var: sum((a - mean)^2) / (n - correction) over `dim` (all axes when None);
    correction defaults to 1 (unbiased), `unbiased=False` means correction 0."""
    a = _t(a)
    dim, keepdim = _ax(axis, dim), _kd(keepdim, keepdims)
    if correction is None:
        correction = 0 if unbiased is False else 1
    elif unbiased is not None:
        raise ValueError("var: pass either unbiased= or correction=, not both")
    d = a - a.mean(dim, keepdims=True)
    n = int(np.prod([a.shape[i] for i in _norm_axis(dim, a.ndim)]))
    return (d * d).sum(dim, keepdims=keepdim) / max(n - correction, 0)


def std(a, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None):
    """torch.std: the square root of var (unbiased by default)."""
    return sqrt(var(a, dim, unbiased, keepdim, correction=correction, axis=axis, keepdims=keepdims))


def reshape(a, shape):
    a = _t(a)
    shape = tuple(shape) if not isinstance(shape, int) else (shape,)
    return _make(a.data.reshape(shape), (a,), lambda g: (g.reshape(a.shape),))


def flatten(a, start_dim=0, end_dim=-1):
    a = _t(a)
    s, e = start_dim % (a.ndim or 1), end_dim % (a.ndim or 1)
    if a.ndim == 0:
        return reshape(a, (1,))
    return reshape(a, a.shape[:s] + (int(np.prod(a.shape[s:e + 1])),) + a.shape[e + 1:])


def permute(a, axes):
    a = _t(a)
    axes = tuple(int(x) % a.ndim for x in axes)
    inv = tuple(np.argsort(axes))
    return _make(a.data.transpose(axes), (a,), lambda g: (g.transpose(inv),))


def _basic_index(idx):
    idx = idx if isinstance(idx, tuple) else (idx,)
    return all(isinstance(i, (int, np.integer, slice)) or i is None or i is Ellipsis for i in idx)


def getitem(a, idx):
    a = _t(a)
    if isinstance(idx, Tensor):
        idx = idx.data
    elif isinstance(idx, tuple):
        idx = tuple(i.data if isinstance(i, Tensor) else i for i in idx)
    basic = _basic_index(idx)

    def backward(g):
        full = array_module(g).zeros(a.shape, g.dtype)
        if basic:
            full[idx] = g
        else:
            array_module(g).add.at(full, idx, g)
        return (full,)
    return _make(a.data[idx], (a,), backward)


def cat(tensors, axis=0, dim=None):
    """Concatenate along an axis (torch.cat). NumPy arrays in: np.concatenate."""
    axis = _ax(axis, dim)
    if not any(isinstance(t, Tensor) for t in tensors):
        return np.concatenate(tensors, axis=axis)
    ts = [_t(t) for t in tensors]
    ax = axis % ts[0].ndim
    bounds = np.cumsum([t.shape[ax] for t in ts])[:-1]
    return _make(np.concatenate([t.data for t in ts], axis=ax), ts,
                 lambda g: tuple(np.split(g, bounds, axis=ax)))


concatenate = cat


def stack(tensors, axis=0, dim=None):
    """Stack along a new axis (torch.stack). NumPy arrays in: np.stack."""
    axis = _ax(axis, dim)
    if not any(isinstance(t, Tensor) for t in tensors):
        return np.stack(tensors, axis=axis)
    ts = [_t(t) for t in tensors]
    ax = axis % (ts[0].ndim + 1)
    return _make(np.stack([t.data for t in ts], axis=ax), ts,
                 lambda g: tuple(np.moveaxis(g, ax, 0)))


# ---------------------------------------------------------------- creation
_rng = np.random.default_rng()


def manual_seed(seed):
    """Seed the generator behind nk.randn/nk.rand and layer initialisation."""
    global _rng
    _rng = np.random.default_rng(seed)
    return _rng


def get_rng():
    return _rng


def _shape(shape):
    return tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else tuple(shape)


def zeros(*shape, dtype=np.float32, requires_grad=False):
    return Tensor(np.zeros(_shape(shape), dtype), requires_grad)


def ones(*shape, dtype=np.float32, requires_grad=False):
    return Tensor(np.ones(_shape(shape), dtype), requires_grad)


def full(shape, value, dtype=np.float32, requires_grad=False):
    return Tensor(np.full(_shape((shape,)), value, dtype), requires_grad)


def zeros_like(t, dtype=None):
    return Tensor(np.zeros(t.shape, dtype or t.dtype))


def ones_like(t, dtype=None):
    return Tensor(np.ones(t.shape, dtype or t.dtype))


def randn(*shape, dtype=np.float32, requires_grad=False):
    return Tensor(_rng.standard_normal(_shape(shape)).astype(dtype), requires_grad)


def rand(*shape, dtype=np.float32, requires_grad=False):
    return Tensor(_rng.random(_shape(shape)).astype(dtype), requires_grad)


def arange(*args, dtype=None):
    return Tensor(np.arange(*args, dtype=dtype))


# ------------------------------------------------------------ torch tensor idioms
# sin/cos, creation (eye, linspace, randint), mm/bmm, comparisons (allclose, equal),
# masked_fill, topk/sort, chunk/split, norm, repeat; the in-place methods live on Tensor.
class SortResult(MaxResult):
    """(values, indices) like torch.return_types.sort / topk."""


def sin(a):
    a = _t(a)
    return _make(np.sin(a.data), (a,), lambda g: (g * np.cos(a.data),))


def cos(a):
    a = _t(a)
    return _make(np.cos(a.data), (a,), lambda g: (-g * np.sin(a.data),))


def eye(n, m=None, dtype=np.float32, requires_grad=False):
    """torch.eye: (n, m) with ones on the diagonal."""
    return Tensor(np.eye(int(n), None if m is None else int(m), dtype=dtype), requires_grad)


def linspace(start, end, steps, dtype=np.float32, requires_grad=False):
    """torch.linspace: `steps` evenly spaced values from start to end, both included."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"linspace: steps must be a non-negative integer, got {steps!r}")
    return Tensor(np.linspace(float(start), float(end), int(steps)).astype(dtype), requires_grad)


def randint(low=0, high=None, size=None, dtype=np.int64):
    """torch.randint(high, size) or torch.randint(low, high, size): integers in [low, high)."""
    if size is None:  # randint(high, size)
        low, high, size = 0, low, high
    if size is None or high is None:
        raise TypeError("randint: expected randint(high, size) or randint(low, high, size); size is required")
    if high <= low:
        raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
    size = (size,) if isinstance(size, (int, np.integer)) else tuple(size)
    return Tensor(_rng.integers(low, high, size).astype(dtype))


def mm(a, b):
    """torch.mm: (n, m) @ (m, p), both 2-D."""
    a, b = _t(a), _t(b)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"mm: both inputs must be 2-D, got shapes {a.shape} and {b.shape}")
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"mm: shapes {a.shape} and {b.shape} cannot be multiplied ({a.shape[1]} != {b.shape[0]})")
    return matmul(a, b)


def bmm(a, b):
    """torch.bmm: (B, n, m) @ (B, m, p), both 3-D with the same B."""
    a, b = _t(a), _t(b)
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise ValueError(f"bmm: expected (B, n, m) and (B, m, p), got shapes {a.shape} and {b.shape}")
    return matmul(a, b)


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """torch.allclose: |a - b| <= atol + rtol |b| everywhere (a bool)."""
    return bool(np.allclose(_as_data(a), _as_data(b), rtol=rtol, atol=atol, equal_nan=equal_nan))


def equal(a, b):
    """torch.equal: True when the shapes and every value are the same."""
    a, b = _as_data(a), _as_data(b)
    return a.shape == b.shape and bool(np.array_equal(a, b))


def masked_fill(a, mask, value):
    """torch.masked_fill: `value` where mask is True (mask broadcasts to a); no gradient there."""
    a = _t(a)
    m = np.broadcast_to(_as_data(mask).astype(bool), a.shape)
    v = value.item() if isinstance(value, Tensor) else value
    return _make(np.where(m, np.asarray(v, a.dtype), a.data), (a,), lambda g: (np.where(m, 0, g),))


def _take_back(a, idx, ax):
    def backward(g):
        full = array_module(g).zeros(a.shape, g.dtype)
        np.put_along_axis(full, idx, g, axis=ax)
        return (full,)
    return backward


def sort(a, dim=-1, descending=False, stable=False):
    """torch.sort: (values, indices) along dim; the values carry the gradient."""
    a = _t(a)
    if a.ndim == 0:
        return SortResult(a, Tensor(np.zeros((), np.int64)))
    ax = dim % a.ndim
    idx = np.argsort(-a.data if descending else a.data, axis=ax, kind="stable")
    vals = np.take_along_axis(a.data, idx, axis=ax)
    return SortResult(_make(vals, (a,), _take_back(a, idx, ax)), Tensor(idx.astype(np.int64)))


def argsort(a, dim=-1, descending=False, stable=False):
    return sort(a, dim, descending, stable).indices


def topk(a, k, dim=-1, largest=True, sorted=True):
    """torch.topk: the k largest (smallest) entries along dim, (values, indices)."""
    a = _t(a)
    ax = dim % max(a.ndim, 1)
    n = a.shape[ax] if a.ndim else 1
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k <= n:
        raise ValueError(f"topk: k must be an integer in [0, {n}] for dim {dim} of shape {a.shape}, got {k!r}")
    if a.ndim == 0:
        return SortResult(a, Tensor(np.zeros((), np.int64)))
    idx = np.argsort(-a.data if largest else a.data, axis=ax, kind="stable")
    idx = np.take(idx, np.arange(k), axis=ax)
    vals = np.take_along_axis(a.data, idx, axis=ax)
    return SortResult(_make(vals, (a,), _take_back(a, idx, ax)), Tensor(idx.astype(np.int64)))


def _slice_along(a, ax, lo, hi):
    return getitem(a, (slice(None),) * ax + (slice(lo, hi),))


def split(a, split_size_or_sections, dim=0):
    """torch.split: pieces of `split_size` along dim (the last may be smaller), or of the
    given list of sizes; each piece is a view-like slice with its own gradient."""
    a = _t(a)
    ax = dim % a.ndim
    n = a.shape[ax]
    s = split_size_or_sections
    if isinstance(s, (int, np.integer)) and not isinstance(s, bool):
        if s <= 0:
            raise ValueError(f"split: split_size must be positive, got {s}")
        sizes = [min(s, n - i) for i in range(0, n, s)] or [0]
    else:
        sizes = [int(x) for x in s]
        if sum(sizes) != n:
            raise ValueError(f"split: sections {sizes} sum to {sum(sizes)}, but dim {dim} has size {n}")
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    return tuple(_slice_along(a, ax, int(lo), int(hi)) for lo, hi in zip(bounds[:-1], bounds[1:]))


def chunk(a, chunks, dim=0):
    """torch.chunk: at most `chunks` pieces of ceil(n / chunks) along dim."""
    a = _t(a)
    if isinstance(chunks, bool) or not isinstance(chunks, (int, np.integer)) or chunks <= 0:
        raise ValueError(f"chunk: chunks must be a positive integer, got {chunks!r}")
    n = a.shape[dim % a.ndim]
    return split(a, max(-(-n // chunks), 1), dim)


def norm(a, p="fro", dim=None, keepdim=False, dtype=None):
    """torch.norm / Tensor.norm: the vector p-norm over dim (all entries when None); p is
    'fro' or 2, 1, any positive float, inf, -inf or 0. The gradient at a zero norm is 0."""
    a = _t(a)
    if p == "fro":
        p = 2
    if isinstance(p, str):
        raise ValueError(f"norm: p must be 'fro' or a number, got {p!r}")
    p = float(p)
    axes = _norm_axis(dim, a.ndim)
    x = a.data
    ax_abs = np.abs(x)
    if np.isinf(p):
        m = (ax_abs.max if p > 0 else ax_abs.min)(axis=axes, keepdims=True)

        def backward(g):
            hit = ax_abs == m
            g = _expand_back(g, a.shape, axes, keepdim)
            return (g * hit * np.sign(x) / hit.sum(axis=axes, keepdims=True),)
        return _make(m if keepdim else np.squeeze(m, axis=axes), (a,), backward)
    if p == 0:
        return Tensor((x != 0).sum(axis=axes, keepdims=keepdim).astype(x.dtype))
    out = (ax_abs ** p).sum(axis=axes, keepdims=True) ** (1 / p)

    def backward(g):
        g = _expand_back(g, a.shape, axes, keepdim)
        safe = np.where(out == 0, 1, out)
        d = np.sign(x) * ax_abs ** (p - 1) / safe ** (p - 1)
        return (g * np.where(out == 0, 0, d),)
    return _make(out if keepdim else np.squeeze(out, axis=axes), (a,), backward)


def repeat(a, *sizes):
    """torch.Tensor.repeat: tile a `sizes[i]` times along each axis (len(sizes) >= a.ndim; extra
    sizes add leading axes). The gradient sums the copies."""
    a = _t(a)
    sizes = tuple(int(s) for s in _shape(sizes))
    if len(sizes) < a.ndim:
        raise ValueError(f"repeat: got {len(sizes)} repeat sizes for a tensor of {a.ndim} dims; give at least {a.ndim}")
    shape = (1,) * (len(sizes) - a.ndim) + a.shape
    out = np.tile(a.data.reshape(shape), sizes)

    def backward(g):
        inter = []
        for r, n in zip(sizes, shape):
            inter += [r, n]
        g = g.reshape(inter).sum(axis=tuple(range(0, 2 * len(shape), 2)))
        return (g.reshape(a.shape),)
    return _make(out, (a,), backward)


def t(a):
    """torch.t: the transpose of a 2-D tensor; 0-D and 1-D come back as they are."""
    a = _t(a)
    if a.ndim > 2:
        raise ValueError(f"t: expects a tensor of at most 2 dims, got shape {a.shape}; use transpose(dim0, dim1)")
    return a if a.ndim < 2 else permute(a, (1, 0))


def _inplace(self, op, other, name):
    """self <- op(self, other) in place, like torch's `x.add_(y)`: on the array when no graph is
    recorded; recorded (self becomes the op's output) when grad mode is on and an input needs a
    gradient. A leaf that requires grad refuses, as in torch (use torch.no_grad())."""
    o = other if isinstance(other, Tensor) else None
    if is_grad_enabled() and (self.requires_grad or (o is not None and o.requires_grad)):
        if self.is_leaf and self.requires_grad:
            raise RuntimeError(f"{name}: a leaf Tensor that requires grad is used in an in-place operation; "
                               f"wrap it in nk.no_grad() (as in torch)")
        old = Tensor(self.data)
        old.requires_grad, old._parents, old._backward, old._grad = (self.requires_grad, self._parents,
                                                                      self._backward, self._grad)
        new = op(old, other)
        self.data, self.requires_grad, self._parents, self._backward = (new.data, new.requires_grad,
                                                                        new._parents, new._backward)
        return self
    res = op(Tensor(self.data), other).data
    if res.shape != self.data.shape:
        raise ValueError(f"{name}: the result has shape {res.shape}, it cannot be written into shape {self.shape}")
    self.data[...] = res
    return self


def _add_methods():
    def add_(self, other, alpha=1):
        return _inplace(self, lambda a, b: add(a, mul(b, alpha) if alpha != 1 else b), other, "add_")

    def sub_(self, other, alpha=1):
        return _inplace(self, lambda a, b: sub(a, mul(b, alpha) if alpha != 1 else b), other, "sub_")

    def fill_(self, value):
        with no_grad():
            self.data[...] = _as_data(value)
        return self

    def copy_(self, src):
        s = _as_data(src)
        self.data[...] = np.broadcast_to(s, self.data.shape)
        return self

    methods = dict(
        add_=add_, sub_=sub_, fill_=fill_, copy_=copy_,
        mul_=lambda self, o: _inplace(self, mul, o, "mul_"),
        div_=lambda self, o: _inplace(self, div, o, "div_"),
        clamp_=lambda self, min=None, max=None: _inplace(self, lambda a, _: clamp(a, min, max), None, "clamp_"),
        masked_fill_=lambda self, mask, value: _inplace(self, lambda a, _: masked_fill(a, mask, value), None,
                                                        "masked_fill_"),
        sin=sin, cos=cos, mm=mm, bmm=bmm, t=t, norm=norm, repeat=repeat, chunk=chunk, split=split,
        masked_fill=masked_fill, topk=topk, sort=sort, argsort=argsort,
        allclose=allclose, equal=equal,
        all=lambda self, dim=None, keepdim=False: Tensor(np.all(self.data, axis=dim, keepdims=keepdim)),
        any=lambda self, dim=None, keepdim=False: Tensor(np.any(self.data, axis=dim, keepdims=keepdim)),
        add=lambda self, o, alpha=1: add(self, mul(o, alpha) if alpha != 1 else o),
        sub=lambda self, o, alpha=1: sub(self, mul(o, alpha) if alpha != 1 else o),
        mul=lambda self, o: mul(self, o), div=lambda self, o: div(self, o),
    )
    for k, f in methods.items():
        setattr(Tensor, k, f)


_add_methods()
__all__ += ["sin", "cos", "eye", "linspace", "randint", "mm", "bmm", "allclose", "equal", "masked_fill", "topk",
            "sort", "argsort", "chunk", "split", "norm", "t"]


# The kernel-backed ops the Tensor methods above call (their modules import this one).
from .activations import log_softmax, relu, sigmoid, softmax, tanh  # noqa: E402
from .function import _Slot  # noqa: E402
from .gemm import matmul  # noqa: E402

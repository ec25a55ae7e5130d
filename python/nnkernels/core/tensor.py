"""The Tensor: an array (NumPy or CuPy) plus the graph that produced it; grad mode, the
graph walk of `backward()`, devices (`Tensor.to`: NumPy on the CPU, CuPy on CUDA),
save/load, and `_make(out, parents, backward)`, with which the closure ops of this
package (elementwise, reduce, shape) record their backward next to their forward.

The methods backed by a kernel (`.relu()`, `@`, `.softmax()` ...) are not defined here:
ops/<family>.py binds them (`core.function.differentiable`) next to the op's Function.
"""
from __future__ import annotations

import contextlib
import threading

import numpy as np

from ..ops._common import is_cupy

__all__ = ["is_grad_enabled", "set_grad_enabled", "no_grad", "enable_grad", "Tensor", "queue_callback",
           "tensor", "from_numpy", "device", "save", "load", "float32", "float64", "int64", "long"]


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

    def exp(self): return exp(self)
    def log(self): return log(self)
    def sqrt(self): return sqrt(self)
    def abs(self): return abs(self)
    def clamp(self, min=None, max=None): return clamp(self, min, max)
    clip = clamp

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


# The closure ops the Tensor methods above call (their modules import this one).
from .elementwise import abs, add, clamp, div, exp, log, mul, neg, pow, sqrt, sub  # noqa: E402
from .function import _Slot  # noqa: E402
from .reduce import argmax, max_, mean, std, sum_, var  # noqa: E402
from .shape import flatten, getitem, permute, reshape  # noqa: E402

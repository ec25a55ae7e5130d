"""`Function`: one differentiable op, its forward and backward side by side.

    class Exp(nk.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = nk.autograd.array_module(x).exp(x)
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, g):
            (y,) = ctx.saved_tensors
            return g * y

    y = Exp.apply(t)          # a Tensor recorded for backward

The shape of torch.autograd.Function, with one difference: `forward` and `backward`
receive and return *arrays* (NumPy or CuPy, the `.data` of the Tensors passed to
`apply`; other arguments pass through unchanged), so one definition runs on any device
when it is written against `array_module(x)`. `backward` returns one gradient per
argument of `forward` (None for the ones without a gradient); a forward that returns
a tuple receives one gradient per output (zeros for outputs that got none).

The kernel-backed ops of nnkernels are Functions in ops/<family>.py, each next to the
array op it differentiates; `differentiable` registers the Tensor version of such an op,
from which `nnkernels.autograd` makes the dispatcher `nk.<op>`.
"""
from __future__ import annotations

import numpy as np

from .tensor import Tensor, array_module, is_grad_enabled

__all__ = ["Function", "FunctionCtx", "array_module", "differentiable", "DIFFERENTIABLE"]

# The public differentiable ops: array op name -> its Tensor version (filled by `differentiable`).
DIFFERENTIABLE: dict = {}


def differentiable(array_op, *methods):
    """Decorator for the Tensor version of `array_op` (Tensors in, a recorded Tensor out):
    registers it as the Tensor path of `nk.<array_op.__name__>`, and as Tensor.<m> for each
    name in `methods` (e.g. "relu" gives `t.relu()`)."""
    def register(tensor_fn):
        DIFFERENTIABLE[array_op.__name__] = tensor_fn
        for m in methods:
            setattr(Tensor, m, tensor_fn)
        return tensor_fn
    return register


class FunctionCtx:
    """What forward leaves for backward (torch's ctx)."""

    def __init__(self, needs_input_grad):
        self.needs_input_grad = needs_input_grad
        self.saved_tensors = ()
        self._non_differentiable = ()

    def save_for_backward(self, *arrays):
        self.saved_tensors = arrays

    def mark_non_differentiable(self, *outputs):
        """Outputs (arrays returned by forward) that get no gradient (e.g. indices)."""
        self._non_differentiable = self._non_differentiable + tuple(id(o) for o in outputs)


class _Outputs:
    """The hidden node behind a forward that returns several arrays: each output Tensor
    hands its gradient to slot i here, and backward runs once with all of them."""

    def __init__(self, n):
        self.n = n


class _Slot:
    __slots__ = ("i", "g")

    def __init__(self, i, g):
        self.i, self.g = i, g


class Function:
    """Subclass with static `forward(ctx, *args, **kwargs)` and `backward(ctx, *grads)`;
    call `apply(*args, **kwargs)`."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("a Function subclass defines forward(ctx, ...)")

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError("a Function subclass defines backward(ctx, *grads)")

    @classmethod
    def apply(cls, *args, **kwargs):
        tensors = [a if isinstance(a, Tensor) else None for a in args]
        needs = tuple(t is not None and t.requires_grad for t in tensors)
        ctx = FunctionCtx(needs)
        out = cls.forward(ctx, *[a.data if isinstance(a, Tensor) else a for a in args], **kwargs)
        multi = isinstance(out, tuple)
        outs = out if multi else (out,)
        results = tuple(Tensor(o) if _is_array(o) else o for o in outs)
        if not (is_grad_enabled() and any(needs)):
            return results if multi else results[0]
        parents = tuple(t for t in tensors if t is not None)

        def run(grads):
            gs = cls.backward(ctx, *grads)
            gs = gs if isinstance(gs, tuple) else (gs,)
            if len(gs) != len(args):
                raise RuntimeError(f"{cls.__name__}.backward returned {len(gs)} gradient(s), expected {len(args)} "
                                   "(one per forward argument, None where there is none)")
            return tuple(g for g, t in zip(gs, tensors) if t is not None)

        differentiable = [i for i, (o, r) in enumerate(zip(outs, results))
                          if isinstance(r, Tensor) and id(o) not in ctx._non_differentiable]
        if not multi:
            if differentiable:
                _record(results[0], parents, lambda g: run((g,)), cls)
            return results[0]
        hub = Tensor(np.empty(0, np.float32))
        shapes = [(r.data, r.dtype) if isinstance(r, Tensor) else None for r in results]

        def run_all(slots):
            xp = array_module(*[s[0] for s in shapes if s is not None])
            grads = tuple(slots[i] if slots[i] is not None else
                          (xp.zeros_like(shapes[i][0]) if shapes[i] is not None else None) for i in range(len(outs)))
            return run(grads)

        _record(hub, parents, run_all, cls)
        hub._outputs = _Outputs(len(outs))
        for i in differentiable:
            _record(results[i], (hub,), lambda g, i=i: (_Slot(i, g),), cls)
        return results


def _is_array(o) -> bool:
    return isinstance(o, np.ndarray) or type(o).__module__.split(".")[0] == "cupy"


def _record(t, parents, backward, fn):
    t.requires_grad = True
    t._parents = parents
    t._backward = backward
    t._fn = fn

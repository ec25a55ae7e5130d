"""A small reverse-mode autograd over `nnkernels.ops`.

    x = nk.tensor([[1., 2.], [3., 4.]], requires_grad=True)
    y = (x @ x).relu().sum()
    y.backward()            # x.grad now holds dy/dx

`tensor.py` holds the Tensor (an array, NumPy or CuPy, plus the function that maps the
gradient of its output to the gradients of its inputs), grad mode and the graph walk;
elementwise, reduce, shape, creation and idioms the small ops written as closures;
`function.py` the `Function` base class (forward and backward side by side, torch's
shape), open to users. Every kernel-backed op is one `Function`, one module per op
family: activations, gemm, conv, pool, loss, attention, rnn.

`nk.<op>` for an op with a gradient is the dispatcher defined at the end of this module:
a Tensor among its arguments gives a recorded Tensor out; arrays go to the array op of
`nnkernels.ops` unchanged (`nk.relu(np_array)` returns a NumPy array).
"""
from __future__ import annotations

import functools

from .. import ops
from .tensor import *  # noqa: F401,F403  (first: every other module builds on it)
from .tensor import __all__ as _tensor_all
from .tensor import MaxResult, Tensor, _as_data, _make, _move, _t  # noqa: F401  used by nn, optim, keras
from . import creation, elementwise, idioms, reduce, shape  # noqa: E402
from .creation import *  # noqa: E402,F401,F403
from .creation import get_rng  # noqa: E402,F401
from .elementwise import *  # noqa: E402,F401,F403
from .idioms import *  # noqa: E402,F401,F403
from .idioms import SortResult  # noqa: E402,F401
from .reduce import *  # noqa: E402,F401,F403
from .reduce import max_, mean, min_, sum_  # noqa: E402,F401
from .shape import *  # noqa: E402,F401,F403
from .shape import permute, reshape  # noqa: E402,F401
from . import activations, attention, conv, gemm, loss, pool, rnn  # noqa: E402,F401
from .function import Function, FunctionCtx, array_module  # noqa: E402

__all__ = [n for m in (_tensor_all, creation.__all__, elementwise.__all__, idioms.__all__, reduce.__all__,
                       shape.__all__) for n in m] + ["Function", "FunctionCtx", "array_module", "kernel"]


def kernel(name):
    """The array op `name` of nnkernels.ops."""
    return getattr(ops, name)


def _dispatch(tensor_fn, array_fn):
    """nk.<op>: `tensor_fn` when a Tensor is among the arguments, else the array op."""
    @functools.wraps(array_fn)
    def op(*args, **kwargs):
        if any(isinstance(a, Tensor) for a in args) or any(isinstance(v, Tensor) for v in kwargs.values()):
            return tensor_fn(*args, **kwargs)
        return array_fn(*args, **kwargs)
    return op


# The public differentiable ops, by family: (name, Tensor version). Every other name of
# nnkernels.ops (the *_backward ops, RNNCache) takes arrays only and refuses a Tensor.
DIFFERENTIABLE = {
    **{n: getattr(activations, n) for n in activations.__all__},
    **{n: getattr(gemm, n) for n in ("matmul", "gemm")},
    **{n: getattr(conv, n) for n in conv.__all__},
    **{n: getattr(pool, n) for n in pool.__all__},
    **{n: getattr(loss, n) for n in loss.__all__},
    **{n: getattr(attention, n) for n in attention.__all__},
    **{n: getattr(rnn, n) for n in rnn.__all__},
}
for _name, _fn in DIFFERENTIABLE.items():
    globals()[_name] = _dispatch(_fn, getattr(ops, _name))
del _name, _fn
__all__ += list(DIFFERENTIABLE)

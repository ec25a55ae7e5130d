"""A small reverse-mode autograd over `nnkernels.ops`.

    x = nk.tensor([[1., 2.], [3., 4.]], requires_grad=True)
    y = (x @ x).relu().sum()
    y.backward()            # x.grad now holds dy/dx

The public namespace of the autograd. The Tensor, grad mode, the graph walk, devices,
the `Function` base class (open to users) and the closure ops elementwise, reduce and
shape live in `nnkernels.core`; every kernel-backed op is a `Function` in
ops/<family>.py, next to the array op it differentiates. This package adds creation
(zeros, randn, ... and the seeded generator), idioms (torch tensor idioms: sort, topk,
norm, in-place methods ...) and `nk.<op>` for every op with a gradient: the dispatcher
defined at the end of this module. A Tensor among its arguments gives a recorded Tensor
out; arrays go to the array op of `nnkernels.ops` unchanged (`nk.relu(np_array)`
returns a NumPy array).
"""
from __future__ import annotations

import functools

from .. import ops
from ..core import elementwise, reduce, shape
from ..core.elementwise import *  # noqa: F401,F403
from ..core.function import DIFFERENTIABLE, Function, FunctionCtx, array_module
from ..core.reduce import *  # noqa: F401,F403
from ..core.reduce import max_, mean, min_, sum_  # noqa: F401
from ..core.shape import *  # noqa: F401,F403
from ..core.shape import permute, reshape  # noqa: F401
from ..core.tensor import *  # noqa: F401,F403
from ..core.tensor import __all__ as _tensor_all
from ..core.tensor import MaxResult, Tensor, _as_data, _make, _move, _t  # noqa: F401  used by nn, optim, keras
from . import creation, idioms

# Objects pickled by the layout before core/ (nnkernels.autograd.tensor.Tensor, e.g. a Module
# saved whole by nk.save) still load: that module path now names the Tensor core.
import sys as _sys  # noqa: E402
from ..core import tensor as _tensor_module  # noqa: E402

_sys.modules.setdefault(__name__ + ".tensor", _tensor_module)
from .creation import *  # noqa: F401,F403
from .creation import get_rng  # noqa: F401
from .idioms import *  # noqa: F401,F403
from .idioms import SortResult  # noqa: F401

__all__ = [n for m in (_tensor_all, creation.__all__, elementwise.__all__, idioms.__all__, reduce.__all__,
                       shape.__all__) for n in m] + ["Function", "FunctionCtx", "array_module", "kernel"]


def kernel(name):
    """The array op `name` of nnkernels.ops."""
    return getattr(ops, name)


def _dispatch(tensor_fn, array_fn):
    """nk.<op>: `tensor_fn` when a Tensor is among the arguments, else the array op."""
    @functools.wraps(array_fn)
    def op(*args, **kwargs):
        for a in args:  # plain loops: this runs before every op called with arrays
            if isinstance(a, Tensor):
                return tensor_fn(*args, **kwargs)
        for v in kwargs.values():
            if isinstance(v, Tensor):
                return tensor_fn(*args, **kwargs)
        return array_fn(*args, **kwargs)
    return op


# DIFFERENTIABLE: the public differentiable ops (name -> Tensor version), registered by
# ops/<family>.py. Every other name of nnkernels.ops (the *_backward ops, RNNCache) takes
# arrays only and refuses a Tensor.
for _name, _fn in DIFFERENTIABLE.items():
    globals()[_name] = _dispatch(_fn, getattr(ops, _name))
del _name, _fn
__all__ += list(DIFFERENTIABLE)

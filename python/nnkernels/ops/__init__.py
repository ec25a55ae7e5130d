"""Functional ops: argument checks and dispatch to the kernels. Everything above this
module (autograd, layers, training) calls these functions, never the extensions."""
from __future__ import annotations

from . import gemm as _gemm
from . import conv as _conv
from . import pool as _pool
from . import softmax as _softmax
from . import activations as _activations
from . import attention as _attention
from . import rnn as _rnn
from .gemm import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .pool import *  # noqa: F401,F403
from .softmax import *  # noqa: F401,F403
from .activations import *  # noqa: F401,F403
from .attention import *  # noqa: F401,F403
from .rnn import *  # noqa: F401,F403

__all__: list = []
for _m in (_gemm, _conv, _pool, _softmax, _activations, _attention, _rnn, ):
    __all__ += [n for n in _m.__all__ if n not in __all__]
del _m


# ---- device dispatch: NumPy in -> CPU kernels, CuPy in -> CUDA kernels ----------
def _with_cuda(cpu_fn, name):
    import functools

    from ._common import is_cupy

    @functools.wraps(cpu_fn)
    def op(*args, **kwargs):
        if any(is_cupy(a) for a in args) or any(is_cupy(v) for v in kwargs.values()):
            from .. import _cuda_ops

            return getattr(_cuda_ops, name)(*args, **kwargs)
        return cpu_fn(*args, **kwargs)

    return op


def _install_cuda_dispatch():
    import ast
    import os

    # Names the CUDA module implements, read without importing it (no CuPy needed).
    src = os.path.join(os.path.dirname(os.path.dirname(__file__)), "_cuda_ops.py")
    tree = ast.parse(open(src).read())
    names = {n.name for n in tree.body if isinstance(n, ast.FunctionDef) and not n.name.startswith("_")}
    g = globals()
    for name in names & set(__all__):
        g[name] = _with_cuda(g[name], name)


_install_cuda_dispatch()
del _install_cuda_dispatch

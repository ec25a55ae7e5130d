"""Functional ops, one definition each: argument checks, output shape, and one call into
the kernels of the backend that owns the arrays (`_common.backend`: `_C` for NumPy
arrays, `nnkernels._cuda_ops` for CuPy arrays). Each family module also holds the
autograd `Function` of each differentiable op, next to the array op, and its Tensor
version (registered for `nk.<op>` by `core.function.differentiable`). Everything above
this package (autograd, layers, training) calls these functions, never the extensions."""
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


"""Functional ops: argument checks and dispatch to the kernels. Everything above this
module (autograd, layers, training) calls these functions, never the extensions."""
from .gemm import gemm, matmul

__all__ = ["gemm", "matmul"]

from .activations import *  # noqa: E402,F401,F403
from .activations import __all__ as _all_activations  # noqa: E402
from .pool import *  # noqa: E402,F401,F403
from .pool import __all__ as _all_pool  # noqa: E402
from .softmax import *  # noqa: E402,F401,F403
from .softmax import __all__ as _all_softmax  # noqa: E402

__all__ += _all_activations + _all_pool + _all_softmax

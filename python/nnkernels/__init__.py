"""nnkernels: hand-written CPU (SIMD on its own thread pool) and CUDA deep-learning kernels.

    import nnkernels as nk
    c = nk.matmul(a, b)          # NumPy in, NumPy out
    nk.show_config()             # what this build has and uses
"""
from __future__ import annotations

import os

__version__ = "0.1.0"

from . import _C  # noqa: E402  the CPU extension; always built
from ._config import (  # noqa: E402
    cpu_path,
    cpu_paths,
    get_num_threads,
    set_cpu_path,
    set_num_threads,
    show_config,
    _apply_env,
)
from . import _threadpool  # noqa: E402
_threadpool.register()  # threadpoolctl sees and limits the kernel threads (if installed)
from ._threadpool import share_threads_with_blas  # noqa: E402
if os.environ.get("NNKERNELS_SHARE_BLAS", "1") != "0":  # NumPy's OpenBLAS threads on our pool
    share_threads_with_blas(True)
from . import cuda  # noqa: E402  never fails without a GPU
from . import ops  # noqa: E402
from .ops import *  # noqa: E402,F401,F403

# Autograd (nnkernels/autograd/ over nnkernels/core/). nk.<op> for every op with a gradient
# (autograd.DIFFERENTIABLE, registered by ops/<family>.py) is that op's one dispatcher: a
# Tensor in gives a recorded Tensor out, NumPy/CuPy arrays go to the array op unchanged.
from . import autograd  # noqa: E402
from .autograd import *  # noqa: E402,F401,F403
from .autograd import sum_ as sum, mean, reshape, permute  # noqa: E402,F401,A001


def max(input, dim=None, keepdim=False):  # noqa: A001
    """torch.max: the maximum, or (values, indices) along an int `dim`."""
    return autograd._t(input).max(dim, keepdim)


def min(input, dim=None, keepdim=False):  # noqa: A001
    """torch.min: the minimum, or (values, indices) along an int `dim`."""
    return autograd._t(input).min(dim, keepdim)


from . import nn, optim, utils  # noqa: E402,F401
from .utils import data  # noqa: E402,F401

_apply_env()
del _apply_env

__all__ = ["__version__", "cuda", "ops", "cpu_path", "cpu_paths", "set_cpu_path", "get_num_threads",
           "set_num_threads", "share_threads_with_blas", "show_config", "autograd", "nn", "optim", "utils", "data"] + list(ops.__all__)
__all__ += [n for n in autograd.__all__ if n not in __all__]

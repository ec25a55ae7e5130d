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

# Autograd (see autograd.py). Names shared with ops (relu, sigmoid, tanh, softmax,
# log_softmax, matmul) are replaced by dispatchers: Tensor in -> recorded Tensor op,
# NumPy in -> the NumPy op itself, so NumPy callers see no change.
from . import autograd  # noqa: E402
from .autograd import *  # noqa: E402,F401,F403
from .autograd import relu, sigmoid, tanh, softmax, log_softmax, matmul  # noqa: E402,F401
from .autograd import sum_ as sum, mean, reshape, permute  # noqa: E402,F401,A001


def max(input, dim=None, keepdim=False):  # noqa: A001
    """torch.max: the maximum, or (values, indices) along an int `dim`."""
    return autograd._t(input).max(dim, keepdim)


def min(input, dim=None, keepdim=False):  # noqa: A001
    """torch.min: the minimum, or (values, indices) along an int `dim`."""
    return autograd._t(input).min(dim, keepdim)


from . import nn, optim, utils  # noqa: E402,F401
from .utils import data  # noqa: E402,F401

# Ops that also have a differentiable version in nn.functional: Tensors in go there (so a
# Tensor is never silently detached by a NumPy op), NumPy in goes to the op unchanged.
for _name in ("conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "leaky_relu",
              "gelu", "cross_entropy", "scaled_dot_product_attention"):
    if _name in ops.__all__:
        globals()[_name] = autograd._dispatch(getattr(nn.functional, _name), _name)
del _name

_apply_env()
del _apply_env

__all__ = ["__version__", "cuda", "ops", "cpu_path", "cpu_paths", "set_cpu_path", "get_num_threads",
           "set_num_threads", "share_threads_with_blas", "show_config", "autograd", "nn", "optim", "utils", "data"] + list(ops.__all__)
__all__ += [n for n in autograd.__all__ + ["relu", "sigmoid", "tanh", "softmax", "log_softmax", "matmul"]
            if n not in __all__]

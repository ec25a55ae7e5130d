"""Functional ops: argument checks and dispatch to the kernels. Everything above this
module (autograd, layers, training) calls these functions, never the extensions."""
from .gemm import gemm, matmul
from .attention import *  # noqa: F401,F403
from . import attention as _attention

__all__ = ["gemm", "matmul"] + list(_attention.__all__)

"""Functional ops: argument checks and dispatch to the kernels. Everything above this
module (autograd, layers, training) calls these functions, never the extensions."""
from .gemm import gemm, matmul
from .conv import *  # noqa: F401,F403
from . import conv as _conv

__all__ = ["gemm", "matmul"] + list(_conv.__all__)

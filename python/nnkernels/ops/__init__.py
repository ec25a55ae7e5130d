"""Functional ops: argument checks and dispatch to the kernels. Everything above this
module (autograd, layers, training) calls these functions, never the extensions."""
from .gemm import gemm, matmul
from .rnn import *  # noqa: F401,F403
from . import rnn as _rnn

__all__ = ["gemm", "matmul"] + list(_rnn.__all__)

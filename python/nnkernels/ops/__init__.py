"""Functional ops: argument checks and dispatch to the kernels. Everything above this
module (autograd, layers, training) calls these functions, never the extensions."""
from .gemm import gemm, matmul

__all__ = ["gemm", "matmul"]

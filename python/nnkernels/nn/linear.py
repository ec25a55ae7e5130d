"""Dense layers and reshaping: Linear, Flatten, Unflatten, Dropout."""
from __future__ import annotations

import math

import numpy as np

from .. import autograd as ag
from . import functional as F
from . import init
from .module import Module, Parameter, _pos_int, _prob

__all__ = ["Linear", "Flatten", "Unflatten", "Dropout"]


class Linear(Module):
    """y = x W^T + b. x (..., in_features) -> (..., out_features). torch.nn.Linear."""

    def __init__(self, in_features, out_features, bias=True, dtype=np.float32):
        super().__init__()
        self.in_features = _pos_int("in_features", in_features, "Linear")
        self.out_features = _pos_int("out_features", out_features, "Linear")
        self.weight = Parameter(np.empty((out_features, in_features), dtype))
        self.bias = Parameter(np.empty(out_features, dtype)) if bias else None
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if bias:
            b = 1 / math.sqrt(in_features)
            init.uniform_(self.bias, -b, b)

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Flatten(Module):
    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return ag.flatten(x, self.start_dim, self.end_dim)


class Unflatten(Module):
    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim, self.size = dim, tuple(unflattened_size)

    def forward(self, x):
        d = self.dim % x.ndim
        return x.reshape(x.shape[:d] + self.size + x.shape[d + 1:])


class Dropout(Module):
    def __init__(self, p=0.5):
        super().__init__()
        self.p = _prob("p", p, "Dropout")

    def forward(self, x):
        return F.dropout(x, self.p, self.training)

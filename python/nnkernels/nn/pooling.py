"""Pooling layers: MaxPool2d, AvgPool2d, AdaptiveAvgPool2d."""
from __future__ import annotations

import numpy as np

from . import functional as F
from .module import Module, _pair_arg

__all__ = ["MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d"]


class MaxPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False, ceil_mode=False):
        super().__init__()
        L = "MaxPool2d"
        self.kernel_size = _pair_arg("kernel_size", kernel_size, L)
        self.stride = self.kernel_size if stride is None else _pair_arg("stride", stride, L)
        self.padding = _pair_arg("padding", padding, L, allow_zero=True)
        self.dilation = _pair_arg("dilation", dilation, L)
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size)):
            raise ValueError(f"{L}: padding {self.padding} must be at most half of kernel_size {self.kernel_size}")
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, x):
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                            self.return_indices)


class AvgPool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__()
        L = "AvgPool2d"
        self.kernel_size = _pair_arg("kernel_size", kernel_size, L)
        self.stride = self.kernel_size if stride is None else _pair_arg("stride", stride, L)
        self.padding = _pair_arg("padding", padding, L, allow_zero=True)
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size)):
            raise ValueError(f"{L}: padding {self.padding} must be at most half of kernel_size {self.kernel_size}")
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, x):
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)


class AdaptiveAvgPool2d(Module):
    def __init__(self, output_size):
        super().__init__()
        t = (output_size, output_size) if not isinstance(output_size, (tuple, list)) else tuple(output_size)
        if len(t) != 2 or any(v is not None and (not isinstance(v, (int, np.integer)) or v < 1) for v in t):
            raise ValueError(f"AdaptiveAvgPool2d: output_size must be a positive int or pair, got {output_size!r}")
        self.output_size = t

    def forward(self, x):
        size = tuple(x.shape[2 + i] if v is None else v for i, v in enumerate(self.output_size))
        return F.adaptive_avg_pool2d(x, size)

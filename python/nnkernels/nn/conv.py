"""Convolution layers: Conv2d, ConvTranspose2d."""
from __future__ import annotations

import math

import numpy as np

from . import functional as F
from . import init
from .module import Module, Parameter, _pair_arg, _pos_int

__all__ = ["Conv2d", "ConvTranspose2d"]


def _conv_padding(padding, layer):
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(f"{layer}: padding must be an int, a pair, 'same' or 'valid', got {padding!r}")
        return padding
    return _pair_arg("padding", padding, layer, allow_zero=True)


class Conv2d(Module):
    """x (N, C, H, W) -> (N, K, P, Q). weight (K, C/groups, R, S). torch.nn.Conv2d."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", dtype=np.float32):
        super().__init__()
        L = "Conv2d"
        self.in_channels = _pos_int("in_channels", in_channels, L)
        self.out_channels = _pos_int("out_channels", out_channels, L)
        self.kernel_size = _pair_arg("kernel_size", kernel_size, L)
        self.stride = _pair_arg("stride", stride, L)
        self.padding = _conv_padding(padding, L)
        self.dilation = _pair_arg("dilation", dilation, L)
        self.groups = _pos_int("groups", groups, L)
        if padding_mode != "zeros":
            raise ValueError(f"{L}: only padding_mode='zeros' is supported, got {padding_mode!r}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{L}: in_channels ({in_channels}) and out_channels ({out_channels}) must be divisible "
                             f"by groups ({groups})")
        if self.padding == "same" and self.stride != (1, 1):
            raise ValueError(f"{L}: padding='same' needs stride 1, got {self.stride}")
        self.weight = Parameter(np.empty((out_channels, in_channels // groups) + self.kernel_size, dtype))
        self.bias = Parameter(np.empty(out_channels, dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init.calculate_fan_in_and_fan_out(self.weight)
            init.uniform_(self.bias, -1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in))

    def forward(self, x):
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self):
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}")


class ConvTranspose2d(Module):
    """x (N, C, H, W) -> (N, K, P, Q). weight (C, K/groups, R, S). torch.nn.ConvTranspose2d."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", dtype=np.float32):
        super().__init__()
        L = "ConvTranspose2d"
        self.in_channels = _pos_int("in_channels", in_channels, L)
        self.out_channels = _pos_int("out_channels", out_channels, L)
        self.kernel_size = _pair_arg("kernel_size", kernel_size, L)
        self.stride = _pair_arg("stride", stride, L)
        self.padding = _pair_arg("padding", padding, L, allow_zero=True)
        self.output_padding = _pair_arg("output_padding", output_padding, L, allow_zero=True)
        self.dilation = _pair_arg("dilation", dilation, L)
        self.groups = _pos_int("groups", groups, L)
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{L}: in_channels ({in_channels}) and out_channels ({out_channels}) must be divisible "
                             f"by groups ({groups})")
        if any(op >= max(s, d) for op, s, d in zip(self.output_padding, self.stride, self.dilation)):
            raise ValueError(f"{L}: output_padding {self.output_padding} must be smaller than stride {self.stride} "
                             f"or dilation {self.dilation}")
        self.weight = Parameter(np.empty((in_channels, out_channels // groups) + self.kernel_size, dtype))
        self.bias = Parameter(np.empty(out_channels, dtype)) if bias else None
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if bias:
            fan_in, _ = init.calculate_fan_in_and_fan_out(self.weight)
            init.uniform_(self.bias, -1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in))

    def forward(self, x):
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding, self.output_padding,
                                  self.groups, self.dilation)

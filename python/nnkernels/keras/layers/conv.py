"""Convolutions, channels-last: Conv1D, Conv2D, Conv2DTranspose, DepthwiseConv2D, SeparableConv2D.
The nn modules underneath keep PyTorch's kernel layout; `weights` shows Keras's
(kh, kw, in, out) (Conv2DTranspose: (kh, kw, out, in)) as views of it."""
from __future__ import annotations

import numpy as np

from ... import nn
from ...nn import functional as F
from ...nn import init
from .. import initializers
from .base import Layer, _act_nchw, _check_units, _glorot, _nchw, _padding, _pair, _same_pads, _view, get_activation

__all__ = ["Conv1D", "Conv2D", "Conv2DTranspose", "DepthwiseConv2D", "SeparableConv2D"]


class _ConvWeights:
    """kernel/bias of a layer whose `conv` module holds (a, b, kh, kw): Keras sees (kh, kw, b, a)."""

    def _own_weights(self):
        if not self.built:
            return []
        ws = [_view(self, "kernel", self.conv.weight.data.transpose(2, 3, 1, 0))]
        return ws + ([_view(self, "bias", self.conv.bias.data)] if self.use_bias else [])

    def _set_own_weights(self, arrays):
        self.conv.weight.data[...] = arrays[0].transpose(3, 2, 0, 1)
        if self.use_bias:
            self.conv.bias.data[...] = arrays[1]

    @property
    def kernel(self):
        return self._own_weights()[0]

    @property
    def bias(self):
        return self._own_weights()[1] if self.use_bias else None


class Conv2D(_ConvWeights, Layer):
    """Conv2D(filters, kernel_size, strides=1, padding='valid'|'same', dilation_rate=1, activation=None).
    Input (N, H, W, C) -> (N, P, Q, filters)."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None, dilation_rate=(1, 1),
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        L = "Conv2D"
        self.filters = _check_units(filters, "filters", L)
        self.kernel_size = _pair(kernel_size, "kernel_size", L)
        self.strides = _pair(strides, "strides", L)
        self.padding = _padding(padding, L)
        self.dilation_rate = _pair(dilation_rate, "dilation_rate", L)
        self.groups = _check_units(groups, "groups", L)
        if data_format not in (None, "channels_last"):
            raise ValueError(f"{L}: only data_format='channels_last' is supported, got {data_format!r}")
        if self.filters % self.groups:
            raise ValueError(f"{L}: filters ({filters}) must be divisible by groups ({groups})")
        self.activation = get_activation(activation, L)
        self.act_name = activation
        self.use_bias = use_bias

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(f"Conv2D: expected input (N, H, W, C), got {input_shape}")
        c = input_shape[-1]
        if c % self.groups:
            raise ValueError(f"Conv2D: input channels ({c}) must be divisible by groups ({self.groups})")
        self.conv = nn.Conv2d(c, self.filters, self.kernel_size, self.strides, 0, self.dilation_rate, self.groups,
                              bias=self.use_bias)
        _glorot(self.conv.weight)
        if self.use_bias:
            init.zeros_(self.conv.bias)

    def call(self, x):
        x = _nchw(x)
        if self.padding == "same":
            (t, b), (l, r) = (_same_pads(n, k, s, d) for n, k, s, d in
                              zip(x.shape[2:], self.kernel_size, self.strides, self.dilation_rate))
            if t == b and l == r:
                return _act_nchw(self.act_name, F.conv2d(x, self.conv.weight, self.conv.bias, self.strides, (t, l),
                                                         self.dilation_rate, self.groups))
            x = F.pad(x, (l, r, t, b))
        return _act_nchw(self.act_name, self.conv(x))


class Conv1D(Layer):
    """Conv1D(filters, kernel_size, strides=1, padding='valid'|'same'): (N, L, C) -> (N, L', filters)."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", dilation_rate=1, activation=None,
                 use_bias=True, **kwargs):
        super().__init__(**kwargs)
        k = kernel_size[0] if isinstance(kernel_size, (tuple, list)) else kernel_size
        s = strides[0] if isinstance(strides, (tuple, list)) else strides
        d = dilation_rate[0] if isinstance(dilation_rate, (tuple, list)) else dilation_rate
        self.conv2d = Conv2D(filters, (k, 1), (s, 1), padding, dilation_rate=(d, 1), activation=activation,
                             use_bias=use_bias, name=self.name + "_2d")

    def _sublayers(self):
        return []

    def _own_weights(self):
        """Keras's Conv1D kernel (k, in, filters): the (k, 1, in, filters) kernel of the Conv2D inside."""
        ws = self.conv2d._own_weights()
        return [_view(self, w.name, w.data[:, 0] if w.name == "kernel" else w.data) for w in ws]

    def _set_own_weights(self, arrays):
        self.conv2d._set_own_weights([arrays[0][:, None]] + list(arrays[1:]))

    def call(self, x):
        return self.conv2d(x.unsqueeze(2))[:, :, 0]


class Conv2DTranspose(_ConvWeights, Layer):
    """Conv2DTranspose(filters, kernel_size, strides=1, padding='valid'|'same'): output H*s ('same')
    or (H-1)*s + k ('valid'). Input (N, H, W, C) -> (N, P, Q, filters)."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", output_padding=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True, **kwargs):
        super().__init__(**kwargs)
        L = "Conv2DTranspose"
        self.filters = _check_units(filters, "filters", L)
        self.kernel_size = _pair(kernel_size, "kernel_size", L)
        self.strides = _pair(strides, "strides", L)
        self.padding = _padding(padding, L)
        self.dilation_rate = _pair(dilation_rate, "dilation_rate", L)
        self.activation = get_activation(activation, L)
        self.act_name = activation
        self.use_bias = use_bias
        # 'same' (output n * s): the full transposed convolution, then Keras's crop (the odd
        # pixel at the end), or zeros appended when the kernel is shorter than the stride.
        ops, crops = [], []
        for k, s, d in zip(self.kernel_size, self.strides, self.dilation_rate):
            ke = d * (k - 1) + 1
            if self.padding == "same" and ke >= s:
                total = ke - s
                ops.append(0)
                crops.append((total // 2, total - total // 2))
            else:
                ops.append(s - ke if self.padding == "same" else 0)
                crops.append((0, 0))
        if output_padding is not None:
            ops = list(_pair(output_padding, "output_padding", L)) if output_padding else [0, 0]
        self.ops, self.crops = tuple(ops), tuple(crops)

    def build(self, input_shape):
        self.conv = nn.ConvTranspose2d(input_shape[-1], self.filters, self.kernel_size, self.strides, 0,
                                       self.ops, bias=self.use_bias, dilation=self.dilation_rate)
        _glorot(self.conv.weight)
        if self.use_bias:
            init.zeros_(self.conv.bias)

    def call(self, x):
        y = self.conv(_nchw(x))
        (t, b), (l, r) = self.crops
        if t or b or l or r:
            y = y[:, :, t:y.shape[2] - b, l:y.shape[3] - r]
        return _act_nchw(self.act_name, y)


class DepthwiseConv2D(Conv2D):
    """DepthwiseConv2D(kernel_size, strides=1, padding='valid'|'same', depth_multiplier=1): each
    input channel convolved with its own depth_multiplier filters (a grouped convolution,
    groups = channels). Kernel (kh, kw, in, depth_multiplier), bias (in * depth_multiplier)."""

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True, **kwargs):
        super().__init__(1, kernel_size, strides, padding, data_format, dilation_rate, 1, activation, use_bias,
                         **kwargs)
        self.depth_multiplier = _check_units(depth_multiplier, "depth_multiplier", "DepthwiseConv2D")

    def build(self, input_shape):
        c = input_shape[-1]
        self.filters, self.groups = c * self.depth_multiplier, c
        super().build(input_shape)
        kh, kw = self.kernel_size
        self._set_own_weights([initializers.GlorotUniform()((kh, kw, c, self.depth_multiplier))] + (
            [self.conv.bias.data] if self.use_bias else []))

    def _own_weights(self):
        if not self.built:
            return []
        kh, kw = self.kernel_size
        w = self.conv.weight.data.reshape(self.groups, self.depth_multiplier, kh, kw).transpose(2, 3, 0, 1)
        return [_view(self, "kernel", w)] + ([_view(self, "bias", self.conv.bias.data)] if self.use_bias else [])

    def _set_own_weights(self, arrays):
        kh, kw = self.kernel_size
        self.conv.weight.data[...] = arrays[0].transpose(2, 3, 0, 1).reshape(self.filters, 1, kh, kw)
        if self.use_bias:
            self.conv.bias.data[...] = arrays[1]


class SeparableConv2D(Layer):
    """SeparableConv2D(filters, kernel_size, strides=1, padding, depth_multiplier=1): a depthwise
    convolution, then a 1x1 one mixing the channels. Weights depthwise_kernel (kh, kw, in, m),
    pointwise_kernel (1, 1, in * m, filters), bias (filters)."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), depth_multiplier=1, activation=None, use_bias=True, **kwargs):
        super().__init__(**kwargs)
        self.use_bias = use_bias
        self.depthwise = DepthwiseConv2D(kernel_size, strides, padding, depth_multiplier, data_format,
                                         dilation_rate, use_bias=False, name=self.name + "_depthwise")
        self.pointwise = Conv2D(filters, 1, activation=activation, use_bias=use_bias,
                                name=self.name + "_pointwise")

    def build(self, input_shape):
        self.depthwise._ensure_built(input_shape)
        self.pointwise._ensure_built(tuple(input_shape[:-1]) + (input_shape[-1] * self.depthwise.depth_multiplier,))

    def _sublayers(self):
        return []

    def _own_weights(self):
        if not self.built:
            return []
        d, p = self.depthwise._own_weights(), self.pointwise._own_weights()
        return [_view(self, "depthwise_kernel", d[0].data), _view(self, "pointwise_kernel", p[0].data)] + (
            [_view(self, "bias", p[1].data)] if self.use_bias else [])

    def _set_own_weights(self, arrays):
        self.depthwise._set_own_weights(arrays[:1])
        self.pointwise._set_own_weights(arrays[1:])

    def call(self, x):
        return self.pointwise(self.depthwise(x))

"""Differentiable activations, softmax / log-softmax and the fused bias + activation:
one `Function` each over the ops of nnkernels.ops.activations / .softmax."""
from __future__ import annotations

from .. import ops
from .function import Function
from .tensor import _t

__all__ = ["relu", "sigmoid", "tanh", "leaky_relu", "gelu", "softmax", "log_softmax", "bias_act"]


class ReLU(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return ops.relu(x)

    @staticmethod
    def backward(ctx, g):
        return ops.relu_backward(g, *ctx.saved_tensors)


class LeakyReLU(Function):
    @staticmethod
    def forward(ctx, x, negative_slope):
        ctx.save_for_backward(x)
        ctx.slope = negative_slope
        return ops.leaky_relu(x, negative_slope)

    @staticmethod
    def backward(ctx, g):
        return ops.leaky_relu_backward(g, *ctx.saved_tensors, ctx.slope), None


class GELU(Function):
    @staticmethod
    def forward(ctx, x, approximate):
        ctx.save_for_backward(x)
        ctx.approximate = approximate
        return ops.gelu(x, approximate)

    @staticmethod
    def backward(ctx, g):
        return ops.gelu_backward(g, *ctx.saved_tensors, ctx.approximate), None


class Sigmoid(Function):
    @staticmethod
    def forward(ctx, x):
        y = ops.sigmoid(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        return ops.sigmoid_backward(g, *ctx.saved_tensors)


class Tanh(Function):
    @staticmethod
    def forward(ctx, x):
        y = ops.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        return ops.tanh_backward(g, *ctx.saved_tensors)


class Softmax(Function):
    @staticmethod
    def forward(ctx, x, axis, log):
        y = (ops.log_softmax if log else ops.softmax)(x, axis=axis)
        ctx.save_for_backward(y)
        ctx.axis, ctx.log = axis, log
        return y

    @staticmethod
    def backward(ctx, g):
        back = ops.log_softmax_backward if ctx.log else ops.softmax_backward
        return back(g, *ctx.saved_tensors, axis=ctx.axis), None, None


class BiasAct(Function):
    @staticmethod
    def forward(ctx, x, bias, activation, axis, negative_slope):
        ctx.save_for_backward(x, bias)
        ctx.args = activation, axis, negative_slope
        return ops.bias_act(x, bias, activation, axis, negative_slope)

    @staticmethod
    def backward(ctx, g):
        x, bias = ctx.saved_tensors
        gx, gb = ops.bias_act_backward(g, x, bias, *ctx.args)
        return gx, (gb if bias is not None else None), None, None, None


def relu(x):
    return ReLU.apply(_t(x))


def sigmoid(x):
    return Sigmoid.apply(_t(x))


def tanh(x):
    return Tanh.apply(_t(x))


def leaky_relu(x, negative_slope=0.01):
    return LeakyReLU.apply(_t(x), negative_slope)


def gelu(x, approximate="none"):
    return GELU.apply(_t(x), approximate)


def softmax(x, axis=-1, dim=None):
    return Softmax.apply(_t(x), axis if dim is None else dim, False)


def log_softmax(x, axis=-1, dim=None):
    return Softmax.apply(_t(x), axis if dim is None else dim, True)


def bias_act(x, bias, activation=None, axis=1, negative_slope=0.01):
    return BiasAct.apply(_t(x), bias, activation, axis, negative_slope)

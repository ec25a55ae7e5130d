"""Elementwise activations and the fused bias + activation (csrc/elementwise/,
cuda/elementwise.cu), each with its autograd `Function` and Tensor version.

torch.nn.functional names and semantics. Any shape and strides in, a new C-contiguous
array of the same shape and float dtype out, on the device of the input. Backward functions take what torch's
take: the input x for relu, leaky_relu, gelu and silu, the output y for sigmoid and tanh.
"""
from __future__ import annotations

import math

import numpy as np

from ._common import ACT as _ACT
from ..core.function import Function, differentiable
from ..core.tensor import _t
from ._common import axis_arg, backend, float_arg, result_float_dtype

__all__ = ["relu", "leaky_relu", "sigmoid", "tanh", "gelu", "silu", "relu_backward", "leaky_relu_backward",
           "sigmoid_backward", "tanh_backward", "gelu_backward", "silu_backward", "bias_act", "bias_act_backward"]

# Activations whose backward reads the output y (the others read the input x).
_BACKWARD_FROM_Y = {"sigmoid", "tanh"}


def _unary(x, op, act, slope=0.0):
    be, (x,) = backend(op, x=x)
    dtype = result_float_dtype(op, x=x)
    x = be.contiguous(x, dtype)
    out = be.empty(x.shape, dtype)
    if x.size:
        be.k.act_forward(x, out, act, float(slope))
    return out


def _binary(grad_out, v, vname, op, act, slope=0.0):
    be, (grad_out, v) = backend(op, grad_out=grad_out, **{vname: v})
    dtype = result_float_dtype(op, grad_out=grad_out, **{vname: v})
    if grad_out.shape != v.shape:
        raise ValueError(f"{op}: grad_out has shape {grad_out.shape} but {vname} has shape {v.shape}")
    g = be.contiguous(grad_out, dtype)
    v = be.contiguous(v, dtype)
    out = be.empty(g.shape, dtype)
    if g.size:
        be.k.act_backward(g, v, out, act, float(slope))
    return out


def _gelu_code(approximate, op):
    if approximate not in ("none", "tanh"):
        raise ValueError(f"{op}: approximate must be 'none' or 'tanh', got {approximate!r}")
    return _ACT["gelu" if approximate == "none" else "gelu_tanh"]


def _slope(negative_slope, op):
    return float_arg(negative_slope, "negative_slope", op, finite=True)


def relu(x):
    """max(x, 0) elementwise (NaN stays NaN), like torch.relu."""
    return _unary(x, "relu", _ACT["relu"])


def leaky_relu(x, negative_slope=0.01):
    """x if x >= 0 else negative_slope * x, like torch.nn.functional.leaky_relu."""
    return _unary(x, "leaky_relu", _ACT["leaky_relu"], _slope(negative_slope, "leaky_relu"))


def sigmoid(x):
    """1 / (1 + exp(-x)), computed without overflow for any x."""
    return _unary(x, "sigmoid", _ACT["sigmoid"])


def tanh(x):
    """Hyperbolic tangent."""
    return _unary(x, "tanh", _ACT["tanh"])


def gelu(x, approximate="none"):
    """x·Φ(x) (approximate='none', exact erf form) or ½x(1 + tanh(√(2/π)(x + 0.044715x³)))."""
    return _unary(x, "gelu", _gelu_code(approximate, "gelu"))


def relu_backward(grad_out, x):
    """grad_out where x > 0, else 0."""
    return _binary(grad_out, x, "x", "relu_backward", _ACT["relu"])


def leaky_relu_backward(grad_out, x, negative_slope=0.01):
    """grad_out where x > 0, else negative_slope * grad_out."""
    return _binary(grad_out, x, "x", "leaky_relu_backward", _ACT["leaky_relu"],
                   _slope(negative_slope, "leaky_relu_backward"))


def sigmoid_backward(grad_out, y):
    """grad_out · y(1 - y), y = sigmoid(x)."""
    return _binary(grad_out, y, "y", "sigmoid_backward", _ACT["sigmoid"])


def tanh_backward(grad_out, y):
    """grad_out · (1 - y²), y = tanh(x)."""
    return _binary(grad_out, y, "y", "tanh_backward", _ACT["tanh"])


def gelu_backward(grad_out, x, approximate="none"):
    """grad_out · d gelu(x)/dx."""
    return _binary(grad_out, x, "x", "gelu_backward", _gelu_code(approximate, "gelu_backward"))


def silu(x):
    """x·sigmoid(x) elementwise (SiLU, swish), like torch.nn.functional.silu."""
    return _unary(x, "silu", _ACT["silu"])


def silu_backward(grad_out, x):
    """grad_out · σ(x)(1 + x(1 - σ(x))), the gradient of silu at x."""
    return _binary(grad_out, x, "x", "silu_backward", _ACT["silu"])


def _bias_act_args(x, bias, activation, axis, negative_slope, op):
    be, (x, bias) = backend(op, x=x, bias=bias)
    dtype = result_float_dtype(op, x=x, bias=bias)
    if activation not in _ACT or activation == "identity":
        raise ValueError(f"{op}: activation must be None, 'relu', 'leaky_relu', 'sigmoid', 'tanh', 'gelu', "
                         f"'gelu_tanh' or 'silu', got {activation!r}")
    if x.ndim == 0:
        raise ValueError(f"{op}: x must be at least 1-D, got a 0-D array")
    axis = axis_arg(axis, x.ndim, op)
    if bias is not None and bias.shape != (x.shape[axis],):
        raise ValueError(f"{op}: bias has shape {bias.shape}, expected ({x.shape[axis]},) "
                         f"(x.shape[{axis}] for x of shape {x.shape})")
    return be, x, bias, dtype, axis, _slope(negative_slope, op)


def bias_act(x, bias, activation=None, axis=1, negative_slope=0.01):
    """Fused ``act(x + bias)`` with bias (x.shape[axis],) broadcast along `axis`.

    activation: None (bias only), 'relu', 'leaky_relu', 'sigmoid', 'tanh', 'gelu',
    'gelu_tanh' or 'silu'. axis=1 fits NCHW feature maps and (N, C) Linear outputs alike.
    """
    be, x, bias, dtype, axis, slope = _bias_act_args(x, bias, activation, axis, negative_slope, "bias_act")
    x = be.contiguous(x, dtype)
    out = be.empty(x.shape, dtype)
    if x.size == 0:
        return out
    if bias is None:
        be.k.act_forward(x, out, _ACT[activation], slope)
        return out
    C = x.shape[axis]
    outer = math.prod(x.shape[:axis])
    inner = math.prod(x.shape[axis + 1:])
    be.k.bias_act(x, be.contiguous(bias, dtype), out, outer, C, inner, _ACT[activation], slope)
    return out


def bias_act_backward(grad_out, x, bias, activation=None, axis=1, negative_slope=0.01):
    """Gradients of `bias_act` -> (grad_x, grad_bias); grad_bias sums over all axes but `axis`
    (computed even when bias is None, as zeros-shaped (x.shape[axis],))."""
    be, x, bias, dtype, axis, slope = _bias_act_args(x, bias, activation, axis, negative_slope,
                                                     "bias_act_backward")
    grad_out = backend("bias_act_backward", grad_out=grad_out, x=x)[1][0]
    if grad_out.shape != x.shape:
        raise ValueError(f"bias_act_backward: grad_out has shape {grad_out.shape} but x has shape {x.shape}")
    dtype = np.result_type(dtype, result_float_dtype("bias_act_backward", grad_out=grad_out))
    g = be.contiguous(grad_out, dtype)
    if activation is None:
        gx = g.copy()
    else:
        code = _ACT[activation]
        pre = bias_act(x.astype(dtype, copy=False), bias, None, axis) if bias is not None else be.contiguous(x, dtype)
        v = bias_act(pre, None, activation, axis, slope) if activation in _BACKWARD_FROM_Y else pre
        gx = be.empty(g.shape, dtype)
        if g.size:
            be.k.act_backward(g, v, gx, code, slope)
    other = tuple(d for d in range(x.ndim) if d != axis)
    gb = gx.sum(axis=other, dtype=dtype) if other else gx.copy()
    return gx, gb


# ---- autograd: one Function per op, and its Tensor version (nk.<op> for Tensors) ----------

class ReLU(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return relu(x)

    @staticmethod
    def backward(ctx, g):
        return relu_backward(g, *ctx.saved_tensors)


class LeakyReLU(Function):
    @staticmethod
    def forward(ctx, x, negative_slope):
        ctx.save_for_backward(x)
        ctx.slope = negative_slope
        return leaky_relu(x, negative_slope)

    @staticmethod
    def backward(ctx, g):
        return leaky_relu_backward(g, *ctx.saved_tensors, ctx.slope), None


class GELU(Function):
    @staticmethod
    def forward(ctx, x, approximate):
        ctx.save_for_backward(x)
        ctx.approximate = approximate
        return gelu(x, approximate)

    @staticmethod
    def backward(ctx, g):
        return gelu_backward(g, *ctx.saved_tensors, ctx.approximate), None


class Sigmoid(Function):
    @staticmethod
    def forward(ctx, x):
        y = sigmoid(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        return sigmoid_backward(g, *ctx.saved_tensors)


class Tanh(Function):
    @staticmethod
    def forward(ctx, x):
        y = tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        return tanh_backward(g, *ctx.saved_tensors)


class SiLU(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return silu(x)

    @staticmethod
    def backward(ctx, g):
        return silu_backward(g, *ctx.saved_tensors)


class BiasAct(Function):
    @staticmethod
    def forward(ctx, x, bias, activation, axis, negative_slope):
        ctx.save_for_backward(x, bias)
        ctx.args = activation, axis, negative_slope
        return bias_act(x, bias, activation, axis, negative_slope)

    @staticmethod
    def backward(ctx, g):
        x, bias = ctx.saved_tensors
        gx, gb = bias_act_backward(g, x, bias, *ctx.args)
        return gx, (gb if bias is not None else None), None, None, None


@differentiable(relu, "relu")
def relu_tensor(x):
    return ReLU.apply(_t(x))


@differentiable(sigmoid, "sigmoid")
def sigmoid_tensor(x):
    return Sigmoid.apply(_t(x))


@differentiable(tanh, "tanh")
def tanh_tensor(x):
    return Tanh.apply(_t(x))


@differentiable(leaky_relu)
def leaky_relu_tensor(x, negative_slope=0.01):
    return LeakyReLU.apply(_t(x), negative_slope)


@differentiable(gelu)
def gelu_tensor(x, approximate="none"):
    return GELU.apply(_t(x), approximate)


@differentiable(silu)
def silu_tensor(x):
    return SiLU.apply(_t(x))


@differentiable(bias_act)
def bias_act_tensor(x, bias, activation=None, axis=1, negative_slope=0.01):
    return BiasAct.apply(_t(x), bias, activation, axis, negative_slope)

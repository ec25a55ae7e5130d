"""Differentiable LSTM / GRU layers and cells over nnkernels.ops.rnn (several outputs
each: one backward call receives the gradients of all of them)."""
from __future__ import annotations

from .. import ops
from .function import Function
from .tensor import _t

__all__ = ["lstm", "gru", "lstm_cell", "gru_cell"]


class LSTM(Function):
    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh):
        y, hT, cT, ctx.cache = ops.lstm(x, h0, c0, w_ih, w_hh, b_ih, b_hh, return_cache=True)
        return y, hT, cT

    @staticmethod
    def backward(ctx, gy, ghT, gcT):
        return ops.lstm_backward(gy, ghT, gcT, ctx.cache)


class GRU(Function):
    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh):
        y, hT, ctx.cache = ops.gru(x, h0, w_ih, w_hh, b_ih, b_hh, return_cache=True)
        return y, hT

    @staticmethod
    def backward(ctx, gy, ghT):
        return ops.gru_backward(gy, ghT, ctx.cache)


class LSTMCell(Function):
    @staticmethod
    def forward(ctx, x, h, c, w_ih, w_hh, b_ih, b_hh):
        ctx.save_for_backward(x, h, c, w_ih, w_hh, b_ih, b_hh)
        return ops.lstm_cell(x, h, c, w_ih, w_hh, b_ih, b_hh)

    @staticmethod
    def backward(ctx, gh1, gc1):
        return ops.lstm_cell_backward(gh1, gc1, *ctx.saved_tensors)


class GRUCell(Function):
    @staticmethod
    def forward(ctx, x, h, w_ih, w_hh, b_ih, b_hh):
        ctx.save_for_backward(x, h, w_ih, w_hh, b_ih, b_hh)
        return ops.gru_cell(x, h, w_ih, w_hh, b_ih, b_hh)

    @staticmethod
    def backward(ctx, gh1):
        return ops.gru_cell_backward(gh1, *ctx.saved_tensors)


def lstm(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None):
    """One layer, one direction. x (T, B, I), h0/c0 (B, G) -> y (T, B, G), hT, cT (B, G)."""
    return LSTM.apply(_t(x), _t(h0), _t(c0), w_ih, w_hh, b_ih, b_hh)


def gru(x, h0, w_ih, w_hh, b_ih=None, b_hh=None):
    """One layer, one direction. x (T, B, I), h0 (B, G) -> y (T, B, G), hT (B, G)."""
    return GRU.apply(_t(x), _t(h0), w_ih, w_hh, b_ih, b_hh)


def lstm_cell(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None):
    """One LSTM step on Tensors -> (h1, c1); h, c may be None (zeros)."""
    return LSTMCell.apply(_t(x), h, c, w_ih, w_hh, b_ih, b_hh)


def gru_cell(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step on Tensors -> h1; h may be None (zeros)."""
    return GRUCell.apply(_t(x), h, w_ih, w_hh, b_ih, b_hh)

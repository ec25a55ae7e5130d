"""Recurrent layers: LSTM, GRU (on the nnkernels sequence kernels), Bidirectional, TimeDistributed.
Underneath are nn.LSTM/nn.GRU (PyTorch layout); `weights` shows Keras's kernel (in, g*units),
recurrent_kernel (units, g*units) and bias in Keras's gate order (LSTM i, f, c, o; GRU z, r, h
with the reset_after bias (2, 3*units)) — copies, so change them with set_weights."""
from __future__ import annotations

import copy

import numpy as np

from ... import nn
from ...autograd import Tensor
from ... import autograd as ag
from ...nn import functional as F
from ...nn import init
from .base import Layer, _check_units, _glorot, _view

__all__ = ["LSTM", "GRU", "Bidirectional", "TimeDistributed"]


class _RNN(Layer):
    _cls = None
    _keras_cell = True  # Keras keeps the weights in a cell sublayer (weight files: <path>/cell/vars)

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 return_sequences=False, return_state=False, go_backwards=False, dropout=0.0,
                 recurrent_dropout=0.0, unit_forget_bias=True, reset_after=True, **kwargs):
        super().__init__(**kwargs)
        L = type(self).__name__
        self.units = _check_units(units, "units", L)
        if activation != "tanh" or recurrent_activation != "sigmoid":
            raise ValueError(f"{L}: only activation='tanh', recurrent_activation='sigmoid' are supported "
                             "(the sequence kernels fuse them)")
        if recurrent_dropout:
            raise ValueError(f"{L}: recurrent_dropout is not supported")
        if not reset_after:
            raise ValueError(f"{L}: only reset_after=True (the PyTorch/cuDNN formulation) is supported")
        self.dropout = float(dropout)
        self.use_bias, self.unit_forget_bias = use_bias, unit_forget_bias
        self.return_sequences, self.return_state, self.go_backwards = return_sequences, return_state, go_backwards

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"{type(self).__name__}: expected input (batch, timesteps, features), "
                             f"got {input_shape}")
        self.rnn = self._cls(input_shape[-1], self.units, bias=self.use_bias, batch_first=True)
        for name, p in self.rnn.named_parameters():
            if name.startswith("weight_ih"):
                _glorot(p)
            elif name.startswith("weight_hh"):
                g = p.shape[0] // self.units  # orthogonal per gate block, like Keras' (units, g*units)
                for i in range(g):
                    blk = Tensor(np.empty((self.units, self.units), p.dtype))
                    init.orthogonal_(blk)
                    p.data[i * self.units:(i + 1) * self.units] = blk.data
            else:
                init.zeros_(p)
        if self.use_bias and self.unit_forget_bias and self._cls is nn.LSTM:
            self.rnn.bias_ih_l0.data[self.units:2 * self.units] = 1.0
        if self.use_bias and self._cls is nn.LSTM:  # Keras's LSTM has one bias: bias_hh stays zero, untrained
            self.rnn.bias_hh_l0.requires_grad = False
            self.rnn.bias_hh_l0.trainable = False

    _order = None  # Keras gate block i holds PyTorch's block _order[i]

    def _blocks(self, a, axis):
        """Reorder the gate blocks of `a` along `axis` between PyTorch's and Keras's order."""
        if self._order is None:
            return a
        u, xp = self.units, ag.array_module(a)
        return xp.concatenate([xp.take(a, xp.arange(i * u, (i + 1) * u), axis=axis) for i in self._order], axis=axis)

    def _own_weights(self):
        if not self.built:
            return []
        r = self.rnn
        ws = [_view(self, "kernel", self._blocks(r.weight_ih_l0.data.T, 1)),
              _view(self, "recurrent_kernel", self._blocks(r.weight_hh_l0.data.T, 1))]
        if self.use_bias:
            ws.append(_view(self, "bias", self._keras_bias(self._blocks(r.bias_ih_l0.data, 0),
                                                           self._blocks(r.bias_hh_l0.data, 0))))
        return ws

    def _set_own_weights(self, arrays):
        r = self.rnn
        r.weight_ih_l0.data[...] = self._blocks(arrays[0], 1).T
        r.weight_hh_l0.data[...] = self._blocks(arrays[1], 1).T
        if self.use_bias:
            bi, bh = self._torch_bias(arrays[2])
            r.bias_ih_l0.data[...] = self._blocks(bi, 0)
            r.bias_hh_l0.data[...] = self._blocks(bh, 0)

    @property
    def kernel(self):
        return self._own_weights()[0]

    @property
    def recurrent_kernel(self):
        return self._own_weights()[1]

    @property
    def bias(self):
        return self._own_weights()[2] if self.use_bias else None

    def call(self, x, initial_state=None, training=None):
        if self.dropout and self.training:
            x = F.dropout(x, self.dropout, True)
        if self.go_backwards:
            x = x[:, ::-1]
        hx = None
        if initial_state is not None:
            st = [s if isinstance(s, Tensor) else Tensor(s) for s in initial_state]
            hx = tuple(s.unsqueeze(0) for s in st) if self._cls is nn.LSTM else st[0].unsqueeze(0)
        y, state = self.rnn(x, hx)
        out = y if self.return_sequences else y[:, -1]
        if not self.return_state:
            return out
        if self._cls is nn.LSTM:
            return [out, state[0][0], state[1][0]]
        return [out, state[0]]


class LSTM(_RNN):
    """LSTM(units, return_sequences=False, return_state=False): (N, T, F) -> (N, units) or (N, T, units).
    Keras's one bias is PyTorch's two summed (set_weights puts it all in bias_ih)."""
    _cls = nn.LSTM

    @staticmethod
    def _keras_bias(bi, bh):
        return bi + bh

    @staticmethod
    def _torch_bias(b):
        return b, ag.array_module(b).zeros_like(b)


class GRU(_RNN):
    """GRU(units, ...) with reset_after=True (the PyTorch formulation); bias (2, 3*units): the
    input bias, then the recurrent one."""
    _cls = nn.GRU
    _order = (1, 0, 2)  # Keras z, r, h = PyTorch's blocks z (1), r (0), n (2)

    @staticmethod
    def _keras_bias(bi, bh):
        return ag.array_module(bi).stack([bi, bh])

    @staticmethod
    def _torch_bias(b):
        return b[0], b[1]


class Bidirectional(Layer):
    """Bidirectional(LSTM(...) or GRU(...), merge_mode='concat'|'sum'|'mul'|'ave'|None): the layer
    run forward and a copy of it run backward in time; with return_sequences the backward
    outputs are put back in forward order. Weights: the forward layer's, then the backward's."""

    def __init__(self, layer, merge_mode="concat", backward_layer=None, weights=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, _RNN):
            raise ValueError(f"Bidirectional: expected an LSTM or GRU layer, got {type(layer).__name__}")
        if merge_mode not in ("concat", "sum", "mul", "ave", None):
            raise ValueError(f"Bidirectional: merge_mode must be 'concat', 'sum', 'mul', 'ave' or None, "
                             f"got {merge_mode!r}")
        if layer.return_state:
            raise ValueError("Bidirectional: return_state=True is not supported")
        self.merge_mode = merge_mode
        if backward_layer is None:
            backward_layer = copy.deepcopy(layer)
            backward_layer.go_backwards = not layer.go_backwards
        backward_layer.name = "backward_" + layer.name
        layer.name = "forward_" + layer.name
        self.forward_layer, self.backward_layer = layer, backward_layer
        self.return_sequences = layer.return_sequences

    def call(self, x, training=None):
        f = self.forward_layer(x, training=training)
        b = self.backward_layer(x, training=training)
        if self.return_sequences:
            b = b[:, ::-1]
        if self.merge_mode == "concat":
            return ag.cat([f, b], axis=-1)
        if self.merge_mode == "sum":
            return f + b
        if self.merge_mode == "mul":
            return f * b
        if self.merge_mode == "ave":
            return (f + b) * 0.5
        return [f, b]


class TimeDistributed(Layer):
    """TimeDistributed(layer): `layer` applied to every step of (N, T, ...) inputs (the steps
    folded into the batch axis); its weights are shared across the steps."""

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(layer, Layer):
            raise ValueError(f"TimeDistributed: expected a keras layer, got {type(layer).__name__}")
        self.layer = layer

    def build(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError(f"TimeDistributed: expected inputs (batch, steps, ...), got {input_shape}")

    def call(self, x, training=None):
        n, t = x.shape[:2]
        y = self.layer(x.reshape((n * t,) + tuple(x.shape[2:])), training=training)
        return y.reshape((n, t) + tuple(y.shape[1:]))

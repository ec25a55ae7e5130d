"""Recurrent layers: LSTM, GRU (stacked, bidirectional) and the cells LSTMCell, GRUCell."""
from __future__ import annotations

import math

import numpy as np

from .. import autograd as ag
from ..autograd import Tensor
from . import functional as F
from . import init
from .module import Module, Parameter, _pos_int, _prob

__all__ = ["LSTM", "GRU", "LSTMCell", "GRUCell"]


class _RNNBase(Module):
    _gates = 0
    _name = ""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, dtype=np.float32):
        super().__init__()
        L = self._name
        self.input_size = _pos_int("input_size", input_size, L)
        self.hidden_size = _pos_int("hidden_size", hidden_size, L)
        self.num_layers = _pos_int("num_layers", num_layers, L)
        self.dropout = _prob("dropout", dropout, L)
        self.bias, self.batch_first, self.bidirectional = bias, batch_first, bidirectional
        nd = 2 if bidirectional else 1
        k = 1 / math.sqrt(hidden_size)
        G = self._gates * hidden_size
        for layer in range(num_layers):
            for d in range(nd):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                isz = input_size if layer == 0 else hidden_size * nd
                names = [("weight_ih" + sfx, (G, isz)), ("weight_hh" + sfx, (G, hidden_size))]
                if bias:
                    names += [("bias_ih" + sfx, (G,)), ("bias_hh" + sfx, (G,))]
                for name, shp in names:
                    setattr(self, name, Parameter(np.empty(shp, dtype)))
                    init.uniform_(getattr(self, name), -k, k)

    def _weights(self, layer, d):
        sfx = f"_l{layer}" + ("_reverse" if d else "")
        w = [getattr(self, "weight_ih" + sfx), getattr(self, "weight_hh" + sfx)]
        return w + ([getattr(self, "bias_ih" + sfx), getattr(self, "bias_hh" + sfx)] if self.bias else [None, None])

    def forward(self, input, hx=None):
        """input (T, B, I) [(B, T, I) if batch_first] -> output (T, B, D*H), h_n (L*D, B, H) [, c_n]."""
        x = ag._t(input)
        if x.ndim not in (2, 3) or x.shape[-1] != self.input_size:
            raise ValueError(f"{self._name}: input must be (T, B, {self.input_size}) "
                             f"{'(batch_first) ' if self.batch_first else ''}or unbatched, got {x.shape}")
        unbatched = x.ndim == 2
        if unbatched:
            x = x.unsqueeze(1)
        elif self.batch_first:
            x = x.permute(1, 0, 2)
        B = x.shape[1]
        nd = 2 if self.bidirectional else 1
        lstm = self._gates == 4
        if hx is None:
            z = Tensor(np.zeros((self.num_layers * nd, B, self.hidden_size), x.dtype))
            hx = (z, z) if lstm else z
        h0s = hx[0] if lstm else hx
        c0s = hx[1] if lstm else None
        if unbatched:
            h0s = h0s.unsqueeze(1)
            c0s = c0s.unsqueeze(1) if lstm else None
        hn, cn = [], []
        for layer in range(self.num_layers):
            outs = []
            for d in range(nd):
                xi = x[::-1] if d else x
                w = self._weights(layer, d)
                i = layer * nd + d
                if lstm:
                    y, h, c = F.lstm(xi, h0s[i], c0s[i], *w)
                    cn.append(c)
                else:
                    y, h = F.gru(xi, h0s[i], *w)
                hn.append(h)
                outs.append(y[::-1] if d else y)
            x = outs[0] if nd == 1 else ag.cat(outs, axis=2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        if unbatched:
            out = x[:, 0]
        else:
            out = x.permute(1, 0, 2) if self.batch_first else x
        h_n = ag.stack(hn, axis=0)
        if unbatched:
            h_n = h_n[:, 0]
        if lstm:
            c_n = ag.stack(cn, axis=0)
            return out, (h_n, c_n[:, 0] if unbatched else c_n)
        return out, h_n


class LSTM(_RNNBase):
    """Multi-layer (bi)directional LSTM on the sequence kernel `ops.lstm`. torch.nn.LSTM."""
    _gates, _name = 4, "LSTM"


class GRU(_RNNBase):
    """Multi-layer (bi)directional GRU on the sequence kernel `ops.gru`. torch.nn.GRU."""
    _gates, _name = 3, "GRU"


class _CellBase(Module):
    _gates = 0

    def __init__(self, input_size, hidden_size, bias=True, dtype=np.float32):
        super().__init__()
        L = type(self).__name__
        self.input_size = _pos_int("input_size", input_size, L)
        self.hidden_size = _pos_int("hidden_size", hidden_size, L)
        G, k = self._gates * hidden_size, 1 / math.sqrt(hidden_size)
        self.weight_ih = Parameter(np.empty((G, input_size), dtype))
        self.weight_hh = Parameter(np.empty((G, hidden_size), dtype))
        self.bias_ih = Parameter(np.empty(G, dtype)) if bias else None
        self.bias_hh = Parameter(np.empty(G, dtype)) if bias else None
        for p in self.parameters():
            init.uniform_(p, -k, k)


class LSTMCell(_CellBase):
    """(x (B, I), (h, c) (B, H)) -> (h1, c1); one step of the sequence kernel. torch.nn.LSTMCell."""
    _gates = 4

    def forward(self, input, hx=None):
        x = ag._t(input)
        if hx is None:
            z = Tensor(np.zeros((x.shape[0], self.hidden_size), x.dtype))
            hx = (z, z)
        _, h, c = F.lstm(x.unsqueeze(0), hx[0], hx[1], self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return h, c


class GRUCell(_CellBase):
    """(x (B, I), h (B, H)) -> h1; one step of the sequence kernel. torch.nn.GRUCell."""
    _gates = 3

    def forward(self, input, hx=None):
        x = ag._t(input)
        if hx is None:
            hx = Tensor(np.zeros((x.shape[0], self.hidden_size), x.dtype))
        _, h = F.gru(x.unsqueeze(0), hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return h

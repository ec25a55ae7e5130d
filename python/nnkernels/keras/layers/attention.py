"""MultiHeadAttention (its weights seen in Keras's EinsumDense layout)."""
from __future__ import annotations

import math

import numpy as np

from ... import autograd as ag
from ... import nn
from ...autograd import Tensor
from ...nn import functional as F
from ...nn import init
from .base import KerasTensor, Layer, Variable, _check_units, _glorot

__all__ = ['MultiHeadAttention']


# -------------------------------------------------------------------- attention
class MultiHeadAttention(Layer):
    """MultiHeadAttention(num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True, output_shape=None).
    layer(query, value, key=None, attention_mask=None) with (N, T, dim) tensors; attention_mask
    (N, T, S) bool, True = attend. Attention itself runs on ops.scaled_dot_product_attention."""

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True, output_shape=None, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = _check_units(num_heads, "num_heads", "MultiHeadAttention")
        self.key_dim = _check_units(key_dim, "key_dim", "MultiHeadAttention")
        self.value_dim = _check_units(value_dim or key_dim, "value_dim", "MultiHeadAttention")
        self.dropout, self.use_bias, self.out_dim = float(dropout), use_bias, output_shape

    def build(self, shapes):
        qs, vs, ks = shapes
        h, kd, vd = self.num_heads, self.key_dim, self.value_dim
        self.query_dense = nn.Linear(qs[-1], h * kd, bias=self.use_bias)
        self.key_dense = nn.Linear(ks[-1], h * kd, bias=self.use_bias)
        self.value_dense = nn.Linear(vs[-1], h * vd, bias=self.use_bias)
        self.output_dense = nn.Linear(h * vd, self.out_dim or qs[-1], bias=self.use_bias)
        for m in (self.query_dense, self.key_dense, self.value_dense, self.output_dense):
            _glorot(m.weight)
            if self.use_bias:
                init.zeros_(m.bias)

    _PARTS = (("query", "query_dense"), ("key", "key_dense"), ("value", "value_dense"),
              ("attention_output", "output_dense"))

    def _own_weights(self):
        """Keras's layout: query/key/value kernels (dim, heads, head_dim) and biases (heads, head_dim),
        the output kernel (heads, value_dim, out) and bias (out): copies of the Linear weights (use set_weights)."""
        if not self.built:
            return []
        h, out = self.num_heads, []
        for part, attr in self._PARTS:
            lin = getattr(self, attr)
            w = lin.weight.data.T  # (in, out)
            if part == "attention_output":
                k, b = w.reshape(h, -1, w.shape[1]), lin.bias.data if self.use_bias else None
            else:
                k = w.reshape(w.shape[0], h, -1)
                b = lin.bias.data.reshape(h, -1) if self.use_bias else None
            out.append(Variable(k, "kernel", True, f"{self.name}/{part}/kernel"))
            if b is not None:
                out.append(Variable(b, "bias", True, f"{self.name}/{part}/bias"))
        return out

    def _set_own_weights(self, arrays):
        it = iter(arrays)
        for _, attr in self._PARTS:
            lin = getattr(self, attr)
            lin.weight.data[...] = np.asarray(next(it)).reshape(lin.weight.shape[1], -1).T
            if self.use_bias:
                lin.bias.data[...] = np.asarray(next(it)).reshape(-1)

    def __call__(self, query, value=None, key=None, training=None, **kwargs):
        if value is None:
            raise ValueError("MultiHeadAttention: call it as layer(query, value[, key])")
        if any(isinstance(t, KerasTensor) for t in (query, value, key)):
            return self._symbolic_call((query, value) + ((key,) if key is not None else ()), kwargs)
        k = value if key is None else key
        self._ensure_built((tuple(query.shape), tuple(value.shape), tuple(k.shape)))
        if training is not None and bool(training) != self.training:
            was = self.training
            self.train(bool(training))
            try:
                return self.call(query, value, key, **kwargs)
            finally:
                self.train(was)
        return self.call(query, value, key, **kwargs)

    def call(self, query, value, key=None, attention_mask=None, return_attention_scores=False, training=None,
             use_causal_mask=False):
        q, v = ag._t(query), ag._t(value)
        k = v if key is None else ag._t(key)
        B, T, _ = q.shape
        S = k.shape[1]
        h = self.num_heads

        def split(t, lin, n, d):
            return lin(t).reshape(B, n, h, d).transpose(1, 2)
        qh = split(q, self.query_dense, T, self.key_dim)
        kh = split(k, self.key_dense, S, self.key_dim)
        vh = split(v, self.value_dense, S, self.value_dim)
        mask = None
        xp = ag.array_module(qh.data)  # NumPy, or CuPy for a model on a GPU
        if attention_mask is not None:
            m = xp.asarray(ag._as_data(attention_mask)).astype(bool)
            mask = xp.ascontiguousarray(xp.broadcast_to(m.reshape(B, 1, T, S), (B, h, T, S)))
        if use_causal_mask:
            c = xp.broadcast_to(xp.tril(xp.ones((T, S), bool)), (B, h, T, S))
            mask = xp.ascontiguousarray(c if mask is None else mask & c)
        scores = None
        if return_attention_scores or (self.dropout and self.training):
            s = (qh @ kh.transpose(-1, -2)) * (1.0 / math.sqrt(self.key_dim))
            if mask is not None:
                s = s + Tensor(xp.where(mask, 0.0, -np.inf).astype(s.dtype))
            p = ag.softmax(s, -1)
            scores = p.detach()
            o = F.dropout(p, self.dropout, self.training) @ vh
        else:
            o = F.scaled_dot_product_attention(qh, kh, vh, attn_mask=mask)
        o = self.output_dense(o.transpose(1, 2).reshape(B, T, h * self.value_dim))
        return [o, scores] if return_attention_scores else o

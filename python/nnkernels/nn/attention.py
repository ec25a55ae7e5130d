"""Attention layers: MultiheadAttention and the Transformer encoder/decoder stacks."""
from __future__ import annotations

import math

import numpy as np

from .. import autograd as ag
from ..autograd import Tensor
from . import functional as F
from . import init
from .activation import GELU, ReLU
from .container import ModuleList
from .linear import Dropout, Linear
from .module import Module, Parameter, _pos_int, _prob
from .normalization import LayerNorm

__all__ = ["MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder", "TransformerDecoderLayer",
           "TransformerDecoder"]


class MultiheadAttention(Module):
    """torch.nn.MultiheadAttention (same parameter names). query (L, B, E) [(B, L, E) if
    batch_first]; attn_mask / key_padding_mask: bool True = masked out, or additive float.
    Returns (output, weights averaged over heads, or None when need_weights=False)."""

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, batch_first=False, dtype=np.float32):
        super().__init__()
        L = "MultiheadAttention"
        self.embed_dim = _pos_int("embed_dim", embed_dim, L)
        self.num_heads = _pos_int("num_heads", num_heads, L)
        if embed_dim % num_heads:
            raise ValueError(f"{L}: embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
        self.dropout = _prob("dropout", dropout, L)
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        self.in_proj_weight = Parameter(np.empty((3 * embed_dim, embed_dim), dtype))
        init.xavier_uniform_(self.in_proj_weight)
        self.in_proj_bias = Parameter(np.zeros(3 * embed_dim, dtype)) if bias else None
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype)
        if bias:
            init.zeros_(self.out_proj.bias)

    def _mask(self, attn_mask, key_padding_mask, B, L, S, dtype):
        """One additive float mask (B, heads, L, S) or None (torch semantics in, sdpa's out)."""
        m = None
        for mask, shape in ((attn_mask, None), (key_padding_mask, (B, 1, 1, S))):
            if mask is None:
                continue
            a = ag._as_data(mask)
            if shape is None and a.ndim == 3:
                a = a.reshape(B, self.num_heads, L, S)
            elif shape is not None:
                a = a.reshape(shape)
            a = np.where(a, -np.inf, 0.0).astype(dtype) if a.dtype == bool else a.astype(dtype)
            m = a if m is None else m + a
        if m is None:
            return None
        return np.ascontiguousarray(np.broadcast_to(m, (B, self.num_heads, L, S)))

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True, is_causal=False):
        q, k, v = ag._t(query), ag._t(key), ag._t(value)
        if not self.batch_first:
            q, k, v = q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1)
        B, L, E = q.shape
        S = k.shape[1]
        if E != self.embed_dim:
            raise ValueError(f"MultiheadAttention: query has {E} features, expected embed_dim {self.embed_dim}")
        w, b = self.in_proj_weight, self.in_proj_bias
        bs = (None, None, None) if b is None else (b[:E], b[E:2 * E], b[2 * E:])
        h, D = self.num_heads, self.head_dim

        def heads(t, wi, bi, n):
            return F.linear(t, wi, bi).reshape(B, n, h, D).transpose(1, 2)
        qh = heads(q, w[:E], bs[0], L)
        kh = heads(k, w[E:2 * E], bs[1], S)
        vh = heads(v, w[2 * E:], bs[2], S)
        mask = self._mask(attn_mask, key_padding_mask, B, L, S, q.dtype)
        if is_causal and mask is None:
            mask = np.ascontiguousarray(np.broadcast_to(
                np.where(np.tril(np.ones((L, S), bool)), 0.0, -np.inf).astype(q.dtype), (B, h, L, S)))
        weights = None
        if (self.dropout and self.training) or need_weights:
            s = (qh @ kh.transpose(-1, -2)) * (1.0 / math.sqrt(D))
            if mask is not None:
                s = s + Tensor(mask)
            p = ag.softmax(s, -1)
            weights = p.detach()
            if average_attn_weights:
                weights = weights.mean(axis=1)
            o = F.dropout(p, self.dropout, self.training) @ vh
        else:
            o = F.scaled_dot_product_attention(qh, kh, vh, attn_mask=mask)
        o = self.out_proj(o.transpose(1, 2).reshape(B, L, E))
        if not self.batch_first:
            o = o.transpose(0, 1)
        return o, weights


class TransformerEncoderLayer(Module):
    """Self-attention + feed-forward block (post-norm by default). torch.nn.TransformerEncoderLayer."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu", layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, dtype=np.float32):
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation(activation, "TransformerEncoderLayer")

    def _sa(self, x, mask, kpm, is_causal):
        return self.dropout1(self.self_attn(x, x, x, attn_mask=mask, key_padding_mask=kpm, need_weights=False,
                                            is_causal=is_causal)[0])

    def _ff(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        x = ag._t(src)
        if self.norm_first:
            x = x + self._sa(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff(self.norm2(x))
        x = self.norm1(x + self._sa(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff(x))


def _activation(activation, layer):
    if activation in ("relu", "gelu"):  # modules, not functions, so the layer pickles
        return ReLU() if activation == "relu" else GELU()
    if callable(activation):
        return activation
    raise ValueError(f"{layer}: activation must be 'relu', 'gelu' or callable, got {activation!r}")


def _clones(layer, n, name):
    import copy
    _pos_int("num_layers", n, name)
    return ModuleList([copy.deepcopy(layer) for _ in range(n)])


class TransformerEncoder(Module):
    """A stack of `num_layers` deep copies of `encoder_layer`, then the optional `norm`.
    src (S, B, E) [(B, S, E) if batch_first] -> same shape. torch.nn.TransformerEncoder."""

    def __init__(self, encoder_layer, num_layers, norm=None, enable_nested_tensor=True, mask_check=True):
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers, "TransformerEncoder")
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=bool(is_causal))
        return x if self.norm is None else self.norm(x)


class TransformerDecoderLayer(Module):
    """Self-attention, attention over `memory`, feed-forward (post-norm by default).
    tgt (T, B, E), memory (S, B, E) [batch first if batch_first] -> (T, B, E).
    torch.nn.TransformerDecoderLayer (same parameter names)."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu", layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, bias=True, dtype=np.float32):
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first,
                                            dtype=dtype)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first, dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1, self.dropout2, self.dropout3 = Dropout(dropout), Dropout(dropout), Dropout(dropout)
        self.activation = _activation(activation, "TransformerDecoderLayer")

    def _sa(self, x, mask, kpm, is_causal):
        return self.dropout1(self.self_attn(x, x, x, attn_mask=mask, key_padding_mask=kpm, need_weights=False,
                                            is_causal=is_causal)[0])

    def _mha(self, x, mem, mask, kpm, is_causal):
        return self.dropout2(self.multihead_attn(x, mem, mem, attn_mask=mask, key_padding_mask=kpm,
                                                 need_weights=False, is_causal=is_causal)[0])

    def _ff(self, x):
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False):
        x, mem = ag._t(tgt), ag._t(memory)
        if self.norm_first:
            x = x + self._sa(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha(self.norm2(x), mem, memory_mask, memory_key_padding_mask, memory_is_causal)
            return x + self._ff(self.norm3(x))
        x = self.norm1(x + self._sa(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
        x = self.norm2(x + self._mha(x, mem, memory_mask, memory_key_padding_mask, memory_is_causal))
        return self.norm3(x + self._ff(x))


class TransformerDecoder(Module):
    """A stack of `num_layers` deep copies of `decoder_layer`, then the optional `norm`.
    torch.nn.TransformerDecoder."""

    def __init__(self, decoder_layer, num_layers, norm=None):
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers, "TransformerDecoder")
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False):
        x = tgt
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask, memory_key_padding_mask=memory_key_padding_mask,
                      tgt_is_causal=bool(tgt_is_causal), memory_is_causal=memory_is_causal)
        return x if self.norm is None else self.norm(x)

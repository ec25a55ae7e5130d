"""Differentiable scaled dot-product attention over nnkernels.ops.attention."""
from __future__ import annotations

from .. import ops
from .function import Function
from .tensor import _as_data, _t

__all__ = ["scaled_dot_product_attention"]


class ScaledDotProductAttention(Function):
    @staticmethod
    def forward(ctx, q, k, v, attn_mask, is_causal, scale):
        out, lse = ops.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, is_causal=is_causal, scale=scale,
                                                    return_lse=True)
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.kw = dict(attn_mask=attn_mask, is_causal=is_causal, scale=scale)
        return out

    @staticmethod
    def backward(ctx, g):
        gq, gk, gv = ops.scaled_dot_product_attention_backward(g, *ctx.saved_tensors, **ctx.kw)
        return gq, gk, gv, None, None, None


def scaled_dot_product_attention(query, key, value, attn_mask=None, is_causal=False, scale=None):
    """q (..., L, D), k (..., S, D), v (..., S, Dv) -> (..., L, Dv); bool mask True = attend."""
    mask = None if attn_mask is None else _as_data(attn_mask)
    return ScaledDotProductAttention.apply(_t(query), _t(key), _t(value), mask, is_causal, scale)

"""Differentiable fused cross-entropy over nnkernels.ops.softmax.cross_entropy (the
composite losses with weights, ignore_index or probability targets are in nn.functional)."""
from __future__ import annotations

from .. import ops
from .function import Function
from .tensor import _t

__all__ = ["cross_entropy"]


class CrossEntropy(Function):
    @staticmethod
    def forward(ctx, logits, target, reduction, label_smoothing):
        ctx.save_for_backward(logits, target)
        ctx.args = reduction, label_smoothing
        return ops.cross_entropy(logits, target, reduction, label_smoothing)

    @staticmethod
    def backward(ctx, g):
        logits, target = ctx.saved_tensors
        return ops.cross_entropy_backward(g, logits, target, *ctx.args), None, None, None


def cross_entropy(input, target, *args, **kwargs):
    """nk.cross_entropy on Tensors: torch.nn.functional.cross_entropy (class weights,
    ignore_index, probability targets, (N, C, d...) inputs), which runs `CrossEntropy`
    for (N, C) logits with class-index targets."""
    from ..nn.functional import cross_entropy as f
    return f(_t(input), target, *args, **kwargs)

"""Loss layers: CrossEntropyLoss, NLLLoss, MSELoss, BCELoss, BCEWithLogitsLoss."""
from __future__ import annotations

from .. import autograd as ag
from . import functional as F
from .module import Module

__all__ = ["CrossEntropyLoss", "NLLLoss", "MSELoss", "BCELoss", "BCEWithLogitsLoss"]


class _Loss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"{type(self).__name__}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        self.reduction = reduction


class CrossEntropyLoss(_Loss):
    """logits (N, C) [or (N, C, d...)], target (N,) class indices or (N, C) probabilities."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__(reduction)
        if not 0 <= label_smoothing <= 1:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1], got {label_smoothing}")
        self.weight = None if weight is None else ag._as_data(weight)
        if self.weight is not None and self.weight.ndim != 1:
            raise ValueError(f"CrossEntropyLoss: weight must be 1-D (C,), got shape {self.weight.shape}")
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input, target):
        try:
            return F.cross_entropy(input, target, self.weight, ignore_index=self.ignore_index,
                                   reduction=self.reduction, label_smoothing=self.label_smoothing)
        except (ValueError, TypeError) as e:
            raise type(e)(str(e).replace("cross_entropy:", "CrossEntropyLoss:", 1)) from None


class NLLLoss(_Loss):
    """log-probabilities (N, C), target (N,) class indices; weight (C,), ignore_index as torch."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean"):
        if isinstance(weight, str):  # NLLLoss("sum"): the reduction, as before weight existed
            weight, reduction = None, weight
        super().__init__(reduction)
        self.weight = None if weight is None else ag._as_data(weight)
        if self.weight is not None and self.weight.ndim != 1:
            raise ValueError(f"NLLLoss: weight must be 1-D (C,), got shape {self.weight.shape}")
        self.ignore_index = ignore_index

    def forward(self, input, target):
        try:
            return F.nll_loss(input, target, self.reduction, weight=self.weight, ignore_index=self.ignore_index)
        except (ValueError, TypeError) as e:
            raise type(e)(str(e).replace("nll_loss:", "NLLLoss:", 1)) from None


class MSELoss(_Loss):
    def forward(self, input, target):
        return F.mse_loss(input, target, self.reduction)


class BCELoss(_Loss):
    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + binary cross-entropy in one stable step; weight (broadcast over the loss) and
    pos_weight (per class, the last axis) as torch.nn.BCEWithLogitsLoss."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean", pos_weight=None):
        if isinstance(weight, str):
            weight, reduction = None, weight
        super().__init__(reduction)
        self.weight, self.pos_weight = weight, pos_weight

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.weight, reduction=self.reduction,
                                                  pos_weight=self.pos_weight)

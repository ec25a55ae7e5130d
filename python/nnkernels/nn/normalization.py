"""Embedding and the normalisation layers: BatchNorm1d/2d, LayerNorm."""
from __future__ import annotations

import numpy as np

from ..autograd import Tensor
from . import functional as F
from . import init
from .module import Module, Parameter, _pos_int

__all__ = ["Embedding", "BatchNorm1d", "BatchNorm2d", "LayerNorm"]


class Embedding(Module):
    """int indices (...) -> (..., embedding_dim); weight ~ N(0, 1). torch.nn.Embedding."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, dtype=np.float32):
        super().__init__()
        self.num_embeddings = _pos_int("num_embeddings", num_embeddings, "Embedding")
        self.embedding_dim = _pos_int("embedding_dim", embedding_dim, "Embedding")
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} out of range for {num_embeddings} embeddings")
            padding_idx %= num_embeddings
        self.padding_idx = padding_idx
        self.weight = Parameter(np.empty((num_embeddings, embedding_dim), dtype))
        init.normal_(self.weight)
        if padding_idx is not None:
            self.weight.data[padding_idx] = 0

    def forward(self, idx):
        return F.embedding(idx, self.weight, self.padding_idx)


class _BatchNorm(Module):
    _dims = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 dtype=np.float32):
        super().__init__()
        self.num_features = _pos_int("num_features", num_features, type(self).__name__)
        self.eps, self.momentum = float(eps), float(momentum)
        self.affine, self.track_running_stats = affine, track_running_stats
        self.weight = Parameter(np.ones(num_features, dtype)) if affine else None
        self.bias = Parameter(np.zeros(num_features, dtype)) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dtype)))
            self.register_buffer("num_batches_tracked", Tensor(np.zeros((), np.int64)))
        else:
            self.running_mean = self.running_var = None

    def forward(self, x):
        if x.ndim not in self._dims or x.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}: expected input of {self._dims} dims with "
                             f"{self.num_features} channels on axis 1, got shape {x.shape}")
        use_batch = self.training or not self.track_running_stats
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data += 1
        return F.batch_norm(x, self.running_mean if self.training else self.running_mean,
                            self.running_var, self.weight, self.bias, use_batch, self.momentum, self.eps)


class BatchNorm1d(_BatchNorm):
    """x (N, C) or (N, C, L), per-channel statistics. torch.nn.BatchNorm1d."""
    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """x (N, C, H, W), per-channel statistics. torch.nn.BatchNorm2d."""
    _dims = (4,)


class LayerNorm(Module):
    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, dtype=np.float32):
        super().__init__()
        shp = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)
        for s in shp:
            _pos_int("normalized_shape", s, "LayerNorm")
        self.normalized_shape, self.eps = shp, float(eps)
        self.weight = Parameter(np.ones(shp, dtype)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(shp, dtype)) if elementwise_affine and bias else None

    def forward(self, x):
        if x.shape[x.ndim - len(self.normalized_shape):] != self.normalized_shape:
            raise ValueError(f"LayerNorm: input shape {x.shape} does not end with {self.normalized_shape}")
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

"""BatchNormalization and LayerNormalization with Keras's weights (gamma, beta; moving_mean,
moving_variance) and statistics: the moving variance follows the biased batch variance,
`moving = moving * momentum + batch * (1 - momentum)`."""
from __future__ import annotations

from ...nn import functional as F
from .base import Layer

__all__ = ["BatchNormalization", "LayerNormalization"]


class BatchNormalization(Layer):
    """BatchNormalization(axis=-1, momentum=0.99, epsilon=1e-3) over the channels (last) axis;
    `layer(x, training=True)` (and fit) normalise with the batch statistics and update the
    moving ones, otherwise the moving statistics are used."""

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, **kwargs):
        super().__init__(**kwargs)
        if axis != -1:
            raise ValueError(f"BatchNormalization: only axis=-1 (channels-last) is supported, got {axis!r}")
        if not 0 <= momentum <= 1:
            raise ValueError(f"BatchNormalization: momentum must be in [0, 1], got {momentum!r}")
        self.momentum, self.epsilon, self.center, self.scale = momentum, epsilon, center, scale

    def build(self, input_shape):
        c = (input_shape[-1],)
        self.gamma = self.add_weight(c, "ones", name="gamma") if self.scale else None
        self.beta = self.add_weight(c, "zeros", name="beta") if self.center else None
        self.moving_mean = self.add_weight(c, "zeros", name="moving_mean", trainable=False)
        self.moving_variance = self.add_weight(c, "ones", name="moving_variance", trainable=False)

    def call(self, x, training=None):
        perm = (0, x.ndim - 1) + tuple(range(1, x.ndim - 1))
        inv = (0,) + tuple(range(2, x.ndim)) + (1,)
        y = x if x.ndim == 2 else x.permute(perm)
        if training and self.trainable:  # a frozen BatchNormalization runs in inference mode, as in Keras
            axes = tuple(i for i in range(x.ndim - 1))
            mu, var = x.data.mean(axis=axes), x.data.var(axis=axes)
            m = self.momentum
            self.moving_mean.data[...] = self.moving_mean.data * m + mu * (1 - m)
            self.moving_variance.data[...] = self.moving_variance.data * m + var * (1 - m)
            y = F.batch_norm(y, None, None, self.gamma, self.beta, True, 0.0, self.epsilon)
        else:
            y = F.batch_norm(y, self.moving_mean, self.moving_variance, self.gamma, self.beta, False, 0.0,
                             self.epsilon)
        return y if x.ndim == 2 else y.permute(inv)


class LayerNormalization(Layer):
    """LayerNormalization(axis=-1, epsilon=1e-3) over the last axis; weights gamma, beta."""

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, **kwargs):
        super().__init__(**kwargs)
        if axis != -1:
            raise ValueError(f"LayerNormalization: only axis=-1 is supported, got {axis!r}")
        self.epsilon, self.center, self.scale = epsilon, center, scale

    def build(self, input_shape):
        c = (input_shape[-1],)
        self.gamma = self.add_weight(c, "ones", name="gamma") if self.scale else None
        self.beta = self.add_weight(c, "zeros", name="beta") if self.center else None

    def call(self, x):
        return F.layer_norm(x, x.shape[-1], self.gamma, self.beta, self.epsilon)

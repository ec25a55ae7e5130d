"""keras.optimizers.schedules: learning rates as a function of the optimizer step, given to
an optimizer as `learning_rate=` (`Adam(ExponentialDecay(1e-3, 1000, 0.9))`)."""
from __future__ import annotations

import math

__all__ = ["LearningRateSchedule", "ExponentialDecay", "CosineDecay", "PiecewiseConstantDecay", "InverseTimeDecay"]


class LearningRateSchedule:
    """Subclasses define `__call__(step) -> learning rate`."""

    def __call__(self, step):
        raise NotImplementedError(f"{type(self).__name__}: define __call__(step)")


class ExponentialDecay(LearningRateSchedule):
    """initial_learning_rate * decay_rate ** (step / decay_steps), the exponent floored with staircase=True."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name=None):
        if decay_steps <= 0:
            raise ValueError(f"ExponentialDecay: decay_steps must be positive, got {decay_steps!r}")
        self.initial_learning_rate, self.decay_steps = float(initial_learning_rate), decay_steps
        self.decay_rate, self.staircase = float(decay_rate), staircase

    def __call__(self, step):
        p = step / self.decay_steps
        return self.initial_learning_rate * self.decay_rate ** (math.floor(p) if self.staircase else p)


class InverseTimeDecay(LearningRateSchedule):
    """initial_learning_rate / (1 + decay_rate * step / decay_steps)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name=None):
        self.initial_learning_rate, self.decay_steps = float(initial_learning_rate), decay_steps
        self.decay_rate, self.staircase = float(decay_rate), staircase

    def __call__(self, step):
        p = step / self.decay_steps
        return self.initial_learning_rate / (1 + self.decay_rate * (math.floor(p) if self.staircase else p))


class CosineDecay(LearningRateSchedule):
    """A linear warm-up to warmup_target over warmup_steps (when given), then a cosine from
    there down to alpha times it over decay_steps."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name=None, warmup_target=None,
                 warmup_steps=0):
        if decay_steps <= 0:
            raise ValueError(f"CosineDecay: decay_steps must be positive, got {decay_steps!r}")
        self.initial_learning_rate, self.decay_steps, self.alpha = float(initial_learning_rate), decay_steps, alpha
        self.warmup_target, self.warmup_steps = warmup_target, warmup_steps

    def __call__(self, step):
        top = self.initial_learning_rate if self.warmup_target is None else float(self.warmup_target)
        if self.warmup_target is not None and step < self.warmup_steps:
            return self.initial_learning_rate + (top - self.initial_learning_rate) * step / self.warmup_steps
        t = min(step - (self.warmup_steps if self.warmup_target is not None else 0), self.decay_steps)
        cos = 0.5 * (1 + math.cos(math.pi * t / self.decay_steps))
        return top * ((1 - self.alpha) * cos + self.alpha)


class PiecewiseConstantDecay(LearningRateSchedule):
    """values[0] up to boundaries[0] (inclusive), values[i] up to boundaries[i], then values[-1]."""

    def __init__(self, boundaries, values, name=None):
        if len(values) != len(boundaries) + 1:
            raise ValueError(f"PiecewiseConstantDecay: need len(values) == len(boundaries) + 1, got "
                             f"{len(values)} values for {len(boundaries)} boundaries")
        self.boundaries, self.values = list(boundaries), [float(v) for v in values]

    def __call__(self, step):
        for b, v in zip(self.boundaries, self.values):
            if step <= b:
                return v
        return self.values[-1]

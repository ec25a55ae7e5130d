"""What `fit` / `evaluate` / `predict` accept as data, as batches `(x, y, sample_weight)`:
NumPy or CuPy arrays (or lists / dicts of them, one per model input), a `keras.utils.PyDataset`
(`Sequence`) whose items are batches, or a Python generator / iterator of batches. A batch
is `x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)`."""
from __future__ import annotations

import numpy as np

from .. import autograd as ag
from ..autograd import Tensor
from ..ops._common import is_cupy
from .layers.base import _flat, _map

__all__ = ["adapter", "unpack"]


def _slice(x, idx):
    return None if x is None else _map(lambda a: a[idx], x)


def _length(x):
    return len(_flat(x)[0])


def unpack(batch):
    if isinstance(batch, tuple):
        if not 1 <= len(batch) <= 3:
            raise ValueError(f"a data batch must be x, (x,), (x, y) or (x, y, sample_weight), got a tuple of "
                             f"{len(batch)}")
        return tuple(batch) + (None,) * (3 - len(batch))
    return batch, None, None


def class_sample_weight(y, class_weight):
    """Per-sample weights class_weight[label] (integer labels, or one-hot rows by their argmax)."""
    a = ag._move(ag._as_data(y), ag.device("cpu"))
    labels = a.argmax(-1) if a.ndim > 1 and a.shape[-1] > 1 else a.reshape(len(a), -1)[:, 0].astype(np.int64)
    missing = sorted(set(np.unique(labels).tolist()) - set(class_weight))
    if missing:
        raise ValueError(f"class_weight: no weight for class(es) {missing} (given for {sorted(class_weight)})")
    return np.array([class_weight[int(c)] for c in labels], np.float32)


def _is_arrays(x):
    return all(isinstance(a, (np.ndarray, Tensor, list)) or is_cupy(a) or np.isscalar(a) for a in _flat(x)) and not (
        isinstance(x, list) and x and np.isscalar(x[0]))


class ArrayBatches:
    """Batches sliced from arrays, in a fresh random order each epoch when shuffling."""

    def __init__(self, x, y, sample_weight, batch_size, shuffle, steps_per_epoch=None):
        self.x, self.y, self.sw = x, y, sample_weight
        self.n = _length(x)
        for name, v in (("y", y), ("sample_weight", sample_weight)):
            if v is not None and _length(v) != self.n:
                raise ValueError(f"x has {self.n} samples but {name} has {_length(v)}")
        self.batch_size, self.shuffle = batch_size, shuffle
        self.steps = -(-self.n // batch_size) if steps_per_epoch is None else steps_per_epoch

    def first(self):
        return _slice(self.x, slice(0, 1))

    def take(self, idx):
        return _slice(self.x, idx), _slice(self.y, idx), _slice(self.sw, idx)

    def epoch(self):
        order = ag.get_rng().permutation(self.n) if self.shuffle else np.arange(self.n)
        for step in range(self.steps):
            idx = order[step * self.batch_size:(step + 1) * self.batch_size]
            if len(idx):
                yield self.take(idx)


class DatasetBatches:
    """The items of a PyDataset / Sequence, one batch each; `on_epoch_end()` after every epoch."""

    def __init__(self, ds, steps_per_epoch=None):
        self.ds = ds
        self.steps = len(ds) if steps_per_epoch is None else steps_per_epoch

    def first(self):
        return unpack(self.ds[0])[0]

    def epoch(self):
        for i in range(self.steps):
            yield unpack(self.ds[i])
        if hasattr(self.ds, "on_epoch_end"):
            self.ds.on_epoch_end()


class GeneratorBatches:
    """Batches drawn from a generator: `steps_per_epoch` per epoch, or until it is exhausted."""

    def __init__(self, gen, steps_per_epoch=None):
        self.gen, self.steps, self._peeked = iter(gen), steps_per_epoch, None

    def first(self):
        if self._peeked is None:
            self._peeked = unpack(next(self.gen))
        return self._peeked[0]

    def epoch(self):
        step = 0
        while self.steps is None or step < self.steps:
            if self._peeked is not None:
                batch, self._peeked = self._peeked, None
            else:
                try:
                    batch = unpack(next(self.gen))
                except StopIteration:
                    return
            yield batch
            step += 1


def adapter(x, y=None, sample_weight=None, batch_size=32, shuffle=False, steps_per_epoch=None, what="fit"):
    if x is None:
        raise ValueError(f"{what}: x is needed (arrays, a keras.utils.PyDataset or a generator of batches)")
    if (isinstance(x, (np.ndarray, Tensor, list, tuple, dict)) or is_cupy(x)) and _is_arrays(x):
        return ArrayBatches(x, y, sample_weight, batch_size, shuffle, steps_per_epoch)
    if y is not None or sample_weight is not None:
        raise ValueError(f"{what}: with a dataset or generator as x, give y and sample_weight inside its batches")
    if hasattr(x, "__getitem__") and hasattr(x, "__len__"):
        return DatasetBatches(x, steps_per_epoch)
    if hasattr(x, "__next__") or hasattr(x, "__iter__"):
        return GeneratorBatches(x, steps_per_epoch)
    raise TypeError(f"{what}: unsupported data {type(x).__name__} (use arrays, a PyDataset or a generator)")

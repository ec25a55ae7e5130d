"""keras.utils helpers."""
import numpy as np

__all__ = ["to_categorical", "set_random_seed", "Progbar", "PyDataset", "Sequence"]


def to_categorical(y, num_classes=None, dtype="float32"):
    y = np.asarray(y, dtype=np.int64).reshape(-1)
    n = int(y.max()) + 1 if num_classes is None else num_classes
    return np.eye(n, dtype=dtype)[y]


def set_random_seed(seed):
    from .. import autograd
    autograd.manual_seed(seed)
    np.random.seed(seed)


class Progbar:
    """keras.utils.Progbar: the fit() progress line for a loop of your own.

        bar = Progbar(steps)
        for i in range(steps):
            ...
            bar.update(i + 1, values=[("loss", loss)])

    Values are averaged over the steps so far (weighted by how far `current` moved), except
    the names in `stateful_metrics`, which are shown as given. The line is final when
    `current` reaches `target` (or with finalize=True)."""

    def __init__(self, target, width=20, verbose=1, interval=0.05, stateful_metrics=None, unit_name="step"):
        from .models import ProgressBar
        self.target, self.verbose = target, verbose
        self.stateful_metrics = set(stateful_metrics or ())
        self._bar = ProgressBar(target, verbose)
        self._bar.WIDTH = width
        self._sums, self._seen = {}, 0

    def update(self, current, values=None, finalize=None):
        step = current - self._seen
        for k, v in values or []:
            v = float(v)
            if k in self.stateful_metrics:
                self._sums[k] = [v, 1]
            else:
                s = self._sums.setdefault(k, [0.0, 0])
                s[0] += v * max(step, 1)
                s[1] += max(step, 1)
        self._seen = current
        logs = {k: s / n for k, (s, n) in self._sums.items()}
        final = finalize if finalize is not None else (self.target is not None and current >= self.target)
        self._bar.update(current, logs, final=final)

    def add(self, n, values=None):
        self.update(self._seen + n, values)


class PyDataset:
    """keras.utils.PyDataset: subclass it with `__len__` (batches per epoch) and
    `__getitem__(i)` returning batch i as `x`, `(x, y)` or `(x, y, sample_weight)`; fit,
    evaluate and predict take it as `x`, and call `on_epoch_end()` after each epoch. The
    multiprocessing arguments are accepted and ignored (batches are made in this process)."""

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self.workers, self.use_multiprocessing, self.max_queue_size = workers, use_multiprocessing, max_queue_size

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__}: define __len__ (the number of batches)")

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__}: define __getitem__(index) returning a batch")

    def on_epoch_end(self):
        pass


Sequence = PyDataset  # the Keras 2 name

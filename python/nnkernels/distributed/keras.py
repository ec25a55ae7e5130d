"""Keras `fit`/`evaluate` under an initialised process group, on Horovod's conventions.

`Model.fit` asks `fit_context()`; with a process group of two or more ranks it gets a
FitContext, and then (what Horovod users write by hand, done by fit itself):

- at the start rank 0's weights and optimizer state are broadcast to every rank
  (hvd.callbacks.BroadcastGlobalVariablesCallback(0)), and a gradient Reducer (the one
  DistributedDataParallel uses) averages the gradients in buckets during each backward
  (hvd.DistributedOptimizer), so every rank takes the same optimizer step;
- `batch_size` is per rank, as with Horovod: a step consumes world x batch_size samples of
  the epoch's order (rank 0's shuffle, broadcast), rank r taking the r-th contiguous
  share. When the last step has fewer samples, the shares differ by at most one (a
  rank may even get none: it still joins the allreduce, with zeros), and each rank's
  gradient is weighted by its share so the average is exactly the full step's mean
  gradient. Training on W ranks with batch_size b is training on one with W*b;
  the learning rate is not scaled (Horovod leaves that to the user too);
- the epoch's loss and metrics are summed over the ranks (totals and counts), so every
  rank logs the whole epoch's values (hvd.callbacks.MetricAverageCallback), and so do
  `evaluate` and the validation pass, which shard their samples by rank;
- the progress bar and prints are rank 0's only, and so are callbacks that write files
  (those with `writes_files = True`, like ModelCheckpoint); the others (EarlyStopping,
  History, LambdaCallback) run on every rank on the same logs, and `stop_training` is
  or-ed over the ranks so all stop together.
"""
from __future__ import annotations

import numpy as np

from . import ReduceOp, _default, all_reduce, broadcast, broadcast_optimizer_state, broadcast_parameters, \
    is_initialized
from .ddp import Reducer

__all__ = ["FitContext", "fit_context"]


def fit_context():
    """A FitContext when a process group of 2+ ranks is initialised, else None."""
    if not is_initialized():
        return None
    g = _default("fit")
    return FitContext(g) if g.size > 1 else None


class FitContext:
    def __init__(self, group):
        self.group, self.rank, self.size = group, group.rank, group.size
        self.reducer = None

    @property
    def is_chief(self):
        return self.rank == 0

    def describe(self):
        return f"{self.size} ranks over {self.group.backend}"

    def callbacks(self, cbs):
        return [cb for cb in cbs if self.is_chief or not getattr(cb, "writes_files", False)]

    # -- fit
    def begin(self, model):
        weights = [t for _, t in model._weight_items()]
        broadcast_parameters(weights, 0, self.group)
        broadcast_optimizer_state(model.optimizer, 0, self.group)
        params = [p for p in model.parameters() if p.requires_grad]
        self.reducer = Reducer(params, self.group)

    def end(self):
        if self.reducer is not None:
            self.reducer.remove()
            self.reducer = None

    def same_order(self, order):
        order = np.ascontiguousarray(order, np.int64)
        broadcast(order, 0, self.group)
        return order

    def steps(self, n, batch_size):
        return -(-n // (batch_size * self.size))

    def shard(self, order, step, batch_size):
        """This rank's indices of step `step`, and sets the reducer's weight for them."""
        w = batch_size * self.size
        batch = order[step * w:(step + 1) * w]
        lo, hi = self._bounds(len(batch))
        self.reducer.scale = self.size * (hi - lo) / max(len(batch), 1)
        return batch[lo:hi]

    def _bounds(self, n):
        base, extra = divmod(n, self.size)
        lo = self.rank * base + min(self.rank, extra)
        return lo, lo + base + (self.rank < extra)

    def empty_step(self):
        self.reducer.reduce_without_backward()

    def any(self, flag):
        v = np.array([1 if flag else 0], np.int64)
        all_reduce(v, ReduceOp.MAX, self.group)
        return bool(v[0])

    # -- evaluate / metrics
    def local_slice(self, n):
        lo, hi = self._bounds(n)
        return slice(lo, hi)

    def reduce_metrics(self, metrics):
        """Sum every metric's (total, count) over the ranks."""
        v = np.array([x for m in metrics for x in (m.total, m.count)], np.float64)
        all_reduce(v, ReduceOp.SUM, self.group)
        for i, m in enumerate(metrics):
            m.total, m.count = float(v[2 * i]), v[2 * i + 1]
            if float(m.count).is_integer():
                m.count = int(m.count)

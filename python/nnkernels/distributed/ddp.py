"""DistributedDataParallel and the gradient Reducer under it (torch.nn.parallel names).

    model = DistributedDataParallel(model)    # broadcasts rank 0's parameters and buffers
    loss = loss_fn(model(x_local), y_local)   # x_local: this rank's share of the batch
    loss.backward()                           # gradients averaged over the ranks, in buckets
    opt.step()                                # the same step on every rank

Reducer. The parameters are cut into buckets of about `bucket_cap_mb` (the first one
smaller, 1 MiB, so communication starts early), in reverse order of `parameters()` since
backward produces the last layer's gradients first, one dtype per bucket. Each parameter's
post-accumulate-grad hook copies its gradient (times `scale`) into its slot in the bucket's
flat buffer and points `.grad` at that slot; when a bucket is full its in-place allreduce
starts (MPI_Iallreduce: one message per bucket), buckets strictly in index order so every
rank issues the same sequence of collectives. Later hooks poll the requests (MPI_Testall)
so the transfers progress while backward computes the earlier layers. When backward ends
(autograd.queue_callback) the buckets not yet started are started (a parameter that got
no gradient on this rank contributes zeros), the last one with a blocking allreduce
(nothing is left to overlap with, and MPI's blocking algorithms are faster), all are
waited for under the group's timeout, and each buffer is divided by the world size:
every rank's `.grad` is then the average, and an identical optimizer step keeps the
replicas identical.

`scale` is what Keras fit uses for uneven shards: a rank that holds n_r of the step's N
samples contributes grad * (world * n_r / N), so the average is the full batch's mean.
"""
from __future__ import annotations

import contextlib

import numpy as np

from .. import autograd as ag
from ..nn.modules import Module

__all__ = ["DistributedDataParallel", "Reducer"]

MiB = 1 << 20


class _Bucket:
    def __init__(self, dtype):
        self.dtype, self.params, self.offsets, self.size = dtype, [], [], 0
        self.buffer = None
        self.req = None

    def add(self, p):
        self.params.append(p)
        self.offsets.append(self.size)
        self.size += p.data.size

    def slot(self, i):
        p, off = self.params[i], self.offsets[i]
        return self.buffer[off:off + p.data.size].reshape(p.data.shape)


class Reducer:
    """Averages the gradients of `params` over the group's ranks during backward (see above)."""

    def __init__(self, params, group, bucket_cap_mb=25.0, first_bucket_mb=1.0):
        from . import _get_group
        self.group = _get_group(group, "DistributedDataParallel")
        seen, ps = set(), []
        for p in params:
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                ps.append(p)
        self.params = ps
        self.buckets, self._where = [], {}
        cap = first_bucket_mb * MiB
        open_by_dtype = {}
        for p in reversed(ps):
            dt = np.dtype(p.data.dtype)
            self.group.check_dtype(dt, "DistributedDataParallel")
            b = open_by_dtype.get(dt)
            if b is None or (b.size and (b.size + p.data.size) * dt.itemsize > cap):
                if b is not None:
                    cap = bucket_cap_mb * MiB
                b = open_by_dtype[dt] = _Bucket(dt)
                b.index = len(self.buckets)
                self.buckets.append(b)
            self._where[id(p)] = (b.index, len(b.params))
            b.add(p)
        xp = ag.array_module(ps[0].data) if ps else np
        for b in self.buckets:
            b.buffer = xp.zeros(b.size, b.dtype)
        self.scale = 1.0
        self.enabled = True
        self.messages = 0           # allreduce calls issued (one per bucket per backward)
        self.overlapped = 0         # ... of which were started from a hook, while backward went on
        self._handles = [p.register_post_accumulate_grad_hook(self._on_grad) for p in ps]
        self._reset()

    def _reset(self):
        self._pending = [len(b.params) for b in self.buckets]
        self._ready = [[False] * len(b.params) for b in self.buckets]
        self._next = 0
        self._inflight = []
        self._armed = False

    def remove(self):
        for h in self._handles:
            h.remove()
        self._handles = []

    # -- during backward
    def _on_grad(self, p):
        if not self.enabled:
            return
        if not self._armed:
            self._armed = True
            ag.queue_callback(self._finish)
        bi, i = self._where[id(p)]
        if self._ready[bi][i]:
            return  # a second backward through the same graph before the first finished: ignored
        slot = self.buckets[bi].slot(i)
        g = p._grad
        if self.scale == 1.0:
            slot[...] = g
        elif isinstance(slot, np.ndarray):
            np.multiply(g, slot.dtype.type(self.scale), out=slot)
        else:
            slot[...] = g * self.scale
        p._grad = slot
        self._ready[bi][i] = True
        self._pending[bi] -= 1
        if self._pending[bi] == 0 and bi == self._next:
            self._launch_ready()
        elif self._inflight:
            self.group.test(self._inflight)  # let the transfers in flight progress

    def _launch(self, bi):
        b = self.buckets[bi]
        b.req = self.group.iall_reduce(b.buffer, "sum")
        self._inflight.append(b.req)
        self.messages += 1

    def _launch_ready(self):
        # the last bucket is left to _finish: backward is over by then, and a blocking allreduce
        # beats the non-blocking one (MPI_Iallreduce runs slower algorithms)
        while self._next < len(self.buckets) - 1 and self._pending[self._next] == 0:
            self._launch(self._next)
            self.overlapped += 1
            self._next += 1

    def _finish(self):
        try:
            for bi in range(self._next, len(self.buckets)):
                b = self.buckets[bi]
                for i, p in enumerate(b.params):
                    if not self._ready[bi][i]:   # no gradient on this rank: contribute zeros
                        slot = b.slot(i)
                        slot[...] = 0
                        p._grad = slot
                if bi == len(self.buckets) - 1:
                    self.group.wait(self._inflight, "all_reduce (DistributedDataParallel gradient buckets)")
                    self._inflight = []
                    self.group.all_reduce(b.buffer, "sum")
                    self.messages += 1
                else:
                    self._launch(bi)
            self._next = len(self.buckets)
            self.group.wait(self._inflight, "all_reduce (DistributedDataParallel gradient buckets)")
            n = self.group.size
            for b in self.buckets:
                b.buffer /= b.dtype.type(n)
        finally:
            self._reset()

    def reduce_without_backward(self):
        """Join this step's allreduce with zero gradients (a rank with no samples this step)."""
        if not self.enabled:
            return
        self._reset()
        self._finish()

    def prepare(self):
        """Before a forward: forget a backward that raised half way (nothing is in flight then)."""
        if self._inflight:
            self.group.wait(self._inflight, "all_reduce (DistributedDataParallel gradient buckets)")
        self._reset()


class DistributedDataParallel(Module):
    """Data parallelism for an nn.Module (torch.nn.parallel.DistributedDataParallel).

    At wrap time rank 0's parameters and buffers are broadcast to every rank. Each
    forward broadcasts rank 0's buffers again (broadcast_buffers=True, e.g. BatchNorm's
    running statistics); each backward averages the gradients over the ranks in buckets
    of `bucket_cap_mb`, overlapping the transfers with the rest of backward (see Reducer).
    Inside `with ddp.no_sync():` gradients only accumulate locally (gradient accumulation);
    the next backward outside it averages the sum.

    Each rank feeds its own share of the batch (DistributedSampler); the averaged gradient
    equals the full batch's when the shares are equal, as with torch.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 process_group=None, bucket_cap_mb=25.0, find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected an nn.Module, got {type(module).__name__}")
        from . import _get_group, broadcast_parameters
        group = _get_group(process_group, "DistributedDataParallel")
        if not bucket_cap_mb > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be positive, got {bucket_cap_mb!r}")
        self.module = module
        object.__setattr__(self, "process_group", group)
        object.__setattr__(self, "broadcast_buffers", bool(broadcast_buffers))
        broadcast_parameters(list(module.parameters()) + list(module.buffers()), 0, group)
        object.__setattr__(self, "reducer", Reducer(module.parameters(), group, bucket_cap_mb,
                                                    min(1.0, bucket_cap_mb)))

    def forward(self, *args, **kwargs):
        from . import broadcast_parameters
        self.reducer.prepare()
        if self.broadcast_buffers and self.training:
            bufs = [b for b in self.module.buffers()]
            if bufs:
                broadcast_parameters(bufs, 0, self.process_group)
        return self.module(*args, **kwargs)

    @contextlib.contextmanager
    def no_sync(self):
        was, self.reducer.enabled = self.reducer.enabled, False
        try:
            yield
        finally:
            self.reducer.enabled = was

    def extra_repr(self):
        r = self.reducer
        return f"world_size={self.process_group.size}, buckets={len(r.buckets)}, params={len(r.params)}"

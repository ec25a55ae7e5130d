"""Minimal datasets and a batch loader (the torch.utils.data names): enough for the
usual `for x, y in DataLoader(TensorDataset(X, Y), batch_size=64, shuffle=True)` loop."""
from __future__ import annotations

import numpy as np

from .. import autograd as ag
from ..autograd import Tensor
from ..distributed.sampler import DistributedSampler  # noqa: F401  (torch.utils.data's name)

__all__ = ["Dataset", "TensorDataset", "DataLoader", "random_split", "Subset", "DistributedSampler"]


class Dataset:
    def __getitem__(self, i):
        raise NotImplementedError

    def __len__(self):
        raise NotImplementedError


class TensorDataset(Dataset):
    """Samples are the i-th rows of each array/Tensor (all of the same length)."""

    def __init__(self, *tensors):
        self.arrays = [t.numpy() if isinstance(t, Tensor) else np.asarray(t) for t in tensors]
        if any(len(a) != len(self.arrays[0]) for a in self.arrays):
            raise ValueError(f"TensorDataset: sizes differ: {[len(a) for a in self.arrays]}")

    def __getitem__(self, i):
        return tuple(a[i] for a in self.arrays)

    def __len__(self):
        return len(self.arrays[0])


class Subset(Dataset):
    def __init__(self, dataset, indices):
        self.dataset, self.indices = dataset, np.asarray(indices)

    def __getitem__(self, i):
        return self.dataset[self.indices[i]]

    def __len__(self):
        return len(self.indices)


def random_split(dataset, lengths):
    n = len(dataset)
    if all(isinstance(v, float) for v in lengths):
        lengths = [int(v * n) for v in lengths]
        lengths[-1] += n - sum(lengths)
    if sum(lengths) != n:
        raise ValueError(f"random_split: lengths {lengths} do not sum to the dataset size {n}")
    perm = ag.get_rng().permutation(n)
    out, s = [], 0
    for k in lengths:
        out.append(Subset(dataset, perm[s:s + k]))
        s += k
    return out


class DataLoader:
    """Batches of Tensors. Array-backed datasets are sliced with one fancy index per batch;
    others are collated sample by sample (np.stack). `sampler` (e.g. a DistributedSampler)
    gives the order of the indices instead of `shuffle`."""

    def __init__(self, dataset, batch_size=1, shuffle=False, sampler=None, drop_last=False, **kwargs):
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler and shuffle=True cannot both be given (the sampler orders)")
        self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, batch_size, shuffle, drop_last
        self.sampler = sampler

    def __len__(self):
        n = len(self.dataset) if self.sampler is None else len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _fetch(self, idx):
        d = self.dataset
        if isinstance(d, TensorDataset):
            return tuple(Tensor(a[idx]) for a in d.arrays)
        if isinstance(d, Subset) and isinstance(d.dataset, TensorDataset):
            return tuple(Tensor(a[d.indices[idx]]) for a in d.dataset.arrays)
        samples = [d[int(i)] for i in idx]
        if isinstance(samples[0], tuple):
            return tuple(Tensor(np.stack([np.asarray(s[k]) for s in samples])) for k in range(len(samples[0])))
        return Tensor(np.stack([np.asarray(s) for s in samples]))

    def __iter__(self):
        if self.sampler is not None:
            order = np.fromiter(iter(self.sampler), np.int64)
        else:
            n = len(self.dataset)
            order = ag.get_rng().permutation(n) if self.shuffle else np.arange(n)
        for b in range(len(self)):
            yield self._fetch(order[b * self.batch_size:(b + 1) * self.batch_size])

"""Datasets: ``Dataset``, ``IterableDataset``, ``TensorDataset``, ``ConcatDataset``, ``Subset``
and ``random_split``, with PyTorch's names and behaviour (``torch.utils.data.dataset``)."""
from __future__ import annotations

import bisect
import math
import numbers

import numpy

from ... import backend as B
from ...autograd import Tensor, _wrap

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "ConcatDataset", "Subset",
           "random_split"]


class Dataset:
    """An indexable collection of examples: subclasses define ``__getitem__`` and ``__len__``.
    ``a + b`` concatenates two datasets."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A stream of examples: subclasses define ``__iter__`` (no indexing, no shuffling; a
    ``DataLoader`` batches the stream in order)."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def __getitem__(self, index):
        raise TypeError(f"{type(self).__name__} is an IterableDataset: it is iterated, not indexed")


class TensorDataset(Dataset):
    """Examples made of rows of tensors: item ``i`` is ``(t[i] for t in tensors)``.

    All tensors must have the same size in their first dimension; they may live on any
    device (each batch stays on its tensor's device).
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: expected at least one tensor")
        for k, t in enumerate(tensors):
            if not isinstance(t, Tensor):
                raise TypeError(f"TensorDataset: argument {k} is a {type(t).__name__}, expected a minigen Tensor")
            if t.ndim == 0:
                raise ValueError(f"TensorDataset: argument {k} is a 0-d tensor; it has no first dimension to index")
        sizes = [t.shape[0] for t in tensors]
        if len(set(sizes)) != 1:
            shapes = ", ".join(str(list(t.shape)) for t in tensors)
            raise ValueError(f"TensorDataset: size mismatch between tensors: first dimensions "
                             f"{sizes} differ (shapes {shapes})")
        self.tensors = tensors

    def __len__(self):
        return self.tensors[0].shape[0]

    def __getitem__(self, index):
        if isinstance(index, numbers.Integral) and not isinstance(index, bool):
            n = len(self)
            if not -n <= index < n:  # CuPy would wrap an out-of-range index silently
                raise IndexError(f"TensorDataset: index {index} is out of range for {n} examples")
            # a[i, ...] is a 0-d array (not a NumPy scalar) even for a 1-d tensor
            return tuple(_wrap(t.array[index, ...]) for t in self.tensors)
        return self._gather(numpy.arange(len(self))[index])

    def _gather(self, idx):
        """One batch: every tensor indexed by the integer array ``idx`` (host NumPy)."""
        out = []
        for t in self.tensors:
            b = B.backend_of(t.array)
            out.append(_wrap(t.array[idx if b is B.CPU else b.asarray(idx)]))
        return tuple(out)


class ConcatDataset(Dataset):
    """The examples of several datasets, one after the other."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = list(numpy.cumsum([len(d) for d in self.datasets]))

    def __len__(self):
        return int(self.cumulative_sizes[-1])

    def __getitem__(self, idx):
        n = len(self)
        if idx < 0:
            if -idx > n:
                raise ValueError(f"ConcatDataset: absolute value of index {idx} should not exceed "
                                 f"the dataset length {n}")
            idx += n
        if idx >= n:
            raise IndexError(f"ConcatDataset: index {idx} is out of range for {n} examples")
        k = bisect.bisect_right(self.cumulative_sizes, idx)
        start = self.cumulative_sizes[k - 1] if k > 0 else 0
        return self.datasets[k][idx - start]


class Subset(Dataset):
    """The examples of ``dataset`` at ``indices``, in that order."""

    def __init__(self, dataset, indices):
        self.dataset, self.indices = dataset, indices

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __len__(self):
        return len(self.indices)

    @property
    def _can_gather(self):
        # the one-index batch fast path, where the wrapped dataset has one
        return _can_gather(self.dataset)

    def _gather(self, idx):
        return self.dataset._gather(numpy.asarray(self.indices)[idx])


def _can_gather(dataset):
    """Whether ``dataset._gather(indices)`` makes a whole batch (TensorDataset, the text data
    sets of minigen.data.sequences, a Subset of one)."""
    return callable(getattr(dataset, "_gather", None)) and getattr(dataset, "_can_gather", True)


def random_split(dataset, lengths, generator=None):
    """Split ``dataset`` into non-overlapping ``Subset``\\ s of the given ``lengths`` (integers
    summing to ``len(dataset)``, or fractions summing to 1, as PyTorch: the remainder of the
    floors is dealt one by one to the first subsets), in an order drawn from ``generator``
    (a ``minigen.Generator``, an int seed, a NumPy generator; default: minigen's global one)."""
    from .sampler import _permutation
    n = len(dataset)
    lengths = list(lengths)
    if lengths and math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        for i, frac in enumerate(lengths):
            if frac < 0 or frac > 1:
                raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1, got {frac}")
        sizes = [int(math.floor(n * frac)) for frac in lengths]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        lengths = sizes
    if any(not isinstance(l, numbers.Integral) or l < 0 for l in lengths):
        raise ValueError(f"random_split: lengths must be non-negative integers or fractions "
                         f"summing to 1, got {lengths}")
    if sum(lengths) != n:
        raise ValueError(f"random_split: sum of input lengths ({sum(lengths)}) does not equal the "
                         f"length of the input dataset ({n})")
    order = _permutation(n, generator).tolist()
    out, start = [], 0
    for l in lengths:
        out.append(Subset(dataset, order[start:start + l]))
        start += l
    return out

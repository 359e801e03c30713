"""``Dataset``, ``TensorDataset`` and ``DataLoader``, with PyTorch's names and behaviour.

A ``Dataset`` maps an index to one example; a ``DataLoader`` cuts an index order (shuffled
or not) into batches and stacks the examples of each batch into tensors::

    ds = TensorDataset(images, labels)
    for x, y in DataLoader(ds, batch_size=64, shuffle=True, generator=0):
        ...

Differences from PyTorch, all for a single-process teaching library:

* no worker processes, samplers or pinned memory: batches are made in the loop, in order;
* ``generator`` may be an int seed or a ``numpy.random.Generator``; with ``None`` each
  epoch's permutation is drawn from minigen's global CPU generator, so ``minigen.manual_seed``
  makes the order repeat;
* Python floats collate to float32 (minigen's default), not float64;
* a ``TensorDataset`` batch (or that of any dataset with a ``_gather(indices)`` method) is
  gathered with one fancy index per tensor instead of indexing and stacking ``batch_size``
  items, which is much faster and gives the same tensors.
"""
from __future__ import annotations

import numbers

import numpy

from .. import backend as B
from ..autograd import Tensor, _wrap


class Dataset:
    """An indexable collection of examples: subclasses define ``__getitem__`` and ``__len__``."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__")


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
            return tuple(_wrap(t.data[index, ...]) for t in self.tensors)
        return self._gather(numpy.arange(len(self))[index])

    def _gather(self, idx):
        """One batch: every tensor indexed by the integer array ``idx`` (host NumPy)."""
        out = []
        for t in self.tensors:
            b = B.backend_of(t.data)
            out.append(_wrap(t.data[idx if b is B.CPU else b.asarray(idx)]))
        return tuple(out)


def default_collate(batch):
    """Stack a list of examples into a batch, keeping their structure.

    Tensors are stacked along a new first dimension (on their device), NumPy arrays become a
    stacked cpu tensor, ints an int64 tensor, floats a float32 tensor, bools a bool tensor;
    tuples, lists and dicts are collated field by field; strings are returned as a list.
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        kinds = {type(b.data) for b in batch if isinstance(b, Tensor)}
        if len(kinds) != 1 or not all(isinstance(b, Tensor) for b in batch):
            raise TypeError("default_collate: a batch mixes tensors of different devices (or tensors and other types)")
        shapes = {tuple(b.shape) for b in batch}
        if len(shapes) != 1:
            raise RuntimeError(f"default_collate: cannot stack examples of different shapes {sorted(shapes)}")
        xp = B.backend_of(elem.data).xp
        return _wrap(xp.stack([b.data for b in batch]))
    if isinstance(elem, numpy.ndarray):
        return _wrap(numpy.stack(batch))
    if isinstance(elem, (bool, numpy.bool_)):
        return _wrap(numpy.array(batch, dtype=B.bool_))
    if isinstance(elem, numbers.Integral):
        return _wrap(numpy.array(batch, dtype=B.int64))
    if isinstance(elem, numbers.Real):
        return _wrap(numpy.array(batch, dtype=B.get_default_dtype()))
    if isinstance(elem, str):
        return list(batch)
    if isinstance(elem, dict):
        return {k: default_collate([d[k] for d in batch]) for k in elem}
    if isinstance(elem, (tuple, list)):
        if len({len(b) for b in batch}) != 1:
            raise RuntimeError("default_collate: examples in a batch have different numbers of fields")
        fields = [default_collate(list(f)) for f in zip(*batch)]
        return tuple(fields) if isinstance(elem, tuple) else fields
    raise TypeError(f"default_collate: don't know how to batch examples of type {type(elem).__name__}; "
                    "pass collate_fn=")


def _as_generator(generator):
    if generator is None or isinstance(generator, numpy.random.Generator):
        return generator
    if isinstance(generator, numbers.Integral) and not isinstance(generator, bool):
        return numpy.random.default_rng(int(generator))
    if callable(getattr(generator, "permutation", None)):
        return generator
    raise TypeError(f"DataLoader: generator must be None, an int seed or a numpy.random.Generator, "
                    f"got {type(generator).__name__}")


class DataLoader:
    """Batches of a dataset, in order or shuffled.

    Args:
        dataset: a ``Dataset`` (anything with ``__getitem__`` and ``__len__``).
        batch_size: examples per batch.
        shuffle: draw a new permutation of the examples at the start of every epoch.
        drop_last: drop the last batch if it is smaller than ``batch_size``.
        generator: where the permutations come from: an int seed (a private
            ``numpy.random.Generator`` is made from it once, so epochs differ from each other
            but repeat from run to run), a ``numpy.random.Generator``, or ``None`` for
            minigen's global CPU generator (``minigen.manual_seed`` makes it repeat).
            ``loader.generator.bit_generator.state`` can be saved and restored to repeat
            an order.
        collate_fn: turns a list of examples into a batch (default: ``default_collate``).

    ``len(loader)`` is the number of batches per epoch.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, generator=None,
                 collate_fn=None):
        if not isinstance(batch_size, numbers.Integral) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.generator = _as_generator(generator)
        self.collate_fn = collate_fn

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _order(self):
        n = len(self.dataset)
        if not self.shuffle:
            return numpy.arange(n)
        g = self.generator if self.generator is not None else B.generator_for("cpu")
        return numpy.asarray(g.permutation(n), dtype=numpy.int64)

    def __iter__(self):
        order = self._order()
        # a dataset that can gather a whole batch with one fancy index says so with ``_gather``
        # (TensorDataset, and the text data sets of minigen.data.sequences)
        fast = self.collate_fn is None and hasattr(self.dataset, "_gather")
        collate = self.collate_fn or default_collate
        for k in range(len(self)):
            idx = order[k * self.batch_size:(k + 1) * self.batch_size]
            if fast:
                yield self.dataset._gather(idx)
            else:
                yield collate([self.dataset[int(i)] for i in idx])

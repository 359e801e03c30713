"""``DataLoader``, ``default_collate`` and ``default_convert`` (``torch.utils.data.dataloader``).

A ``DataLoader`` takes indices from a sampler (``SequentialSampler``, ``RandomSampler`` when
``shuffle=True``, or the user's), groups them with a batch sampler (``BatchSampler``, or the
user's ``batch_sampler``), fetches the examples and stacks them with ``collate_fn``::

    ds = TensorDataset(images, labels)
    for x, y in DataLoader(ds, batch_size=64, shuffle=True, generator=0):
        ...

Differences from PyTorch, all for a single-process teaching library:

* ``num_workers > 0`` is accepted and runs in this process, in order (no worker processes);
  ``worker_init_fn(0)`` is then called at the start of each epoch and ``get_worker_info()``
  returns None. ``pin_memory``, ``timeout``, ``persistent_workers`` and ``prefetch_factor``
  are accepted and change nothing (there is no separate host memory to pin on the CPU; on a
  GPU, batches are copied when the training loop moves them);
* ``generator`` may also be an int seed or a ``numpy.random.Generator``; with ``None`` each
  epoch's permutation is drawn from minigen's global CPU generator, so ``minigen.manual_seed``
  makes the order repeat;
* Python floats collate to float32 (minigen's default), not float64;
* a ``TensorDataset`` batch (or that of any dataset with a ``_gather(indices)`` method, or a
  ``Subset`` of one) is gathered with one fancy index per tensor instead of indexing and
  stacking ``batch_size`` items, which is much faster and gives the same tensors.
"""
from __future__ import annotations

import numbers

import numpy

from ... import backend as B
from ...autograd import Tensor, _wrap
from .dataset import IterableDataset, _can_gather
from .sampler import BatchSampler, RandomSampler, SequentialSampler, _as_generator

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info"]


def default_collate(batch):
    """Stack a list of examples into a batch, keeping their structure.

    Tensors are stacked along a new first dimension (on their device), NumPy arrays become a
    stacked cpu tensor, ints an int64 tensor, floats a float32 tensor, bools a bool tensor;
    tuples, lists and dicts are collated field by field; strings are returned as a list.
    """
    elem = batch[0]
    if isinstance(elem, Tensor):
        kinds = {type(b.array) for b in batch if isinstance(b, Tensor)}
        if len(kinds) != 1 or not all(isinstance(b, Tensor) for b in batch):
            raise TypeError("default_collate: a batch mixes tensors of different devices (or tensors and other types)")
        shapes = {tuple(b.shape) for b in batch}
        if len(shapes) != 1:
            raise RuntimeError(f"default_collate: cannot stack examples of different shapes {sorted(shapes)}")
        xp = B.backend_of(elem.array).xp
        return _wrap(xp.stack([b.array for b in batch]))
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
        if hasattr(elem, "_fields"):  # a namedtuple keeps its type
            return type(elem)(*fields)
        return tuple(fields) if isinstance(elem, tuple) else fields
    raise TypeError(f"default_collate: don't know how to batch examples of type {type(elem).__name__}; "
                    "pass collate_fn=")


def default_convert(data):
    """One example as it is, NumPy arrays made tensors (the collate of ``batch_size=None``)."""
    if isinstance(data, numpy.ndarray):
        return _wrap(data)
    if isinstance(data, dict):
        return {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(v) for v in data))
    if isinstance(data, (tuple, list)):
        return type(data)(default_convert(v) for v in data)
    return data


def get_worker_info():
    """None: minigen loads every batch in the main process."""
    return None


class DataLoader:
    """Batches of a dataset, in order or shuffled.

    Args:
        dataset: a ``Dataset`` (``__getitem__`` and ``__len__``) or an ``IterableDataset``.
        batch_size: examples per batch (``None``: no batching, one converted example at a time).
        shuffle: draw a new permutation of the examples at the start of every epoch.
        sampler: the indices to visit (exclusive with ``shuffle``).
        batch_sampler: lists of indices, one per batch (exclusive with ``batch_size``,
            ``shuffle``, ``sampler`` and ``drop_last``).
        num_workers: accepted; batches are always made in this process (see above).
        collate_fn: turns a list of examples into a batch (default: ``default_collate``).
        pin_memory, timeout, worker_init_fn, multiprocessing_context, prefetch_factor,
        persistent_workers, pin_memory_device, in_order: accepted for PyTorch's signature.
        drop_last: drop the last batch if it is smaller than ``batch_size``.
        generator: where the permutations come from: a ``minigen.Generator``, an int seed (a
            private ``numpy.random.Generator`` is made from it once, so epochs differ from each
            other but repeat from run to run), a ``numpy.random.Generator``, or ``None`` for
            minigen's global CPU generator. ``loader.generator.bit_generator.state`` can be
            saved and restored to repeat an order.

    ``len(loader)`` is the number of batches per epoch.
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False, pin_memory_device="",
                 in_order=True):
        if batch_size is not None and (not isinstance(batch_size, numbers.Integral)
                                       or isinstance(batch_size, bool) or batch_size < 1):
            raise ValueError(f"DataLoader: batch_size must be a positive integer or None, got {batch_size!r}")
        if not isinstance(num_workers, numbers.Integral) or num_workers < 0:
            raise ValueError("DataLoader: num_workers option should be non-negative; use "
                             "num_workers=0 to disable multiprocessing.")
        if prefetch_factor is not None and num_workers == 0:
            raise ValueError("DataLoader: prefetch_factor option could only be specified in "
                             "multiprocessing. Let num_workers > 0 to enable multiprocessing, "
                             "otherwise set prefetch_factor to None.")
        if timeout < 0:
            raise ValueError("DataLoader: timeout option should be non-negative")
        self.dataset = dataset
        self.num_workers, self.pin_memory, self.timeout = int(num_workers), bool(pin_memory), timeout
        self.worker_init_fn, self.prefetch_factor = worker_init_fn, prefetch_factor
        self.persistent_workers, self.multiprocessing_context = persistent_workers, multiprocessing_context
        self.generator = _as_generator(generator)
        self.collate_fn = collate_fn
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            if shuffle not in (None, False):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle "
                                 f"option, but got shuffle={shuffle}")
            if sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified sampler "
                                 "and batch_sampler options (the dataset gives its own order)")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler option is mutually exclusive with "
                                 "batch_size, shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("DataLoader: batch_size=None option disables auto-batching and is "
                             "mutually exclusive with drop_last")
        self.shuffle = bool(shuffle)
        self.batch_size, self.drop_last = batch_size, bool(drop_last)
        if self._iterable:
            self.sampler, self.batch_sampler = None, None
            return
        if sampler is None:
            sampler = (RandomSampler(dataset, generator=self.generator) if shuffle
                       else SequentialSampler(dataset))
        if batch_sampler is None and batch_size is not None:
            batch_sampler = BatchSampler(sampler, batch_size, self.drop_last)
        self.sampler, self.batch_sampler = sampler, batch_sampler
        # the one-index batch fast path: the loader's own sampler order, default collate
        self._fast = (collate_fn is None and _can_gather(dataset) and batch_size is not None
                      and type(sampler) in (SequentialSampler, RandomSampler)
                      and not getattr(sampler, "replacement", False))

    def __len__(self):
        if self._iterable:
            n = len(self.dataset)  # TypeError when the stream has no length, as in PyTorch
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        return len(self.sampler)

    def _order(self):
        if isinstance(self.sampler, RandomSampler):
            return self.sampler.order()
        return numpy.arange(len(self.dataset))

    def __iter__(self):
        if self.num_workers > 0 and self.worker_init_fn is not None:
            self.worker_init_fn(0)
        if self._iterable:
            yield from self._iter_stream()
            return
        if self.batch_size is None and self.batch_sampler is None:
            convert = self.collate_fn or default_convert
            for i in self.sampler:
                yield convert(self.dataset[i])
            return
        if self._fast:
            order = self._order()
            for k in range(len(self)):
                yield self.dataset._gather(order[k * self.batch_size:(k + 1) * self.batch_size])
            return
        collate = self.collate_fn or default_collate
        for idx in self.batch_sampler:
            yield collate([self.dataset[int(i) if isinstance(i, numbers.Integral) else i] for i in idx])

    def _iter_stream(self):
        if self.batch_size is None:
            convert = self.collate_fn or default_convert
            for x in self.dataset:
                yield convert(x)
            return
        collate = self.collate_fn or default_collate
        batch = []
        for x in self.dataset:
            batch.append(x)
            if len(batch) == self.batch_size:
                yield collate(batch)
                batch = []
        if batch and not self.drop_last:
            yield collate(batch)

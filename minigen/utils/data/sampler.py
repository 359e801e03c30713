"""Samplers: the order in which a ``DataLoader`` visits a dataset (``torch.utils.data.sampler``).

A sampler is an iterable of indices; a batch sampler is an iterable of lists of indices.
``DataLoader(shuffle=True)`` uses ``RandomSampler``, ``shuffle=False`` ``SequentialSampler``,
and cuts either into batches with ``BatchSampler``.

Random streams: ``generator`` may be a ``minigen.Generator``, an int seed (a private NumPy
generator is made from it once: epochs differ, runs repeat), a ``numpy.random.Generator``, or
``None`` for minigen's global CPU generator (``minigen.manual_seed`` makes the order repeat).
"""
from __future__ import annotations

import numbers

import numpy

from ... import backend as B

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler"]


def _as_generator(generator, who="DataLoader"):
    if generator is None or isinstance(generator, numpy.random.Generator):
        return generator
    if isinstance(generator, numbers.Integral) and not isinstance(generator, bool):
        return numpy.random.default_rng(int(generator))
    if callable(getattr(generator, "permutation", None)):
        return generator
    raise TypeError(f"{who}: generator must be None, an int seed, a minigen.Generator or a "
                    f"numpy.random.Generator, got {type(generator).__name__}")


def _stream(generator):
    return generator if generator is not None else B.generator_for("cpu")


def _permutation(n, generator=None):
    """A permutation of 0..n-1 from ``generator`` (or minigen's global CPU generator)."""
    g = _stream(_as_generator(generator, "random_split"))
    return numpy.asarray(g.permutation(n), dtype=numpy.int64)


class Sampler:
    """Base class: an iterable of dataset indices (define ``__iter__``, and ``__len__`` where
    the count is known)."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A fresh permutation of the dataset each epoch (or, with ``replacement=True``,
    ``num_samples`` indices drawn uniformly with replacement)."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source = data_source
        self.replacement = bool(replacement)
        self._num_samples = num_samples
        self.generator = _as_generator(generator, "RandomSampler")
        if num_samples is not None and (not isinstance(num_samples, numbers.Integral)
                                        or isinstance(num_samples, bool) or num_samples <= 0):
            raise ValueError(f"RandomSampler: num_samples should be a positive integer value, "
                             f"but got num_samples={num_samples!r}")

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else int(self._num_samples)

    def order(self):
        """This epoch's indices as an int64 array."""
        n, g = len(self.data_source), _stream(self.generator)
        if self.replacement:
            if self.num_samples > _LAZY_DRAWS:  # e.g. minGPT's num_samples=int(1e10): drawn
                return _LazyDraws(g, n, self.num_samples)  # batch by batch, never all at once
            return numpy.asarray(g.integers(0, n, size=self.num_samples), dtype=numpy.int64)
        order = numpy.asarray(g.permutation(n), dtype=numpy.int64)
        # more samples than examples: whole permutations, one after another
        while order.size < self.num_samples:
            order = numpy.concatenate([order, numpy.asarray(g.permutation(n), dtype=numpy.int64)])
        return order[:self.num_samples]

    def __iter__(self):
        order = self.order()
        if isinstance(order, _LazyDraws):
            return iter(order)
        return iter(order.tolist())

    def __len__(self):
        return self.num_samples


_LAZY_DRAWS = 1 << 22


class _LazyDraws:
    """``num_samples`` indices drawn with replacement, made as they are read: slices in order
    (``d[0:b]``, ``d[b:2b]``, ...) or iteration. Used when there are too many to hold."""

    def __init__(self, g, n, num_samples):
        self.g, self.n, self.num_samples, self.pos = g, n, num_samples, 0

    def __len__(self):
        return self.num_samples

    def __getitem__(self, key):
        if not isinstance(key, slice) or key.step not in (None, 1) or (key.start or 0) != self.pos:
            raise IndexError("RandomSampler's lazily drawn indices are read in order, by slices")
        stop = min(self.num_samples, key.stop)
        out = numpy.asarray(self.g.integers(0, self.n, size=max(0, stop - self.pos)),
                            dtype=numpy.int64)
        self.pos = stop
        return out

    def __iter__(self):
        while self.pos < self.num_samples:
            yield from self[self.pos:self.pos + 4096].tolist()


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a fresh random order each epoch."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = _as_generator(generator, "SubsetRandomSampler")

    def __iter__(self):
        perm = _stream(self.generator).permutation(len(self.indices))
        return iter([self.indices[int(i)] for i in perm])

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probabilities proportional to ``weights``."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        w = numpy.asarray(weights.cpu().numpy() if hasattr(weights, "numpy") else weights, dtype=numpy.float64)
        if w.ndim != 1 or (w < 0).any() or not numpy.isfinite(w).all() or w.sum() <= 0:
            raise ValueError(f"WeightedRandomSampler: weights must be a 1-d sequence of "
                             f"non-negative finite numbers with a positive sum, got shape "
                             f"{list(w.shape)}")
        if not isinstance(num_samples, numbers.Integral) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueError(f"WeightedRandomSampler: num_samples should be a positive integer "
                             f"value, but got num_samples={num_samples!r}")
        if not replacement and num_samples > (w > 0).sum():
            raise RuntimeError(f"WeightedRandomSampler: cannot draw {num_samples} samples without "
                               f"replacement from {(w > 0).sum()} non-zero weights")
        self.weights, self.num_samples, self.replacement = w, int(num_samples), bool(replacement)
        self.generator = _as_generator(generator, "WeightedRandomSampler")

    def __iter__(self):
        g = _stream(self.generator)
        idx = g.choice(len(self.weights), size=self.num_samples, replace=self.replacement,
                       p=self.weights / self.weights.sum())
        return iter(numpy.asarray(idx, dtype=numpy.int64).tolist())

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Lists of ``batch_size`` indices from ``sampler`` (the last one shorter unless
    ``drop_last``)."""

    def __init__(self, sampler, batch_size, drop_last):
        if not isinstance(batch_size, numbers.Integral) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"BatchSampler: batch_size should be a positive integer value, but "
                             f"got batch_size={batch_size!r}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchSampler: drop_last should be a boolean value, but got "
                             f"drop_last={drop_last!r}")
        self.sampler, self.batch_size, self.drop_last = sampler, int(batch_size), drop_last

    def __iter__(self):
        batch = []
        for i in self.sampler:
            batch.append(i)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

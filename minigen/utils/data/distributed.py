"""``DistributedSampler`` (``torch.utils.data.distributed``): one replica's share of a dataset.

PyTorch's data-parallel training runs ``num_replicas`` processes; each one's sampler yields the
indices ``rank, rank + num_replicas, rank + 2 num_replicas, ...`` of one common order, so that
the replicas see disjoint parts of the data:

    order     = a permutation seeded by seed + epoch (shuffle=True), or 0..n-1
    total     = num_replicas * ceil(n / num_replicas)       (drop_last=False: the order is
                padded by repeating its start until it has ``total`` indices)
              = num_replicas * ceil((n - num_replicas) / num_replicas)   when drop_last=True
                and n does not divide evenly (the tail is dropped instead)
    indices   = order[rank : total : num_replicas]          (num_samples = total / num_replicas)

Every replica builds the same order because the seed is shared; ``set_epoch(e)`` changes it
per epoch. minigen runs one process and has no process group, so ``num_replicas`` and ``rank``
must be given (PyTorch would ask the process group, which does not exist here); with
``num_replicas=1, rank=0`` the sampler is a plain (optionally shuffled) pass over the data.
The shuffled order is minigen's own permutation for the seed, not PyTorch's bit for bit.
"""
from __future__ import annotations

import math
import numbers

import numpy

from .sampler import Sampler

__all__ = ["DistributedSampler"]


class DistributedSampler(Sampler):
    """``DistributedSampler(dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
    drop_last=False)``: the indices of replica ``rank`` of ``num_replicas`` (see the module
    doc)."""

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        if num_replicas is None or rank is None:
            missing = " and ".join(n for n, v in (("num_replicas", num_replicas), ("rank", rank))
                                   if v is None)
            raise RuntimeError(
                f"DistributedSampler: {missing} not given, and minigen has no process group to "
                "ask (it runs in a single process); pass num_replicas= and rank= (1 and 0 for "
                "one process)")
        for name, v in (("num_replicas", num_replicas), ("rank", rank), ("seed", seed)):
            if not isinstance(v, numbers.Integral) or isinstance(v, bool):
                raise TypeError(f"DistributedSampler: {name} must be an int, got {v!r}")
        if num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be at least 1, got "
                             f"{num_replicas}")
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.epoch = 0
        self.drop_last = bool(drop_last)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        n = len(dataset)
        if self.drop_last and n % self.num_replicas != 0:
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            order = numpy.random.default_rng(self.seed + self.epoch).permutation(n).tolist()
        else:
            order = list(range(n))
        if not self.drop_last:
            pad = self.total_size - len(order)
            if pad > 0 and order:
                order += (order * math.ceil(pad / len(order)))[:pad]
        else:
            order = order[:self.total_size]
        return iter(order[self.rank:self.total_size:self.num_replicas])

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Use ``epoch`` in the shuffle's seed, so that each epoch has its own order."""
        self.epoch = int(epoch)

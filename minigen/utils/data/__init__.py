"""``minigen.utils.data`` (``torch.utils.data``): datasets, samplers and the ``DataLoader``.

``dataset.py``: ``Dataset``, ``IterableDataset``, ``TensorDataset``, ``ConcatDataset``,
``Subset``, ``random_split``. ``sampler.py``: ``Sampler``, ``SequentialSampler``,
``RandomSampler``, ``SubsetRandomSampler``, ``WeightedRandomSampler``, ``BatchSampler``.
``dataloader.py``: ``DataLoader``, ``default_collate``, ``default_convert``,
``get_worker_info``. ``distributed.py``: ``DistributedSampler`` (one replica's share). The
modules have PyTorch's names, so ``from torch.utils.data.dataloader import default_collate``
works under ``import minigen as torch`` too.
"""
from . import dataloader, dataset, sampler, distributed
from .dataset import ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset, random_split
from .sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler,
                      SubsetRandomSampler, WeightedRandomSampler)
from .dataloader import DataLoader, default_collate, default_convert, get_worker_info
from .distributed import DistributedSampler

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "ConcatDataset", "Subset",
           "random_split", "Sampler", "SequentialSampler", "RandomSampler",
           "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler", "DataLoader",
           "default_collate", "default_convert", "get_worker_info", "dataloader", "dataset",
           "sampler", "distributed", "DistributedSampler"]


# torch.utils.data._utils.collate.default_collate: the path some programs import it from
import sys as _sys  # noqa: E402
import types as _types  # noqa: E402
_utils = _types.ModuleType(__name__ + "._utils", "torch.utils.data._utils")
_utils.__path__ = []
_utils.collate = _types.ModuleType(__name__ + "._utils.collate", "torch.utils.data._utils.collate")
_utils.collate.default_collate, _utils.collate.default_convert = default_collate, default_convert
_sys.modules[_utils.__name__], _sys.modules[_utils.collate.__name__] = _utils, _utils.collate

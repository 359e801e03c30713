"""Text turned into training examples for character-level language models.

A language model factorises a sequence by the chain rule, p(x_1..x_n) = prod_t p(x_t | x_<t),
so every example is a pair (x, y) with y = x shifted left by one: at position t the model sees
x_1..x_t and is scored on y_t = x_{t+1}. Three ways to cut a corpus into such pairs:

``NameSequences``   separate words (names). Each name becomes one row, wrapped in the boundary
                    token 0 of its ``CharVocab``: x = [0, c_1..c_n, pad], y = [c_1..c_n, 0, pad],
                    so the model learns "start" as "after 0" and "stop" as "predict 0". Padded
                    targets are ``IGNORE`` (-1), which ``F.cross_entropy(ignore_index=-1)`` skips.
``TextWindows``     running text (Shakespeare). Window i starts at character ``i * stride``:
                    x = ids[s : s+T], y = ids[s+1 : s+T+1]. ``stride=1`` with a shuffling loader
                    gives windows at random offsets (training); ``stride=T`` gives the
                    non-overlapping windows that cover a validation text once.
``TextStreams``     running text for truncated backpropagation through time: the text is cut
                    into ``batch_size`` parallel streams, and batch k holds chunk k of every
                    stream, so row b of batch k+1 continues row b of batch k and a recurrent
                    model can carry its hidden state across batches.

All three are ``Dataset``\\ s whose batches a ``DataLoader`` gathers with one fancy index
(``_gather``), as it does for a ``TensorDataset``.
"""
from __future__ import annotations

import numbers

import numpy

from ..creation import from_numpy
from ..utils.data import Dataset

__all__ = ["IGNORE", "NameSequences", "TextWindows", "TextStreams", "as_ids"]

IGNORE = -1  # the target id of padding: cross_entropy(..., ignore_index=IGNORE) skips it


def as_ids(ids, op):
    """A 1-d int64 NumPy array of token ids from a list, an array or a 1-d tensor."""
    a = numpy.asarray(ids.cpu().numpy() if hasattr(ids, "numpy") else ids)
    if a.ndim != 1 or (a.size and not numpy.issubdtype(a.dtype, numpy.integer)):
        raise ValueError(f"{op}: expected a 1-d sequence of integer token ids, got an array of "
                         f"shape {list(a.shape)} and dtype {a.dtype}")
    return a.astype(numpy.int64)


class NameSequences(Dataset):
    """Names (or any separate words) as padded (x, y) rows of int64 ids.

    Args:
        names: a list of strings.
        vocab: a ``CharVocab`` with a boundary token (id 0).
        block_size: the row length T (default: the longest name + 1). A name of n characters
            needs n + 1 positions; a longer one raises ``ValueError``.

    Row i is ``x = [0, c_1..c_n, 0, 0, ...]`` and ``y = [c_1..c_n, 0, -1, -1, ...]``: n + 1
    targets per name, the end token included. ``n_targets`` counts them over the data set.
    """

    def __init__(self, names, vocab, block_size=None):
        if vocab.boundary is None:
            raise ValueError("NameSequences: the vocabulary needs a boundary token (CharVocab(..., boundary='.'))")
        names = list(names)
        if not names:
            raise ValueError("NameSequences: no names given")
        longest = max(len(n) for n in names)
        T = longest + 1 if block_size is None else int(block_size)
        if longest + 1 > T:
            raise ValueError(f"NameSequences: the longest name has {longest} characters and needs "
                             f"block_size >= {longest + 1}, got {T}")
        x = numpy.zeros((len(names), T), dtype=numpy.int64)
        y = numpy.full((len(names), T), IGNORE, dtype=numpy.int64)
        for i, name in enumerate(names):
            ids = vocab.encode(name)
            n = len(ids)
            x[i, 1:n + 1] = ids               # x = [0, c_1..c_n, pad]
            y[i, :n] = ids                    # y = [c_1..c_n, 0, pad]
            y[i, n] = 0
        self.names, self.vocab, self.block_size = names, vocab, T
        self.x, self.y = x, y
        self.n_targets = int((y != IGNORE).sum())

    def __len__(self):
        return len(self.names)

    def __getitem__(self, i):
        return self._gather(numpy.arange(len(self))[i])

    def _gather(self, idx):
        return from_numpy(self.x[idx]), from_numpy(self.y[idx])

    def __repr__(self):
        return f"NameSequences({len(self)} names, block_size={self.block_size}, {self.n_targets} targets)"


class TextWindows(Dataset):
    """Windows of T ids from a running text: window i is (ids[s:s+T], ids[s+1:s+T+1]), s = i*stride.

    ``len`` is the number of whole windows that fit (each needs T + 1 ids).
    """

    def __init__(self, ids, block_size, stride=1):
        ids = as_ids(ids, "TextWindows")
        for name, v in (("block_size", block_size), ("stride", stride)):
            if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < 1:
                raise ValueError(f"TextWindows: {name} must be a positive integer, got {v!r}")
        if ids.size < block_size + 1:
            raise ValueError(f"TextWindows: a text of {ids.size} ids holds no window of "
                             f"block_size + 1 = {block_size + 1}")
        self.ids, self.block_size, self.stride = ids, int(block_size), int(stride)
        self._offsets = numpy.arange(self.block_size)

    def __len__(self):
        return (self.ids.size - self.block_size - 1) // self.stride + 1

    @property
    def n_targets(self):
        return len(self) * self.block_size

    def __getitem__(self, i):
        return self._gather(numpy.arange(len(self))[i])

    def _gather(self, idx):
        # rows of positions s + (0..T-1), s = i * stride
        pos = numpy.asarray(idx, dtype=numpy.int64)[..., None] * self.stride + self._offsets
        return from_numpy(self.ids[pos]), from_numpy(self.ids[pos + 1])

    def __repr__(self):
        return f"TextWindows({len(self)} windows of {self.block_size}, stride {self.stride})"


class TextStreams(Dataset):
    """A running text as ``batch_size`` parallel streams, for truncated BPTT.

    ``ordered = True`` tells a training loop not to shuffle it.

    The first ``batch_size * L`` ids (L = (len(ids) - 1) // batch_size) are cut into
    ``batch_size`` contiguous streams of L; each stream into chunks of T. Item ``k * B + b`` is
    chunk k of stream b, so a ``DataLoader(streams, batch_size=B)`` (no shuffling) yields
    batch k = chunk k of every stream, and row b of each batch continues row b of the last.
    """

    def __init__(self, ids, batch_size, block_size):
        ids = as_ids(ids, "TextStreams")
        B, T = int(batch_size), int(block_size)
        if B < 1 or T < 1:
            raise ValueError(f"TextStreams: batch_size and block_size must be positive, got {B} and {T}")
        L = (ids.size - 1) // B
        if L < T:
            raise ValueError(f"TextStreams: {ids.size} ids make {B} streams of {L}, shorter than "
                             f"one chunk of block_size {T}")
        self.ids, self.batch_size, self.block_size, self.stream_len = ids, B, T, L
        self.chunks = L // T

    ordered = True

    def __len__(self):
        return self.chunks * self.batch_size

    def __getitem__(self, i):
        return self._gather(numpy.arange(len(self))[i])

    def _gather(self, idx):
        idx = numpy.asarray(idx, dtype=numpy.int64)
        chunk, stream = idx // self.batch_size, idx % self.batch_size
        # start of chunk k of stream b: b * L + k * T
        pos = (stream * self.stream_len + chunk * self.block_size)[..., None] + numpy.arange(self.block_size)
        return from_numpy(self.ids[pos]), from_numpy(self.ids[pos + 1])

    def __repr__(self):
        return f"TextStreams({self.batch_size} streams x {self.chunks} chunks of {self.block_size})"

"""Batches of sequences of different lengths (``torch.nn.utils.rnn``).

    pad_sequence(seqs)                   a list of [L_i, *] as one padded [max L, B, *]
    pack_padded_sequence(x, lengths)     a padded batch as a PackedSequence
    pad_packed_sequence(packed)          the way back: (padded, lengths)
    pack_sequence(seqs) / unpack_sequence(packed)
    unpad_sequence(padded, lengths)      a padded batch as a list of [L_i, *]

A ``PackedSequence`` holds only the real time steps, time-major: with the sequences sorted by
decreasing length, ``batch_sizes[t]`` is how many of them are still running at step t, and
``data`` stacks, for t = 0, 1, ..., the step-t rows of those ``batch_sizes[t]`` sequences:

    data = [x_0[0], x_1[0], ..., x_{b_0 - 1}[0],  x_0[1], ..., x_{b_1 - 1}[1],  ...]

``sorted_indices[p]`` is the batch index of the sequence at sorted position p (None when the
batch came sorted, ``enforce_sorted=True``), ``unsorted_indices`` its inverse permutation.
``nn.RNN``/``LSTM``/``GRU`` take one and return one (``minigen/nn/rnn.py``): step t updates only
the first ``batch_sizes[t]`` states, so each sequence's final state is the one at its own length.

Packing and padding are gathers (``index_select``) with index arrays computed on the host from
the lengths, so both are differentiable: the gradient of a gather is the scatter-add of the
incoming gradient back to the gathered rows, the padding rows receive none.
"""
from __future__ import annotations

from collections import namedtuple

import numpy

from ...autograd import Tensor
from ...creation import full
from ...ops.join import cat, stack

__all__ = ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence",
           "pack_sequence", "unpack_sequence", "unpad_sequence", "invert_permutation"]


def _as_index(values, device=None):
    from ...creation import tensor
    return tensor(numpy.asarray(values, dtype=numpy.int64), dtype="int64", device=device)


def invert_permutation(permutation):
    """The inverse permutation q of p (q[p[i]] = i); None stays None."""
    if permutation is None:
        return None
    p = numpy.asarray(permutation.tolist(), dtype=numpy.int64)
    q = numpy.empty_like(p)
    q[p] = numpy.arange(p.size, dtype=numpy.int64)
    return _as_index(q, permutation.device)


_PackedSequenceBase = namedtuple("PackedSequence_",
                                 ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])


class PackedSequence(_PackedSequenceBase):
    """(data, batch_sizes, sorted_indices, unsorted_indices), as PyTorch's (a namedtuple, so
    ``data, batch_sizes, *_ = packed`` works). Build one with ``pack_padded_sequence`` or
    ``pack_sequence``; ``batch_sizes`` is an int64 CPU tensor, the index tensors live on the
    data's device. ``unsorted_indices`` defaults to the inverse of ``sorted_indices``."""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if batch_sizes is None:  # PackedSequence((data, batch_sizes)), as PyTorch accepts
            data, batch_sizes = data
        if not isinstance(batch_sizes, Tensor):
            batch_sizes = _as_index(batch_sizes)
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        """``data.to(...)``; the index tensors follow the data to its device."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        move = (lambda t: None if t is None else t.to(data.device))
        return type(self)(data, self.batch_sizes, move(self.sorted_indices),
                          move(self.unsorted_indices))

    def cuda(self, *args, **kwargs):
        return self.to(self.data.cuda(*args, **kwargs).device)

    def cpu(self):
        return self.to("cpu")

    def double(self):
        return self.to(dtype="float64")

    def float(self):
        return self.to(dtype="float32")

    def half(self):
        return self.to(dtype="float16")

    def long(self):
        return self.to(dtype="int64")

    def int(self):
        return self.to(dtype="int32")

    def short(self):
        return self.to(dtype="int16")

    def char(self):
        return self.to(dtype="int8")

    def byte(self):
        return self.to(dtype="uint8")

    @property
    def is_cuda(self):
        return self.data.is_cuda

    def is_pinned(self):
        return self.data.is_pinned()

    def pin_memory(self):
        return self


def _lengths_array(lengths, op):
    if isinstance(lengths, Tensor):
        if lengths.ndim != 1:
            raise RuntimeError(f"{op}: 'lengths' argument should be a 1D CPU int64 tensor, but "
                               f"got {lengths.ndim}D {lengths.device} {lengths.dtype} tensor")
        lengths = lengths.tolist()
    arr = numpy.asarray(list(lengths), dtype=numpy.int64)
    if arr.ndim != 1:
        raise RuntimeError(f"{op}: 'lengths' must be a 1-D sequence of ints, got shape "
                           f"{list(arr.shape)}")
    return arr


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch ``input`` [T, B, *] ([B, T, *] with ``batch_first``) whose sequence
    b has ``lengths[b]`` real steps. ``enforce_sorted=True`` requires the lengths in decreasing
    order (sorted_indices is then None); otherwise the batch is sorted first (a stable sort, so
    equal lengths keep their order, as in PyTorch) and the permutation is recorded."""
    op = "pack_padded_sequence"
    if not isinstance(input, Tensor) or input.ndim < 2:
        raise TypeError(f"{op}: input must be a padded batch tensor [T, B, *], got "
                        + (f"shape {list(input.shape)}" if isinstance(input, Tensor)
                           else type(input).__name__))
    lens = _lengths_array(lengths, op)
    if enforce_sorted:
        if (numpy.diff(lens) > 0).any():
            raise RuntimeError("`lengths` array must be sorted in decreasing order when "
                               "`enforce_sorted` is True. You can pass `enforce_sorted=False` to "
                               "pack_padded_sequence and/or pack_sequence to sidestep this "
                               "requirement if you do not need ONNX exportability.")
        sorted_indices = None
    else:
        order = numpy.argsort(-lens, kind="stable")
        sorted_indices = _as_index(order, input.device)
        input = input.index_select(0 if batch_first else 1, sorted_indices)
        lens = lens[order]
    if batch_first:
        input = input.transpose(0, 1)
    T, B = input.shape[0], input.shape[1]
    if lens.size != B:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got "
                           f"{lens.size} (batch_size={B})")
    if B == 0 or lens.min() <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element "
                           "in 'lengths' that is <= 0")
    if lens.max() > T:
        raise RuntimeError(f"{op}: a sequence length {int(lens.max())} is larger than the padded "
                           f"input's {T} time steps (input {list(input.shape)}, "
                           f"batch_first={batch_first})")
    batch_sizes = (lens[None, :] > numpy.arange(int(lens[0]))[:, None]).sum(1)
    # row (t, b) of the flattened [T * B, *] input for every real step, time-major
    idx = numpy.concatenate([t * B + numpy.arange(n) for t, n in enumerate(batch_sizes)])
    flat = input.reshape(T * B, *input.shape[2:])
    data = flat.index_select(0, _as_index(idx, input.device))
    return PackedSequence(data, _as_index(batch_sizes), sorted_indices, None)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """The inverse of ``pack_padded_sequence``: (padded [T, B, *] or [B, T, *], lengths), the
    batch in its original order, T = ``total_length`` if given (at least the longest length),
    the missing steps ``padding_value``; lengths is an int64 CPU tensor."""
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"pad_packed_sequence: expected a PackedSequence, got "
                        f"{type(sequence).__name__}")
    data = sequence.data
    bs = numpy.asarray(sequence.batch_sizes.tolist(), dtype=numpy.int64)
    T, B = bs.size, int(bs[0])
    if total_length is not None:
        if total_length < T:
            raise ValueError("Expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and max "
                             f"sequence length being {T}")
        T_out = int(total_length)
    else:
        T_out = T
    lens_sorted = (bs[:, None] > numpy.arange(B)[None, :]).sum(0)
    pos = numpy.arange(B) if sequence.unsorted_indices is None else \
        numpy.asarray(sequence.unsorted_indices.tolist(), dtype=numpy.int64)
    offsets = numpy.concatenate([[0], numpy.cumsum(bs)])
    n = int(offsets[-1])
    # padded[t, i] = data[offsets[t] + pos[i]] while that sequence runs, else the padding row n
    idx = numpy.full((T_out, B), n, dtype=numpy.int64)
    for t in range(T):
        live = pos < bs[t]
        idx[t, live] = offsets[t] + pos[live]
    rest = tuple(data.shape[1:])
    pad = full((1,) + rest, padding_value, dtype=data.dtype, device=data.device)
    out = cat([data, pad], 0).index_select(0, _as_index(idx.reshape(-1), data.device))
    out = out.reshape(T_out, B, *rest)
    if batch_first:
        out = out.transpose(0, 1)
    return out, _as_index(lens_sorted[pos])


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of [L_i, *] tensors: ``pack_padded_sequence(pad_sequence(sequences), lengths,
    enforce_sorted=enforce_sorted)``."""
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """The list of [L_i, *] tensors that ``pack_sequence`` packed, in their original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return [padded[i, :n] for i, n in enumerate(lengths.tolist())]


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The list of [L_i, *] tensors of a padded batch ([T, B, *], or [B, T, *] with
    ``batch_first``) whose sequence i has ``lengths[i]`` real steps."""
    x = padded_sequences if batch_first else padded_sequences.transpose(0, 1)
    lens = _lengths_array(lengths, "unpad_sequence")
    if lens.size != x.shape[0]:
        raise RuntimeError(f"unpad_sequence: got {lens.size} lengths for a batch of {x.shape[0]}")
    return [x[i, :int(n)] for i, n in enumerate(lens)]


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack tensors [L_i, *] into [max L, B, *] (or [B, max L, *] with ``batch_first``),
    filling the missing steps with ``padding_value`` on the ``padding_side``."""
    sequences = list(sequences)
    if not sequences:
        raise ValueError("pad_sequence: received an empty list of sequences")
    for i, s in enumerate(sequences):
        if not isinstance(s, Tensor) or s.ndim < 1:
            raise TypeError(f"pad_sequence: sequence {i} must be a tensor with a length "
                            f"dimension, got {type(s).__name__}"
                            + (f" of shape {list(s.shape)}" if isinstance(s, Tensor) else ""))
    if padding_side not in ("right", "left"):
        raise ValueError(f"pad_sequence: padding_side must be 'right' or 'left', got {padding_side!r}")
    trailing = tuple(sequences[0].shape[1:])
    for i, s in enumerate(sequences):
        if tuple(s.shape[1:]) != trailing:
            raise RuntimeError(f"pad_sequence: sequence {i} has shape {list(s.shape)}; every "
                               f"sequence must be [L, {', '.join(map(str, trailing))}]")
    T = max(s.shape[0] for s in sequences)
    rows = []
    for s in sequences:
        pad = T - s.shape[0]
        if pad:
            fill = full((pad,) + trailing, padding_value, dtype=s.dtype, device=s.device)
            s = _cat_pad(s, fill, padding_side)
        rows.append(s)
    out = stack(rows, 0)
    return out if batch_first else out.transpose(0, 1)


def _cat_pad(s, fill, side):
    from ...ops.join import cat
    return cat([s, fill] if side == "right" else [fill, s], 0)

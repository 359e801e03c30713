"""``pad_sequence``: a list of sequences of different lengths as one padded batch
(``torch.nn.utils.rnn``). minigen's recurrent layers take padded batches (and the lengths, where
a model needs them) rather than PyTorch's packed sequences."""
from __future__ import annotations

from ...autograd import Tensor
from ...creation import full
from ...ops.join import stack

__all__ = ["pad_sequence"]


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

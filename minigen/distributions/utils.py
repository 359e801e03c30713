"""``torch.distributions.utils``: the helpers PyTorch's distributions share, public there.

    logits_to_probs(l) = sigmoid(l) (binary) or softmax(l) over the last dimension
    probs_to_logits(p) = log p - log(1 - p) (binary) or log p, with p clamped to [eps, 1 - eps]
    clamp_probs(p)     = p clamped to [eps, 1 - eps] of its dtype
    broadcast_all(*v)  = the values as tensors broadcast to one shape (numbers take the
                         tensors' dtype)
"""
from __future__ import annotations

import minigen

from ._util import clamp_probs

__all__ = ["broadcast_all", "clamp_probs", "logits_to_probs", "probs_to_logits",
           "lazy_property", "euler_constant", "vec_to_tril_matrix", "tril_matrix_to_vec"]

euler_constant = 0.57721566490153286060


def broadcast_all(*values):
    if not all(isinstance(v, (minigen.Tensor, int, float)) for v in values):
        raise ValueError("Input arguments must all be instances of numbers.Number, "
                         "torch.Tensor or objects implementing __torch_function__.")
    ref = next((v for v in values if isinstance(v, minigen.Tensor)), None)
    if ref is None:
        return tuple(minigen.tensor(float(v), dtype=minigen.get_default_dtype()) for v in values)
    ts = [v if isinstance(v, minigen.Tensor)
          else minigen.tensor(float(v), dtype=ref.dtype, device=ref.device) for v in values]
    return tuple(minigen.broadcast_tensors(*ts))


def logits_to_probs(logits, is_binary=False):
    return logits.sigmoid() if is_binary else logits.softmax(-1)


def probs_to_logits(probs, is_binary=False):
    p = clamp_probs(probs)
    return p.log() - (-p).log1p() if is_binary else p.log()


class lazy_property:
    """A property computed on first access and then stored on the instance."""

    def __init__(self, fn):
        self.wrapped = fn
        self.__doc__ = fn.__doc__

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        value = self.wrapped(instance)
        setattr(instance, self.wrapped.__name__, value)
        return value


def _tril_positions(n, diag):
    """Row-major flat positions (i n + j) of the entries with j < i + diag + 1."""
    return [i * n + j for i in range(n) for j in range(n) if j < i + diag + 1]


def vec_to_tril_matrix(vec, diag=0):
    """A batch of vectors -> D x D lower-triangular matrices filled in row order (``diag`` as
    in ``tril``: -1 leaves the diagonal zero). Differentiable (a gather from [0, vec])."""
    m = vec.shape[-1]
    n = (-(1 + 2 * diag) + ((1 + 2 * diag) ** 2 + 8 * m + 4 * abs(diag) * (diag + 1)) ** 0.5) / 2
    if abs(round(n) - n) > 1e-6:
        raise ValueError(f"The size of last dimension is {m} which cannot be expressed as the "
                         "lower triangular part of a square D x D matrix.")
    n = int(round(n))
    index = [0] * (n * n)
    for k, pos in enumerate(_tril_positions(n, diag)):
        index[pos] = k + 1
    zero = minigen.zeros(tuple(vec.shape[:-1]) + (1,), dtype=vec.dtype, device=vec.device)
    padded = minigen.cat([zero, vec], -1)
    idx = minigen.tensor(index, dtype=minigen.int64, device=vec.device)
    return padded.index_select(-1, idx).reshape(tuple(vec.shape[:-1]) + (n, n))


def tril_matrix_to_vec(mat, diag=0):
    """The lower triangle (below ``diag`` + 1) of a batch of D x D matrices, in row order."""
    n = mat.shape[-1]
    idx = minigen.tensor(_tril_positions(n, diag), dtype=minigen.int64, device=mat.device)
    return mat.reshape(tuple(mat.shape[:-2]) + (n * n,)).index_select(-1, idx)

"""Op specs of ``flash_attention`` (minigen/ops/flash_attention.py), loaded by ``all_specs()``.

Differentiable once (its backward works on raw arrays), so ``second_order=False``: the
registry checks the forward against a NumPy float64 reference, gradcheck and no mutation.
Small tiles (2 x 3) over 5 queries and 7 keys, so that the online softmax really crosses
several tiles, the last ones short.
"""
from __future__ import annotations

import math

import numpy as np

from minigen.ops.flash_attention import flash_attention

from .op_specs import OpSpec, _ins, _n, register


def _np_attention(q, k, v, is_causal=False):
    """softmax(Q K^T / sqrt(d), causally masked) V in NumPy, the whole matrix at once."""
    s = q @ np.swapaxes(k, -1, -2) / math.sqrt(q.shape[-1])
    if is_causal:
        s = np.where(np.tril(np.ones(s.shape[-2:], bool)), s, -np.inf)
    p = np.exp(s - s.max(-1, keepdims=True))
    return p / p.sum(-1, keepdims=True) @ v


def _qkv(r, d):
    return _ins(d, _n(r, 2, 5, 3), _n(r, 2, 7, 3), _n(r, 2, 7, 2))


for _causal in (False, True):
    register(OpSpec(
        "flash_attention" + ("_causal" if _causal else ""),
        lambda q, k, v, c=_causal: flash_attention(q, k, v, is_causal=c, block_q=2, block_k=3),
        lambda q, k, v, c=_causal: _np_attention(q, k, v, c), _qkv,
        second_order=False, tags=("nn",)))

"""Rotary position embedding, RoPE (Su et al. 2021, "RoFormer: Enhanced Transformer with Rotary
Position Embedding").

A learned position table adds W_p[t] to the token at position t, and attention must then learn
how absolute positions relate. RoPE instead *rotates* each query and key by an angle
proportional to its position, so that their dot product sees only the difference of the two
positions. Split a head's vector x (size d, even) into d/2 pairs (x_{2i}, x_{2i+1}) and turn
pair i by the angle t * theta_i at position t:

    theta_i = base^(-2i/d),   i = 0 .. d/2 - 1                  (base = 10000: the paper's)

    [x'_{2i}  ]   [cos t theta_i   -sin t theta_i] [x_{2i}  ]
    [x'_{2i+1}] = [sin t theta_i    cos t theta_i] [x_{2i+1}]

Write a pair as a complex number z = x_{2i} + i x_{2i+1}; the rotation is z' = z e^{i t theta}.
A query at position m and a key at position n then score

    q'_m . k'_n = Re sum_i (q_i e^{i m theta_i}) conj(k_i e^{i n theta_i})
                = Re sum_i q_i conj(k_i) e^{i (m - n) theta_i}

which depends on m and n only through the offset m - n: shifting both positions by the same
amount leaves every attention score unchanged. The fast pairs (i near 0, theta near 1 radian
per step) tell near neighbours apart; the slow ones (theta near 1/base) vary over long spans.

The KV cache: a key is rotated once, at its own position, when it is computed, and kept
rotated; new tokens at positions P..P+T-1 (``offset=P``) are rotated at those positions, so
cached and new keys meet new queries exactly as in a full forward pass.

Nothing here is learned, and nothing is stored: the angles are computed from the positions
at each call (T x d/2 numbers, cheap beside the attention itself). The rotation is written
with minigen ops (multiply, add, stack), so its backward is automatic and differentiable.
"""
from __future__ import annotations

import minigen

from .module import Module

__all__ = ["RotaryEmbedding", "apply_rotary", "rotary_angles"]


def _check_dim(name, d):
    if d % 2:
        raise ValueError(f"{name}: the rotated dimension must be even (pairs of coordinates), got {d}")


def rotary_angles(T, d, offset=0, base=10000.0, device=None, dtype=None):
    """(cos, sin), each ``[T, d/2]``: cos(t theta_i), sin(t theta_i) for t = offset..offset+T-1."""
    _check_dim("rotary_angles", d)
    if not isinstance(offset, int) or offset < 0:
        raise ValueError(f"rotary_angles: offset must be a non-negative integer, got {offset!r}")
    dtype = dtype or minigen.float32
    # theta_i = base^(-2i/d)
    i = minigen.arange(0, d // 2, device=device, dtype=minigen.float64)
    theta = base ** (-2.0 * i / d)
    # the angle t * theta_i, computed in float64 (t theta reaches thousands of radians), then cast
    t = minigen.arange(offset, offset + T, device=device, dtype=minigen.float64)
    angle = t.reshape(T, 1) * theta.reshape(1, d // 2)
    return angle.cos().to(dtype), angle.sin().to(dtype)


def apply_rotary(x, offset=0, base=10000.0):
    """``x`` [..., T, d] rotated pair by pair: the token at row t (position offset + t) by the
    angles t theta_i. Returns a tensor of ``x``'s shape, dtype and device."""
    if x.ndim < 2:
        raise ValueError(f"apply_rotary: expected x [..., T, d], got shape {list(x.shape)}")
    T, d = x.shape[-2], x.shape[-1]
    _check_dim("apply_rotary", d)
    cos, sin = rotary_angles(T, d, offset, base, device=x.device, dtype=x.dtype)
    # the pairs (x_{2i}, x_{2i+1}): [..., T, d/2, 2]
    pairs = x.reshape(*x.shape[:-1], d // 2, 2)
    x0, x1 = pairs[..., 0], pairs[..., 1]
    # x'_{2i} = x_{2i} cos t theta_i - x_{2i+1} sin t theta_i
    y0 = x0 * cos - x1 * sin
    # x'_{2i+1} = x_{2i} sin t theta_i + x_{2i+1} cos t theta_i
    y1 = x0 * sin + x1 * cos
    return minigen.stack([y0, y1], dim=-1).reshape(x.shape)


class RotaryEmbedding(Module):
    """RoPE for attention heads of size ``dim``: ``forward(q, k, offset=0)`` returns q and k,
    each ``[B, H, T, dim]``, rotated at positions offset..offset+T-1. No parameters."""

    def __init__(self, dim, base=10000.0):
        super().__init__()
        if not isinstance(dim, int) or dim < 2:
            raise ValueError(f"RotaryEmbedding: dim must be a positive even integer, got {dim!r}")
        _check_dim("RotaryEmbedding", dim)
        if not base > 1:
            raise ValueError(f"RotaryEmbedding: base must be greater than 1, got {base!r}")
        self.dim, self.base = dim, float(base)

    def forward(self, q, k, offset=0):
        for name, t in (("q", q), ("k", k)):
            if t.shape[-1] != self.dim:
                raise ValueError(f"RotaryEmbedding: {name} {list(t.shape)} must end in the head size {self.dim}")
        return apply_rotary(q, offset, self.base), apply_rotary(k, offset, self.base)

    def extra_repr(self):
        return f"dim={self.dim}, base={self.base:g}"

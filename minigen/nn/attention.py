"""``MultiheadAttention``, with PyTorch's parameters, masks and shapes.

    head_h = Attention(Q W_q^h, K W_k^h, V W_v^h)      h = 1..H, each of size head_dim = E / H
    MultiHead(Q, K, V) = concat(head_1, ..., head_H) W_o        (Vaswani et al., 2017)

The attention itself is ``scaled_dot_product_attention`` (ops/attention.py, one Function with a
hand-derived backward). Parameter names and shapes are PyTorch's: ``in_proj_weight`` (3E, E)
holding W_q, W_k, W_v stacked (or ``q_proj_weight``, ``k_proj_weight``, ``v_proj_weight`` when
kdim or vdim differ from E), ``in_proj_bias`` (3E), ``out_proj`` (a Linear(E, E)) and, with
``add_bias_kv``, ``bias_k`` and ``bias_v`` (1, 1, E). So ``load_state_dict`` takes a PyTorch
MultiheadAttention's state dict as it is.

Masks follow ``torch.nn.MultiheadAttention`` (NOT scaled_dot_product_attention): in a bool
``attn_mask`` or ``key_padding_mask``, True means "may NOT attend"; a float mask is added to the
scores. Where minigen differs: a query whose keys are all masked gets zeros (output and weights)
where PyTorch returns NaN.
"""
from __future__ import annotations

import math

from .. import backend as B
from ..autograd import Tensor, no_grad
from ..creation import empty, zeros
from ..ops.attention import scaled_dot_product_attention
from ..ops.join import cat
from .linear import Linear
from .module import Module
from .parameter import Parameter

__all__ = ["MultiheadAttention", "multi_head_attention_forward", "SDPBackend", "sdpa_kernel"]


class SDPBackend:
    """``torch.nn.attention.SDPBackend``: the attention kernels PyTorch can choose among.
    minigen has one (the math path, minigen/ops/attention.py), so a choice changes nothing."""
    ERROR, MATH, FLASH_ATTENTION, EFFICIENT_ATTENTION, CUDNN_ATTENTION, OVERRIDEABLE = range(-1, 5)


class sdpa_kernel:
    """``with sdpa_kernel(SDPBackend.FLASH_ATTENTION):``: accepted; the block runs as it is."""

    def __init__(self, backends=None, set_priority=False):
        self.backends = backends

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __call__(self, fn):
        return fn


def _linear(x, w, b):
    # y = x W^T + b
    y = x @ w.mT
    return y + b if b is not None else y


class NonDynamicallyQuantizableLinear(Linear):
    """A plain Linear. PyTorch gives MultiheadAttention's output projection this class name
    (for its quantisation tooling); minigen keeps the name so that ``print(model)`` matches."""


class MultiheadAttention(Module):
    """Multi-head attention with PyTorch's arguments and defaults.

    forward(query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
            average_attn_weights=True, is_causal=False) -> (attn_output, attn_weights or None)

    Shapes (batch_first=False): query (L, N, E), key (S, N, kdim), value (S, N, vdim); with
    batch_first=True the batch comes first; unbatched inputs (L, E) are accepted too.
    attn_mask: (L, S) or (N * num_heads, L, S); key_padding_mask: (N, S).
    attn_weights: (N, L, S) averaged over heads, or (N, num_heads, L, S).
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None,
                 dtype=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"MultiheadAttention: embed_dim and num_heads must be greater than "
                             f"0, got embed_dim={embed_dim} and num_heads={num_heads} instead")
        fk = dict(device=device, dtype=B.as_dtype(dtype) or B.get_default_dtype())
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if self.head_dim * num_heads != embed_dim:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible by "
                             f"num_heads ({num_heads})")
        E = embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(empty((3 * E, E), **fk))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = Parameter(empty((E, E), **fk))
            self.k_proj_weight = Parameter(empty((E, self.kdim), **fk))
            self.v_proj_weight = Parameter(empty((E, self.vdim), **fk))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(empty(3 * E, **fk))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(E, E, bias=bias, **fk)
        if add_bias_kv:
            self.bias_k = Parameter(empty((1, 1, E), **fk))
            self.bias_v = Parameter(empty((1, 1, E), **fk))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self):
        """PyTorch's initialisation: Xavier-uniform projections, zero biases, Xavier-normal
        bias_k / bias_v; out_proj.weight keeps Linear's own initialisation."""
        from . import init
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        with no_grad():
            if self.in_proj_bias is not None:
                self.in_proj_bias.zero_()
                self.out_proj.bias.zero_()
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        op = "MultiheadAttention"
        batched = query.ndim == 3
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise RuntimeError(f"{op}: query, key and value must all be 3-D (batched) or all 2-D "
                               f"(unbatched), but got query {list(query.shape)}, key "
                               f"{list(key.shape)} and value {list(value.shape)}")
        if batched and self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        if key.shape[-1] != self.kdim or value.shape[-1] != self.vdim:
            raise RuntimeError(f"{op}: expected key [..., {self.kdim}] and value "
                               f"[..., {self.vdim}] (kdim, vdim), but got key "
                               f"{list(key.shape)} and value {list(value.shape)}")
        o, weights = multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight,
            self.in_proj_bias, self.bias_k, self.bias_v, self.add_zero_attn, self.dropout,
            self.out_proj.weight, self.out_proj.bias, training=self.training,
            key_padding_mask=key_padding_mask, need_weights=need_weights, attn_mask=attn_mask,
            use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight, k_proj_weight=self.k_proj_weight,
            v_proj_weight=self.v_proj_weight, average_attn_weights=average_attn_weights,
            is_causal=is_causal, _op=op)
        if batched and self.batch_first:
            o = o.transpose(0, 1)
        return o, weights


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads,
                                 in_proj_weight, in_proj_bias, bias_k, bias_v, add_zero_attn,
                                 dropout_p, out_proj_weight, out_proj_bias, training=True,
                                 key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None,
                                 k_proj_weight=None, v_proj_weight=None, static_k=None,
                                 static_v=None, average_attn_weights=True, is_causal=False,
                                 _op="multi_head_attention_forward"):
    """``torch.nn.functional.multi_head_attention_forward``: MultiheadAttention with every
    weight passed in (CLIP's AttentionPool2d calls it directly).

    query (L, N, E), key (S, N, kdim), value (S, N, vdim), or unbatched (L, E), (S, kdim),
    (S, vdim); always sequence-first (the functional form has no batch_first).
    Projections: ``in_proj_weight`` (3E, E) stacks W_q, W_k, W_v, or with
    ``use_separate_proj_weight=True`` they come as ``q_proj_weight`` (E, E), ``k_proj_weight``
    (E, kdim), ``v_proj_weight`` (E, vdim); ``in_proj_bias`` (3E) stacks b_q, b_k, b_v.

        q = Q W_q^T + b_q, k = K W_k^T + b_k, v = V W_v^T + b_v
        head_h = softmax(q_h k_h^T / sqrt(E/H) + mask) v_h          h = 1..H
        out = concat(head_1..head_H) W_o^T + b_o

    ``bias_k``/``bias_v`` (1, 1, E) append one learned key/value per sequence and
    ``add_zero_attn`` one of zeros (masks get an unmasked column for each); ``static_k`` /
    ``static_v`` (N*H, S, E/H) replace the projected, head-split keys / values. Masks as in
    MultiheadAttention: bool True = may NOT attend, a float mask is added; attn_mask (L, S) or
    (N*H, L, S), key_padding_mask (N, S). Dropout on the attention weights only when
    ``training``. Returns (out, weights): weights (N, L, S) averaged over heads, (N, H, L, S)
    with ``average_attn_weights=False``, or None with ``need_weights=False``.
    """
    op = _op
    batched = query.ndim == 3
    if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
        raise RuntimeError(f"{op}: query, key and value must all be 3-D (batched) or all 2-D "
                           f"(unbatched), but got query {list(query.shape)}, key "
                           f"{list(key.shape)} and value {list(value.shape)}")
    if not batched:
        query, key, value = (t.unsqueeze(1) for t in (query, key, value))
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    L, N, E = query.shape
    S = key.shape[0]
    H = num_heads
    if E != embed_dim_to_check:
        raise RuntimeError(f"{op}: expected query with embed_dim {embed_dim_to_check} in its "
                           f"last dim, but got query of shape {list(query.shape)}")
    hd = E // H
    if hd * H != E:
        raise RuntimeError(f"{op}: embed_dim {E} not divisible by num_heads {H}")
    if key.shape[:2] != value.shape[:2] or key.shape[1] != N:
        raise RuntimeError(f"{op}: key {list(key.shape)} and value {list(value.shape)} must "
                           f"share (S, N) with N matching query {list(query.shape)}")
    if is_causal and attn_mask is None:
        raise RuntimeError(f"{op}: need attn_mask if specifying the is_causal hint (the "
                           "mask is what is applied; is_causal only says it is causal)")

    # Q W_q^T + b_q, K W_k^T + b_k, V W_v^T + b_v           (L or S, N, E)
    if use_separate_proj_weight:
        if q_proj_weight is None or k_proj_weight is None or v_proj_weight is None:
            raise RuntimeError(f"{op}: use_separate_proj_weight is True but q_proj_weight, "
                               "k_proj_weight or v_proj_weight is None")
        w_q, w_k, w_v = q_proj_weight, k_proj_weight, v_proj_weight
    else:
        if in_proj_weight is None:
            raise RuntimeError(f"{op}: use_separate_proj_weight is False but in_proj_weight "
                               "is None")
        w_q, w_k, w_v = in_proj_weight[:E], in_proj_weight[E:2 * E], in_proj_weight[2 * E:]
    for name, w, x in (("q", w_q, query), ("k", w_k, key), ("v", w_v, value)):
        if tuple(w.shape) != (E, x.shape[-1]):
            raise RuntimeError(f"{op}: expected the {name} projection weight of shape "
                               f"{[E, x.shape[-1]]}, but got {list(w.shape)}")
    b = in_proj_bias
    b_q, b_k, b_v = (None, None, None) if b is None else (b[:E], b[E:2 * E], b[2 * E:])
    q, k, v = _linear(query, w_q, b_q), _linear(key, w_k, b_k), _linear(value, w_v, b_v)

    # masks, shaped to broadcast against the scores (N, H, L, S)
    masks = []
    if attn_mask is not None:
        masks.append(_shape_attn_mask(op, attn_mask, N, H, L, S))
    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (N, S):
            raise RuntimeError(f"{op}: expected key_padding_mask of shape {[N, S]} (N, S), "
                               f"but got {list(key_padding_mask.shape)}")
        masks.append(_check_mask(op, "key_padding_mask", key_padding_mask).reshape(N, 1, 1, S))

    if bias_k is not None or bias_v is not None:
        if bias_k is None or bias_v is None:
            raise RuntimeError(f"{op}: bias_k and bias_v must be given together")
        if static_k is not None or static_v is not None:
            raise RuntimeError(f"{op}: bias cannot be added to static key / value")
        # one more key and value per sequence: the learned bias_k, bias_v (always attended)
        k = cat([k, bias_k.expand(1, N, E)], dim=0)
        v = cat([v, bias_v.expand(1, N, E)], dim=0)
        masks = [_pad_key(m) for m in masks]
    # split heads: (L, N, E) -> (N, H, L, head_dim)
    q = q.reshape(L, N, H, hd).permute(1, 2, 0, 3)
    k = _heads(op, "static_k", static_k, N, H, hd) if static_k is not None else \
        k.reshape(k.shape[0], N, H, hd).permute(1, 2, 0, 3)
    v = _heads(op, "static_v", static_v, N, H, hd) if static_v is not None else \
        v.reshape(v.shape[0], N, H, hd).permute(1, 2, 0, 3)
    if add_zero_attn:
        # one more key and value of zeros per head (always attended)
        z = zeros((N, H, 1, hd), dtype=q.dtype, device=q.device)
        k, v = cat([k, z], dim=2), cat([v, z], dim=2)
        masks = [_pad_key(m) for m in masks]

    mask = _combine(masks)
    p = dropout_p if training else 0.0
    # head_h = softmax(q_h k_h^T / sqrt(head_dim) + mask) v_h
    res = scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p,
                                       _need_weights=need_weights)
    o, weights = res if need_weights else (res, None)
    # concat(head_1..head_H) W_o^T + b_o: (N, H, L, hd) -> (L, N, E)
    o = _linear(o.permute(2, 0, 1, 3).reshape(L, N, E), out_proj_weight, out_proj_bias)
    if not batched:
        o = o.squeeze(1)
    if weights is not None:
        if average_attn_weights:
            weights = weights.mean(dim=1)
        if not batched:
            weights = weights.squeeze(0)
    return o, weights


def _heads(op, name, t, N, H, hd):
    """static_k / static_v (N*H, S, head_dim) -> (N, H, S, head_dim)."""
    if t.ndim != 3 or t.shape[0] != N * H or t.shape[2] != hd:
        raise RuntimeError(f"{op}: expected {name} of shape [{N * H}, S, {hd}] "
                           f"(N*num_heads, S, head_dim), but got {list(t.shape)}")
    return t.reshape(N, H, t.shape[1], hd)


def _shape_attn_mask(op, attn_mask, N, H, L, S):
    m = _check_mask(op, "attn_mask", attn_mask)
    if m.ndim == 2:
        if tuple(m.shape) != (L, S):
            raise RuntimeError(f"{op}: the shape of the 2D attn_mask is {list(m.shape)}, but "
                               f"should be {[L, S]}")
        return m.reshape(1, 1, L, S)
    if m.ndim == 3:
        if tuple(m.shape) != (N * H, L, S):
            raise RuntimeError(f"{op}: the shape of the 3D attn_mask is {list(m.shape)}, but "
                               f"should be {[N * H, L, S]}")
        return m.reshape(N, H, L, S)
    raise RuntimeError(f"{op}: attn_mask must be 2-D or 3-D, got {m.ndim}-D")


def _check_mask(op, name, m):
    if not isinstance(m, Tensor):
        raise TypeError(f"{op}: expected {name} to be a Tensor, got {type(m).__name__}")
    if m.dtype.kind not in "bf":
        raise RuntimeError(f"{op}: only bool and floating types of {name} are supported, got "
                           f"{m.dtype}")
    return m


def _pad_key(m):
    """One more key column that nobody masks: False for a bool mask, 0 for a float one."""
    pad = zeros(m.shape[:-1] + (1,), dtype=m.dtype, device=m.device)
    return cat([m, pad], dim=-1)


def _combine(masks):
    """MultiheadAttention masks (bool True = blocked, or float added) -> one mask for
    scaled_dot_product_attention (bool True = attends, or float added)."""
    if not masks:
        return None
    if all(m.dtype.kind == "b" for m in masks):
        blocked = masks[0]
        for m in masks[1:]:
            blocked = blocked | m
        return ~blocked
    dtype = next(m.dtype for m in masks if m.dtype.kind == "f")
    total = None
    for m in masks:
        if m.dtype.kind == "b":
            # True (blocked) -> -inf, False -> 0
            m = zeros(m.shape, dtype=dtype, device=m.device).masked_fill(m, -math.inf)
        total = m if total is None else total + m
    return total

"""Op specs for the nn layers with a geometry: convolution (and its transpose), pooling,
interpolation, normalisation, attention and the recurrent cells and sequence layers.

Part of ``op_specs_nn`` (imported at its end; see its docstring for the conventions): each
reference is an independent NumPy float64 loop over windows, output positions or time steps.
"""
from __future__ import annotations

import math

import numpy as np

import minigen as mg
import minigen.nn.functional as F

from .op_specs import _distinct, _ins, _n
from .op_specs_nn import _const, _sig, _spec, _unary

__all__ = []

# ============================================================================= convolution


def _np_conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """y[n, o, a, b] = sum_{c, i, j} w[o, c, i, j] x_p[n, g(o) Cg + c, a s + i d, b s + j d],
    as a loop over output channels and kernel offsets. ``padding``: an int, or per side
    ((top, bottom), (left, right))."""
    s = (stride,) * 2 if np.isscalar(stride) else stride
    dl = (dilation,) * 2 if np.isscalar(dilation) else dilation
    pads = ((padding,) * 2,) * 2 if np.isscalar(padding) else padding
    xp = np.pad(x, ((0, 0), (0, 0)) + tuple(pads))
    O, Cg, kh, kw = w.shape
    OH, OW = ((xp.shape[2 + k] - dl[k] * (w.shape[2 + k] - 1) - 1) // s[k] + 1 for k in (0, 1))
    y = np.zeros((x.shape[0], O, OH, OW))
    for o in range(O):
        g = o // (O // groups)
        for i in range(kh):
            for j in range(kw):
                win = xp[:, g * Cg:(g + 1) * Cg, i * dl[0]:i * dl[0] + (OH - 1) * s[0] + 1:s[0],
                         j * dl[1]:j * dl[1] + (OW - 1) * s[1] + 1:s[1]]
                y[:, o] += np.einsum("nchw,c->nhw", win, w[o, :, i, j])
    return y if b is None else y + b[:, None, None]


def _np_conv1d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    return _np_conv2d(x[:, :, None], w[:, :, None], b, (1, stride), ((0, 0), (padding,) * 2),
                      (1, dilation), groups)[:, :, 0]


def _np_conv_transpose2d(x, w, b=None, stride=1, padding=0, output_padding=0, groups=1,
                         dilation=1):
    """Every input pixel spreads x[n, ci, a, b] w[ci, c, i, j] onto y_p[n, g Cog + c,
    a s + i d, b s + j d]; y is y_p with ``padding`` cropped from the top/left."""
    N, Cin, H, W = x.shape
    _, Cog, kh, kw = w.shape
    s, p, op, dl = (stride,) * 2, (padding,) * 2, (output_padding,) * 2, (dilation,) * 2
    full = [(n - 1) * s[k] + dl[k] * (w.shape[2 + k] - 1) + 1 + op[k]
            for k, n in enumerate((H, W))]
    y = np.zeros((N, Cog * groups, *full))
    for ci in range(Cin):
        g = ci // (Cin // groups)
        for i in range(kh):
            for j in range(kw):
                y[:, g * Cog:(g + 1) * Cog, i * dl[0]:i * dl[0] + (H - 1) * s[0] + 1:s[0],
                  j * dl[1]:j * dl[1] + (W - 1) * s[1] + 1:s[1]] += \
                    x[:, ci, None] * w[ci, :, i, j][None, :, None, None]
    # OH = (H - 1) s - 2 p + d (k - 1) + output_padding + 1 = full - 2 p
    y = y[:, :, p[0]:full[0] - p[0], p[1]:full[1] - p[1]]
    return y if b is None else y + b[:, None, None]


def _conv_spec(name, fn, ref, *shapes, **kw):
    _spec(name, lambda *t: fn(*t, **kw), lambda *a: ref(*a, **kw),
          lambda r, d: _ins(d, *[_n(r, *s) for s in shapes]))


_conv_spec("conv1d", F.conv1d, _np_conv1d, (2, 2, 5), (3, 2, 3), (3,), stride=2, padding=1)
_conv_spec("conv1d_dilation_groups", F.conv1d, _np_conv1d, (1, 4, 6), (2, 2, 2),
           dilation=2, groups=2)
_conv_spec("conv2d", F.conv2d, _np_conv2d, (2, 2, 3, 3), (3, 2, 2, 2), (3,))
_conv_spec("conv2d_stride_padding_dilation", F.conv2d, _np_conv2d, (1, 2, 5, 5), (2, 2, 2, 2),
           stride=2, padding=1, dilation=2)
_conv_spec("conv2d_groups", F.conv2d, _np_conv2d, (1, 4, 3, 3), (4, 2, 2, 2), (4,), groups=2)
_spec("conv2d_same_padding", lambda x, w: F.conv2d(x, w, padding="same"),
      lambda x, w: _np_conv2d(x, w, padding=((0, 1), (0, 1))),  # k = 2: the odd row at the end
      lambda r, d: _ins(d, _n(r, 1, 2, 3, 4), _n(r, 2, 2, 2, 2)))
_W_CONV = np.linspace(-1.0, 1.0, 16).reshape(2, 2, 2, 2)
_spec("conv2d_unbatched_no_weight_grad", lambda x: F.conv2d(x, _const(_W_CONV, x)),
      lambda x: _np_conv2d(x[None], _W_CONV)[0], lambda r, d: _ins(d, _n(r, 2, 3, 3)))


def _np_conv_transpose1d(x, w, b=None, stride=1, padding=0, output_padding=0):
    """Input position a spreads x[n, :, a] w onto outputs a s .. a s + k - 1; crop p each side."""
    s, p, k = stride, padding, w.shape[2]
    y = np.zeros((x.shape[0], w.shape[1], (x.shape[2] - 1) * s + k + output_padding))
    for a in range(x.shape[2]):
        y[:, :, a * s:a * s + k] += np.einsum("nc,cok->nok", x[:, :, a], w)
    y = y[:, :, p:y.shape[2] - p]
    return y if b is None else y + b[:, None]


_conv_spec("conv_transpose1d", F.conv_transpose1d, _np_conv_transpose1d, (2, 2, 3), (2, 2, 3),
           (2,), stride=2, output_padding=1)
_conv_spec("conv_transpose1d_padding", F.conv_transpose1d, _np_conv_transpose1d, (1, 2, 3),
           (2, 1, 3), stride=3, padding=1, output_padding=2)
_conv_spec("conv_transpose2d", F.conv_transpose2d, _np_conv_transpose2d, (1, 2, 3, 3),
           (2, 2, 2, 2), (2,), stride=2, padding=1, output_padding=1)
_conv_spec("conv_transpose2d_groups_dilation", F.conv_transpose2d, _np_conv_transpose2d,
           (1, 4, 2, 2), (4, 1, 2, 2), groups=2, dilation=2)

# ============================================================================= pooling


def _np_pool(x, k, s, p, fn, pad_value, dilation=1):
    """fn over every window (a loop over output positions) of x padded with ``pad_value``."""
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=pad_value)
    r = dilation * (k - 1) + 1
    OH, OW = ((n + 2 * p - r) // s + 1 for n in x.shape[2:])
    y = np.zeros(x.shape[:2] + (OH, OW))
    for a in range(OH):
        for b in range(OW):
            y[:, :, a, b] = fn(xp[:, :, a * s:a * s + r:dilation, b * s:b * s + r:dilation])
    return y


def _np_max_pool(x, k, s=None, p=0, dilation=1):
    return _np_pool(x, k, s or k, p, lambda v: v.max(axis=(2, 3)), -np.inf, dilation)


def _np_argmax_plane(x, y):
    """Flat index h W + w of each output's value in its input plane (values are distinct)."""
    N, C, H, W = x.shape
    flat = x.reshape(N, C, 1, H * W)
    return np.argmax(flat == y.reshape(N, C, -1, 1), axis=-1).reshape(y.shape)


def _dist(*shape):
    return lambda r, d: _ins(d, _distinct(r, *shape))


_spec("max_pool2d", lambda x: F.max_pool2d(x, 2), lambda x: _np_max_pool(x, 2), _dist(1, 2, 4, 4),
      domain="no ties")
_spec("max_pool2d_overlapping_padding", lambda x: F.max_pool2d(x, 3, stride=1, padding=1),
      lambda x: _np_max_pool(x, 3, 1, 1), _dist(1, 2, 3, 4), domain="no ties")
_spec("max_pool2d_dilation_indices",
      lambda x: F.max_pool2d(x, 2, stride=1, dilation=2, return_indices=True),
      lambda x: (lambda y: (y, _np_argmax_plane(x, y)))(_np_max_pool(x, 2, 1, 0, 2)),
      _dist(2, 1, 4, 4), domain="no ties")
_spec("max_pool1d", lambda x: F.max_pool1d(x, 2, stride=1),
      lambda x: np.maximum(x[:, :, :-1], x[:, :, 1:]), _dist(2, 2, 5), domain="no ties")


def _np_avg_pool(x, k, s, p, count_include_pad=True, ceil_mode=False):
    """Mean of each window; the divisor counts padding (clipped to the padded input) or not."""
    H, W = x.shape[2:]
    out = []
    for n in (H, W):
        o = (n + 2 * p - k + ((s - 1) if ceil_mode else 0)) // s + 1
        out.append(o - 1 if ceil_mode and (o - 1) * s >= n + p else o)
    y = np.zeros(x.shape[:2] + tuple(out))
    for a in range(out[0]):
        for b in range(out[1]):
            h0, w0 = a * s - p, b * s - p
            h1, w1 = min(h0 + k, H + p), min(w0 + k, W + p)
            hc0, wc0, hc1, wc1 = max(h0, 0), max(w0, 0), min(h1, H), min(w1, W)
            size = (h1 - h0) * (w1 - w0) if count_include_pad else (hc1 - hc0) * (wc1 - wc0)
            y[:, :, a, b] = x[:, :, hc0:hc1, wc0:wc1].sum(axis=(2, 3)) / size
    return y


_unary("avg_pool2d", lambda x: F.avg_pool2d(x, 2), lambda x: _np_avg_pool(x, 2, 2, 0),
       shape=(1, 2, 4, 4))
_unary("avg_pool2d_padding_exclude_pad_ceil",
       lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, ceil_mode=True, count_include_pad=False),
       lambda x: _np_avg_pool(x, 3, 2, 1, count_include_pad=False, ceil_mode=True),
       shape=(1, 2, 4, 5))
_unary("avg_pool2d_divisor_override", lambda x: F.avg_pool2d(x, 2, 1, divisor_override=3),
       lambda x: _np_avg_pool(x, 2, 1, 0) * 4 / 3, shape=(1, 1, 3, 3))


def _np_avg1d(x, k, s, p):
    xp = np.pad(x, ((0, 0), (0, 0), (p, p)))
    return np.stack([xp[:, :, o * s:o * s + k].mean(-1)
                     for o in range((x.shape[2] + 2 * p - k) // s + 1)], -1)


_unary("avg_pool1d", lambda x: F.avg_pool1d(x, 3, stride=2, padding=1),
       lambda x: _np_avg1d(x, 3, 2, 1), shape=(2, 2, 5))


def _np_adaptive_avg(x, out):
    """Cell (a, b) averages rows floor(a H / OH) .. ceil((a + 1) H / OH) - 1 (and columns alike)."""
    H, W = x.shape[2:]
    y = np.zeros(x.shape[:2] + tuple(out))
    for a in range(out[0]):
        for b in range(out[1]):
            h0, h1 = a * H // out[0], -(-(a + 1) * H // out[0])
            w0, w1 = b * W // out[1], -(-(b + 1) * W // out[1])
            y[:, :, a, b] = x[:, :, h0:h1, w0:w1].mean(axis=(2, 3))
    return y


_unary("adaptive_avg_pool2d", lambda x: F.adaptive_avg_pool2d(x, (3, 2)),
       lambda x: _np_adaptive_avg(x, (3, 2)), shape=(1, 2, 5, 5))
_unary("adaptive_avg_pool2d_keep_width", lambda x: F.adaptive_avg_pool2d(x, (2, None)),
       lambda x: _np_adaptive_avg(x, (2, 3)), shape=(2, 1, 3, 3))
_unary("adaptive_avg_pool1d", lambda x: F.adaptive_avg_pool1d(x, 2),
       lambda x: _np_adaptive_avg(x[:, :, None], (1, 2))[:, :, 0], shape=(2, 2, 5))


def _np_linear_src(o, n, m, align_corners):
    """Source position of output o when resizing n -> m (PyTorch's half-pixel rule)."""
    if align_corners:
        return o * (n - 1) / (m - 1) if m > 1 else 0.0
    return max((o + 0.5) * n / m - 0.5, 0.0)


def _np_bilinear(x, out, align_corners=False):
    H, W = x.shape[2:]
    y = np.zeros(x.shape[:2] + tuple(out))
    for a in range(out[0]):
        for b in range(out[1]):
            sh, sw = _np_linear_src(a, H, out[0], align_corners), \
                _np_linear_src(b, W, out[1], align_corners)
            h0, w0 = min(int(sh), H - 1), min(int(sw), W - 1)
            h1, w1 = min(h0 + 1, H - 1), min(w0 + 1, W - 1)
            th, tw = sh - h0, sw - w0
            # y = (1 - th)(1 - tw) x00 + (1 - th) tw x01 + th (1 - tw) x10 + th tw x11
            y[:, :, a, b] = ((1 - th) * ((1 - tw) * x[:, :, h0, w0] + tw * x[:, :, h0, w1])
                             + th * ((1 - tw) * x[:, :, h1, w0] + tw * x[:, :, h1, w1]))
    return y


def _np_nearest(x, out, exact=False):
    idx = [np.minimum(np.floor((np.arange(m) + (0.5 if exact else 0.0)) * n / m).astype(int),
                      n - 1) for n, m in zip(x.shape[2:], out)]
    return x[:, :, idx[0][:, None], idx[1][None, :]]


_unary("interpolate_nearest", lambda x: F.interpolate(x, scale_factor=2),
       lambda x: x.repeat(2, axis=2).repeat(2, axis=3), shape=(1, 2, 2, 3))
_unary("interpolate_nearest_exact_size", lambda x: F.interpolate(x, size=(2, 5),
                                                                  mode="nearest-exact"),
       lambda x: _np_nearest(x, (2, 5), exact=True), shape=(1, 1, 3, 3))
_unary("interpolate_bilinear", lambda x: F.interpolate(x, size=(3, 5), mode="bilinear"),
       lambda x: _np_bilinear(x, (3, 5)), shape=(1, 2, 2, 3))
_unary("interpolate_bilinear_align_corners",
       lambda x: F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True),
       lambda x: _np_bilinear(x, (4, 4), align_corners=True), shape=(1, 1, 2, 2))
_unary("interpolate_linear", lambda x: F.interpolate(x, size=5, mode="linear"),
       lambda x: _np_bilinear(x[:, :, None], (1, 5))[:, :, 0], shape=(2, 1, 3))

# ============================================================================= normalisation


def _np_normalize(x, axes, eps=1e-5):
    mu = x.mean(axis=axes, keepdims=True)
    return (x - mu) / np.sqrt(((x - mu) ** 2).mean(axis=axes, keepdims=True) + eps)


_RM, _RV = np.array([0.3, -0.2]), np.array([1.5, 0.6])  # running statistics: constants


def _bn_train(x, w, b):
    # fresh running buffers, updated in place each call (off the graph)
    rm = mg.zeros(2, dtype=x.dtype, device=x.device)
    rv = mg.ones(2, dtype=x.dtype, device=x.device)
    return F.batch_norm(x, rm, rv, w, b, training=True, momentum=0.3)


_spec("batch_norm_train", _bn_train,
      lambda x, w, b: _np_normalize(x, (0, 2, 3)) * w[:, None, None] + b[:, None, None],
      lambda r, d: _ins(d, _n(r, 3, 2, 2, 2), _n(r, 2), _n(r, 2)))
_spec("batch_norm_train_2d_no_affine", lambda x: F.batch_norm(x, None, None, training=True),
      lambda x: _np_normalize(x, (0,)), lambda r, d: _ins(d, _n(r, 4, 3)))
_spec("batch_norm_eval",
      lambda x, w, b: F.batch_norm(x, _const(_RM, x), _const(_RV, x), w, b, training=False),
      lambda x, w, b: ((x - _RM[:, None]) / np.sqrt(_RV[:, None] + 1e-5)) * w[:, None]
      + b[:, None], lambda r, d: _ins(d, _n(r, 2, 2, 3), _n(r, 2), _n(r, 2)))
_spec("layer_norm", lambda x, w, b: F.layer_norm(x, (2, 3), w, b),
      lambda x, w, b: _np_normalize(x, (1, 2)) * w + b,
      lambda r, d: _ins(d, _n(r, 2, 2, 3), _n(r, 2, 3), _n(r, 2, 3)))
_unary("layer_norm_no_affine", lambda x: F.layer_norm(x, 4, eps=1e-3),
       lambda x: _np_normalize(x, (-1,), eps=1e-3), shape=(3, 4))
_spec("group_norm", lambda x, w, b: F.group_norm(x, 2, w, b),
      lambda x, w, b: _np_normalize(x.reshape(2, 2, -1), (2,)).reshape(x.shape)
      * w[:, None] + b[:, None], lambda r, d: _ins(d, _n(r, 2, 4, 3), _n(r, 4), _n(r, 4)))

# ============================================================================= attention


def _np_sdpa(q, k, v, keep=None, bias=None, scale=None, weights=False):
    """O = softmax(Q K^T scale + B, over the kept keys) V; a row with no kept key gives 0."""
    s = q @ np.swapaxes(k, -1, -2) * (1 / math.sqrt(q.shape[-1]) if scale is None else scale)
    s = s + (0.0 if bias is None else bias)
    keep = np.ones(s.shape, bool) if keep is None else np.broadcast_to(keep, s.shape)
    m = np.where(keep, s, -np.inf).max(-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    e = np.where(keep, np.exp(np.where(keep, s, 0.0) - m), 0.0)
    z = e.sum(-1, keepdims=True)
    p = e / np.where(z > 0, z, 1.0)
    return (p @ v, p) if weights else p @ v


def _qkv(*batch, L=3, S=4, E=2, Ev=3):
    return lambda r, d: _ins(d, _n(r, *batch, L, E), _n(r, *batch, S, E), _n(r, *batch, S, Ev))


_MASK = np.array([[True, False, True, True], [False, False, False, False],
                  [True, True, False, True]])  # row 1 sees no key: its output is 0
_spec("sdpa", F.scaled_dot_product_attention, _np_sdpa, _qkv(2))
_spec("sdpa_bool_mask_scale",
      lambda q, k, v: F.scaled_dot_product_attention(
          q, k, v, attn_mask=mg.tensor(_MASK, device=q.device), scale=0.7),
      lambda q, k, v: _np_sdpa(q, k, v, keep=_MASK, scale=0.7), _qkv(2))
_spec("sdpa_float_mask", lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, m),
      lambda q, k, v, m: _np_sdpa(q, k, v, bias=m),
      lambda r, d: _qkv(2, 1)(r, d) + _ins(d, _n(r, 3, 4)))  # the mask is differentiable too
_spec("sdpa_causal_broadcast_batch",
      lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
      lambda q, k, v: _np_sdpa(q, k, v, keep=np.tril(np.ones((3, 3), bool))),
      lambda r, d: _ins(d, _n(r, 2, 1, 3, 2), _n(r, 2, 3, 2), _n(r, 1, 3, 2)))
_spec("sdpa_need_weights",  # the path nn.MultiheadAttention takes: weights are an output too
      lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True, _need_weights=True),
      lambda q, k, v: _np_sdpa(q, k, v, keep=np.tril(np.ones((3, 4), bool)), weights=True),
      _qkv(1))


def _np_mha(q, kv, w, b, ow, ob, H=2):
    """Sequence-first (L, N, E) multi-head attention: project, split heads, sdpa, out-project."""
    E = q.shape[-1]
    pq, pk, pv = q @ w[:E].T + b[:E], kv @ w[E:2 * E].T + b[E:2 * E], kv @ w[2 * E:].T + b[2 * E:]

    def heads(x):  # (L, N, E) -> (N, H, L, E/H)
        return x.reshape(x.shape[0], x.shape[1], H, E // H).transpose(1, 2, 0, 3)
    o = _np_sdpa(heads(pq), heads(pk), heads(pv))  # (N, H, L, E/H)
    return o.transpose(2, 0, 1, 3).reshape(q.shape) @ ow.T + ob


_spec("multi_head_attention_forward",
      lambda q, kv, w, b, ow, ob: F.multi_head_attention_forward(
          q, kv, kv, 4, 2, w, b, None, None, False, 0.0, ow, ob, need_weights=False)[0],
      _np_mha,
      lambda r, d: _ins(d, _n(r, 3, 2, 4), _n(r, 5, 2, 4), _n(r, 12, 4), _n(r, 12), _n(r, 4, 4),
                        _n(r, 4)))

# ============================================================================= recurrent


def _np_lstm_cell(x, h, c, w_ih, w_hh, b_ih=0.0, b_hh=0.0):
    # gates in PyTorch's order i, f, g, o
    i, f, g, o = np.split(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh, 4, axis=-1)
    c = _sig(f) * c + _sig(i) * np.tanh(g)
    return _sig(o) * np.tanh(c), c


def _np_gru_cell(x, h, w_ih, w_hh, b_ih=0.0, b_hh=0.0):
    # gates in PyTorch's order r, z, n; r multiplies the hidden part of n only
    xr, xz, xn = np.split(x @ w_ih.T + b_ih, 3, axis=-1)
    hr, hz, hn = np.split(h @ w_hh.T + b_hh, 3, axis=-1)
    r, z = _sig(xr + hr), _sig(xz + hz)
    n = np.tanh(xn + r * hn)
    return (1 - z) * n + z * h


def _np_sequence(cell, x, states, weights, reverse):
    out = [None] * len(x)
    for t in (range(len(x) - 1, -1, -1) if reverse else range(len(x))):
        states = cell(x[t], *states, *weights)
        states = states if isinstance(states, tuple) else (states,)
        out[t] = states[0]
    return (np.stack(out),) + states


def _rnn_arrays(r, B, I, H, G, n_states, T=None, bias=True):
    """x (B, I) or (T, B, I), the states (B, H), W_ih (G H, I), W_hh (G H, H) and the biases."""
    x = _n(r, B, I) if T is None else _n(r, T, B, I)
    states = [_n(r, B, H) for _ in range(n_states)]
    ws = [0.7 * _n(r, G * H, I), 0.7 * _n(r, G * H, H)]
    bs = [0.5 * _n(r, G * H), 0.5 * _n(r, G * H)] if bias else []
    return [x] + states + ws + bs


def _rnn_inputs(*args, **kw):
    return lambda r, d: _ins(d, *_rnn_arrays(r, *args, **kw))


_spec("lstm_cell", F.lstm_cell, _np_lstm_cell, _rnn_inputs(2, 3, 2, 4, 2))
_spec("lstm_cell_no_bias", F.lstm_cell, _np_lstm_cell, _rnn_inputs(1, 2, 2, 4, 2, bias=False))
_spec("gru_cell", F.gru_cell, _np_gru_cell, _rnn_inputs(2, 3, 2, 3, 1))
_spec("gru_cell_no_bias", F.gru_cell, _np_gru_cell, _rnn_inputs(1, 2, 2, 3, 1, bias=False))
_spec("rnn_tanh_cell", F.rnn_tanh_cell,
      lambda x, h, wi, wh, bi, bh: np.tanh(x @ wi.T + bi + h @ wh.T + bh),
      _rnn_inputs(2, 3, 2, 1, 1))


def _relu_cell_inputs(r, d):
    """Inputs whose pre-activations are all at least 0.1 from relu's kink."""
    for _ in range(100):
        x, h, wi, wh, bi, bh = arrays = _rnn_arrays(r, 2, 3, 2, 1, 1)
        if np.abs(x @ wi.T + bi + h @ wh.T + bh).min() > 0.1:
            return _ins(d, *arrays)
    raise RuntimeError("op_specs_nn: could not draw pre-activations away from 0")


_spec("rnn_relu_cell", F.rnn_relu_cell,
      lambda x, h, wi, wh, bi, bh: np.maximum(x @ wi.T + bi + h @ wh.T + bh, 0.0),
      _relu_cell_inputs, domain="pre-activations away from 0")
# the whole-sequence layers that nn.LSTM / nn.GRU run (one per layer and direction)
_spec("lstm_sequence", F.lstm_sequence,
      lambda x, h, c, *w: _np_sequence(_np_lstm_cell, x, (h, c), w, False),
      _rnn_inputs(2, 2, 2, 4, 2, T=3))
_spec("lstm_sequence_reverse_no_bias",
      lambda x, h, c, wi, wh: F.lstm_sequence(x, h, c, wi, wh, reverse=True),
      lambda x, h, c, *w: _np_sequence(_np_lstm_cell, x, (h, c), w, True),
      _rnn_inputs(1, 2, 2, 4, 2, T=3, bias=False))
_spec("gru_sequence", F.gru_sequence,
      lambda x, h, *w: _np_sequence(_np_gru_cell, x, (h,), w, False),
      _rnn_inputs(2, 2, 2, 3, 1, T=3))
_spec("gru_sequence_reverse", lambda x, h, *w: F.gru_sequence(x, h, *w, reverse=True),
      lambda x, h, *w: _np_sequence(_np_gru_cell, x, (h,), w, True),
      _rnn_inputs(1, 2, 2, 3, 1, T=3))

"""Op specs for the nn layers' functional ops (``minigen.nn.functional``), and for the few
engine Functions the engine registry had no spec for (``log1p``, ``expm1``, ``to_device``).

Registered into ``op_specs.REGISTRY`` when ``op_specs`` is imported (its last line imports this
module), so ``all_specs()``, the test suite and ``python -m minigen.testing.gradcheck_table``
see them. Every spec here is tagged ``"nn"`` (or ``"engine"``) and listed in ``SPECS``.

Each ``reference`` is an independent NumPy float64 implementation written from the definition
(loops over windows and time steps, the softmax and the gates written out), not from minigen's
own algorithms. Inputs are small, float64, and drawn away from the points where an op is not
differentiable (ties in max pooling, the kinks of leaky_relu/elu/hardtanh/l1, the jump of
softplus at its threshold, relu's 0 in the Elman relu cell), so central differences hold. Every
op here is twice differentiable there, so every spec has ``second_order=True``. Constants that
PyTorch treats as non-differentiable (class weights, running statistics) are built inside ``fn``
on the input's device rather than passed as inputs, which would make them require grad.
"""
from __future__ import annotations

import math

import numpy as np

import minigen as mg
import minigen.nn.functional as F
from minigen.ops.shape import ToDevice

from .op_specs import OpSpec, _away, _ins, _n, _nonzero, _pos, register

__all__ = ["SPECS"]

SPECS = []


def _spec(name, fn, reference, make_inputs, tag="nn", **kw):
    SPECS.append(register(OpSpec(name, fn, reference, make_inputs, tags=(tag,), **kw)))


def _unary(name, fn, reference, draw=_n, shape=(2, 3), **kw):
    _spec(name, fn, reference, lambda r, d: _ins(d, draw(r, *shape)), **kw)


def _const(a, like):
    """A constant float tensor on ``like``'s device and dtype."""
    return mg.tensor(np.asarray(a), dtype=like.dtype, device=like.device)


def _sig(a):
    return 1.0 / (1.0 + np.exp(-a))


def _logsoftmax(z, axis):
    m = z.max(axis=axis, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=axis, keepdims=True))


def _reduce(loss, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": lambda a: a}[reduction](loss)


def _between(lo, hi):
    return lambda r, *shape: r.uniform(lo, hi, shape)


# ============================================================================= engine gaps
_unary("log1p", mg.log1p, np.log1p, draw=_between(-0.5, 2.0), tag="engine", domain="x > -1")
_unary("expm1", lambda x: x.expm1(), np.expm1, tag="engine")


def _other_device(x):
    """A round trip through the other device when it is available (cpu <-> cuda); else the
    transfer Function to its own device (a host round trip), so ToDevice runs everywhere."""
    other = "cuda" if x.device.type == "cpu" else "cpu"
    try:
        if mg.backend.get_backend(other).is_available():
            return x.to(other).to(x.device) * 1.0
    except RuntimeError:
        pass
    return ToDevice.apply(x, target=x.device.type)


_unary("to_device", _other_device, lambda x: x * 1.0, tag="engine")

# ============================================================================= activations
_spec("linear", F.linear, lambda x, w, b: x @ w.T + b,
      lambda r, d: _ins(d, _n(r, 2, 2, 3), _n(r, 4, 3), _n(r, 4)))
_spec("linear_no_bias", F.linear, lambda x, w: x @ w.T,
      lambda r, d: _ins(d, _n(r, 3), _n(r, 2, 3)))
_unary("leaky_relu", lambda x: F.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x),
       draw=_nonzero, domain="nonzero")
_unary("rrelu_eval", lambda x: F.rrelu(x, 0.1, 0.3, training=False),
       lambda x: np.where(x >= 0, x, 0.2 * x), draw=_nonzero, domain="nonzero")
_unary("relu_inplace_on_graph", lambda x: F.relu_(x * 1.0), lambda x: np.maximum(x, 0.0),
       draw=_nonzero, domain="nonzero")


class _TorchStyleCube(mg.autograd.Function):
    """A custom Function written PyTorch's way (minigen/autograd/function.py), as an op."""

    @staticmethod
    def forward(ctx, x, scale):
        ctx.save_for_backward(x)
        ctx.scale = scale
        return x ** 3 * scale

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x ** 2 * ctx.scale, None


_unary("custom_function_cube", lambda x: _TorchStyleCube.apply(x, 0.5), lambda x: 0.5 * x ** 3)


class _Hooked(mg.nn.Module):
    """A module with backward hooks (minigen/nn/hooks.py): identity nodes around tanh(x w)."""

    def forward(self, x, w):
        return (x * w).tanh()


_hooked = _Hooked()
_hooked.register_full_backward_hook(lambda m, gi, go: None)
_hooked.register_full_backward_pre_hook(lambda m, go: None)
_spec("module_backward_hooks", _hooked, lambda x, w: np.tanh(x * w),
      lambda r, d: _ins(d, _n(r, 2, 3), _n(r, 2, 3)))
_erf = np.vectorize(math.erf)
_unary("gelu", F.gelu, lambda x: 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0))), shape=(2, 4))
_unary("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"),
       lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))))
_unary("silu", F.silu, lambda x: x * _sig(x))
_unary("softplus", F.softplus, lambda x: np.log1p(np.exp(x)), draw=_between(-3, 3))
_spec("softplus_beta_threshold", lambda x: F.softplus(x, beta=2.0, threshold=3.0),
      lambda x: np.where(2 * x > 3, x, np.log1p(np.exp(2 * x)) / 2),
      lambda r, d: _ins(d, _away(r, (2, 4), (1.5,), lo=-3, hi=3)), domain="away from the jump")
_unary("elu", lambda x: F.elu(x, alpha=0.7), lambda x: np.where(x > 0, x, 0.7 * np.expm1(x)),
       draw=_nonzero, domain="nonzero")
_spec("hardtanh", lambda x: F.hardtanh(x, -0.5, 0.8), lambda x: np.clip(x, -0.5, 0.8),
      lambda r, d: _ins(d, _away(r, (2, 4), (-0.5, 0.8))), domain="away from the bounds")
_spec("relu6", F.relu6, lambda x: np.clip(x, 0, 6),
      lambda r, d: _ins(d, _away(r, (2, 4), (0.0, 6.0), lo=-2, hi=8)), domain="away from 0, 6")
_unary("dropout_p0", lambda x: F.dropout(x, p=0.0), lambda x: x)
_unary("dropout_eval", lambda x: F.dropout(x, 0.5, training=False), lambda x: x)
_unary("dropout_p1", lambda x: F.dropout(x, p=1.0), lambda x: 0.0 * x)
_spec("embedding", F.embedding, lambda i, w: w[i],
      lambda r, d: _ins(d, np.array([[0, 2, 0], [4, 2, 1]]), _n(r, 5, 3)))

_PAD_ROW = np.array([[0.25, -0.5]])


def _embedding_padded(i, w_rest):
    """The padding row gets no gradient by design (as in PyTorch), so it is not an input here:
    rows 0, 2, 3 are, and row 1 (padding_idx) is a constant."""
    w = mg.cat([w_rest[:1], _const(_PAD_ROW, w_rest), w_rest[1:]])
    return F.embedding(i, w, padding_idx=1)


_spec("embedding_padding_idx", _embedding_padded,
      lambda i, w: np.concatenate([w[:1], _PAD_ROW, w[1:]])[i],
      lambda r, d: _ins(d, np.array([1, 3, 1, 0]), _n(r, 3, 2)))

# ============================================================================= losses
_spec("mse_loss", F.mse_loss, lambda x, y: np.mean((x - y) ** 2),
      lambda r, d: _ins(d, _n(r, 2, 3), _n(r, 2, 3)))
_spec("mse_loss_none", lambda x, y: F.mse_loss(x, y, reduction="none"), lambda x, y: (x - y) ** 2,
      lambda r, d: _ins(d, _n(r, 3), _n(r, 3)))


def _l1_inputs(r, d):
    x = _n(r, 2, 3)
    return _ins(d, x, x + _nonzero(r, 2, 3))


_spec("l1_loss", F.l1_loss, lambda x, y: np.mean(np.abs(x - y)), _l1_inputs,
      domain="input != target")
_spec("l1_loss_sum", lambda x, y: F.l1_loss(x, y, reduction="sum"),
      lambda x, y: np.sum(np.abs(x - y)), _l1_inputs, domain="input != target")


def _np_bce(x, y, w=1.0):
    return -w * (y * np.log(x) + (1 - y) * np.log(1 - x))


_spec("binary_cross_entropy", F.binary_cross_entropy, lambda x, y: np.mean(_np_bce(x, y)),
      lambda r, d: _ins(d, r.uniform(0.1, 0.9, (2, 3)), r.uniform(0, 1, (2, 3))),
      domain="0 < input < 1")
_spec("binary_cross_entropy_weight_sum",
      lambda x, y, w: F.binary_cross_entropy(x, y, weight=w, reduction="sum"),
      lambda x, y, w: np.sum(_np_bce(x, y, w)),
      lambda r, d: _ins(d, r.uniform(0.1, 0.9, (2, 3)), r.uniform(0, 1, (2, 3)), _pos(r, 3)))


def _np_bce_logits(x, y, w=1.0, p=1.0):
    return -w * (p * y * np.log(_sig(x)) + (1 - y) * np.log(1 - _sig(x)))


_spec("bce_with_logits", F.binary_cross_entropy_with_logits,
      lambda x, y: np.mean(_np_bce_logits(x, y)),
      lambda r, d: _ins(d, 2 * _n(r, 2, 3), r.uniform(0, 1, (2, 3))))
_spec("bce_with_logits_pos_weight",
      lambda x, y, w, p: F.binary_cross_entropy_with_logits(x, y, weight=w, pos_weight=p),
      lambda x, y, w, p: np.mean(_np_bce_logits(x, y, w, p)),
      lambda r, d: _ins(d, 2 * _n(r, 3, 2), r.uniform(0, 1, (3, 2)), _pos(r, 3, 2), _pos(r, 2)))

_W4 = np.array([0.5, 1.0, 2.0, 1.5])  # class weights: constants, as in PyTorch


def _np_ce_index(z, y, w=None, ignore=-100, eps=0.0, reduction="mean"):
    """-(1 - eps) w_y log p_y - (eps / C) sum_c w_c log p_c per sample; 'mean' / sum of w_y."""
    C = z.shape[1]
    w = np.ones(C) if w is None else w
    logp = np.moveaxis(_logsoftmax(z, 1), 1, -1)          # (N, *, C)
    keep = y != ignore
    yc = np.where(keep, y, 0)
    wy = w[yc] * keep
    nll = -np.take_along_axis(logp, yc[..., None], -1)[..., 0]
    loss = (1 - eps) * wy * nll + keep * (eps / C) * -(logp * w).sum(-1)
    return loss.sum() / wy.sum() if reduction == "mean" else _reduce(loss, reduction)


def _np_ce_prob(z, t, w=None, eps=0.0, reduction="mean"):
    C = z.shape[1]
    w = np.ones(C) if w is None else w
    q = ((1 - eps) * t + eps / C) * w.reshape((1, C) + (1,) * (z.ndim - 2))
    return _reduce(-(q * _logsoftmax(z, 1)).sum(1), reduction)


_spec("cross_entropy", F.cross_entropy, _np_ce_index,
      lambda r, d: _ins(d, _n(r, 3, 4), np.array([2, 0, 3])))
_spec("cross_entropy_weight_ignore_index",
      lambda z, y: F.cross_entropy(z, y, weight=_const(_W4, z), ignore_index=1),
      lambda z, y: _np_ce_index(z, y, _W4, ignore=1),
      lambda r, d: _ins(d, _n(r, 4, 4), np.array([1, 3, 0, 2])))
_spec("cross_entropy_label_smoothing",
      lambda z, y: F.cross_entropy(z, y, weight=_const(_W4, z), label_smoothing=0.2),
      lambda z, y: _np_ce_index(z, y, _W4, eps=0.2),
      lambda r, d: _ins(d, _n(r, 3, 4), np.array([3, 3, 1])))
_spec("cross_entropy_trailing_dims_sum", lambda z, y: F.cross_entropy(z, y, reduction="sum"),
      lambda z, y: _np_ce_index(z, y, reduction="sum"),
      lambda r, d: _ins(d, _n(r, 2, 3, 2), np.array([[0, 2], [1, 1]])))
_spec("cross_entropy_unbatched", F.cross_entropy,
      lambda z, y: _np_ce_index(z[None], y[None]),
      lambda r, d: _ins(d, _n(r, 4), np.array(2)))


def _probs(r, *shape, axis=1):
    e = np.exp(r.standard_normal(shape))
    return e / e.sum(axis=axis, keepdims=True)


_spec("cross_entropy_probabilities",
      lambda z, t: F.cross_entropy(z, t, weight=_const(_W4, z), label_smoothing=0.1),
      lambda z, t: _np_ce_prob(z, t, _W4, eps=0.1),
      lambda r, d: _ins(d, _n(r, 3, 4), _probs(r, 3, 4)))
_spec("cross_entropy_probabilities_trailing_none",
      lambda z, t: F.cross_entropy(z, t, reduction="none"),
      lambda z, t: _np_ce_prob(z, t, reduction="none"),
      lambda r, d: _ins(d, _n(r, 2, 3, 2), _probs(r, 2, 3, 2)))


def _np_nll(x, y, w=None, ignore=-100):
    w = np.ones(x.shape[1]) if w is None else w
    keep = y != ignore
    yc = np.where(keep, y, 0)
    wy = w[yc] * keep
    return (-wy * x[np.arange(len(y)), yc]).sum() / wy.sum()


_spec("nll_loss", F.nll_loss, _np_nll, lambda r, d: _ins(d, _n(r, 3, 4), np.array([1, 0, 3])))
_spec("nll_loss_weight_ignore_index",
      lambda x, y: F.nll_loss(x, y, weight=_const(_W4, x), ignore_index=0),
      lambda x, y: _np_nll(x, y, _W4, ignore=0),
      lambda r, d: _ins(d, _n(r, 4, 4), np.array([2, 0, 3, 1])))
_spec("kl_div_batchmean", lambda x, t: F.kl_div(x, t, reduction="batchmean"),
      lambda x, t: (t * (np.log(t) - x)).sum() / x.shape[0],
      lambda r, d: _ins(d, _logsoftmax(_n(r, 2, 3), 1), _probs(r, 2, 3)))
_spec("kl_div_log_target_sum", lambda x, t: F.kl_div(x, t, reduction="sum", log_target=True),
      lambda x, t: (np.exp(t) * (t - x)).sum(),
      lambda r, d: _ins(d, _n(r, 2, 3), _n(r, 2, 3)))


def _np_gnll(x, y, v, full=False):
    # l = 0.5 (log v + (x - y)^2 / v) (+ 0.5 log 2 pi)
    const = 0.5 * math.log(2 * math.pi) if full else 0.0
    return np.mean(0.5 * (np.log(v) + (x - y) ** 2 / v) + const)


_spec("gaussian_nll_loss", lambda x, y, v: F.gaussian_nll_loss(x, y, v, full=True),
      lambda x, y, v: _np_gnll(x, y, v, full=True),
      lambda r, d: _ins(d, _n(r, 2, 3), _n(r, 2, 3), _pos(r, 2, 3)), domain="var > eps")
_spec("gaussian_nll_loss_per_sample_var", F.gaussian_nll_loss,
      lambda x, y, v: _np_gnll(x, y, v[:, None]),
      lambda r, d: _ins(d, _n(r, 3, 2), _n(r, 3, 2), _pos(r, 3)), domain="var > eps")
_spec("gaussian_kl", F.gaussian_kl,
      lambda mu, lv: -0.5 * np.sum(1 + lv - mu ** 2 - np.exp(lv)),
      lambda r, d: _ins(d, _n(r, 2, 3), _n(r, 2, 3)))
_spec("gaussian_kl_batchmean", lambda mu, lv: F.gaussian_kl(mu, lv, reduction="batchmean"),
      lambda mu, lv: -0.5 * np.sum(1 + lv - mu ** 2 - np.exp(lv)) / mu.shape[0],
      lambda r, d: _ins(d, _n(r, 3, 2), _n(r, 3, 2)))

# convolution, pooling, interpolation, normalisation, attention and the recurrent layers
from . import op_specs_nn_layers  # noqa: E402,F401

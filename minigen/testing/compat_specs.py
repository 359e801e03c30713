"""Op specs for the functions added so that PyTorch programs run unchanged
(minigen/ops/extras.py, extras_more.py, minigen/linalg.py): each with an independent NumPy
float64 reference, inputs drawn away from kinks."""
from __future__ import annotations

import math

import numpy as np

import minigen as mg
import minigen.nn.functional as F
from .op_specs import OpSpec, _away, _distinct, _ins, _n, _nonzero, _spec, _unary, register

_erf = np.vectorize(math.erf, otypes=[float])


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _log1pexp(x):
    return np.logaddexp(0.0, x)


def _np_reduce(l, reduction="mean"):
    return l.mean() if reduction == "mean" else l.sum() if reduction == "sum" else l


# ----------------------------------------------------------------------------- losses
def _smooth_l1(x, y, beta):
    d = np.abs(x - y)
    return np.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta)


def _pair_away(r, d, kink, shape=(2, 3)):
    """x and y with |x - y| at least 0.1 from ``kink``."""
    y = _n(r, *shape)
    gap = _away(r, shape, (-kink, kink), lo=-2.0, hi=2.0)
    return _ins(d, y + gap, y)


_spec("smooth_l1_loss", lambda x, y: F.smooth_l1_loss(x, y, beta=0.5),
      lambda x, y: _smooth_l1(x, y, 0.5).mean(), lambda r, d: _pair_away(r, d, 0.5),
      domain="|x - y| away from beta and 0")
_spec("smooth_l1_loss_none", lambda x, y: F.smooth_l1_loss(x, y, reduction="none"),
      lambda x, y: _smooth_l1(x, y, 1.0), lambda r, d: _pair_away(r, d, 1.0),
      domain="|x - y| away from beta and 0")
_spec("huber_loss", lambda x, y: F.huber_loss(x, y, delta=0.7),
      lambda x, y: np.where(np.abs(x - y) < 0.7, 0.5 * (x - y) ** 2,
                            0.7 * (np.abs(x - y) - 0.35)).mean(),
      lambda r, d: _pair_away(r, d, 0.7), domain="|x - y| away from delta and 0")
_spec("margin_ranking_loss", lambda a, b, y: F.margin_ranking_loss(a, b, y, margin=0.1),
      lambda a, b, y: np.maximum(0.0, -y * (a - b) + 0.1).mean(),
      lambda r, d: _ins(d, _n(r, 5), _n(r, 5) + 0.5, np.array([1.0, -1.0, 1.0, -1.0, 1.0]))[:2]
      + [mg.tensor([1.0, -1.0, 1.0, -1.0, 1.0], dtype=mg.float64, device=d)],
      domain="hinge away from 0 (a - b - 0.1 != 0 for the draws)")


def _cos(x1, x2, axis):
    n1 = np.maximum(np.sqrt((x1 * x1).sum(axis)), 1e-8)
    n2 = np.maximum(np.sqrt((x2 * x2).sum(axis)), 1e-8)
    return (x1 * x2).sum(axis) / (n1 * n2)


_SIGNS = np.array([1.0, -1.0, 1.0, -1.0])


def _with_signs(r, d, *arrays):
    return _ins(d, *arrays) + [mg.tensor(_SIGNS, dtype=mg.float64, device=d)]


_spec("triplet_margin_loss", lambda a, p, n: F.triplet_margin_loss(a, p, n, margin=1.0),
      lambda a, p, n: np.maximum(np.sqrt(((a - p + 1e-6) ** 2).sum(-1))
                                 - np.sqrt(((a - n + 1e-6) ** 2).sum(-1)) + 1.0, 0.0).mean(),
      lambda r, d: _ins(d, _n(r, 4, 3), _n(r, 4, 3) * 0.3, _n(r, 4, 3) * 3.0),
      domain="random triplets")
_spec("cosine_embedding_loss", lambda a, b, y: F.cosine_embedding_loss(a, b, y, margin=-0.9),
      lambda a, b, y: np.where(y == 1, 1.0 - _cos(a, b, -1),
                               np.maximum(0.0, _cos(a, b, -1) + 0.9)).mean(),
      lambda r, d: _with_signs(r, d, _n(r, 4, 3), _n(r, 4, 3)), domain="cos away from -0.9")
_spec("hinge_embedding_loss", lambda x, y: F.hinge_embedding_loss(x, y),
      lambda x, y: np.where(y == 1, x, np.maximum(0.0, 1.0 - x)).mean(),
      lambda r, d: _with_signs(r, d, _away(r, (4,), (1.0,))), domain="x away from the margin")
_spec("soft_margin_loss", lambda x, y: F.soft_margin_loss(x, y),
      lambda x, y: _log1pexp(-y * x).mean(), lambda r, d: _with_signs(r, d, _n(r, 4)))
_spec("multilabel_soft_margin_loss", lambda x, y: F.multilabel_soft_margin_loss(x, y),
      lambda x, y: (-(y * np.log(_sigmoid(x)) + (1 - y) * np.log(_sigmoid(-x)))).mean(-1).mean(),
      lambda r, d: _ins(d, _n(r, 4, 3)) + [mg.tensor((r.random((4, 3)) > 0.5).astype(float),
                                                     dtype=mg.float64, device=d)])
_spec("poisson_nll_loss", lambda x, y: F.poisson_nll_loss(x, y),
      lambda x, y: (np.exp(x) - y * x).mean(),
      lambda r, d: _ins(d, _n(r, 4, 3)) + [mg.tensor(r.poisson(2.0, (4, 3)).astype(float),
                                                     dtype=mg.float64, device=d)])

# ----------------------------------------------------------------------------- norms, distances


def _l2(x, axis, keepdims=False):
    return np.sqrt((x * x).sum(axis, keepdims=keepdims))


_unary("normalize", lambda x: F.normalize(x, dim=1), lambda x: x / _l2(x, 1, True),
       shape=(3, 4))
_spec("cosine_similarity", lambda a, b: F.cosine_similarity(a, b, dim=1),
      lambda a, b: _cos(a, b, 1), lambda r, d: _ins(d, _n(r, 3, 4), _n(r, 3, 4)))
_spec("pairwise_distance", lambda a, b: F.pairwise_distance(a, b),
      lambda a, b: _l2(a - b + 1e-6, -1), lambda r, d: _ins(d, _n(r, 3, 4), _n(r, 3, 4)))
_unary("rms_norm", lambda x: F.rms_norm(x, (4,), eps=1e-6),
       lambda x: x / np.sqrt((x * x).mean(-1, keepdims=True) + 1e-6), shape=(3, 4))


def _instance_norm(x):
    m = x.mean((2, 3), keepdims=True)
    v = x.var((2, 3), keepdims=True)
    return (x - m) / np.sqrt(v + 1e-5)


_unary("instance_norm", lambda x: F.instance_norm(x), _instance_norm, shape=(2, 3, 3, 4))

# ----------------------------------------------------------------------------- activations
_SELU_A, _SELU_S = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
_unary("selu", F.selu, lambda x: _SELU_S * np.where(x > 0, x, _SELU_A * (np.exp(x) - 1)),
       draw=_nonzero, domain="nonzero")
_unary("celu", lambda x: F.celu(x, 0.5), lambda x: np.where(x > 0, x, 0.5 * (np.exp(x / 0.5) - 1)),
       draw=_nonzero, domain="nonzero")
_unary("logsigmoid", F.logsigmoid, lambda x: -_log1pexp(-x))
_unary("glu", lambda x: F.glu(x, 1), lambda x: x[:, :2] * _sigmoid(x[:, 2:]), shape=(3, 4))
_unary("mish", F.mish, lambda x: x * np.tanh(_log1pexp(x)))
_unary("hardsigmoid", F.hardsigmoid, lambda x: np.clip(x + 3, 0, 6) / 6,
       draw=lambda r, *s: _away(r, s, (-3.0, 3.0), lo=-4.0, hi=4.0), domain="away from +-3")
_unary("hardswish", F.hardswish, lambda x: x * np.clip(x + 3, 0, 6) / 6,
       draw=lambda r, *s: _away(r, s, (-3.0, 3.0), lo=-4.0, hi=4.0), domain="away from +-3")
_unary("softsign", F.softsign, lambda x: x / (1 + np.abs(x)), draw=_nonzero, domain="nonzero")
_unary("tanhshrink", F.tanhshrink, lambda x: x - np.tanh(x))
_unary("threshold", lambda x: F.threshold(x, 0.1, 20.0), lambda x: np.where(x > 0.1, x, 20.0),
       draw=lambda r, *s: _away(r, s, (0.1,)), domain="away from the threshold")
_unary("softmin", lambda x: F.softmin(x, dim=1),
       lambda x: np.exp(-x) / np.exp(-x).sum(1, keepdims=True), shape=(2, 4))
_spec("prelu", F.prelu, lambda x, a: np.where(x > 0, x, a[None, :, None] * x),
      lambda r, d: _ins(d, _nonzero(r, 2, 3, 4), r.uniform(0.1, 0.4, 3)), domain="x nonzero")

# ----------------------------------------------------------------------------- rearrangements


def _np_pixel_shuffle(x, r):
    n, c, h, w = x.shape
    return x.reshape(n, c // (r * r), r, r, h, w).transpose(0, 1, 4, 2, 5, 3).reshape(
        n, c // (r * r), h * r, w * r)


_unary("pixel_shuffle", lambda x: F.pixel_shuffle(x, 2), lambda x: _np_pixel_shuffle(x, 2),
       shape=(1, 8, 2, 3))
_unary("pixel_unshuffle", lambda x: F.pixel_unshuffle(x, 2),
       lambda x: x.reshape(1, 2, 2, 2, 3, 2).transpose(0, 1, 3, 5, 2, 4).reshape(1, 8, 2, 3),
       shape=(1, 2, 4, 6))


def _np_windows(x, dim, size, step):
    n = x.shape[dim]
    idx = np.arange((n - size) // step + 1)[:, None] * step + np.arange(size)
    return np.moveaxis(np.take(x, idx, axis=dim), dim + 1, -1)


_unary("unfold_windows", lambda x: x.unfold(1, 3, 2), lambda x: _np_windows(x, 1, 3, 2),
       shape=(2, 7, 3))


def _np_im2col(x, k):
    n, c, h, w = x.shape
    cols = [x[:, :, i:i + h - k + 1, j:j + w - k + 1] for i in range(k) for j in range(k)]
    # (n, c, k*k, oh, ow) with c major, then (kh, kw)
    return np.stack(cols, 2).reshape(n, c * k * k, -1)


_unary("unfold", lambda x: F.unfold(x, 2), lambda x: _np_im2col(x, 2), shape=(1, 2, 3, 4))
_unary("adaptive_max_pool2d", lambda x: F.adaptive_max_pool2d(x, (2, 2)),
       lambda x: np.stack([np.stack([x[..., i * 2:i * 2 + 2, j * 3:j * 3 + 3].max((-2, -1))
                                     for j in range(2)], -1) for i in range(2)], -2),
       draw=_distinct, shape=(1, 2, 4, 6), domain="no ties")
_unary("adaptive_max_pool1d", lambda x: F.adaptive_max_pool1d(x, 2),
       lambda x: np.stack([x[..., :3].max(-1), x[..., 3:].max(-1)], -1),
       draw=_distinct, shape=(2, 2, 6), domain="no ties")
_spec("bilinear", F.bilinear, lambda a, b, w, c: np.einsum("ni,kij,nj->nk", a, w, b) + c,
      lambda r, d: _ins(d, _n(r, 3, 2), _n(r, 3, 4), _n(r, 2, 2, 4), _n(r, 2)))

# ----------------------------------------------------------------------------- channel dropout
for _name, _fn, _shape in (("dropout1d", F.dropout1d, (2, 3, 4)),
                           ("dropout2d", F.dropout2d, (2, 3, 2, 2)),
                           ("dropout3d", F.dropout3d, (1, 2, 2, 2, 2))):
    _unary(f"{_name}_eval", lambda x, f=_fn: f(x, 0.5, training=False) * 2.0,
           lambda x: 2.0 * x, shape=_shape, domain="training=False: the identity")

# ----------------------------------------------------------------------------- torch.* functions
_spec("addcmul", lambda a, b, c: mg.addcmul(a, b, c, value=0.5), lambda a, b, c: a + 0.5 * b * c,
      lambda r, d: _ins(d, _n(r, 2, 3), _n(r, 3), _n(r, 2, 3)))
_spec("addcdiv", lambda a, b, c: mg.addcdiv(a, b, c, value=2.0), lambda a, b, c: a + 2.0 * b / c,
      lambda r, d: _ins(d, _n(r, 2, 3), _n(r, 2, 3), _nonzero(r, 2, 3)), domain="c nonzero")


def _index_put_ref(x, v, accumulate):
    out = x.copy()
    if accumulate:
        np.add.at(out, (np.array([0, 0, 2]),), v)
    else:
        out[[1, 3]] = v
    return out


_spec("index_put", lambda x, v: x.index_put((mg.tensor([1, 3], device=x.device),), v),
      lambda x, v: _index_put_ref(x, v, False), lambda r, d: _ins(d, _n(r, 4, 2), _n(r, 2, 2)))
_spec("index_put_accumulate",
      lambda x, v: mg.index_put(x, (mg.tensor([0, 0, 2], device=x.device),), v, accumulate=True),
      lambda x, v: _index_put_ref(x, v, True), lambda r, d: _ins(d, _n(r, 4, 2), _n(r, 3, 2)))


def _written(v):
    x = mg.zeros(3, 2, dtype=v.dtype, device=v.device)
    x[1:] = v * 2.0   # a graph value written into a plain tensor (recorded as IndexPut)
    return x


_spec("setitem_graph_value", _written,
      lambda v: np.concatenate([np.zeros((1, 2)), 2.0 * np.broadcast_to(v, (2, 2))]),
      lambda r, d: _ins(d, _n(r, 2)), domain="any")
_spec("special_ndtr", mg.special.ndtr, lambda x: 0.5 * (1 + _erf(x / math.sqrt(2))),
      lambda r, d: _ins(d, _n(r, 2, 3)))

# ----------------------------------------------------------------------------- complex
def _c(a):
    return a[..., 0] + 1j * a[..., 1]


def _re_im(z):
    return np.stack([z.real, z.imag], axis=-1)


_spec("complex_view_mul", lambda x, y: mg.view_as_real(mg.view_as_complex(x) * mg.view_as_complex(y)),
      lambda x, y: _re_im(_c(x) * _c(y)), lambda r, d: _ins(d, _n(r, 3, 2), _n(r, 3, 2)))


def _complex_parts(r_, th):
    z = mg.polar(r_, th)
    w = mg.complex(r_, th)
    return mg.stack([z.real, z.imag, w.angle(), w.conj().abs()])


_spec("complex_polar_parts", _complex_parts,
      lambda r_, th: np.stack([r_ * np.cos(th), r_ * np.sin(th), np.arctan2(th, r_),
                               np.hypot(r_, th)]),
      lambda r, d: _ins(d, np.abs(_n(r, 4)) + 0.5, _n(r, 4)))

_spec("fft_rfft_irfft", lambda x: mg.view_as_real(mg.fft.fft(x, n=6, norm="ortho"))
      + mg.fft.irfft(mg.fft.rfft(x * x), n=6).unsqueeze(-1),
      lambda x: _re_im(np.fft.fft(x, n=6, norm="ortho")) + np.fft.irfft(np.fft.rfft(x * x), n=6)[..., None],
      lambda r, d: _ins(d, _n(r, 2, 5)))

def _checkpointed(x):
    from minigen.utils.checkpoint import checkpoint
    return checkpoint(lambda t: (t.sin() * t).exp(), x, use_reentrant=False)


register(OpSpec("checkpoint_recompute", _checkpointed, lambda x: np.exp(np.sin(x) * x),
                lambda r, d: _ins(d, _n(r, 2, 3)), second_order=False, tags=("engine",),
                domain="any (utils.checkpoint: recomputed in backward; first order only, as "
                       "PyTorch's)"))

# ----------------------------------------------------------------------------- linalg
_A = lambda r: _n(r, 2, 3, 3) + 3 * np.eye(3)  # noqa: E731  (well conditioned)
_spec("linalg_inv", mg.linalg.inv, np.linalg.inv, lambda r, d: _ins(d, _A(r)))
_spec("linalg_det", mg.linalg.det, np.linalg.det, lambda r, d: _ins(d, _A(r)))
_spec("linalg_slogdet", lambda a: mg.linalg.slogdet(a)[1], lambda a: np.linalg.slogdet(a)[1],
      lambda r, d: _ins(d, _A(r)))
_spec("linalg_solve", mg.linalg.solve, np.linalg.solve,
      lambda r, d: _ins(d, _A(r), _n(r, 2, 3, 2)))
_spec("linalg_vector_norm", lambda x: mg.linalg.vector_norm(x, 3, dim=1),
      lambda x: (np.abs(x) ** 3).sum(1) ** (1 / 3), lambda r, d: _ins(d, _nonzero(r, 3, 4)),
      domain="nonzero")
_spec("linalg_matrix_norm", mg.linalg.matrix_norm, lambda a: np.sqrt((a * a).sum((-2, -1))),
      lambda r, d: _ins(d, _A(r)))

# ----------------------------------------------------------------------------- spatial transformers


def _np_affine_grid(theta, H, W):
    xs = (2 * np.arange(W) + 1) / W - 1
    ys = (2 * np.arange(H) + 1) / H - 1
    base = np.stack(np.broadcast_arrays(xs[None, :], ys[:, None], np.ones((H, W))), -1)
    return np.einsum("hwk,njk->nhwj", base, theta)


def _np_grid_sample(x, g):
    """Bilinear, zero padding, align_corners=False, one sample point at a time."""
    N, C, H, W = x.shape
    out = np.zeros((N, C) + g.shape[1:3])
    for n in range(N):
        for i in range(g.shape[1]):
            for j in range(g.shape[2]):
                ix, iy = ((g[n, i, j, 0] + 1) * W - 1) / 2, ((g[n, i, j, 1] + 1) * H - 1) / 2
                x0, y0 = int(np.floor(ix)), int(np.floor(iy))
                for xc, yc in ((x0, y0), (x0 + 1, y0), (x0, y0 + 1), (x0 + 1, y0 + 1)):
                    if 0 <= xc < W and 0 <= yc < H:
                        out[n, :, i, j] += x[n, :, yc, xc] * (1 - abs(ix - xc)) * (1 - abs(iy - yc))
    return out


def _theta(r):
    return _n(r, 2, 2, 3) * 0.3 + np.array([[1.0, 0, 0], [0, 1.0, 0]])


_spec("affine_grid", lambda t: F.affine_grid(t, (2, 1, 3, 4)),
      lambda t: _np_affine_grid(t, 3, 4), lambda r, d: _ins(d, _theta(r)))


def _grid_inputs(r, d):
    # sample points away from pixel centres' grid lines (where bilinear has kinks)
    gx = (np.floor(r.uniform(-0.5, 4.5, (2, 3, 3))) + r.uniform(0.2, 0.8, (2, 3, 3)) + 0.5) / 4.0 * 2 - 1
    gy = (np.floor(r.uniform(-0.5, 3.5, (2, 3, 3))) + r.uniform(0.2, 0.8, (2, 3, 3)) + 0.5) / 3.0 * 2 - 1
    return _ins(d, _n(r, 2, 2, 3, 4), np.stack([gx, gy], -1))


_spec("grid_sample", lambda x, g: F.grid_sample(x, g, align_corners=False),
      _np_grid_sample, _grid_inputs, domain="sample points away from pixel lines")

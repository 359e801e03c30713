"""Op specs for minigen/ops/mathfns.py, mathfns_binary.py and mathfns_reduce.py: every
differentiable function, with an independent NumPy float64 reference, inputs drawn away from
kinks and poles."""
from __future__ import annotations

import math

import numpy as np

import minigen as mg
from .op_specs import _away, _distinct, _ins, _n, _nonzero, _pos, _spec, _unary

_erf = np.vectorize(math.erf, otypes=[float])
_erfc = np.vectorize(math.erfc, otypes=[float])


def _open_unit(rng, *shape):
    """Values in (-0.9, 0.9): inside the domain of asin and acos, away from its ends."""
    return rng.uniform(-0.9, 0.9, shape)


def _unit(rng, *shape):
    return rng.uniform(0.1, 0.9, shape)


# ----------------------------------------------------------------------------- unary
_unary("reciprocal", mg.reciprocal, lambda x: 1.0 / x, draw=_nonzero, domain="nonzero")
_unary("tan", mg.tan, np.tan, draw=_open_unit, domain="(-0.9, 0.9)")
_unary("sinh", mg.sinh, np.sinh)
_unary("cosh", lambda x: x.cosh(), np.cosh)
_unary("atan", mg.atan, np.arctan)
_unary("asin", mg.asin, np.arcsin, draw=_open_unit, domain="(-0.9, 0.9)")
_unary("acos", lambda x: x.acos(), np.arccos, draw=_open_unit, domain="(-0.9, 0.9)")
_unary("log2", mg.log2, np.log2, draw=_pos, domain="positive")
_unary("log10", lambda x: x.log10(), np.log10, draw=_pos, domain="positive")
_unary("exp2", mg.exp2, np.exp2)
_unary("erf", mg.erf, _erf, shape=(3, 4))
_unary("erfc", lambda x: x.erfc(), _erfc, shape=(3, 4))
_spec("frac", mg.frac, lambda x: x - np.trunc(x),
      lambda r, d: _ins(d, _away(r, (2, 3), (-1.0, 0.0, 1.0), lo=-2.5, hi=2.5)),
      domain="away from integers")
_unary("negative", mg.negative, np.negative)
_unary("positive_times_two", lambda x: mg.positive(x) * 2.0, lambda x: 2.0 * x)
_unary("logit", mg.logit, lambda x: np.log(x / (1.0 - x)), draw=_unit, domain="(0.1, 0.9)")
_spec("logit_eps", lambda x: x.logit(eps=0.2),
      lambda x: np.log(np.clip(x, 0.2, 0.8) / (1.0 - np.clip(x, 0.2, 0.8))),
      lambda r, d: _ins(d, _away(r, (2, 3), (0.2, 0.8), lo=0.0, hi=1.0)),
      domain="away from the clamp bounds")


def _nan_to_num_inputs(r, d):
    x = _n(r, 2, 3)
    x[0, 0], x[1, 1], x[1, 2] = np.nan, np.inf, -np.inf
    return _ins(d, x)


_spec("nan_to_num", lambda x: mg.nan_to_num(x, nan=0.5, posinf=2.0, neginf=-3.0),
      lambda x: np.nan_to_num(x, nan=0.5, posinf=2.0, neginf=-3.0), _nan_to_num_inputs,
      domain="with nan, inf and -inf (their gradient is 0)")
_unary("float_power", lambda x: mg.float_power(x, 2.5), lambda x: x ** 2.5, draw=_pos,
       domain="positive")

# ----------------------------------------------------------------------------- binary
_spec("atan2", mg.atan2, np.arctan2, lambda r, d: _ins(d, _n(r, 2, 3), _nonzero(r, 3)),
      binary=True, domain="x != 0")


def _rem_inputs(r, d):
    # a / b at least 0.1 from an integer, so the quotient's jumps are far away
    b = _nonzero(r, 3) + np.array([0.5, -0.5, 0.5])
    q = r.uniform(-3, 3, (2, 3))
    q = np.floor(q) + r.uniform(0.1, 0.9, (2, 3))
    return _ins(d, q * b, b)


_spec("fmod", mg.fmod, np.fmod, _rem_inputs, binary=True, domain="a / b away from integers")
_spec("remainder", lambda a, b: a.remainder(b), np.remainder, _rem_inputs, binary=True,
      domain="a / b away from integers")
_spec("lerp_scalar", lambda a, b: mg.lerp(a, b, 0.3), lambda a, b: a + 0.3 * (b - a),
      lambda r, d: _ins(d, _n(r, 2, 3), _n(r, 3)))
_spec("lerp_scalar_high", lambda a, b: a.lerp(b, 0.8), lambda a, b: a + 0.8 * (b - a),
      lambda r, d: _ins(d, _n(r, 2, 3), _n(r, 2, 3)))
_spec("lerp_tensor", mg.lerp, lambda a, b, w: a + w * (b - a),
      lambda r, d: _ins(d, _n(r, 2, 3), _n(r, 2, 3),
                        _away(r, (3,), (0.5,), lo=-0.5, hi=1.5)),
      domain="weight away from 0.5")
_spec("logaddexp", mg.logaddexp, np.logaddexp, lambda r, d: _ins(d, _n(r, 2, 3), _n(r, 3)),
      binary=True)
_spec("xlogy", mg.xlogy, lambda x, y: np.where(x == 0, 0.0, x * np.log(y)),
      lambda r, d: _ins(d, np.array([[0.0, 1.2, -0.7], [0.4, 0.0, 2.0]]), _pos(r, 2, 3)),
      domain="positive y, some x == 0")

# ----------------------------------------------------------------------------- reductions


def _np_norm(x, p, axis=None, keepdims=False):
    a = np.abs(x)
    if p == np.inf:
        return a.max(axis=axis, keepdims=keepdims)
    if p == -np.inf:
        return a.min(axis=axis, keepdims=keepdims)
    return (a ** p).sum(axis=axis, keepdims=keepdims) ** (1.0 / p)


_unary("norm", mg.norm, lambda x: np.sqrt((x * x).sum()), shape=(3, 4))
_unary("norm_p1_dim", lambda x: x.norm(1, dim=1), lambda x: _np_norm(x, 1, 1), draw=_nonzero,
       shape=(3, 4), domain="nonzero")
_unary("norm_p3_dims_keepdim", lambda x: mg.norm(x, 3, dim=(0, 2), keepdim=True),
       lambda x: _np_norm(x, 3, (0, 2), True), draw=_nonzero, shape=(2, 3, 2),
       domain="nonzero")
_unary("norm_fro_dim", lambda x: mg.norm(x, "fro", dim=0), lambda x: _np_norm(x, 2, 0),
       shape=(3, 2))
_unary("norm_inf", lambda x: mg.norm(x, float("inf"), dim=-1),
       lambda x: _np_norm(x, np.inf, -1), draw=_distinct, shape=(2, 4), domain="no ties")
_unary("norm_neg_inf", lambda x: x.norm(-float("inf")), lambda x: _np_norm(x, -np.inf),
       draw=_distinct, shape=(2, 3), domain="no ties in |x|")
_unary("norm_p1_5", lambda x: x.norm(1.5), lambda x: _np_norm(x, 1.5), draw=_nonzero,
       shape=(2, 3), domain="nonzero")


def _lower_median(x, axis=None):
    if axis is None:
        return np.sort(x.reshape(-1))[(x.size - 1) // 2]
    return np.take(np.sort(x, axis=axis), (x.shape[axis] - 1) // 2, axis=axis)


_unary("median", mg.median, _lower_median, draw=_distinct, shape=(2, 4), domain="no ties")
_unary("median_dim", lambda x: mg.median(x, dim=1).values, lambda x: _lower_median(x, 1),
       draw=_distinct, shape=(3, 4), domain="no ties")
_unary("median_dim_keepdim", lambda x: x.median(0, keepdim=True)[0],
       lambda x: _lower_median(x, 0)[None], draw=_distinct, shape=(3, 2), domain="no ties")
_unary("aminmax", lambda x: tuple(mg.aminmax(x, dim=1)),
       lambda x: (x.min(axis=1), x.max(axis=1)), draw=_distinct, shape=(3, 4),
       domain="no ties")

# ----------------------------------------------------------------------------- products
_spec("mv", mg.mv, np.matmul, lambda r, d: _ins(d, _n(r, 2, 3), _n(r, 3)))
_spec("addmm", lambda i, a, b: mg.addmm(i, a, b, beta=0.5, alpha=-2.0),
      lambda i, a, b: 0.5 * i - 2.0 * (a @ b),
      lambda r, d: _ins(d, _n(r, 3), _n(r, 2, 4), _n(r, 4, 3)))
_spec("addmm_defaults", lambda i, a, b: i.addmm(a, b), lambda i, a, b: i + a @ b,
      lambda r, d: _ins(d, _n(r, 2, 3), _n(r, 2, 2), _n(r, 2, 3)))


def _np_cdist(a, b, p):
    return _np_norm(a[..., :, None, :] - b[..., None, :, :], p, axis=-1)


_spec("cdist", mg.cdist, lambda a, b: _np_cdist(a, b, 2),
      lambda r, d: _ins(d, _n(r, 3, 2), _n(r, 4, 2)))
_spec("cdist_p1_batched", lambda a, b: mg.cdist(a, b, p=1.0), lambda a, b: _np_cdist(a, b, 1),
      lambda r, d: _ins(d, _n(r, 2, 3, 2), _n(r, 1, 2, 2)), domain="distinct points")

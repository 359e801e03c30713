"""Op specs for the Functions of minigen/ops/extras_torch_*.py (special functions, inverse
hyperbolics, hypot, copysign, logcumsumexp, scatter_reduce's product), each with a NumPy
float64 reference computed another way, inputs away from poles and ties."""
from __future__ import annotations

import math

import numpy as np

import minigen as mg
from .op_specs import _ins, _n, _spec, _unary

_lgamma = np.vectorize(math.lgamma, otypes=[float])


def _hurwitz(s, x, terms=20000):
    """zeta(s, x) = sum_k (x + k)^-s: a long direct sum plus the integral of its tail."""
    k = np.arange(terms, dtype=float)
    direct = (1.0 / (x[..., None] + k) ** s).sum(-1)
    a = x + terms
    return direct + a ** (1 - s) / (s - 1) + 0.5 * a ** -s


def _polygamma_ref(n, x):
    return (-1.0) ** (n + 1) * math.factorial(n) * _hurwitz(n + 1, x)


def _digamma_ref(x):
    # psi(x) = psi(x + N) - sum_{k<N} 1 / (x + k), with psi(z) ~ log z - 1/(2z) - 1/(12 z^2)
    # + 1/(120 z^4) for z = x + N large
    N = 2000
    z = x + N
    tail = np.log(z) - 0.5 / z - 1.0 / (12 * z * z) + 1.0 / (120 * z ** 4)
    return tail - (1.0 / (x[..., None] + np.arange(N))).sum(-1)


def _erfinv_ref(y):
    """Bisection on math.erf (60 halvings of [-6, 6])."""
    erf = np.vectorize(math.erf, otypes=[float])
    lo, hi = np.full(y.shape, -6.0), np.full(y.shape, 6.0)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        up = erf(mid) < y
        lo, hi = np.where(up, mid, lo), np.where(up, hi, mid)
    return 0.5 * (lo + hi)


def _i1_ref(x):
    # I1(x) = (1/pi) int_0^pi e^(x cos t) cos t dt, by the trapezoid rule (spectrally accurate)
    t = np.linspace(0.0, math.pi, 2001)
    f = np.exp(x[..., None] * np.cos(t)) * np.cos(t)
    return np.trapezoid(f, t, axis=-1) / math.pi if hasattr(np, "trapezoid") else \
        np.trapz(f, t, axis=-1) / math.pi


def _off_integers(rng, *shape):
    """Values in (-3.5, 4) at least 0.2 from every integer (the poles of lgamma's kin)."""
    x = np.floor(rng.uniform(-3, 4, shape)) + rng.uniform(0.2, 0.8, shape)
    return x


def _lcse_ref(x, axis):
    return np.logaddexp.accumulate(x, axis=axis)


_unary("lgamma", mg.lgamma, _lgamma, draw=_off_integers, domain="away from the poles")
_unary("digamma", lambda x: x.digamma(), _digamma_ref,
       draw=lambda r, *s: r.uniform(0.3, 4.0, s), domain="(0.3, 4)")
_unary("digamma_negative", mg.digamma, _digamma_ref,
       draw=lambda r, *s: -np.floor(r.uniform(0, 3, s)) - r.uniform(0.2, 0.8, s),
       domain="negative, away from the poles")
_unary("polygamma_1", lambda x: mg.polygamma(1, x), lambda x: _polygamma_ref(1, x),
       draw=lambda r, *s: r.uniform(0.3, 4.0, s), domain="(0.3, 4)")
_unary("polygamma_2", lambda x: x.polygamma(2), lambda x: _polygamma_ref(2, x),
       draw=lambda r, *s: r.uniform(0.5, 3.0, s), domain="(0.5, 3)")
_unary("mvlgamma", lambda x: mg.mvlgamma(x, 3),
       lambda x: 1.5 * math.log(math.pi) + _lgamma(x) + _lgamma(x - 0.5) + _lgamma(x - 1.0),
       draw=lambda r, *s: r.uniform(1.3, 4.0, s), domain="(1.3, 4)")
_unary("erfinv", mg.erfinv, _erfinv_ref, draw=lambda r, *s: r.uniform(-0.95, 0.95, s),
       domain="(-0.95, 0.95)")
_unary("i0", mg.i0, np.i0, draw=lambda r, *s: r.uniform(-4.0, 4.0, s))
_unary("i1", lambda x: mg.ops.extras_torch_special.i1(x), _i1_ref,
       draw=lambda r, *s: r.uniform(-4.0, 4.0, s))
_unary("acosh", mg.acosh, np.arccosh, draw=lambda r, *s: r.uniform(1.2, 3.0, s),
       domain="(1.2, 3)")
_unary("asinh", lambda x: x.asinh(), np.arcsinh)
_unary("atanh", mg.atanh, np.arctanh, draw=lambda r, *s: r.uniform(-0.9, 0.9, s),
       domain="(-0.9, 0.9)")
_spec("hypot", mg.hypot, np.hypot, lambda r, d: _ins(d, _n(r, 2, 3) + 2.0, _n(r, 3)),
      binary=True, domain="away from (0, 0)")
_spec("copysign", mg.copysign, np.copysign,
      lambda r, d: _ins(d, _n(r, 2, 3), np.array([0.5, -1.0, 2.0])), binary=True)
_unary("logcumsumexp", lambda x: mg.logcumsumexp(x, 1), lambda x: _lcse_ref(x, 1),
       shape=(2, 4))
_unary("logcumsumexp_spread", lambda x: x.logcumsumexp(0) * 1.0, lambda x: _lcse_ref(x, 0),
       draw=lambda r, *s: r.standard_normal(s) * 30.0, shape=(4, 2),
       domain="values far apart (exp would overflow or vanish)")


def _scatter_prod_inputs(r, d, zeros=False):
    x = r.uniform(0.5, 1.5, (4, 3)) * r.choice([-1.0, 1.0], (4, 3))
    src = r.uniform(0.5, 1.5, (3, 3)) * r.choice([-1.0, 1.0], (3, 3))
    if zeros:
        x[0, 0] = 0.0
        src[1, 1] = 0.0
    index = np.array([[0, 1, 0], [2, 1, 1], [0, 3, 2]])
    return _ins(d, x, index, src)


def _scatter_prod_ref(x, index, src, include_self=True):
    out = x.copy()
    if not include_self:
        out[index, np.arange(3)[None, :].repeat(3, 0)] = 1.0
    np.multiply.at(out, (index, np.broadcast_to(np.arange(3), index.shape)), src)
    return out


_spec("scatter_reduce_prod", lambda x, i, s: mg.scatter_reduce(x, 0, i, s, "prod"),
      _scatter_prod_ref, _scatter_prod_inputs)
_spec("scatter_reduce_prod_no_self",
      lambda x, i, s: x.scatter_reduce(0, i, s, "prod", include_self=False),
      lambda x, i, s: _scatter_prod_ref(x, i, s, include_self=False), _scatter_prod_inputs)
_spec("scatter_reduce_prod_zeros", lambda x, i, s: mg.scatter_reduce(x, 0, i, s, "prod"),
      _scatter_prod_ref, lambda r, d: _scatter_prod_inputs(r, d, zeros=True),
      second_order=False, domain="a zero in x and one in src (first derivatives only)")

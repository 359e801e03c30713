"""Op specs for minigen/distributions: the regularised lower incomplete gamma function
P(a, x) (``distributions.gamma.gammainc``, the Gamma's cdf), differentiable in x, against a
NumPy reference that integrates the density t^(a-1) e^-t / Gamma(a) by Simpson's rule (an
independent route to the same number: minigen's own uses the series / continued fraction)."""
from __future__ import annotations

import math

import numpy as np

import minigen as mg
from .op_specs import _ins, _spec

_A = 2.5  # the shape parameter (held constant: P has no gradient in a, as PyTorch's gammainc)


def _gammainc_ref(x):
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    for i, xv in np.ndenumerate(x):
        t = np.linspace(0.0, xv, 4001)
        f = np.where(t > 0, np.exp((_A - 1) * np.log(np.where(t > 0, t, 1.0)) - t
                                   - math.lgamma(_A)), 0.0)
        h = t[1] - t[0]
        out[i] = h / 3 * (f[0] + f[-1] + 4 * f[1:-1:2].sum() + 2 * f[2:-1:2].sum())
    return out


def _gammainc_fn(x):
    from minigen.distributions.gamma import gammainc
    return gammainc(mg.full_like(x, _A), x)


_spec("distributions_gammainc", _gammainc_fn, _gammainc_ref,
      lambda rng, d: _ins(d, rng.uniform(0.3, 3.0, (2, 3))),
      domain="x in [0.3, 3], a = 2.5: d/dx P = x^(a-1) e^-x / Gamma(a), itself differentiable")

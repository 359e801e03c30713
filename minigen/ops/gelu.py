"""Exact GELU, GELU(x) = x Phi(x), and the standard normal CDF Phi it needs.

NumPy has no erf, so Phi is built here from a Chebyshev series (below); it takes ~40 array
passes, which ``Backend.blockwise`` runs in cache-sized blocks on CPU. GELU's derivative is its
own node (``GeluBackward``), so a backward through GELU is one op call.
"""
from __future__ import annotations

import math

from .. import backend as B
from ..autograd import Function
from .unary import exp, tanh

__all__ = ["gelu"]


# Phi(x), the standard normal CDF, is 0.5 erfc(-x / sqrt 2). NumPy has no erfc, so it is built
# here: erfc(z) = e^(-z^2) erfcx(z) for z >= 0, where erfcx (the scaled complement) is smooth
# and slowly varying; in s = (z - K)/(z + K) (Weideman's substitution) it is close to a
# low-degree polynomial. So erfcx is a polynomial in s over z in [0, Z_MAX]: the Chebyshev
# series of erfcx from math.erfc at 64 nodes, cut after 21 terms, computed once at import (not
# copied constants), then rewritten in powers of t for Horner's rule. The tests check it
# against math.erfc and torch.
# Beyond Z_MAX, erfc(z) < 1.2e-29 and the polynomial is held at its value at Z_MAX while the
# factor e^(-z^2) keeps decaying exactly (a relative error of at most 25% on numbers that small).
_K, _Z_MAX = 3.0, 8.0
_S_LO, _S_HI = -1.0, (_Z_MAX - _K) / (_Z_MAX + _K)


def _erfcx_coefficients(n):
    """Power-series coefficients a_k, erfcx(z) ~ sum_k a_k t^k, t = the image of s in [-1, 1]."""
    fx = []
    for j in range(n):
        t = math.cos(math.pi * (j + 0.5) / n)                 # Chebyshev node
        s = 0.5 * (_S_HI - _S_LO) * t + 0.5 * (_S_HI + _S_LO)
        z = _K * (1 + s) / (1 - s)                             # invert s = (z - K)/(z + K)
        # erfcx(z) = e^(z^2) erfc(z), with z^2 = hi^2 + (2 hi lo + lo^2) split so that hi^2
        # is exact (hi has 24 significant bits): e^(z^2) is then good to an ulp or two
        hi = math.floor(z * 2.0 ** 20) / 2.0 ** 20
        lo = z - hi
        fx.append(math.exp(hi * hi) * math.exp(2 * hi * lo + lo * lo) * math.erfc(z))
    # Chebyshev coefficients c_m = (2/n) sum_j f(t_j) cos(m pi (j + 1/2) / n), c_0 halved
    c = [2.0 / n * math.fsum(f * math.cos(m * math.pi * (j + 0.5) / n) for j, f in enumerate(fx))
         for m in range(n)]
    c[0] *= 0.5
    return c


def _powers(c):
    from numpy.polynomial import chebyshev
    return [float(a) for a in chebyshev.cheb2poly(c)]


_ERFCX_CHEB = _erfcx_coefficients(64)
# float64 keeps 21 terms (the next are below 1e-16); float32 10 (the next are below 4e-9: over
# x in [-9, 9] 10 terms and 12 give the same float32 results, max abs error 1.7e-7)
_ERFCX_POWERS = {B.float64: _powers(_ERFCX_CHEB[:21]), B.float32: _powers(_ERFCX_CHEB[:10])}


def _normal_cdf(xp, x):
    """Phi(x) on a raw array (float16 is computed in float32). In-place steps keep it to one
    temporary per line: it is a few dozen passes over the data, the cost of GELU's forward."""
    dt = x.dtype if x.dtype in (B.float64, B.float32) else B.float32
    xc = x.astype(dt, copy=False)
    z = xp.abs(xc)
    z *= math.sqrt(0.5)                                        # z = |x| / sqrt 2
    # t = the affine image in [-1, 1] of s = (z - K)/(z + K), z held at Z_MAX
    t = xp.minimum(z, _Z_MAX)
    den = t + _K
    t -= _K
    t /= den
    t *= 2.0 / (_S_HI - _S_LO)
    t -= (_S_HI + _S_LO) / (_S_HI - _S_LO)
    # erfcx(z) = sum_k a_k t^k by Horner's rule
    a = _ERFCX_POWERS[dt]
    p = t * a[-1]
    p += a[-2]
    for ak in reversed(a[:-2]):
        p *= t
        p += ak
    # half the tail mass: 0.5 erfc(z) = 0.5 e^(-z^2) erfcx(z)
    z *= z
    z *= -1.0
    p *= xp.exp(z)
    p *= 0.5
    # Phi(x) = 1 - 0.5 erfc(x / sqrt 2) for x >= 0,  0.5 erfc(|x| / sqrt 2) for x < 0:
    # with m = [x >= 0], Phi = m - (2m - 1) p (exact in both cases; no slow ``where``)
    m = (xc >= 0).astype(dt)
    return (m - (2.0 * m - 1.0) * p).astype(x.dtype, copy=False)


class NormalCdf(Function):
    """y = Phi(x) = P(N(0, 1) <= x).  dy/dx = phi(x) = e^(-x^2/2) / sqrt(2 pi), the normal
    density, written in minigen ops (so d^2y/dx^2 = -x phi(x) follows by autograd)."""

    def forward(self, x):
        self.save_for_backward(x)
        return self.backend.blockwise(_normal_cdf, x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * exp(x * x * -0.5) * (1.0 / math.sqrt(2.0 * math.pi))


_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


class Gelu(Function):
    """y = GELU(x) = x Phi(x), Phi the standard normal CDF.

    dy/dx = Phi(x) + x phi(x), with phi(x) = e^(-x^2/2) / sqrt(2 pi) the normal density. That
    derivative is its own node (GeluBackward), so a backward through GELU is one call.
    """

    def forward(self, x):
        self.save_for_backward(x)
        cdf = self.backend.blockwise(_normal_cdf, x)
        self.cdf = cdf  # reused by a first-order backward (a constant: see GeluBackward)
        return x * cdf

    def backward(self, gy):
        (x,) = self.saved_tensors
        return GeluBackward.apply(gy, x, cdf=self.cdf)

    def release(self):
        self.saved = None
        self.cdf = None


def _gelu_grad_raw(xp, x, cdf):
    # Phi(x) + x phi(x)
    d = x * x
    d *= -0.5
    xp.exp(d, out=d)
    d *= _INV_SQRT_2PI
    d *= x
    d += cdf
    return d


class GeluBackward(Function):
    """z = g (Phi(x) + x phi(x)): GELU's derivative times the upstream gradient g.

    Differentiable in turn:  dz/dg = Phi(x) + x phi(x),  dz/dx = g phi(x) (2 - x^2)
    (from d/dx [x phi(x)] = phi(x) - x^2 phi(x)). The forward reuses Phi(x) from GELU's
    forward as a constant; the second derivative rebuilds it from x in minigen ops.
    """

    def forward(self, g, x, cdf):
        self.save_for_backward(g, x)
        d = _gelu_grad_raw(self.xp, x, cdf)
        d *= g
        return d

    def backward(self, gz):
        g, x = self.saved_tensors
        # phi(x) = e^(-x^2/2) / sqrt(2 pi)
        phi = exp(x * x * -0.5) * _INV_SQRT_2PI
        gg = gz * (NormalCdf.apply(x) + x * phi) if self.needs_input_grad[0] else None
        gx = gz * g * phi * (2.0 - x * x) if self.needs_input_grad[1] else None
        return gg, gx


def gelu(input, approximate="none"):
    """GELU(x) = x Phi(x), Phi the standard normal CDF (Hendrycks & Gimpel, 2016).

    ``approximate='tanh'``: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as in GPT-2, a
    composite of tanh. The exact form is the Function ``Gelu`` (its derivative is one node).
    """
    if approximate == "none":
        if input.dtype.kind != "f":
            input = input.to(B.get_default_dtype())
        return Gelu.apply(input)
    if approximate == "tanh":
        # u = sqrt(2/pi) (x + 0.044715 x^3)
        u = (input + input * input * input * 0.044715) * math.sqrt(2.0 / math.pi)
        return input * 0.5 * (tanh(u) + 1.0)
    raise ValueError(f"gelu: approximate argument must be either 'none' or 'tanh', "
                     f"got {approximate!r}")

"""Exact GELU, GELU(x) = x Phi(x), the standard normal CDF Phi it needs, and GPT-2's tanh
approximation of GELU.

NumPy has no erf, so Phi is built here from a Chebyshev series (below); it takes ~35 array
passes, which ``Backend.blockwise`` runs in cache-sized blocks on CPU. GELU's forward also
computes its derivative (the normal density comes from the same exp), so a backward through
GELU is one multiply (``GeluBackward``, its own node).
"""
from __future__ import annotations

import math

from .. import backend as B
from ..autograd import Function
from ..backend import fused
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


# The series above is in z = |x| / sqrt 2 and gives 0.5 erfc(z) = 0.5 e^(-z^2) erfcx(z). The raw
# code below works in a = |x| instead and folds every constant into the coefficients once:
#   t = A s - C with s = (z - K)/(z + K) becomes  t = (T_MUL a - T_SUB) / (a + K sqrt 2),
#   and  Q(a) = 0.5 erfc(a / sqrt 2) = phi(a) * [sqrt(2 pi) / 2 * erfcx(a / sqrt 2)],
# phi the normal density, so the same exp gives phi (which GELU's derivative needs) and Q.
_A = 2.0 / (_S_HI - _S_LO)
_C = (_S_HI + _S_LO) / (_S_HI - _S_LO)
_K2, _A_MAX = _K * math.sqrt(2.0), _Z_MAX * math.sqrt(2.0)
_T_MUL, _T_SUB = _A - _C, (_A + _C) * _K * math.sqrt(2.0)
_HALF_SQRT_2PI = 0.5 * math.sqrt(2.0 * math.pi)
_TAIL_POWERS = {dt: [_HALF_SQRT_2PI * c for c in cs] for dt, cs in _ERFCX_POWERS.items()}
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def _tail_and_density(xp, x):
    """(Q, phi) for a raw float32/float64 array x: Q = P(N(0, 1) > |x|), the tail mass beyond
    |x|, and phi(x) = e^(-x^2/2) / sqrt(2 pi). In-place steps keep it to two temporaries; it
    is some 30 passes over the data, which ``Backend.blockwise`` keeps in cache."""
    a = xp.abs(x)
    # t in [-1, 1]: the series variable, with a held at A_MAX (Z_MAX in z)
    t = xp.clip(a, 0.0, _A_MAX)
    den = t + _K2
    t *= _T_MUL
    t -= _T_SUB
    t /= den
    # sqrt(2 pi) / 2 * erfcx(z) = sum_k c_k t^k by Horner's rule
    c = _TAIL_POWERS[x.dtype]
    q = t * c[-1]
    q += c[-2]
    for ck in reversed(c[:-2]):
        q *= t
        q += ck
    # phi = e^(-a^2/2 - log sqrt(2 pi));  Q = phi * (the series)
    a *= a
    a *= -0.5
    a -= _LOG_SQRT_2PI
    phi = xp.exp(a, out=a)
    q *= phi
    return q, phi


def _cdf_from_tail(xp, x, q):
    """Phi(x) from the tail mass q = Q(|x|): Q for x < 0, 1 - Q for x >= 0, written as
    Phi = |[x >= 0] - Q| (Q <= 1/2, so the absolute value picks 1 - Q or Q; each is one
    rounding, and NumPy's ``where`` is far slower)."""
    cdf = xp.subtract(x >= 0, q)
    return xp.abs(cdf, out=cdf)


def _float_dtype(x):
    return x.dtype if x.dtype in (B.float64, B.float32) else B.float32  # float16 via float32


# On a GPU (CupyBackend) the functions below run as one CUDA kernel each (``@fused``), where
# CUDA's own erfc replaces the series: Phi(x) = erfc(-x / sqrt 2) / 2.
_SQRT_HALF = math.sqrt(0.5)


@fused(inputs=["x"], outputs=["y"], body=f"""
    // Phi(x) = erfc(-x / sqrt 2) / 2
    y = (T)0.5 * erfc(-x * (T){_SQRT_HALF!r});""")
def _normal_cdf(xp, x):
    """Phi(x) on a raw array (float16 is computed in float32)."""
    if x.ndim == 0:  # NumPy turns 0-d results into scalars, which the in-place steps refuse
        return _normal_cdf(xp, x.reshape(1)).reshape(())
    xc = x.astype(_float_dtype(x), copy=False)
    q, _ = _tail_and_density(xp, xc)
    return _cdf_from_tail(xp, xc, q).astype(x.dtype, copy=False)


@fused(inputs=["x"], outputs=["y", "s"], body=f"""
    // Phi(x) = erfc(-x / sqrt 2) / 2,   phi(x) = e^(-x^2 / 2) / sqrt(2 pi)
    T cdf = (T)0.5 * erfc(-x * (T){_SQRT_HALF!r});
    T phi = exp((T)-0.5 * x * x) * (T){1.0 / math.sqrt(2.0 * math.pi)!r};
    // y = x Phi(x),   s = dy/dx = Phi(x) + x phi(x)
    y = x * cdf;
    s = cdf + x * phi;""")
def _gelu_and_slope(xp, x):
    """(GELU(x), dGELU/dx) on a raw array: x Phi(x) and Phi(x) + x phi(x), from one pass of
    ``_tail_and_density`` (the slope costs two passes more here, and saves the backward its
    own exp)."""
    xc = x.astype(_float_dtype(x), copy=False)
    q, phi = _tail_and_density(xp, xc)
    cdf = _cdf_from_tail(xp, xc, q)
    y = xc * cdf
    phi *= xc
    phi += cdf
    return y.astype(x.dtype, copy=False), phi.astype(x.dtype, copy=False)


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

    dy/dx = Phi(x) + x phi(x), with phi(x) = e^(-x^2/2) / sqrt(2 pi) the normal density. The
    forward computes it along with y (the same exp serves both) and keeps it for a first-order
    backward, which is then one multiply: GeluBackward, a node of its own.
    """

    def forward(self, x):
        self.save_for_backward(x)
        y, self.slope = self.backend.blockwise(_gelu_and_slope, x)  # slope: a constant
        return y

    def backward(self, gy):
        (x,) = self.saved_tensors
        return GeluBackward.apply(gy, x, slope=self.slope)

    def release(self):
        self.saved = None
        self.slope = None


class GeluBackward(Function):
    """z = g (Phi(x) + x phi(x)): GELU's derivative times the upstream gradient g.

    Differentiable in turn:  dz/dg = Phi(x) + x phi(x),  dz/dx = g phi(x) (2 - x^2)
    (from d/dx [x phi(x)] = phi(x) - x^2 phi(x)). The forward takes Phi(x) + x phi(x) from
    GELU's forward as a constant; the second derivative rebuilds it from x in minigen ops.
    """

    def forward(self, g, x, slope):
        self.save_for_backward(g, x)
        return g * slope

    def backward(self, gz):
        g, x = self.saved_tensors
        # phi(x) = e^(-x^2/2) / sqrt(2 pi)
        phi = exp(x * x * -0.5) * _INV_SQRT_2PI
        gg = gz * (NormalCdf.apply(x) + x * phi) if self.needs_input_grad[0] else None
        gx = gz * g * phi * (2.0 - x * x) if self.needs_input_grad[1] else None
        return gg, gx


# GPT-2's approximation: u = C (x + A x^3), GELU(x) ~ 0.5 x (1 + tanh u)
_C, _A = math.sqrt(2.0 / math.pi), 0.044715


@fused(inputs=["x"], outputs=["y", "s"], body=f"""
    // t = tanh(u),  u = C (x + A x^3)
    T x2 = x * x;
    T t = tanh((x + x * x2 * (T){_A!r}) * (T){_C!r});
    // y = 0.5 x (1 + t),  s = 0.5 (1 + t) + 0.5 x (1 - t^2) C (1 + 3 A x^2)
    y = (T)0.5 * x * ((T)1 + t);
    s = (T)0.5 * ((T)1 + t) + (T)0.5 * x * ((T)1 - t * t) * (T){_C!r} * ((T)1 + (T){3.0 * _A!r} * x2);""")
def _gelu_tanh_and_slope(xp, x):
    """(y, dy/dx) of the tanh approximation on a raw array, in one pass:

        t = tanh(u),  u = C (x + A x^3),   y = 0.5 x (1 + t)
        dy/dx = 0.5 (1 + t) + 0.5 x (1 - t^2) C (1 + 3 A x^2)
    """
    x2 = x * x
    t = xp.tanh((x + x * x2 * _A) * _C)
    y = 0.5 * x * (1.0 + t)
    slope = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * _C * (1.0 + 3.0 * _A * x2)
    return y.astype(x.dtype, copy=False), slope.astype(x.dtype, copy=False)


class GeluTanh(Function):
    """y = 0.5 x (1 + tanh(C (x + A x^3))), C = sqrt(2/pi), A = 0.044715 (GPT-2's GELU).

    As ``Gelu``: the forward also computes the slope dy/dx (``_gelu_tanh_and_slope``), so the
    backward is one multiply, ``GeluTanhBackward``. (Written as a composite of tanh it is eight
    array passes forward and about sixteen backward; as one node, two and one.)
    """

    def forward(self, x):
        self.save_for_backward(x)
        y, self.slope = self.backend.blockwise(_gelu_tanh_and_slope, x)
        return y

    def backward(self, gy):
        (x,) = self.saved_tensors
        return GeluTanhBackward.apply(gy, x, slope=self.slope)

    def release(self):
        self.saved = None
        self.slope = None


class GeluTanhBackward(Function):
    """z = g s(x), s = dy/dx of the tanh GELU. Differentiable in turn: dz/dg = s(x) and
    dz/dx = g s'(x), with u' = C (1 + 3 A x^2), u'' = 6 A C x and

        s'(x) = (1 - t^2) [u' + 0.5 x (u'' - 2 t u'^2)]

    (from s = 0.5 (1 + t) + 0.5 x (1 - t^2) u' and dt/dx = (1 - t^2) u'), in minigen ops."""

    def forward(self, g, x, slope):
        self.save_for_backward(g, x)
        return g * slope

    def backward(self, gz):
        g, x = self.saved_tensors
        t = tanh((x + x * x * x * _A) * _C)
        du = (x * x * (3.0 * _A) + 1.0) * _C
        gg = gx = None
        if self.needs_input_grad[0]:
            # s(x) = 0.5 (1 + t) + 0.5 x (1 - t^2) u'
            gg = gz * ((t + 1.0) * 0.5 + x * 0.5 * (1.0 - t * t) * du)
        if self.needs_input_grad[1]:
            # s'(x) = (1 - t^2) [u' + 0.5 x (u'' - 2 t u'^2)]
            d2u = x * (6.0 * _A * _C)
            gx = gz * g * (1.0 - t * t) * (du + x * 0.5 * (d2u - t * du * du * 2.0))
        return gg, gx


def gelu(input, approximate="none"):
    """GELU(x) = x Phi(x), Phi the standard normal CDF (Hendrycks & Gimpel, 2016).

    ``approximate='tanh'``: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as in GPT-2.
    Both forms are Functions whose derivative is one node (``Gelu``, ``GeluTanh``).
    """
    if approximate in ("none", "tanh") and input.dtype.kind != "f":
        input = input.to(B.get_default_dtype())
    if approximate == "none":
        return Gelu.apply(input)
    if approximate == "tanh":
        return GeluTanh.apply(input)
    raise ValueError(f"gelu: approximate argument must be either 'none' or 'tanh', "
                     f"got {approximate!r}")

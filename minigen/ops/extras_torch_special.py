"""PyTorch's special functions of one variable that minigen computes itself (no SciPy):

    lgamma(x)       = log |Gamma(x)|                    d/dx = digamma(x)
    digamma(x)      = psi(x) = d/dx log Gamma(x)        d/dx = polygamma(1, x)
    polygamma(n, x) = psi^(n)(x) = (-1)^(n+1) n! zeta(n + 1, x)   d/dx = polygamma(n + 1, x)
    mvlgamma(x, p)  = p (p - 1) / 4 log pi + sum_{j<p} lgamma(x - j / 2)
    erfinv(x)       = y with erf(y) = x                 d/dx = (sqrt pi / 2) e^(y^2)
    i0(x)           = sum_k (x^2 / 4)^k / (k!)^2         d/dx = i1(x),  d i1 / dx = i0(x) - i1(x) / x

How they are computed (in float64, the result cast back to the input's dtype):

* lgamma and digamma: for x < 1/2 the reflection formulas
  lgamma(x) = log(pi / |sin(pi x)|) - lgamma(1 - x) and psi(x) = psi(1 - x) - pi cot(pi x);
  then the recurrences Gamma(z + 1) = z Gamma(z), psi(z + 1) = psi(z) + 1 / z shift z above 10,
  where Stirling's series (Bernoulli numbers B_2k) is exact to float64 round-off:
  lgamma(z) = (z - 1/2) log z - z + log(2 pi) / 2 + sum_k B_2k / (2k (2k - 1) z^(2k-1)),
  psi(z) = log z - 1 / (2z) - sum_k B_2k / (2k z^(2k)).
* polygamma, n >= 1: for x < 0 the reflection psi^(n)(x) = (-1)^n psi^(n)(1 - x)
  - pi^(n+1) Q_n(cot pi x) (Q_n: n-th derivative of cot, a polynomial in cot); then the Hurwitz
  zeta function zeta(s, x) = sum_k (x + k)^-s as a direct sum until x + k >= 10 + n, and the
  Euler-Maclaurin tail
  a^(1-s) / (s - 1) + a^-s / 2 + sum_j B_2j / (2j)! s (s + 1) ... (s + 2j - 2) a^(-s-2j+1).
* erfinv: a rough closed-form start (Winitzki's, about 2e-3 relative), then three Halley steps
  on erf(y) = x, or on erfc(y) = 1 - |x| for |x| > 1/2 so the tails keep their precision;
  for |x| < 0.05 its Maclaurin series, sum_k c_k / (2k + 1) (sqrt(pi) x / 2)^(2k+1).
* i0, i1: the power series for |x| <= 30, the asymptotic series
  I_nu(x) ~ e^x / sqrt(2 pi x) sum_k (-1)^k prod_{j<=k} (4 nu^2 - (2j - 1)^2) / (k! (8x)^k) beyond.

Each differentiable function is a Function whose backward is another of these functions, so
gradients of any order are exact. Integer inputs give float32 results, as in PyTorch.
"""
from __future__ import annotations

import math

from .. import backend as B
from ..autograd import Function
from .mathfns import _erf_raw, _erfc_raw
from .unary import _float, exp

__all__ = ["lgamma", "digamma", "polygamma", "mvlgamma", "erfinv", "i0"]

# B_2k for k = 1..8
_BERN = [1.0 / 6, -1.0 / 30, 1.0 / 42, -1.0 / 30, 5.0 / 66, -691.0 / 2730, 7.0 / 6, -3617.0 / 510]
_SHIFT = 10.0


def _quiet(fn):
    """Run ``fn`` with NumPy's floating-point warnings off: the poles and overflows are
    computed on purpose and given PyTorch's values (inf, NaN) explicitly."""
    def wrapped(*args):
        with B.numpy.errstate(all="ignore"):
            return fn(*args)
    wrapped.__name__ = fn.__name__
    return wrapped


def _f64(xp, x):
    return x.astype("float64") if x.dtype != xp.float64 else x


def _back(x, y):
    return y.astype(x.dtype) if y.dtype != x.dtype else y


def _cot_pi(xp, x):
    """cot(pi x), x first reduced to r in [-1/2, 1/2] (cot has period pi), as
    cos(pi r) / sin(pi r) with cos(pi r) = sin(pi (1/2 - |r|)): exactly 0 at the half-integers
    (and +-inf at the integers)."""
    r = x - xp.round(x)
    return xp.sin(math.pi * (0.5 - xp.abs(r))) / xp.sin(math.pi * r)


def _abs_sin_pi(xp, x):
    """|sin(pi x)|, exactly 0 at the integers: x is reduced to r in [-1/2, 1/2] first."""
    r = x - xp.round(x)
    return xp.abs(xp.sin(math.pi * r))


@_quiet
def _lgamma_raw(xp, x0):
    x = _f64(xp, x0)
    fin = xp.isfinite(x)
    refl = x < 0.5
    z = xp.where(fin, xp.where(refl, 1.0 - x, x), 2.0)
    prod = xp.ones_like(z)
    for _ in range(int(_SHIFT)):  # Gamma(z) = Gamma(z + 1) / z until z >= 10
        m = z < _SHIFT
        prod = xp.where(m, prod * z, prod)
        z = xp.where(m, z + 1.0, z)
    w = 1.0 / z
    w2 = w * w
    s = xp.zeros_like(z)
    for k in range(len(_BERN), 0, -1):  # sum_k B_2k / (2k (2k - 1) z^(2k-1)), Horner in 1/z^2
        s = s * w2 + _BERN[k - 1] / (2 * k * (2 * k - 1))
    lg = (z - 0.5) * xp.log(z) - z + 0.5 * math.log(2 * math.pi) + s * w - xp.log(prod)
    with_refl = xp.log(math.pi / _abs_sin_pi(xp, x)) - lg
    out = xp.where(refl, with_refl, lg)
    out = xp.where((x == 1.0) | (x == 2.0), 0.0, out)  # Gamma(1) = Gamma(2) = 1, exactly
    out = xp.where(xp.isinf(x), math.inf, out)
    out = xp.where(xp.isnan(x), math.nan, out)
    return _back(x0, out)


@_quiet
def _digamma_raw(xp, x0):
    x = _f64(xp, x0)
    fin = xp.isfinite(x)
    refl = x < 0.5
    z = xp.where(fin, xp.where(refl, 1.0 - x, x), 2.0)
    acc = xp.zeros_like(z)
    for _ in range(int(_SHIFT)):  # psi(z) = psi(z + 1) - 1 / z until z >= 10
        m = z < _SHIFT
        acc = xp.where(m, acc + 1.0 / z, acc)
        z = xp.where(m, z + 1.0, z)
    w2 = 1.0 / (z * z)
    s = xp.zeros_like(z)
    for k in range(len(_BERN), 0, -1):  # sum_k B_2k / (2k z^(2k))
        s = s * w2 + _BERN[k - 1] / (2 * k)
    psi = xp.log(z) - 0.5 / z - s * w2 - acc
    cot = _cot_pi(xp, xp.where(refl, x, 0.5))
    out = xp.where(refl, psi - math.pi * cot, psi)
    # the poles: psi(+-0) = -+inf (PyTorch's convention), psi(-n) = NaN
    out = xp.where(x == 0, xp.where(xp.signbit(x), math.inf, -math.inf), out)
    out = xp.where((x < 0) & (x == xp.floor(x)), math.nan, out)
    out = xp.where(x == math.inf, math.inf, xp.where(x == -math.inf, math.nan, out))
    out = xp.where(xp.isnan(x), math.nan, out)
    return _back(x0, out)


@_quiet
def _polygamma_raw(xp, n, x0):
    if n == 0:
        return _digamma_raw(xp, x0)
    x = _f64(xp, x0)
    s = n + 1
    thr = _SHIFT + n
    fin = xp.isfinite(x)
    refl = x < 0  # psi^(n)(x) = (-1)^n psi^(n)(1 - x) - pi^(n+1) Q_n(cot pi x), below
    z = xp.where(fin, xp.where(refl, 1.0 - x, x), thr)
    acc = xp.zeros_like(z)
    while True:  # zeta(s, x) = sum_{k < K} (x + k)^-s + zeta(s, x + K)
        m = z < thr
        if not bool(m.any()):
            break
        acc = xp.where(m, acc + xp.where(m, z, 1.0) ** -s, acc)
        z = xp.where(m, z + 1.0, z)
    # Euler-Maclaurin: zeta(s, a) = a^(1-s)/(s-1) + a^-s/2 + sum_j B_2j/(2j)! (s)_(2j-1) a^(-s-2j+1)
    tail = z ** (1 - s) / (s - 1) + 0.5 * z ** -s
    rising = float(s)  # s (s + 1) ... (s + 2j - 2)
    fact = 2.0  # (2j)!
    zp = z ** (-s - 1)
    w2 = 1.0 / (z * z)
    for j in range(1, len(_BERN) + 1):
        tail = tail + (_BERN[j - 1] / fact * rising) * zp
        rising *= (s + 2 * j - 1) * (s + 2 * j)
        fact *= (2 * j + 1) * (2 * j + 2)
        zp = zp * w2
    zeta = acc + tail
    out = (-1.0) ** (n + 1) * math.factorial(n) * zeta
    if bool(refl.any()):
        # reflection: differentiating psi(1 - x) - psi(x) = pi cot(pi x) n times gives
        # (-1)^n psi^(n)(1 - x) - psi^(n)(x) = pi^(n+1) Q_n(cot pi x), with Q_0(c) = c and
        # Q_{k+1}(c) = -(1 + c^2) Q_k'(c) (as d/dx cot(pi x) = -pi (1 + cot^2(pi x)))
        q = [0.0, 1.0]  # coefficients of Q, lowest power first
        for _ in range(n):
            dq = [i * q[i] for i in range(1, len(q))] or [0.0]
            q = [0.0] * (len(dq) + 2)
            for i, c in enumerate(dq):
                q[i] -= c
                q[i + 2] -= c
        c = _cot_pi(xp, xp.where(refl, x, 0.5))
        poly = xp.zeros_like(c)
        for coef in reversed(q):
            poly = poly * c + coef
        out = xp.where(refl, (-1.0) ** n * out - math.pi ** (n + 1) * poly, out)
    # the poles 0, -1, -2, ...: (-1)^(n+1) inf, the sign psi^(n) has on their right
    out = xp.where((x <= 0) & (x == xp.floor(x)), (-1.0) ** (n + 1) * math.inf, out)
    out = xp.where(x == math.inf, 0.0, xp.where(x == -math.inf, math.nan, out))
    out = xp.where(xp.isnan(x), math.nan, out)
    return _back(x0, out)


@_quiet
def _erfinv_raw(xp, x0):
    x = _f64(xp, x0)
    ax = xp.abs(x)
    ok = ax < 1.0
    a = xp.where(ok, ax, 0.0)
    # Winitzki's start: erfinv(a) ~ sqrt(sqrt(c^2 - L / k) - c), L = log(1 - a^2), c = 2/(pi k) + L/2
    k = 0.147
    L = xp.log((1.0 - a) * (1.0 + a))
    c = 2.0 / (math.pi * k) + 0.5 * L
    y = xp.sqrt(xp.maximum(xp.sqrt(c * c - L / k) - c, 0.0))
    tail = a > 0.5
    t = 1.0 - a  # exact for a > 1/2
    for _ in range(3):
        # Halley's step on f(y) = 0 with f' = 2/sqrt(pi) e^(-y^2), f'' = -2 y f':
        # y <- y - f / (f' + y f), with f = erf(y) - a, or f = t - erfc(y) in the tails
        f = xp.where(tail, t - _erfc_raw(xp, y), _erf_raw(xp, y) - a)
        d = (2.0 / math.sqrt(math.pi)) * xp.exp(-y * y)
        y = y - f / (d + y * f)
    # near 0, where erf(y) - a loses its relative precision, the Maclaurin series
    # erfinv(a) = sum_k c_k / (2k + 1) (sqrt(pi) a / 2)^(2k+1)
    w = (math.sqrt(math.pi) / 2.0) * a
    w2 = w * w
    ser = xp.zeros_like(w)
    for k in range(len(_ERFINV_C) - 1, -1, -1):
        ser = ser * w2 + _ERFINV_C[k] / (2 * k + 1)
    y = xp.where(a < 0.05, ser * w, y)
    out = xp.where(x < 0, -y, y)
    out = xp.where(ax == 1.0, xp.where(x > 0, math.inf, -math.inf), out)
    out = xp.where(ax > 1.0, math.nan, out)
    out = xp.where(xp.isnan(x), math.nan, out)
    return _back(x0, out)


_ERFINV_C = [1.0, 1.0, 7.0 / 6, 127.0 / 90, 4369.0 / 2520, 34807.0 / 16200, 20036983.0 / 6237000,
             2280356863.0 / 489888000]
_BESSEL_SERIES_MAX = 30.0


@_quiet
def _bessel_raw(xp, nu, x0):
    """I_nu(x) for nu = 0 or 1 (see the module docstring)."""
    x = _f64(xp, x0)
    ax = xp.abs(x)
    small = ax <= _BESSEL_SERIES_MAX
    xs = xp.where(small, ax, 0.0)
    q = xs * xs / 4.0
    term = xp.ones_like(xs) if nu == 0 else xs / 2.0
    tot = term
    for k in range(1, 80):  # (x/2)^(2k+nu) / (k! (k+nu)!)
        term = term * q / (k * (k + nu))
        tot = tot + term
    xl = xp.where(small, _BESSEL_SERIES_MAX + 1.0, ax)
    mu = 4.0 * nu * nu
    term = xp.ones_like(xl)
    s = term
    for k in range(1, 30):
        term = term * -(mu - (2 * k - 1) ** 2) / (k * 8.0 * xl)
        s = s + term
    big = xp.exp(xl) / xp.sqrt(2.0 * math.pi * xl) * s
    out = xp.where(small, tot, big)
    if nu == 1:
        out = xp.where(x < 0, -out, out)
    out = xp.where(xp.isnan(x), math.nan, out)
    return _back(x0, out)


# ----------------------------------------------------------------------------- Functions
class Lgamma(Function):
    """y = log |Gamma(x)|;  dy/dx = digamma(x)."""

    def forward(self, x):
        self.save_for_backward(x)
        return _lgamma_raw(self.xp, x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * Polygamma.apply(x, n=0)


class Polygamma(Function):
    """y = psi^(n)(x) (n = 0: digamma);  dy/dx = psi^(n+1)(x)."""

    def forward(self, x, n):
        self.n = n
        self.save_for_backward(x)
        return _polygamma_raw(self.xp, n, x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * Polygamma.apply(x, n=self.n + 1)


class Erfinv(Function):
    """y = erfinv(x);  dy/dx = 1 / erf'(y) = (sqrt pi / 2) e^(y^2) (y the saved output)."""

    def forward(self, x):
        y = _erfinv_raw(self.xp, x)
        self.save_for_backward(y)
        return y

    def backward(self, gy):
        (y,) = self.saved_tensors
        return gy * exp(y * y) * (math.sqrt(math.pi) / 2.0)


class BesselI0(Function):
    """y = I_0(x), the modified Bessel function of the first kind;  dy/dx = I_1(x)."""

    def forward(self, x):
        self.save_for_backward(x)
        return _bessel_raw(self.xp, 0, x)

    def backward(self, gy):
        (x,) = self.saved_tensors
        return gy * BesselI1.apply(x)


class BesselI1(Function):
    """y = I_1(x);  dy/dx = I_0(x) - I_1(x) / x  (-> 1/2 at x = 0)."""

    def forward(self, x):
        self.save_for_backward(x)
        return _bessel_raw(self.xp, 1, x)

    def backward(self, gy):
        from .elementwise import where
        (x,) = self.saved_tensors
        zero = x == 0
        xs = where(zero, 1.0, x)
        return gy * where(zero, 0.5, BesselI0.apply(x) - BesselI1.apply(xs) / xs)


# ----------------------------------------------------------------------------- functions
def lgamma(input):
    """log |Gamma(x)| (+inf at 0 and the negative integers)."""
    return Lgamma.apply(_float(input))


def digamma(input):
    """psi(x) = Gamma'(x) / Gamma(x) (-inf at +0, +inf at -0, NaN at the negative integers)."""
    return Polygamma.apply(_float(input), n=0)


def polygamma(n, input):
    """The n-th derivative of digamma (n >= 0)."""
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"polygamma: n must be an int, got {type(n).__name__}")
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    return Polygamma.apply(_float(input), n=n)


def mvlgamma(input, p):
    """The multivariate log-gamma of dimension p:
    log Gamma_p(x) = p (p - 1) / 4 log pi + sum_{j=0}^{p-1} lgamma(x - j / 2)."""
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")
    x = _float(input)
    out = lgamma(x)
    for j in range(1, p):
        out = out + lgamma(x - j / 2.0)
    return out + p * (p - 1) / 4.0 * math.log(math.pi)


def erfinv(input):
    """The inverse error function on (-1, 1) (+-inf at +-1, NaN outside)."""
    return Erfinv.apply(_float(input))


def i0(input):
    """The modified Bessel function of the first kind of order 0."""
    return BesselI0.apply(_float(input))


def i1(input):
    """The modified Bessel function of the first kind of order 1 (torch.special.i1)."""
    return BesselI1.apply(_float(input))


TENSOR_METHODS = ["lgamma", "digamma", "mvlgamma", "erfinv", "i0"]  # x.polygamma(n): extras_torch_tensor

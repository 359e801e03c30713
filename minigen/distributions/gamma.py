"""``Gamma(concentration, rate)``: density b^a x^(a-1) e^(-b x) / Gamma(a) on x > 0.

    log p(x) = a log b + (a - 1) log x - b x - lgamma(a)
    mean = a / b,  variance = a / b^2,  mode = max((a - 1) / b, 0)
    H = a - log b + lgamma(a) + (1 - a) digamma(a)
    cdf(x) = P(a, b x), the regularised lower incomplete gamma function

rsample (implicit reparameterisation, Figurnov et al., 2018): x = z / b with z ~ Gamma(a, 1)
drawn by the generator; z is not an explicit function of a, but F(z; a) = u stays fixed as a
moves, so

    dz/da = -(dP(a, z)/da) / p(z; a)

minigen computes P(a, z) by its series (z < a + 1) or its continued fraction (z >= a + 1) in
float64 and dP/da by a central difference; PyTorch uses its own rational approximations of the
same derivative, so gradients agree to a few parts in 1e6, not bit for bit. dz/db comes exactly
through x = z / b.
"""
from __future__ import annotations

import numpy

import minigen
from minigen.autograd import Function, _wrap

from . import constraints
from ._util import broadcast_params
from .distribution import _shape
from .exp_family import ExponentialFamily

__all__ = ["Gamma", "standard_gamma", "gammainc"]


def _lgamma(xp, x):
    from minigen.ops.extras_torch_special import _lgamma_raw
    return _lgamma_raw(xp, x)


def _gammainc_raw(xp, a, x):
    """P(a, x) in float64: the series x^a e^-x sum_n x^n / Gamma(a + n + 1) for x < a + 1,
    1 - Q(a, x) by the continued fraction (modified Lentz) beyond."""
    a = xp.asarray(a, dtype="float64")
    x = xp.asarray(x, dtype="float64")
    a, x = xp.broadcast_arrays(a, x)
    with numpy.errstate(all="ignore"):
        xs = xp.where(x > 0, x, 1.0)
        log_pref = a * xp.log(xs) - xs - _lgamma(xp, a)
        # series
        term = 1.0 / a
        total = term.copy()
        for n in range(1, 600):
            term = term * xs / (a + n)
            total = total + term
        p_series = total * xp.exp(log_pref)
        # continued fraction for Q
        tiny = 1e-300
        b = xs + 1.0 - a
        c = xp.full_like(b, 1.0 / tiny)
        d = 1.0 / xp.where(xp.abs(b) < tiny, tiny, b)
        h = d.copy()
        for i in range(1, 300):
            an = -i * (i - a)
            b = b + 2.0
            d = an * d + b
            d = 1.0 / xp.where(xp.abs(d) < tiny, tiny, d)
            c = b + an / c
            c = xp.where(xp.abs(c) < tiny, tiny, c)
            h = h * d * c
        p_cf = 1.0 - xp.exp(log_pref) * h
        out = xp.where(xs < a + 1.0, p_series, p_cf)
        out = xp.where(x <= 0, 0.0, out)
        out = xp.where(xp.isinf(x), 1.0, out)
    return xp.clip(out, 0.0, 1.0)


class _GammaInc(Function):
    """P(a, x); d/dx = x^(a-1) e^-x / Gamma(a). The gradient with respect to a is not
    computed (PyTorch's gammainc has none either)."""

    def forward(self, a, x):
        self.save_for_backward(a, x)
        return _gammainc_raw(self.xp, a, x).astype(x.dtype)

    def backward(self, gy):
        a, x = self.saved_tensors
        # x^(a-1) e^-x / Gamma(a)
        pdf = ((a - 1) * x.log() - x - minigen.lgamma(a)).exp()
        return None, gy * pdf


def gammainc(a, x):
    """The regularised lower incomplete gamma function P(a, x) (``torch.special.gammainc``),
    differentiable in x."""
    a, x = minigen.broadcast_tensors(a, x)
    return _GammaInc.apply(a.detach(), x)


def _implicit_dz_da(xp, a, z):
    """dz/da = -(dP(a, z)/da) / p(z; a) on raw arrays (float64 inside), dP/da by a central
    difference of minigen's incomplete gamma."""
    av = xp.asarray(a, dtype="float64")
    zv = xp.asarray(z, dtype="float64")
    av, zv = xp.broadcast_arrays(av, zv)
    h = 1e-5 * xp.maximum(av, 1.0)
    dp_da = (_gammainc_raw(xp, av + h, zv) - _gammainc_raw(xp, av - h, zv)) / (2 * h)
    log_pdf = (av - 1) * xp.log(zv) - zv - _lgamma(xp, av)
    return (-dp_da / xp.exp(log_pdf)).astype(z.dtype)


def generator_draw(xp, device_type, a, shape):
    from minigen import backend as B
    g = B.generator_for(device_type)
    return xp.asarray(g.standard_gamma(xp.broadcast_to(a, shape)))


def standard_gamma(concentration, sample_shape=()):
    """Gamma(a, 1) draws of shape ``sample_shape + a.shape`` (``torch._standard_gamma``),
    differentiable in a by the implicit reparameterisation: the draw z is a constant, and

        z + (a - a.detach()) dz/da

    has the value z and the gradient dz/da (first order, as PyTorch's: its gradient is not
    differentiated again)."""
    a = concentration
    shape = _shape(sample_shape) + tuple(a.shape)
    xp = a.xp
    with minigen.no_grad():
        arr = generator_draw(xp, a.device.type, a.detach().array, shape)
        tiny = numpy.finfo(a.dtype).tiny
        arr = xp.maximum(arr, tiny).astype(a.dtype)
    z = _wrap(arr)
    if not a.requires_grad or not minigen.is_grad_enabled():
        return z
    dz_da = _wrap(_implicit_dz_da(xp, a.detach().array, arr))
    a_b = a.expand(shape)
    return z + (a_b - a_b.detach()) * dz_da


class Gamma(ExponentialFamily):
    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True

    def __init__(self, concentration, rate, validate_args=None):
        self.concentration, self.rate = broadcast_params("Gamma", concentration=concentration,
                                                         rate=rate)
        super().__init__(tuple(self.concentration.shape), (), validate_args)
        self._check_params(concentration=self.concentration, rate=self.rate)

    @property
    def mean(self):
        return self.concentration / self.rate

    @property
    def mode(self):
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self):
        return self.concentration / self.rate.pow(2)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        a = self.concentration.expand(shape)
        z = standard_gamma(a)
        # x = z / b, kept above the smallest normal number
        return (z / self.rate.expand(shape)).clamp(min=minigen.finfo(z.dtype).tiny)

    def log_prob(self, value):
        if self._validate_args:
            self._check_support(value)
        value = minigen.as_tensor(value, dtype=self.rate.dtype, device=self.rate.device)
        a, b = self.concentration, self.rate
        # a log b + (a - 1) log x - b x - lgamma(a)
        return (minigen.xlogy(a, b) + minigen.xlogy(a - 1, value) - b * value
                - minigen.lgamma(a))

    def entropy(self):
        a, b = self.concentration, self.rate
        return a - b.log() + minigen.lgamma(a) + (1.0 - a) * minigen.digamma(a)

    def cdf(self, value):
        if self._validate_args:
            self._check_support(value)
        return gammainc(self.concentration, self.rate * value)

    def expand(self, batch_shape, _instance=None):
        shape = _shape(batch_shape)
        return Gamma(self.concentration.expand(shape), self.rate.expand(shape), validate_args=False)


class Chi2(Gamma):
    """``Chi2(df)`` = Gamma(df / 2, 1 / 2)."""
    arg_constraints = {"df": constraints.positive}

    def __init__(self, df, validate_args=None):
        (df,) = broadcast_params("Chi2", df=df)
        super().__init__(0.5 * df, minigen.full_like(df, 0.5), validate_args)

    @property
    def df(self):
        return self.concentration * 2

    def expand(self, batch_shape, _instance=None):
        return Chi2(self.df.expand(_shape(batch_shape)), validate_args=False)


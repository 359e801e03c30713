"""``VonMises(loc, concentration)``: the circular normal, density e^(kappa cos(x - mu)) /
(2 pi I_0(kappa)) on an interval of length 2 pi.

    log p(x) = kappa cos(x - mu) - log(2 pi) - log I_0(kappa)
    mean = mode = mu (circular);  variance = 1 - I_1(kappa) / I_0(kappa) (circular)

log I_0 and log I_1 use the polynomial approximations of Abramowitz and Stegun (9.8.1-9.8.4),
as PyTorch does, so values agree with PyTorch's to round-off (the approximations themselves are
good to ~1e-7 relative). Samples: the rejection sampler of Best and Fisher (1979), in float64,
wrapped to [-pi, pi) around mu; no rsample (as PyTorch).
"""
from __future__ import annotations

import math

import minigen

from . import constraints
from ._util import broadcast_params
from .distribution import Distribution, _shape

__all__ = ["VonMises"]

# A&S 9.8.1 / 9.8.3 (|x| < 3.75, in (x / 3.75)^2) and 9.8.2 / 9.8.4 (x >= 3.75, in 3.75 / x)
_SMALL = ([1.0, 3.5156229, 3.0899424, 1.2067492, 0.2659732, 0.360768e-1, 0.45813e-2],
          [0.5, 0.87890594, 0.51498869, 0.15084934, 0.2658733e-1, 0.301532e-2, 0.32411e-3])
_LARGE = ([0.39894228, 0.1328592e-1, 0.225319e-2, -0.157565e-2, 0.916281e-2, -0.2057706e-1,
           0.2635537e-1, -0.1647633e-1, 0.392377e-2],
          [0.39894228, -0.3988024e-1, -0.362018e-2, 0.163801e-2, -0.1031555e-1, 0.2282967e-1,
           -0.2895312e-1, 0.1787654e-1, -0.420059e-2])


def _poly(y, coef):
    out = coef[-1]
    for c in reversed(coef[:-1]):
        out = out * y + c  # Horner
    return out


def log_bessel_i(x, order=0):
    """log I_order(x) for x > 0, order 0 or 1 (the A&S approximations)."""
    if order not in (0, 1):
        raise ValueError(f"order must be 0 or 1, got {order}")
    y = (x / 3.75).pow(2)
    small = _poly(y, _SMALL[order])
    if order == 1:
        small = x.abs() * small
    small = small.log()
    large = x - 0.5 * x.log() + _poly(3.75 / x, _LARGE[order]).log()
    return minigen.where(x < 3.75, small, large)


class VonMises(Distribution):
    arg_constraints = {"loc": constraints.real, "concentration": constraints.positive}
    support = constraints.real
    has_rsample = False

    def __init__(self, loc, concentration, validate_args=None):
        self.loc, self.concentration = broadcast_params("VonMises", loc=loc,
                                                        concentration=concentration)
        super().__init__(tuple(self.loc.shape), (), validate_args)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        k = self.concentration
        return 1 - (log_bessel_i(k, 1) - log_bessel_i(k, 0)).exp()

    def log_prob(self, value):
        if self._validate_args:
            self._check_support(value)
        return (self.concentration * (value - self.loc).cos() - math.log(2 * math.pi)
                - log_bessel_i(self.concentration, 0))

    def sample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        with minigen.no_grad():
            loc = self.loc.detach().to(minigen.float64)
            kappa = self.concentration.detach().to(minigen.float64)
            # Best and Fisher's proposal parameter r (its Taylor form for tiny kappa)
            tau = 1 + (1 + 4 * kappa.pow(2)).sqrt()
            rho = (tau - (2 * tau).sqrt()) / (2 * kappa)
            r = minigen.where(kappa < 1e-5, 1 / kappa + kappa, (1 + rho.pow(2)) / (2 * rho))
            r, kappa_b = r.expand(shape), kappa.expand(shape)
            x = minigen.zeros(shape, dtype=minigen.float64, device=loc.device)
            done = minigen.zeros(shape, dtype=minigen.bool, device=loc.device)
            while not bool(done.all().item()):
                u1, u2, u3 = (minigen.rand(shape, dtype=minigen.float64, device=loc.device)
                              for _ in range(3))
                z = (math.pi * u1).cos()
                f = (1 + r * z) / (r + z)
                c = kappa_b * (r - f)
                accept = ((c * (2 - c) - u2) > 0) | ((c / u2).log() + 1 - c >= 0)
                x = minigen.where(accept & ~done, (u3 - 0.5).sign() * f.acos(), x)
                done = done | accept
            out = (x + math.pi + loc) % (2 * math.pi) - math.pi
            return out.to(self.loc.dtype)

    def expand(self, batch_shape, _instance=None):
        shape = _shape(batch_shape)
        return VonMises(self.loc.expand(shape), self.concentration.expand(shape),
                        validate_args=False)

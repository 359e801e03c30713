"""``LKJCholesky(dim, concentration=1.)`` (Lewandowski, Kurowicka and Joe, 2009): Cholesky
factors L of dim x dim correlation matrices, density proportional to det(L L^T)^(eta - 1),

    log p(L) = sum_{i=2..D} (2 (eta - 1) + D - i) log L_ii - log Z
    log Z = (D - 1)/2 log pi + mvlgamma(eta + (D - 1)/2 - 1/2, D - 1) - (D - 1) lgamma(eta + (D - 1)/2)

Samples by the onion method, as PyTorch: row i of L is sqrt(y_i) u_i on the unit sphere of its
first i coordinates, y_i ~ Beta(i/2, eta + (D - 2)/2 - i/2) (y_0 = 0), and L_ii fills the row to
unit norm. No rsample (as PyTorch).
"""
from __future__ import annotations

import math

import minigen

from . import constraints
from ._util import broadcast_params
from .dirichlet import Beta
from .distribution import Distribution, _shape

__all__ = ["LKJCholesky"]


class LKJCholesky(Distribution):
    arg_constraints = {"concentration": constraints.positive}
    support = constraints.corr_cholesky

    def __init__(self, dim, concentration=1.0, validate_args=None):
        if dim < 2:
            raise ValueError(f"Expected dim to be an integer greater than or equal to 2. Found "
                             f"dim={dim}.")
        self.dim = dim
        (self.concentration,) = broadcast_params("LKJCholesky", concentration=concentration)
        c = self.concentration
        marginal = c + 0.5 * (dim - 2)
        offset = minigen.cat([minigen.zeros(1, dtype=c.dtype, device=c.device),
                              minigen.arange(dim - 1, dtype=c.dtype, device=c.device)])
        self._beta = Beta(offset + 0.5, marginal.unsqueeze(-1) - 0.5 * offset,
                          validate_args=False)
        super().__init__(tuple(c.shape), (dim, dim), validate_args)

    def sample(self, sample_shape=()):
        with minigen.no_grad():
            y = self._beta.sample(sample_shape).unsqueeze(-1)
            u = minigen.randn(self._extended_shape(sample_shape), dtype=y.dtype,
                              device=y.device).tril(-1)
            u = u / u.norm(dim=-1, keepdim=True).clamp(min=minigen.finfo(y.dtype).tiny)
            first = minigen.zeros_like(u[..., :1, :])
            u = minigen.cat([first, u[..., 1:, :]], -2)
            w = y.sqrt() * u
            diag = (1 - w.pow(2).sum(-1)).clamp(min=minigen.finfo(w.dtype).tiny).sqrt()
            return w + diag.diag_embed()

    def log_prob(self, value):
        if self._validate_args:
            self._check_support(value)
        d = self.dim
        diag = value.diagonal(dim1=-2, dim2=-1)[..., 1:]
        order = minigen.arange(2, d + 1, dtype=value.dtype, device=value.device)
        order = 2 * (self.concentration - 1).unsqueeze(-1) + d - order
        unnorm = (order * diag.log()).sum(-1)
        dm1 = d - 1
        alpha = self.concentration + 0.5 * dm1
        norm = (0.5 * dm1 * math.log(math.pi) + minigen.mvlgamma(alpha - 0.5, dm1)
                - minigen.lgamma(alpha) * dm1)
        return unnorm - norm

    def expand(self, batch_shape, _instance=None):
        return LKJCholesky(self.dim, self.concentration.expand(_shape(batch_shape)),
                           validate_args=False)

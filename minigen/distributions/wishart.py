"""``Wishart(df, covariance_matrix=None, precision_matrix=None, scale_tril=None)``: random
p x p positive-definite matrices X = sum of nu outer products of N(0, Sigma) vectors.

    log p(X) = -nu (p log 2 / 2 + sum log L_ii) - mvlgamma(nu / 2, p)
               + (nu - p - 1) / 2 log det X - tr(Sigma^-1 X) / 2           (Sigma = L L^T)
    mean = nu Sigma,  mode = (nu - p - 1) Sigma (NaN for nu <= p + 1),
    variance_ij = nu (Sigma_ij^2 + Sigma_ii Sigma_jj)
    H = (p + 1)(p log 2 / 2 + sum log L_ii) + mvlgamma(nu/2, p) - (nu - p - 1)/2 mvdigamma(nu/2, p)
        + nu p / 2,    mvdigamma(x, p) = sum_{i<p} digamma(x - i/2)
    rsample (Bartlett): A lower triangular with A_ii = sqrt(c_i), c_i ~ Chi2(nu - i) (implicitly
    reparameterised), A_ij ~ N(0, 1) below the diagonal; X = (L A)(L A)^T.
Singular draws are drawn again, up to ``max_try_correction`` times, as PyTorch does.
"""
from __future__ import annotations

import math

import minigen

from . import constraints
from .distribution import Distribution, _as_param, _shape
from .gamma import Chi2
from .multivariate_normal import _precision_to_scale_tril

__all__ = ["Wishart"]

_LOG_2 = math.log(2)


def _mvdigamma(x, p):
    return sum(minigen.digamma(x - i / 2) for i in range(p))


class Wishart(Distribution):
    arg_constraints = {"covariance_matrix": constraints.positive_definite,
                       "precision_matrix": constraints.positive_definite,
                       "scale_tril": constraints.lower_cholesky,
                       "df": constraints.greater_than(0)}
    support = constraints.positive_definite
    has_rsample = True

    def __init__(self, df, covariance_matrix=None, precision_matrix=None, scale_tril=None,
                 validate_args=None):
        given = {"covariance_matrix": covariance_matrix, "precision_matrix": precision_matrix,
                 "scale_tril": scale_tril}
        if sum(v is not None for v in given.values()) != 1:
            raise AssertionError("Exactly one of covariance_matrix or precision_matrix or "
                                 "scale_tril may be specified.")
        name = next(k for k, v in given.items() if v is not None)
        param = _as_param(name, "Wishart", given[name])
        if param.ndim < 2:
            raise ValueError("scale_tril must be at least two-dimensional, with optional leading "
                             "batch dimensions")
        if isinstance(df, minigen.Tensor):
            batch = minigen.broadcast_shapes(tuple(param.shape[:-2]), tuple(df.shape))
            self.df = df.to(param.dtype).expand(batch)
        else:
            batch = tuple(param.shape[:-2])
            self.df = minigen.full(batch, float(df), dtype=param.dtype, device=param.device)
        p = param.shape[-1]
        if bool((self.df <= p - 1).any().item()):
            raise ValueError(f"Value of df={df} expected to be greater than ndim - 1 = {p - 1}.")
        setattr(self, "_" + name, param.expand(batch + (p, p)))
        self._given = name
        if name == "scale_tril":
            self._unbroadcasted_scale_tril = param
        elif name == "covariance_matrix":
            self._unbroadcasted_scale_tril = minigen.linalg.cholesky(param)
        else:
            self._unbroadcasted_scale_tril = _precision_to_scale_tril(param)
        super().__init__(batch, (p, p), validate_args)
        offsets = minigen.arange(p, dtype=param.dtype, device=param.device)
        self._dist_chi2 = Chi2(self.df.unsqueeze(-1) - offsets, validate_args=False)

    @property
    def scale_tril(self):
        return self._unbroadcasted_scale_tril.expand(self.batch_shape + self.event_shape)

    @property
    def covariance_matrix(self):
        L = self._unbroadcasted_scale_tril
        return (L @ L.transpose(-2, -1)).expand(self.batch_shape + self.event_shape)

    @property
    def precision_matrix(self):
        return minigen.linalg.inv(self.covariance_matrix)

    def _df_matrix(self, t):
        return t.reshape(self.batch_shape + (1, 1))

    @property
    def mean(self):
        return self._df_matrix(self.df) * self.covariance_matrix

    @property
    def mode(self):
        factor = self.df - self.event_shape[-1] - 1
        factor = factor.masked_fill(factor <= 0, float("nan"))
        return self._df_matrix(factor) * self.covariance_matrix

    @property
    def variance(self):
        V = self.covariance_matrix
        d = V.diagonal(dim1=-2, dim2=-1)
        return self._df_matrix(self.df) * (V.pow(2) + d.unsqueeze(-1) * d.unsqueeze(-2))

    def rsample(self, sample_shape=(), max_try_correction=None):
        """Bartlett draws; draws that come out singular (not positive definite) are drawn
        again, up to ``max_try_correction`` times (10 by default), as PyTorch does."""
        tries = 10 if max_try_correction is None else max_try_correction
        x = self._bartlett(sample_shape)
        for _ in range(tries):
            bad = ~constraints.positive_definite.check(x.detach())
            if not bool(bad.any().item()):
                break
            x = minigen.where(bad.reshape(tuple(bad.shape) + (1, 1)), self._bartlett(sample_shape), x)
        return x

    def _bartlett(self, sample_shape):
        shape = _shape(sample_shape)
        p = self.event_shape[-1]
        L = self._unbroadcasted_scale_tril
        diag = self._dist_chi2.rsample(shape).clamp(min=minigen.finfo(L.dtype).eps).sqrt()
        below = minigen.randn(shape + self.batch_shape + (p, p), dtype=L.dtype,
                              device=L.device).tril(-1)
        A = below + diag.diag_embed()
        chol = L @ A
        return chol @ chol.transpose(-2, -1)

    def log_prob(self, value):
        if self._validate_args:
            self._check_support(value)
        nu, p = self.df, self.event_shape[-1]
        L = self._unbroadcasted_scale_tril
        half_log_det_sigma = L.diagonal(dim1=-2, dim2=-1).log().sum(-1)
        # tr(Sigma^-1 X) with Sigma = L L^T formed from all of L (PyTorch's cholesky_solve
        # differentiates through the whole matrix, so a scale_tril's upper triangle gets a
        # gradient there too; minigen gives the same)
        batch = minigen.broadcast_shapes(tuple(value.shape[:-2]), tuple(L.shape[:-2]))
        sigma = (L @ L.transpose(-2, -1)).expand(batch + (p, p))
        Z = minigen.linalg.solve(sigma, value.expand(batch + (p, p)))
        trace = Z.diagonal(dim1=-2, dim2=-1).sum(-1)
        _, logdet = minigen.linalg.slogdet(value)
        return (-nu * (p * _LOG_2 / 2 + half_log_det_sigma) - minigen.mvlgamma(nu / 2, p)
                + (nu - p - 1) / 2 * logdet - trace / 2)

    def entropy(self):
        nu, p = self.df, self.event_shape[-1]
        half_log_det_sigma = self._unbroadcasted_scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)
        return ((p + 1) * (p * _LOG_2 / 2 + half_log_det_sigma) + minigen.mvlgamma(nu / 2, p)
                - (nu - p - 1) / 2 * _mvdigamma(nu / 2, p) + nu * p / 2)

    def expand(self, batch_shape, _instance=None):
        shape = _shape(batch_shape)
        p = self.event_shape[-1]
        return Wishart(self.df.expand(shape),
                       scale_tril=self._unbroadcasted_scale_tril.expand(shape + (p, p)),
                       validate_args=False)

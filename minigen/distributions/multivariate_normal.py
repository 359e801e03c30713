"""``MultivariateNormal(loc, covariance_matrix=None, precision_matrix=None, scale_tril=None)``:
N(mu, Sigma) over vectors of size k, parameterised by exactly one of Sigma, its inverse P, or
the lower-triangular L with Sigma = L L^T (which is what everything is computed from).

    from Sigma:  L = cholesky(Sigma)
    from P:      with J the order-reversing permutation, J P J = L' L'^T (Cholesky), U = J L' J
                 is upper triangular with P = U U^T, and L = U^-T (a triangular solve)
    rsample:     x = mu + L eps,  eps ~ N(0, I)
    log p(x) = -1/2 (k log 2 pi + |L^-1 (x - mu)|^2) - sum_i log L_ii
    H = k/2 (1 + log 2 pi) + sum_i log L_ii
    variance = diag(Sigma) = row sums of L^2
"""
from __future__ import annotations

import math

import minigen

from . import constraints
from .distribution import Distribution, _as_param, _shape

__all__ = ["MultivariateNormal"]


def _batch_mv(L, v):
    """L v over broadcast batch dimensions."""
    return (L @ v.unsqueeze(-1)).squeeze(-1)


def _mahalanobis_sq(L, diff):
    """|L^-1 diff|^2 over broadcast batch dimensions."""
    sol = minigen.linalg.solve_triangular(L, diff.unsqueeze(-1), upper=False).squeeze(-1)
    return sol.pow(2).sum(-1)


def _precision_to_scale_tril(P):
    k = P.shape[-1]
    Lf = minigen.linalg.cholesky(P.flip((-2, -1)))
    # U = J Lf J (upper triangular), P = U U^T, L = U^-T
    U = Lf.flip((-2, -1))
    eye = minigen.eye(k, dtype=P.dtype, device=P.device)
    return minigen.linalg.solve_triangular(U, eye, upper=True).transpose(-2, -1)


class MultivariateNormal(Distribution):
    arg_constraints = {"loc": constraints.real_vector,
                       "covariance_matrix": constraints.positive_definite,
                       "precision_matrix": constraints.positive_definite,
                       "scale_tril": constraints.lower_cholesky}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc, covariance_matrix=None, precision_matrix=None, scale_tril=None,
                 validate_args=None):
        loc = _as_param("loc", "MultivariateNormal", loc)
        if loc.ndim < 1:
            raise ValueError("loc must be at least one-dimensional.")
        if (covariance_matrix is not None) + (scale_tril is not None) + \
                (precision_matrix is not None) != 1:
            raise ValueError("Exactly one of covariance_matrix or precision_matrix or scale_tril "
                             "may be specified.")
        given = {"scale_tril": scale_tril, "covariance_matrix": covariance_matrix,
                 "precision_matrix": precision_matrix}
        name = next(k for k, v in given.items() if v is not None)
        M = _as_param(name, "MultivariateNormal", given[name])
        if M.ndim < 2:
            raise ValueError(f"{name} matrix must be at least two-dimensional, with optional "
                             "leading batch dimensions")
        k = loc.shape[-1]
        if M.shape[-1] != k or M.shape[-2] != k:
            raise ValueError(f"MultivariateNormal: loc has {k} entries in its last dimension but "
                             f"{name} has shape {tuple(M.shape)}")
        batch = minigen.broadcast_shapes(tuple(M.shape[:-2]), tuple(loc.shape[:-1]))
        M = M.expand(batch + (k, k))
        self.loc = loc.expand(batch + (k,))
        super().__init__(batch, (k,), validate_args)
        self._check_params(loc=self.loc, **{name: M})
        setattr(self, "_" + name, M)
        if name == "scale_tril":
            self._unbroadcasted_scale_tril = _as_param(name, "MultivariateNormal", given[name])
        elif name == "covariance_matrix":
            self._unbroadcasted_scale_tril = minigen.linalg.cholesky(
                _as_param(name, "MultivariateNormal", given[name]))
        else:
            self._unbroadcasted_scale_tril = _precision_to_scale_tril(
                _as_param(name, "MultivariateNormal", given[name]))
        self._given = name

    @property
    def scale_tril(self):
        if self._given == "scale_tril":
            return self._scale_tril
        return self._unbroadcasted_scale_tril.expand(self.batch_shape + self.event_shape * 2)

    @property
    def covariance_matrix(self):
        if self._given == "covariance_matrix":
            return self._covariance_matrix
        L = self._unbroadcasted_scale_tril
        return (L @ L.transpose(-2, -1)).expand(self.batch_shape + self.event_shape * 2)

    @property
    def precision_matrix(self):
        if self._given == "precision_matrix":
            return self._precision_matrix
        return minigen.linalg.inv(self.covariance_matrix)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        L = self._unbroadcasted_scale_tril
        return L.pow(2).sum(-1).expand(self.batch_shape + self.event_shape)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        eps = minigen.randn(shape, dtype=self.loc.dtype, device=self.loc.device)
        # x = mu + L eps
        return self.loc + _batch_mv(self._unbroadcasted_scale_tril, eps)

    def _half_log_det(self):
        return self._unbroadcasted_scale_tril.diagonal(dim1=-2, dim2=-1).log().sum(-1)

    def log_prob(self, value):
        if self._validate_args:
            self._check_support(value)
        diff = value - self.loc
        L = self._unbroadcasted_scale_tril
        shape = minigen.broadcast_shapes(tuple(diff.shape[:-1]), tuple(L.shape[:-2]))
        M = _mahalanobis_sq(L, diff.expand(shape + diff.shape[-1:]))
        k = self.event_shape[0]
        return -0.5 * (k * math.log(2 * math.pi) + M) - self._half_log_det()

    def entropy(self):
        k = self.event_shape[0]
        h = 0.5 * k * (1.0 + math.log(2 * math.pi)) + self._half_log_det()
        return h.expand(self.batch_shape) if self.batch_shape else h

    def expand(self, batch_shape, _instance=None):
        shape = _shape(batch_shape)
        k = self.event_shape[0]
        new = MultivariateNormal(self.loc.expand(shape + (k,)),
                                 scale_tril=self._unbroadcasted_scale_tril.expand(shape + (k, k)),
                                 validate_args=False)
        return new

"""``LowRankMultivariateNormal(loc, cov_factor, cov_diag)``: N(mu, W W^T + D) with W of shape
[k, r] (r << k) and D = diag(cov_diag), computed without forming the k x k matrix:

    capacitance C = I_r + W^T D^-1 W = L_C L_C^T              (r x r)
    log det(W W^T + D) = 2 sum log diag(L_C) + sum log D        (matrix determinant lemma)
    (x - mu)^T (W W^T + D)^-1 (x - mu) = |y|_D^2 - |L_C^-1 W^T D^-1 y|^2,  y = x - mu  (Woodbury)
    log p(x) = -1/2 (k log 2 pi + Mahalanobis + log det)
    H = 1/2 (k (1 + log 2 pi) + log det)
    rsample: x = mu + W e_r + sqrt(D) e_k,  e ~ N(0, I)
"""
from __future__ import annotations

import math

import minigen

from . import constraints
from .distribution import Distribution, _as_param, _shape

__all__ = ["LowRankMultivariateNormal"]


class LowRankMultivariateNormal(Distribution):
    arg_constraints = {"loc": constraints.real_vector,
                       "cov_factor": constraints.independent(constraints.real, 2),
                       "cov_diag": constraints.independent(constraints.positive, 1)}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, loc, cov_factor, cov_diag, validate_args=None):
        loc = _as_param("loc", "LowRankMultivariateNormal", loc)
        cov_factor = _as_param("cov_factor", "LowRankMultivariateNormal", cov_factor)
        cov_diag = _as_param("cov_diag", "LowRankMultivariateNormal", cov_diag)
        if loc.ndim < 1:
            raise ValueError("loc must be at least one-dimensional.")
        k = loc.shape[-1]
        if cov_factor.ndim < 2:
            raise ValueError("cov_factor must be at least two-dimensional, with optional leading "
                             "batch dimensions")
        if cov_factor.shape[-2] != k:
            raise ValueError(f"cov_factor must be a batch of matrices with shape {k} x m")
        if cov_diag.shape[-1:] != (k,):
            raise ValueError(f"cov_diag must be a batch of vectors with shape {(k,)}")
        batch = minigen.broadcast_shapes(tuple(loc.shape[:-1]), tuple(cov_factor.shape[:-2]),
                                         tuple(cov_diag.shape[:-1]))
        r = cov_factor.shape[-1]
        self.loc = loc.expand(batch + (k,))
        self.cov_factor = cov_factor.expand(batch + (k, r))
        self.cov_diag = cov_diag.expand(batch + (k,))
        self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag = cov_factor, cov_diag
        # L_C: Cholesky factor of I + W^T D^-1 W
        Wt_Dinv = cov_factor.transpose(-2, -1) / cov_diag.unsqueeze(-2)
        C = Wt_Dinv @ cov_factor + minigen.eye(r, dtype=loc.dtype, device=loc.device)
        self._capacitance_tril = minigen.linalg.cholesky(C)
        super().__init__(batch, (k,), validate_args)

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def variance(self):
        W, D = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag
        return (W.pow(2).sum(-1) + D).expand(self.batch_shape + self.event_shape)

    @property
    def covariance_matrix(self):
        W, D = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag
        cov = W @ W.transpose(-2, -1) + minigen.diag_embed(D)
        return cov.expand(self.batch_shape + self.event_shape * 2)

    @property
    def scale_tril(self):
        return minigen.linalg.cholesky(self.covariance_matrix)

    @property
    def precision_matrix(self):
        return minigen.linalg.inv(self.covariance_matrix)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        r = self._unbroadcasted_cov_factor.shape[-1]
        e_w = minigen.randn(shape[:-1] + (r,), dtype=self.loc.dtype, device=self.loc.device)
        e_d = minigen.randn(shape, dtype=self.loc.dtype, device=self.loc.device)
        W = self._unbroadcasted_cov_factor
        return (self.loc + (W @ e_w.unsqueeze(-1)).squeeze(-1)
                + self._unbroadcasted_cov_diag.sqrt() * e_d)

    def _log_det(self):
        L = self._capacitance_tril
        return (2 * L.diagonal(dim1=-2, dim2=-1).log().sum(-1)
                + self._unbroadcasted_cov_diag.log().sum(-1))

    def log_prob(self, value):
        if self._validate_args:
            self._check_support(value)
        y = value - self.loc
        W, D, L = self._unbroadcasted_cov_factor, self._unbroadcasted_cov_diag, self._capacitance_tril
        Wt_Dinv_y = (W.transpose(-2, -1) @ (y / D).unsqueeze(-1))
        batch = minigen.broadcast_shapes(tuple(Wt_Dinv_y.shape[:-2]), tuple(L.shape[:-2]))
        Wt_Dinv_y = Wt_Dinv_y.expand(batch + tuple(Wt_Dinv_y.shape[-2:]))
        sol = minigen.linalg.solve_triangular(L.expand(batch + tuple(L.shape[-2:])), Wt_Dinv_y,
                                              upper=False)
        maha = (y.pow(2) / D).sum(-1) - sol.pow(2).sum((-2, -1))
        k = self.event_shape[0]
        return -0.5 * (k * math.log(2 * math.pi) + maha + self._log_det())

    def entropy(self):
        k = self.event_shape[0]
        h = 0.5 * (k * (1.0 + math.log(2 * math.pi)) + self._log_det())
        return h.expand(self.batch_shape) if self.batch_shape else h

    def expand(self, batch_shape, _instance=None):
        shape = _shape(batch_shape)
        k = self.event_shape[0]
        r = self._unbroadcasted_cov_factor.shape[-1]
        return LowRankMultivariateNormal(self.loc.expand(shape + (k,)),
                                         self.cov_factor.expand(shape + (k, r)),
                                         self.cov_diag.expand(shape + (k,)), validate_args=False)

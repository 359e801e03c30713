"""``kl_divergence(p, q)`` = KL(p || q) = E_p[log p(x) - log q(x)], in closed form for the pairs
registered here (``register_kl`` adds more):

    Normal-Normal:       log(s_q / s_p) + (s_p^2 + (m_p - m_q)^2) / (2 s_q^2) - 1/2
    Bernoulli-Bernoulli: p log(p / q) + (1 - p) log((1 - p) / (1 - q))
    Categorical:         sum_k p_k (log p_k - log q_k)
    Independent:         the base pair's KL summed over the reinterpreted dimensions
    MVN-MVN:             log|L_q| - log|L_p| + (|L_q^-1 L_p|_F^2 + |L_q^-1 (m_q - m_p)|^2 - k) / 2
    Uniform-Uniform:     log((h_q - l_q) / (h_p - l_p)), inf unless [l_p, h_p] lies in [l_q, h_q]
    Beta-Beta:           lbeta(a_q, b_q) - lbeta(a_p, b_p) + (a_p - a_q) psi(a_p)
                         + (b_p - b_q) psi(b_p) + (a_q - a_p + b_q - b_p) psi(a_p + b_p)
    Dirichlet-Dirichlet: lgamma(s_p) - lgamma(s_q) - sum (lgamma(a_p) - lgamma(a_q))
                         + sum (a_p - a_q)(psi(a_p) - psi(s_p))          (s = sum of a)
    Gamma-Gamma:         a_q log(b_p / b_q) + lgamma(a_q) - lgamma(a_p) + (a_p - a_q) psi(a_p)
                         + (b_q - b_p) a_p / b_p
    Laplace-Laplace:     log(s_q / s_p) + |m_p - m_q| / s_q + (s_p / s_q) e^(-|m_p - m_q| / s_p) - 1
    Exponential:         log(r_p / r_q) + r_q / r_p - 1
    Poisson-Poisson:     r_p (log r_p - log r_q) - (r_p - r_q)
    OneHotCategorical:   the Categorical pair's
    Geometric-Geometric: -H(p) - log(1 - q) / p - logits_q
    HalfNormal:          the Normal pair's (same map |x|, both centred at 0)
    Gumbel-Gumbel:       -log c + gamma (c - 1) - 1 + e^((m_q - m_p) / s_q) Gamma(1 + c),
                         c = s_p / s_q
    LowRankMVN / MVN:    through the covariance matrices (as MVN-MVN)
    TransformedDistribution pair with the same transforms: the base pair's (KL is invariant
                         under a common bijection)
"""
from __future__ import annotations

from minigen.nn import functional as F

from .bernoulli import Bernoulli
from .categorical import Categorical
from .independent import Independent, _sum_rightmost
from .normal import Normal
from .uniform import Uniform
from .laplace import Laplace
from .exponential import Exponential
from .gamma import Gamma
from .dirichlet import Beta, Dirichlet
from .poisson import Poisson
from .one_hot_categorical import OneHotCategorical
from .multivariate_normal import MultivariateNormal
from .transformed_distribution import TransformedDistribution
from .geometric import Geometric
from .half_normal import HalfNormal
from .gumbel import Gumbel
from .lowrank_multivariate_normal import LowRankMultivariateNormal

import minigen

__all__ = ["kl_divergence", "register_kl"]

_KL = {}


def register_kl(type_p, type_q):
    """Decorator: ``@register_kl(P, Q) def kl(p, q): ...`` makes ``kl_divergence`` use it."""
    def decorate(fn):
        _KL[(type_p, type_q)] = fn
        return fn
    return decorate


def kl_divergence(p, q):
    """KL(p || q), batch-shaped."""
    # the most specific registered pair (the classes' own first, then their bases)
    for tp in type(p).__mro__:
        for tq in type(q).__mro__:
            fn = _KL.get((tp, tq))
            if fn is not None:
                return fn(p, q)
    raise NotImplementedError(f"No KL(p || q) is implemented for p = {type(p).__name__} and q = "
                              f"{type(q).__name__}; the pairs known are "
                              f"{sorted((a.__name__, b.__name__) for a, b in _KL)}")


@register_kl(Normal, Normal)
def _kl_normal_normal(p, q):
    # log(s_q / s_p) + (s_p^2 + (m_p - m_q)^2) / (2 s_q^2) - 1/2
    var_ratio = (p.scale / q.scale).pow(2)
    t1 = ((p.loc - q.loc) / q.scale).pow(2)
    return 0.5 * (var_ratio + t1 - 1 - var_ratio.log())


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p, q):
    # p log(p / q) + (1 - p) log((1 - p) / (1 - q)), in logits: BCE(l_q, p) - BCE(l_p, p)
    return (F.binary_cross_entropy_with_logits(q.logits, p.probs, reduction="none")
            - F.binary_cross_entropy_with_logits(p.logits, p.probs, reduction="none"))


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p, q):
    # sum_k p_k (log p_k - log q_k), with 0 log 0 = 0
    t = p.probs * (p.logits - q.logits)
    t = t.masked_fill(p.probs == 0, 0.0)
    return t.sum(-1)


@register_kl(Independent, Independent)
def _kl_independent_independent(p, q):
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise NotImplementedError("kl_divergence: Independent distributions with different "
                                  f"reinterpreted_batch_ndims ({p.reinterpreted_batch_ndims} vs "
                                  f"{q.reinterpreted_batch_ndims})")
    return _sum_rightmost(kl_divergence(p.base_dist, q.base_dist), p.reinterpreted_batch_ndims)


@register_kl(MultivariateNormal, MultivariateNormal)
def _kl_mvn_mvn(p, q):
    if p.event_shape != q.event_shape:
        raise ValueError("KL-divergence between two Multivariate Normals with different event "
                         "shapes cannot be computed")
    Lp, Lq = p._unbroadcasted_scale_tril, q._unbroadcasted_scale_tril
    k = p.event_shape[0]
    batch = minigen.broadcast_shapes(tuple(p.batch_shape), tuple(q.batch_shape))
    Lp_, Lq_ = Lp.expand(batch + (k, k)), Lq.expand(batch + (k, k))
    # |L_q^-1 L_p|_F^2 = tr(Sigma_q^-1 Sigma_p)
    tr = minigen.linalg.solve_triangular(Lq_, Lp_, upper=False).pow(2).sum((-2, -1))
    diff = (q.loc - p.loc).expand(batch + (k,))
    maha = minigen.linalg.solve_triangular(Lq_, diff.unsqueeze(-1), upper=False).pow(2).sum((-2, -1))
    half_log_det = (Lq.diagonal(dim1=-2, dim2=-1).log().sum(-1)
                    - Lp.diagonal(dim1=-2, dim2=-1).log().sum(-1))
    return half_log_det + 0.5 * (tr + maha - k)


@register_kl(Uniform, Uniform)
def _kl_uniform_uniform(p, q):
    result = ((q.high - q.low) / (p.high - p.low)).log()
    outside = (q.low > p.low) | (q.high < p.high)
    return result.masked_fill(outside, float("inf"))


def _lbeta(a, b):
    return minigen.lgamma(a) + minigen.lgamma(b) - minigen.lgamma(a + b)


@register_kl(Beta, Beta)
def _kl_beta_beta(p, q):
    ap, bp, aq, bq = p.concentration1, p.concentration0, q.concentration1, q.concentration0
    dg = minigen.digamma
    return (_lbeta(aq, bq) - _lbeta(ap, bp) + (ap - aq) * dg(ap) + (bp - bq) * dg(bp)
            + (aq - ap + bq - bp) * dg(ap + bp))


@register_kl(Dirichlet, Dirichlet)
def _kl_dirichlet_dirichlet(p, q):
    ap, aq = p.concentration, q.concentration
    sp, sq = ap.sum(-1), aq.sum(-1)
    lg, dg = minigen.lgamma, minigen.digamma
    return (lg(sp) - lg(sq) - (lg(ap) - lg(aq)).sum(-1)
            + ((ap - aq) * (dg(ap) - dg(sp).unsqueeze(-1))).sum(-1))


@register_kl(Gamma, Gamma)
def _kl_gamma_gamma(p, q):
    ap, bp, aq, bq = p.concentration, p.rate, q.concentration, q.rate
    return (aq * (bp / bq).log() + minigen.lgamma(aq) - minigen.lgamma(ap)
            + (ap - aq) * minigen.digamma(ap) + (bq - bp) * (ap / bp))


@register_kl(Laplace, Laplace)
def _kl_laplace_laplace(p, q):
    ratio = p.scale / q.scale
    d = (p.loc - q.loc).abs()
    return -ratio.log() + d / q.scale + ratio * (-d / p.scale).exp() - 1


@register_kl(Exponential, Exponential)
def _kl_exponential_exponential(p, q):
    ratio = q.rate / p.rate
    return -ratio.log() + ratio - 1


@register_kl(Poisson, Poisson)
def _kl_poisson_poisson(p, q):
    return p.rate * (p.rate.log() - q.rate.log()) - (p.rate - q.rate)


@register_kl(OneHotCategorical, OneHotCategorical)
def _kl_onehot_onehot(p, q):
    return kl_divergence(p._categorical, q._categorical)


@register_kl(TransformedDistribution, TransformedDistribution)
def _kl_transformed_transformed(p, q):
    if p.transforms != q.transforms:
        raise NotImplementedError("kl_divergence: TransformedDistributions with different "
                                  "transforms")
    if p.event_shape != q.event_shape:
        raise NotImplementedError("kl_divergence: TransformedDistributions with different "
                                  "event shapes")
    return kl_divergence(p.base_dist, q.base_dist)


@register_kl(Geometric, Geometric)
def _kl_geometric_geometric(p, q):
    return -p.entropy() - (-q.probs).log1p() / p.probs - q.logits


@register_kl(HalfNormal, HalfNormal)
def _kl_halfnormal_halfnormal(p, q):
    return _kl_normal_normal(p.base_dist, q.base_dist)


@register_kl(Gumbel, Gumbel)
def _kl_gumbel_gumbel(p, q):
    # with c = s_p / s_q and d = (m_p - m_q) / s_q:
    # -log c + gamma (c - 1) - 1 + e^(-d) Gamma(c + 1)
    _euler = 0.57721566490153286060
    ct1 = p.scale / q.scale
    ct2 = q.loc / q.scale
    ct3 = p.loc / q.scale
    t1 = -ct1.log() - ct2 + ct3
    t2 = ct1 * _euler
    t3 = (ct2 + minigen.lgamma(1 + ct1) - ct3).exp()
    return t1 + t2 + t3 - (1 + _euler)


def _as_mvn(d):
    return MultivariateNormal(d.loc, covariance_matrix=d.covariance_matrix, validate_args=False)


@register_kl(LowRankMultivariateNormal, LowRankMultivariateNormal)
def _kl_lowrank_lowrank(p, q):
    return _kl_mvn_mvn(_as_mvn(p), _as_mvn(q))


@register_kl(MultivariateNormal, LowRankMultivariateNormal)
def _kl_mvn_lowrank(p, q):
    return _kl_mvn_mvn(p, _as_mvn(q))


@register_kl(LowRankMultivariateNormal, MultivariateNormal)
def _kl_lowrank_mvn(p, q):
    return _kl_mvn_mvn(_as_mvn(p), q)

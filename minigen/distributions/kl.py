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

Across families (PyTorch's registered pairs): KL(p || q) = -H(p) - E_p[log q(x)], with E_p[log q]
in closed form from p's moments (E[x], E[x^2], E[log x], E[e^(-x / beta)], E|x - m| as each q
needs), and inf wherever p puts mass outside q's support (a Normal against a Beta, a Uniform
reaching below 0 against a Gamma, a Pareto with alpha <= 1 against an Exponential: its mean is
infinite).
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

import math

import minigen
from .binomial import Binomial
from .cauchy import Cauchy
from .continuous_bernoulli import ContinuousBernoulli
from .exp_family import ExponentialFamily
from .pareto import Pareto

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



# ----------------------------------------------------------------------------- across families
_EULER = 0.57721566490153286060


def _inf_like(p):
    """A batch-shaped tensor of inf in p's dtype and device."""
    ref = next((v for v in vars(p).values() if isinstance(v, minigen.Tensor)
                and v.dtype.kind == "f"), None)
    if ref is None:
        ref = p.mean
    return minigen.full(p.batch_shape, float("inf"), dtype=ref.dtype, device=ref.device)


def _x_log_x(x):
    return x * x.log().masked_fill(x == 0, 0.0) if isinstance(x, minigen.Tensor) else \
        (x * math.log(x) if x else 0.0)


def _normal_cross(q, mean, second_central):
    """-E_p[log q] for q Normal, from p's mean and variance."""
    return (q.scale.log() + 0.5 * math.log(2 * math.pi)
            + (second_central + (mean - q.loc).pow(2)) / (2 * q.scale.pow(2)))


def _gamma_cross(q, mean, mean_log):
    """-E_p[log q] for q Gamma, from E_p[x] and E_p[log x]."""
    a, b = q.concentration, q.rate
    return -a * b.log() + minigen.lgamma(a) - (a - 1) * mean_log + b * mean


def _gumbel_cross(q, mean, mgf_neg):
    """-E_p[log q] for q Gumbel(m, beta), from E_p[x] and E_p[e^(-x / beta)]."""
    return q.scale.log() + (mean - q.loc) / q.scale + (q.loc / q.scale).exp() * mgf_neg


def _cb_cross(q, mean):
    """-E_p[log q] for q ContinuousBernoulli, from E_p[x]."""
    return -(mean * q.logits + (-q.probs).log1p() + q._log_norm())


def _beta_moments(p):
    a, b = p.concentration1, p.concentration0
    s = a + b
    return a / s, a * b / (s.pow(2) * (s + 1)), minigen.digamma(a) - minigen.digamma(s)


def _uniform_log_moment(l, h):
    c = h - l
    return (_x_log_x(h) - _x_log_x(l) - c) / c


def _pareto_mean(p):
    a = p.alpha.clamp(min=1.0 + 1e-12)
    return minigen.where(p.alpha > 1, a * p.scale / (a - 1), _inf_like(p))


def _register_infinite(pairs):
    def kl(p, q):
        return _inf_like(p)
    for tp, tq in pairs:
        register_kl(tp, tq)(kl)


_register_infinite([(Normal, t) for t in (Beta, ContinuousBernoulli, Exponential, Gamma, Pareto,
                                          Uniform)]
                   + [(Laplace, t) for t in (Beta, ContinuousBernoulli, Exponential, Gamma,
                                             Pareto, Uniform)]
                   + [(Gumbel, t) for t in (Beta, ContinuousBernoulli, Exponential, Gamma,
                                            Pareto, Uniform)]
                   + [(Exponential, t) for t in (Beta, ContinuousBernoulli, Pareto, Uniform)]
                   + [(Gamma, t) for t in (Beta, ContinuousBernoulli, Pareto, Uniform)]
                   + [(Beta, Pareto), (ContinuousBernoulli, Pareto)]
                   + [(Pareto, t) for t in (Beta, ContinuousBernoulli, Uniform)]
                   + [(Poisson, Bernoulli), (Poisson, Binomial)])


@register_kl(Bernoulli, Poisson)
def _kl_bernoulli_poisson(p, q):
    return -p.entropy() - (p.probs * q.rate.log() - q.rate)


@register_kl(Binomial, Binomial)
def _kl_binomial_binomial(p, q):
    if bool((p.total_count < q.total_count).any().item()):
        raise NotImplementedError("KL between Binomials where q.total_count > p.total_count is "
                                  "not implemented")
    kl = p.total_count * (p.probs * (p.logits - q.logits) + (-p.probs).log1p()
                          - (-q.probs).log1p())
    return kl.masked_fill(p.total_count > q.total_count, float("inf"))


@register_kl(Cauchy, Cauchy)
def _kl_cauchy_cauchy(p, q):
    # log(((s_p + s_q)^2 + (m_p - m_q)^2) / (4 s_p s_q))
    return (((p.scale + q.scale).pow(2) + (p.loc - q.loc).pow(2)).log()
            - (4 * p.scale * q.scale).log())


@register_kl(ContinuousBernoulli, ContinuousBernoulli)
def _kl_cb_cb(p, q):
    return (p.mean * (p.logits - q.logits) + p._log_norm() + (-p.probs).log1p()
            - q._log_norm() - (-q.probs).log1p())


@register_kl(Beta, ContinuousBernoulli)
def _kl_beta_cb(p, q):
    return -p.entropy() + _cb_cross(q, p.mean)


@register_kl(Beta, Exponential)
def _kl_beta_exponential(p, q):
    return -p.entropy() - q.rate.log() + q.rate * p.mean


@register_kl(Beta, Gamma)
def _kl_beta_gamma(p, q):
    mean, _, mean_log = _beta_moments(p)
    return -p.entropy() + _gamma_cross(q, mean, mean_log)


@register_kl(Beta, Normal)
def _kl_beta_normal(p, q):
    mean, var, _ = _beta_moments(p)
    return -p.entropy() + _normal_cross(q, mean, var)


@register_kl(Beta, Uniform)
def _kl_beta_uniform(p, q):
    out = -p.entropy() + (q.high - q.low).log()
    return out.masked_fill((q.low > 0) | (q.high < 1), float("inf"))


@register_kl(ContinuousBernoulli, Exponential)
def _kl_cb_exponential(p, q):
    return -p.entropy() - q.rate.log() + q.rate * p.mean


@register_kl(ContinuousBernoulli, Normal)
def _kl_cb_normal(p, q):
    return -p.entropy() + _normal_cross(q, p.mean, p.variance)


@register_kl(ContinuousBernoulli, Uniform)
def _kl_cb_uniform(p, q):
    out = -p.entropy() + (q.high - q.low).log()
    return out.masked_fill((q.low > 0) | (q.high < 1), float("inf"))


@register_kl(Exponential, Gamma)
def _kl_exponential_gamma(p, q):
    # E[log x] = -gamma - log r
    return -p.entropy() + _gamma_cross(q, p.mean, -_EULER - p.rate.log())


@register_kl(Exponential, Gumbel)
def _kl_exponential_gumbel(p, q):
    # E[e^(-x / beta)] = r / (r + 1 / beta)
    mgf = p.rate / (p.rate + q.scale.reciprocal())
    return -p.entropy() + _gumbel_cross(q, p.mean, mgf)


@register_kl(Exponential, Normal)
def _kl_exponential_normal(p, q):
    return -p.entropy() + _normal_cross(q, p.mean, p.variance)


@register_kl(Gamma, Exponential)
def _kl_gamma_exponential(p, q):
    return -p.entropy() - q.rate.log() + q.rate * p.mean


@register_kl(Gamma, Gumbel)
def _kl_gamma_gumbel(p, q):
    # E[e^(-x / beta)] = (1 + 1 / (beta b))^-a
    mgf = (1 + (q.scale * p.rate).reciprocal()).pow(-p.concentration)
    return -p.entropy() + _gumbel_cross(q, p.mean, mgf)


@register_kl(Gamma, Normal)
def _kl_gamma_normal(p, q):
    return -p.entropy() + _normal_cross(q, p.mean, p.variance)


@register_kl(Gumbel, Normal)
def _kl_gumbel_normal(p, q):
    return -p.entropy() + _normal_cross(q, p.mean, p.variance)


@register_kl(Laplace, Normal)
def _kl_laplace_normal(p, q):
    return -p.entropy() + _normal_cross(q, p.mean, p.variance)


@register_kl(Normal, Gumbel)
def _kl_normal_gumbel(p, q):
    # E[e^(-x / beta)] = e^(-m / beta + s^2 / (2 beta^2))
    mgf = (-p.loc / q.scale + p.scale.pow(2) / (2 * q.scale.pow(2))).exp()
    return -p.entropy() + _gumbel_cross(q, p.mean, mgf)


@register_kl(Normal, Laplace)
def _kl_normal_laplace(p, q):
    # E|x - m_q| = s sqrt(2 / pi) e^(-d^2 / (2 s^2)) + d erf(d / (s sqrt 2)),  d = m_p - m_q
    d = p.loc - q.loc
    abs_mean = (p.scale * math.sqrt(2 / math.pi) * (-(d.pow(2)) / (2 * p.scale.pow(2))).exp()
                + d * minigen.erf(d / (p.scale * math.sqrt(2))))
    return -p.entropy() + (2 * q.scale).log() + abs_mean / q.scale


@register_kl(Pareto, Exponential)
def _kl_pareto_exponential(p, q):
    return -p.entropy() - q.rate.log() + q.rate * _pareto_mean(p)


@register_kl(Pareto, Gamma)
def _kl_pareto_gamma(p, q):
    mean_log = p.scale.log() + p.alpha.reciprocal()
    return -p.entropy() + _gamma_cross(q, _pareto_mean(p), mean_log)


@register_kl(Pareto, Normal)
def _kl_pareto_normal(p, q):
    a = p.alpha.clamp(min=2.0 + 1e-12)
    mean = a * p.scale / (a - 1)
    var = p.scale.pow(2) * a / ((a - 1).pow(2) * (a - 2))
    out = -p.entropy() + _normal_cross(q, mean, var)
    return out.masked_fill(p.alpha <= 2, float("inf"))


@register_kl(Pareto, Pareto)
def _kl_pareto_pareto(p, q):
    # log(a_p / a_q) + a_q log(s_p / s_q) - 1 + a_q / a_p,  inf unless s_p >= s_q
    out = ((p.alpha / q.alpha).log() + q.alpha * (p.scale / q.scale).log() - 1
           + q.alpha / p.alpha)
    return out.masked_fill(p.scale < q.scale, float("inf"))


@register_kl(Uniform, Beta)
def _kl_uniform_beta(p, q):
    c = p.high - p.low
    e_log_x = _uniform_log_moment(p.low, p.high)
    e_log_1mx = _uniform_log_moment(1 - p.high, 1 - p.low)
    lbeta = (minigen.lgamma(q.concentration1) + minigen.lgamma(q.concentration0)
             - minigen.lgamma(q.concentration1 + q.concentration0))
    out = (-c.log() - (q.concentration1 - 1) * e_log_x - (q.concentration0 - 1) * e_log_1mx
           + lbeta)
    return out.masked_fill((p.high > 1) | (p.low < 0), float("inf"))


@register_kl(Uniform, ContinuousBernoulli)
def _kl_uniform_cb(p, q):
    out = -p.entropy() + _cb_cross(q, p.mean)
    return out.masked_fill((p.high > 1) | (p.low < 0), float("inf"))


@register_kl(Uniform, Exponential)
def _kl_uniform_exponential(p, q):
    out = -p.entropy() - q.rate.log() + q.rate * p.mean
    return out.masked_fill(p.low < 0, float("inf"))


@register_kl(Uniform, Gamma)
def _kl_uniform_gamma(p, q):
    out = -p.entropy() + _gamma_cross(q, p.mean, _uniform_log_moment(p.low, p.high))
    return out.masked_fill(p.low < 0, float("inf"))


@register_kl(Uniform, Gumbel)
def _kl_uniform_gumbel(p, q):
    # E[e^(-x / beta)] = beta (e^(-l / beta) - e^(-h / beta)) / (h - l)
    mgf = q.scale * ((-p.low / q.scale).exp() - (-p.high / q.scale).exp()) / (p.high - p.low)
    return -p.entropy() + _gumbel_cross(q, p.mean, mgf)


@register_kl(Uniform, Normal)
def _kl_uniform_normal(p, q):
    return -p.entropy() + _normal_cross(q, p.mean, p.variance)


@register_kl(Uniform, Pareto)
def _kl_uniform_pareto(p, q):
    e_log_x = _uniform_log_moment(p.low, p.high)
    out = (-p.entropy() - q.alpha.log() - q.alpha * q.scale.log()
           + (q.alpha + 1) * e_log_x)
    return out.masked_fill(p.low < q.scale, float("inf"))


@register_kl(ExponentialFamily, ExponentialFamily)
def _kl_expfamily_expfamily(p, q):
    """Two members of one exponential family with no closed form registered: the Bregman
    divergence of the log normalizer F, F(theta_q) - F(theta_p) - <theta_q - theta_p, grad F(theta_p)>
    (grad F by autograd)."""
    if type(p) is not type(q):
        raise NotImplementedError("The cross KL-divergence between different exponential "
                                  "families cannot be computed using Bregman divergences")
    p_nparams = [t.detach().requires_grad_() for t in p._natural_params]
    q_nparams = q._natural_params
    with minigen.enable_grad():
        lg_normal = p._log_normalizer(*p_nparams)
        grads = minigen.autograd.grad(lg_normal.sum(), p_nparams, create_graph=True)
    result = q._log_normalizer(*q_nparams) - lg_normal
    for pn, qn, g in zip(p_nparams, q_nparams, grads):
        result = result - _sum_rightmost((qn - pn) * g, len(q.event_shape))
    return result

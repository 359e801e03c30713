"""``kl_divergence(p, q)`` = KL(p || q) = E_p[log p(x) - log q(x)], in closed form for the pairs
registered here (``register_kl`` adds more):

    Normal-Normal:       log(s_q / s_p) + (s_p^2 + (m_p - m_q)^2) / (2 s_q^2) - 1/2
    Bernoulli-Bernoulli: p log(p / q) + (1 - p) log((1 - p) / (1 - q))
    Categorical:         sum_k p_k (log p_k - log q_k)
    Independent:         the base pair's KL summed over the reinterpreted dimensions
"""
from __future__ import annotations

from minigen.nn import functional as F

from .bernoulli import Bernoulli
from .categorical import Categorical
from .independent import Independent, _sum_rightmost
from .normal import Normal

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

"""``Multinomial(total_count=1, probs=None, logits=None)``: counts of n = total_count draws from
a Categorical over K classes (event shape [K]).

    log p(x) = lgamma(n + 1) - sum_k lgamma(x_k + 1) + sum_k x_k log p_k
    mean = n p,  variance = n p (1 - p)
    H = n H(Categorical) - lgamma(n + 1) + sum_k E[lgamma(x_k + 1)],  x_k ~ Binomial(n, p_k)
"""
from __future__ import annotations

import minigen

from . import constraints
from .binomial import Binomial
from .categorical import Categorical
from .distribution import Distribution, _shape

__all__ = ["Multinomial"]


class _MultinomialSupport(constraints.Constraint):
    is_discrete, event_dim = True, 1

    def __init__(self, n):
        self.n = n

    def check(self, value):
        return ((value >= 0) & (value % 1 == 0)).all(-1) & (value.sum(-1) <= self.n)

    def __repr__(self):
        return f"IntegerInterval(lower_bound=0, upper_bound={self.n})"


class Multinomial(Distribution):
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}

    def __init__(self, total_count=1, probs=None, logits=None, validate_args=None):
        if not isinstance(total_count, int):
            raise NotImplementedError("inhomogeneous total_count is not supported")
        self.total_count = total_count
        self._categorical = Categorical(probs=probs, logits=logits, validate_args=validate_args)
        self._binomial = Binomial(total_count=total_count, probs=self._categorical.probs,
                                  validate_args=False)
        super().__init__(self._categorical.batch_shape, (self._categorical._num_events,),
                         validate_args)

    @property
    def support(self):
        return _MultinomialSupport(self.total_count)

    @property
    def probs(self):
        return self._categorical.probs

    @property
    def logits(self):
        return self._categorical.logits

    @property
    def param_shape(self):
        return self._categorical.param_shape

    @property
    def mean(self):
        return self.probs * self.total_count

    @property
    def variance(self):
        return self.total_count * self.probs * (1 - self.probs)

    def sample(self, sample_shape=()):
        shape = _shape(sample_shape)
        k = self._categorical._num_events
        with minigen.no_grad():
            draws = self._categorical.sample((self.total_count,) + shape)  # [n, S, B]
            onehot = minigen.nn.functional.one_hot(draws, k).to(self.probs.dtype)
            return onehot.sum(0)

    def log_prob(self, value):
        if self._validate_args:
            self._check_support(value)
        logits = self.logits
        value = value.to(logits.dtype)
        logits, value = minigen.broadcast_tensors(logits, value)
        log_factorial_n = minigen.lgamma(value.sum(-1) + 1)
        log_factorial_xs = minigen.lgamma(value + 1).sum(-1)
        # 0 log 0 = 0 for classes of probability 0 that were not drawn
        logits = logits.masked_fill((value == 0) & (logits == float("-inf")), 0.0)
        return log_factorial_n - log_factorial_xs + (logits * value).sum(-1)

    def entropy(self):
        n = float(self.total_count)
        term1 = n * self._categorical.entropy() - minigen.lgamma(minigen.tensor(n + 1, dtype=self.probs.dtype, device=self.probs.device))
        support = self._binomial.enumerate_support(expand=False)[1:]
        binomial_probs = self._binomial.log_prob(support).exp()
        weights = minigen.lgamma(support + 1)
        return term1 + (binomial_probs * weights).sum((0, -1))

    def expand(self, batch_shape, _instance=None):
        shape = _shape(batch_shape)
        return Multinomial(self.total_count, logits=self.logits.expand(shape + self.event_shape),
                           validate_args=False)

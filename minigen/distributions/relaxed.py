"""The Concrete / Gumbel-softmax relaxations (Maddison et al., 2017; Jang et al., 2017):
reparameterised draws that approach Bernoulli / one-hot Categorical draws as the temperature
tau -> 0.

``LogitRelaxedBernoulli(tau, probs, logits)``: x = (l + log u - log(1 - u)) / tau, u ~ U(0, 1)
(u clamped to [eps, 1 - eps]), with density

    log p(x) = log tau + (l - tau x) - 2 softplus(l - tau x)

``RelaxedBernoulli`` = sigmoid of it (values in (0, 1)).

``ExpRelaxedCategorical(tau, probs, logits)``: with Gumbel noise g = -log(-log u),
s = (logits + g) / tau and x = s - logsumexp(s) (the log of a point on the simplex); density

    log p(x) = lgamma(K) + (K - 1) log tau + sum_k (l_k - tau x_k) - K logsumexp_k(l_k - tau x_k)

(l the normalised logits). ``RelaxedOneHotCategorical`` = exp of it (points on the simplex).
"""
from __future__ import annotations

import math

import minigen
from minigen.nn import functional as F

from . import constraints
from ._util import clamp_probs, rand_like_shape
from .bernoulli import Bernoulli
from .categorical import Categorical
from .distribution import Distribution, _shape
from .transformed_distribution import TransformedDistribution
from .transforms import ExpTransform, SigmoidTransform

__all__ = ["LogitRelaxedBernoulli", "RelaxedBernoulli", "ExpRelaxedCategorical",
           "RelaxedOneHotCategorical"]


def _temperature(t, ref):
    if isinstance(t, minigen.Tensor):
        return t.to(ref.dtype)
    return minigen.tensor(float(t), dtype=ref.dtype, device=ref.device)


class LogitRelaxedBernoulli(Distribution):
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.real
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        self._bernoulli = Bernoulli(probs, logits, validate_args=validate_args)
        self.temperature = _temperature(temperature, self._bernoulli.logits)
        super().__init__(self._bernoulli.batch_shape, (), validate_args)

    @property
    def logits(self):
        return self._bernoulli.logits

    @property
    def probs(self):
        return self._bernoulli.probs

    @property
    def param_shape(self):
        return tuple(self.logits.shape)

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        u = clamp_probs(rand_like_shape(shape, self.logits))
        # (l + log u - log(1 - u)) / tau
        return (u.log() - (-u).log1p() + self.logits) / self.temperature

    def log_prob(self, value):
        if self._validate_args:
            self._check_support(value)
        d = self.logits - value * self.temperature
        # log tau + d - 2 softplus(d)
        return self.temperature.log() + d - 2 * F.softplus(d)

    def expand(self, batch_shape, _instance=None):
        shape = _shape(batch_shape)
        return LogitRelaxedBernoulli(self.temperature, logits=self.logits.expand(shape),
                                     validate_args=False)


class RelaxedBernoulli(TransformedDistribution):
    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.unit_interval
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        base = LogitRelaxedBernoulli(temperature, probs, logits, validate_args=validate_args)
        super().__init__(base, SigmoidTransform(), validate_args=validate_args)

    @property
    def temperature(self):
        return self.base_dist.temperature

    @property
    def logits(self):
        return self.base_dist.logits

    @property
    def probs(self):
        return self.base_dist.probs

    def expand(self, batch_shape, _instance=None):
        return RelaxedBernoulli(self.temperature, logits=self.logits.expand(_shape(batch_shape)),
                                validate_args=False)


class ExpRelaxedCategorical(Distribution):
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.real_vector
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        self._categorical = Categorical(probs, logits, validate_args=validate_args)
        self.temperature = _temperature(temperature, self._categorical.logits)
        super().__init__(self._categorical.batch_shape, (self._categorical._num_events,),
                         validate_args)

    @property
    def logits(self):
        return self._categorical.logits

    @property
    def probs(self):
        return self._categorical.probs

    @property
    def param_shape(self):
        return self._categorical.param_shape

    def rsample(self, sample_shape=()):
        shape = self._extended_shape(sample_shape)
        u = clamp_probs(rand_like_shape(shape, self.logits))
        g = -((-u.log()).log())  # Gumbel(0, 1)
        s = (self.logits + g) / self.temperature
        return s - s.logsumexp(dim=-1, keepdim=True)

    def log_prob(self, value):
        if self._validate_args:
            self._check_support(value)
        k = self._categorical._num_events
        # lgamma(K) + (K - 1) log tau
        log_scale = math.lgamma(k) + (k - 1) * self.temperature.log()
        score = self.logits - value * self.temperature
        score = (score - score.logsumexp(dim=-1, keepdim=True)).sum(-1)
        return score + log_scale

    def expand(self, batch_shape, _instance=None):
        shape = _shape(batch_shape)
        return ExpRelaxedCategorical(self.temperature,
                                     logits=self.logits.expand(shape + self.event_shape),
                                     validate_args=False)


class RelaxedOneHotCategorical(TransformedDistribution):
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.simplex
    has_rsample = True

    def __init__(self, temperature, probs=None, logits=None, validate_args=None):
        base = ExpRelaxedCategorical(temperature, probs, logits, validate_args=validate_args)
        super().__init__(base, ExpTransform(), validate_args=validate_args)

    @property
    def temperature(self):
        return self.base_dist.temperature

    @property
    def logits(self):
        return self.base_dist.logits

    @property
    def probs(self):
        return self.base_dist.probs

    def expand(self, batch_shape, _instance=None):
        shape = _shape(batch_shape)
        return RelaxedOneHotCategorical(self.temperature,
                                        logits=self.logits.expand(shape + self.event_shape),
                                        validate_args=False)



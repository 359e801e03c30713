"""``OneHotCategorical(probs=None, logits=None)``: a Categorical whose draws are one-hot vectors
(event shape [K]); ``OneHotCategoricalStraightThrough`` adds ``rsample`` = the one-hot draw with
the gradient of ``probs`` (sample + probs - probs.detach(), Bengio et al., 2013).

    log p(x) = log p_k for x = e_k;  mean = p;  variance = p (1 - p);  H = the Categorical's
"""
from __future__ import annotations

import minigen
from minigen.nn import functional as F

from . import constraints
from .categorical import Categorical
from .distribution import Distribution, _shape

__all__ = ["OneHotCategorical", "OneHotCategoricalStraightThrough"]


class OneHotCategorical(Distribution):
    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    support = constraints.one_hot
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        self._categorical = Categorical(probs, logits, validate_args=validate_args)
        k = self._categorical._num_events
        super().__init__(self._categorical.batch_shape, (k,), validate_args)

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
        return self._categorical.probs

    @property
    def mode(self):
        p = self._categorical.probs
        return F.one_hot(p.argmax(-1), p.shape[-1]).to(p.dtype)

    @property
    def variance(self):
        p = self._categorical.probs
        return p * (1 - p)

    def sample(self, sample_shape=()):
        idx = self._categorical.sample(sample_shape)
        p = self._categorical.probs
        return F.one_hot(idx, p.shape[-1]).to(p.dtype)

    def log_prob(self, value):
        if self._validate_args:
            self._check_support(value)
        return self._categorical.log_prob(value.argmax(-1))

    def entropy(self):
        return self._categorical.entropy()

    def enumerate_support(self, expand=True):
        k = self.event_shape[0]
        values = minigen.eye(k, dtype=self.probs.dtype, device=self.probs.device)
        values = values.reshape((k,) + (1,) * len(self.batch_shape) + (k,))
        return values.expand((k,) + self.batch_shape + (k,)) if expand else values

    def expand(self, batch_shape, _instance=None):
        shape = _shape(batch_shape)
        return type(self)(logits=self.logits.expand(shape + self.event_shape), validate_args=False)


class OneHotCategoricalStraightThrough(OneHotCategorical):
    has_rsample = True

    def rsample(self, sample_shape=()):
        x = self.sample(sample_shape)
        p = self._categorical.probs
        # the one-hot draw forward, the gradient of probs backward
        return x + (p - p.detach())

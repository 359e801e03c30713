"""``Categorical(probs=None, logits=None)``: one of K classes, P(x = k) = softmax(logits)_k.

The last dimension of ``probs``/``logits`` indexes the K classes; the others are the batch.
``probs`` need not sum to 1 (they are normalised); ``logits`` are normalised to log-probabilities
(logits - logsumexp(logits)).

    log p(k) = logits_k - logsumexp(logits)
    H = -sum_k p_k log p_k
"""
from __future__ import annotations

import minigen

from . import constraints
from .distribution import Distribution, _as_param, _shape

__all__ = ["Categorical"]


class Categorical(Distribution):
    arg_constraints = {"probs": "simplex", "logits": "real_vector"}
    has_enumerate_support = True

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Categorical: either `probs` or `logits` must be specified, but not both")
        self._validate_args = Distribution._validate_default if validate_args is None else validate_args
        if probs is not None:
            probs = _as_param("probs", "Categorical", probs)
            if probs.ndim < 1:
                raise ValueError("Categorical: `probs` parameter must be at least one-dimensional.")
            self._check_param("probs", probs, lambda v: (v >= 0) & v.isfinite(), "Simplex()")
            # p / sum(p); log p with p clamped to [eps, 1 - eps] so that log 0 stays finite
            self.probs = probs / probs.sum(-1, keepdim=True)
            eps = minigen.finfo(self.probs.dtype).eps
            self.logits = self.probs.clamp(eps, 1 - eps).log()
        else:
            logits = _as_param("logits", "Categorical", logits)
            if logits.ndim < 1:
                raise ValueError("Categorical: `logits` parameter must be at least one-dimensional.")
            # logits - logsumexp(logits): normalised log-probabilities
            self.logits = logits - logits.logsumexp(dim=-1, keepdim=True)
            self.probs = self.logits.exp()
        self._num_events = self.logits.shape[-1]
        super().__init__(tuple(self.logits.shape[:-1]), (), validate_args)

    @property
    def support(self):
        return constraints.integer_interval(0, self._num_events - 1)

    @property
    def param_shape(self):
        return tuple(self.logits.shape)

    @property
    def mean(self):
        return minigen.full(self.batch_shape, float("nan"), dtype=self.probs.dtype, device=self.probs.device)

    @property
    def mode(self):
        return self.probs.argmax(dim=-1)

    @property
    def variance(self):
        return minigen.full(self.batch_shape, float("nan"), dtype=self.probs.dtype, device=self.probs.device)

    def sample(self, sample_shape=()):
        shape = _shape(sample_shape)
        n = 1
        for s in shape:
            n *= s
        with minigen.no_grad():
            p = self.probs.detach().reshape(-1, self._num_events)
            # n draws per batch entry: [B, n] -> [n, batch]
            draws = minigen.multinomial(p, n, replacement=True).T
        return draws.reshape(shape + self.batch_shape)

    def log_prob(self, value):
        self._check_value(value, lambda v: (v >= 0) & (v < self._num_events) & (v == v.floor()),
                          f"IntegerInterval(lower_bound=0, upper_bound={self._num_events - 1})")
        value = value.long().unsqueeze(-1)
        value, log_pmf = minigen.broadcast_tensors(value, self.logits)
        # log p(k) = logits_k - logsumexp(logits) (already normalised)
        return log_pmf.gather(-1, value[..., :1]).squeeze(-1)

    def entropy(self):
        # -sum_k p_k log p_k (p_k log p_k = 0 where p_k = 0)
        logits = self.logits.clamp(min=minigen.finfo(self.logits.dtype).min)
        return -(logits * self.probs).sum(-1)

    def enumerate_support(self, expand=True):
        values = minigen.arange(self._num_events, device=self.logits.device)
        values = values.reshape((-1,) + (1,) * len(self.batch_shape))
        return values.expand((-1,) + self.batch_shape) if expand else values

    def expand(self, batch_shape, _instance=None):
        shape = _shape(batch_shape)
        return Categorical(logits=self.logits.expand(shape + (self._num_events,)),
                           validate_args=self._validate_args)

"""``MixtureSameFamily(mixture_distribution, component_distribution)``: K components of one
family, weighted by a Categorical over the rightmost batch dimension of the components.

    log p(x) = logsumexp_k (log pi_k + log p_k(x))
    mean = sum_k pi_k mu_k
    variance = sum_k pi_k var_k + sum_k pi_k (mu_k - mean)^2     (law of total variance)
    cdf(x) = sum_k pi_k F_k(x)
    sample: k ~ Categorical(pi), then x ~ p_k   (no rsample: the choice of k is discrete)
"""
from __future__ import annotations

import minigen

from .categorical import Categorical
from .distribution import Distribution, _shape

__all__ = ["MixtureSameFamily"]


class MixtureSameFamily(Distribution):
    arg_constraints = {}
    has_rsample = False

    def __init__(self, mixture_distribution, component_distribution, validate_args=None):
        self._mixture_distribution = mixture_distribution
        self._component_distribution = component_distribution
        if not isinstance(mixture_distribution, Categorical):
            raise ValueError(" The Mixture distribution needs to be an instance of "
                             "torch.distributions.Categorical")
        if not isinstance(component_distribution, Distribution):
            raise ValueError("The Component distribution need to be an instance of "
                             "torch.distributions.Distribution")
        mdbs = mixture_distribution.batch_shape
        cdbs = component_distribution.batch_shape[:-1]
        for size1, size2 in zip(reversed(mdbs), reversed(cdbs)):
            if size1 != 1 and size2 != 1 and size1 != size2:
                raise ValueError(f"`mixture_distribution.batch_shape` ({mdbs}) is not compatible "
                                 f"with `component_distribution.batch_shape`({cdbs})")
        km = mixture_distribution.logits.shape[-1]
        kc = component_distribution.batch_shape[-1]
        if km != kc:
            raise ValueError(f"`mixture_distribution component` ({km}) does not equal "
                             f"`component_distribution.batch_shape[-1]` ({kc})")
        self._num_component = km
        self._event_ndims = len(component_distribution.event_shape)
        super().__init__(tuple(cdbs), component_distribution.event_shape, validate_args)

    @property
    def mixture_distribution(self):
        return self._mixture_distribution

    @property
    def component_distribution(self):
        return self._component_distribution

    @property
    def support(self):
        return self._component_distribution.support

    def _pad_mixture(self, probs):
        """Mixture weights [.., K] -> [.., K, 1, ..., 1] (one 1 per event dimension)."""
        return probs.reshape(tuple(probs.shape) + (1,) * self._event_ndims)

    @property
    def mean(self):
        p = self._pad_mixture(self._mixture_distribution.probs)
        return (p * self._component_distribution.mean).sum(-1 - self._event_ndims)

    @property
    def variance(self):
        p = self._pad_mixture(self._mixture_distribution.probs)
        d = -1 - self._event_ndims
        mean_cond_var = (p * self._component_distribution.variance).sum(d)
        var_cond_mean = (p * (self._component_distribution.mean
                              - self._pad(self.mean)).pow(2)).sum(d)
        return mean_cond_var + var_cond_mean

    def _pad(self, x):
        """x [.., event] -> x [.., 1, event]: a component dimension to broadcast against."""
        return x.unsqueeze(-1 - self._event_ndims)

    def cdf(self, x):
        x = self._pad(x)
        cdf_x = self._component_distribution.cdf(x)
        return (cdf_x * self._mixture_distribution.probs).sum(-1)

    def log_prob(self, x):
        if self._validate_args:
            self._check_support(x)
        x = self._pad(x)
        lp = self._component_distribution.log_prob(x)  # [S, B, K]
        log_mix = self._mixture_distribution.logits.log_softmax(-1)
        return (lp + log_mix).logsumexp(-1)

    def sample(self, sample_shape=()):
        shape = _shape(sample_shape)
        with minigen.no_grad():
            k = self._mixture_distribution.sample(shape)  # [S, B]
            xs = self._component_distribution.sample(shape)  # [S, B, K, E]
            idx = k.reshape(tuple(k.shape) + (1,) * (self._event_ndims + 1))
            idx = idx.expand(tuple(k.shape) + (1,) + self.event_shape)
            return xs.gather(len(shape) + len(self.batch_shape), idx).squeeze(
                len(shape) + len(self.batch_shape))

    def expand(self, batch_shape, _instance=None):
        shape = _shape(batch_shape)
        comp = self._component_distribution.expand(shape + (self._num_component,))
        mix = self._mixture_distribution.expand(shape)
        return MixtureSameFamily(mix, comp, validate_args=False)

"""``Distribution``: what every distribution here offers (``torch.distributions.Distribution``).

A distribution has a ``batch_shape`` (independent distributions side by side, one per parameter
entry) and an ``event_shape`` (the shape of one draw). ``sample(sample_shape)`` returns a tensor
of shape ``sample_shape + batch_shape + event_shape``; ``log_prob(value)`` has shape
``sample_shape + batch_shape``.

``rsample`` (where ``has_rsample``) draws with the reparameterisation trick: the draw is a
differentiable function of the parameters and parameter-free noise (x = mu + sigma * eps), so
gradients of E[f(x)] flow to the parameters (the VAE's trick). ``sample`` never carries a
gradient.
"""
from __future__ import annotations

import minigen

__all__ = ["Distribution"]


def _shape(sample_shape):
    if isinstance(sample_shape, int):
        return (sample_shape,)
    return tuple(int(s) for s in sample_shape)


def _as_param(name, dist, value):
    """A parameter as a floating tensor (numbers become default-dtype tensors)."""
    if isinstance(value, minigen.Tensor):
        if value.dtype.kind != "f":
            value = value.to(minigen.get_default_dtype())
        return value
    try:
        return minigen.tensor(value, dtype=minigen.get_default_dtype())
    except (TypeError, ValueError):
        raise TypeError(f"{dist}: {name} must be a number or a floating tensor, got "
                        f"{type(value).__name__}") from None


class Distribution:
    """Base class. Subclasses set ``batch_shape``/``event_shape`` and define what they have of
    ``rsample``, ``sample``, ``log_prob``, ``entropy``, ``mean``, ``variance``."""

    has_rsample = False
    has_enumerate_support = False
    arg_constraints = {}
    _validate_default = True

    @staticmethod
    def set_default_validate_args(value):
        """Check parameters and values by default (True, as PyTorch) or not."""
        Distribution._validate_default = bool(value)

    def __init__(self, batch_shape=(), event_shape=(), validate_args=None):
        self._batch_shape, self._event_shape = tuple(batch_shape), tuple(event_shape)
        self._validate_args = Distribution._validate_default if validate_args is None else validate_args
        if self._validate_args:
            # as PyTorch's base class: every parameter the instance holds is checked against
            # its constraint object in ``arg_constraints`` (a subclass written for PyTorch
            # gets its checks; dependent constraints and parameters not held are skipped)
            from .constraints import Constraint, is_dependent
            for name, c in self.arg_constraints.items():
                if not isinstance(c, Constraint) or is_dependent(c) or name not in self.__dict__:
                    continue
                value = self.__dict__[name]
                if isinstance(value, minigen.Tensor):
                    self._check_param(name, value, c.check, repr(c))

    def _validate_sample(self, value):
        """PyTorch's check of a ``log_prob`` argument: a Tensor whose rightmost dimensions are
        ``event_shape``, broadcastable with ``batch_shape``, inside ``support``."""
        if not isinstance(value, minigen.Tensor):
            raise ValueError("The value argument to log_prob must be a Tensor")
        shape = tuple(value.shape)
        start = len(shape) - len(self._event_shape)
        if shape[start:] != self._event_shape:
            raise ValueError(f"The right-most size of value must match event_shape: {shape} vs "
                             f"{self._event_shape}.")
        actual, expected = shape[:start], self._batch_shape
        for i, j in zip(reversed(actual), reversed(expected)):
            if i != 1 and j != 1 and i != j:
                raise ValueError(f"Value is not broadcastable with batch_shape+event_shape: "
                                 f"{shape} vs {expected + self._event_shape}.")
        try:
            support = self.support
        except NotImplementedError:
            return
        if support is not None and not isinstance(support, str):
            self._check_value(value, support.check, repr(support))

    @property
    def batch_shape(self):
        return self._batch_shape

    @property
    def event_shape(self):
        return self._event_shape

    def _extended_shape(self, sample_shape=()):
        return _shape(sample_shape) + self._batch_shape + self._event_shape

    def rsample(self, sample_shape=()):
        raise NotImplementedError(f"{type(self).__name__} has no rsample (no reparameterised "
                                  "draws); use sample(), which carries no gradient")

    def sample(self, sample_shape=()):
        with minigen.no_grad():
            return self.rsample(sample_shape)

    def sample_n(self, n):
        return self.sample((n,))

    def log_prob(self, value):
        raise NotImplementedError(f"{type(self).__name__} does not define log_prob")

    def entropy(self):
        raise NotImplementedError(f"{type(self).__name__} does not define entropy")

    def perplexity(self):
        return minigen.exp(self.entropy())

    @property
    def mean(self):
        raise NotImplementedError(f"{type(self).__name__} does not define mean")

    @property
    def variance(self):
        raise NotImplementedError(f"{type(self).__name__} does not define variance")

    @property
    def stddev(self):
        return self.variance.sqrt()

    def _check_param(self, name, value, ok, rule):
        if self._validate_args and not bool(ok(value).all().item()):
            raise ValueError(f"Expected parameter {name} (Tensor of shape {tuple(value.shape)}) of "
                             f"distribution {self!r} to satisfy the constraint {rule}, but found "
                             "invalid values")

    def _check_value(self, value, ok, rule):
        if not isinstance(value, minigen.Tensor):
            raise TypeError(f"{type(self).__name__}.log_prob: value must be a Tensor, got "
                            f"{type(value).__name__}")
        if self._validate_args and not bool(ok(value).all().item()):
            raise ValueError(f"{type(self).__name__}.log_prob: expected value argument (Tensor of "
                             f"shape {tuple(value.shape)}) to be within the support ({rule}) of "
                             f"the distribution {self!r}, but found invalid values")

    # -- checks with constraint objects (constraints.py) ----------------------------------
    def _check_params(self, **params):
        """Check each ``name=tensor`` against ``arg_constraints[name]`` (when validating)."""
        if not self._validate_args:
            return
        for name, value in params.items():
            c = self.arg_constraints.get(name)
            if c is None or isinstance(c, str) or value is None:
                continue
            self._check_param(name, value, c.check, repr(c))

    def _check_support(self, value, support=None):
        """log_prob's value checked against ``support`` (a constraint object)."""
        support = self.support if support is None else support
        self._check_value(value, support.check, repr(support))

    @property
    def support(self):
        raise NotImplementedError(f"{type(self).__name__} does not define support")

    @property
    def mode(self):
        raise NotImplementedError(f"{type(self).__name__} does not implement mode")

    def cdf(self, value):
        raise NotImplementedError(f"{type(self).__name__} does not define cdf")

    def icdf(self, value):
        raise NotImplementedError(f"{type(self).__name__} does not define icdf")

    def expand(self, batch_shape, _instance=None):
        raise NotImplementedError(f"{type(self).__name__} does not define expand")

    def enumerate_support(self, expand=True):
        raise NotImplementedError(f"{type(self).__name__} does not define enumerate_support")

    def __repr__(self):
        parts = ", ".join(f"{k}: {tuple(getattr(self, k).shape) if getattr(self, k).ndim else getattr(self, k).item()}"
                          for k in self.arg_constraints if k in self.__dict__)
        return f"{type(self).__name__}({parts})"

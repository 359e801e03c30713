"""``minigen.distributions`` (``torch.distributions``): the distributions generative models use.

``Normal`` (with ``rsample``, the reparameterisation trick), ``Bernoulli``, ``Categorical``,
``Independent`` (batch dimensions read as one event), and ``kl_divergence`` in closed form for
the pairs among them. ``log_prob``, ``entropy``, ``rsample`` and ``kl_divergence`` are
differentiable with respect to the parameters. Parameters and values are checked as PyTorch
checks them (``validate_args``; ``Distribution.set_default_validate_args(False)`` turns it off).
"""
from . import bernoulli, categorical, distribution, independent, kl, normal
from .bernoulli import Bernoulli
from .categorical import Categorical
from .distribution import Distribution
from .independent import Independent
from .kl import kl_divergence, register_kl
from .normal import Normal

__all__ = ["Distribution", "Normal", "Bernoulli", "Categorical", "Independent",
           "kl_divergence", "register_kl"]

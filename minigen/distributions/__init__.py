"""``minigen.distributions`` (``torch.distributions``): the distributions generative models use.

``Normal`` (with ``rsample``, the reparameterisation trick), ``Bernoulli``, ``Categorical``,
``Independent`` (batch dimensions read as one event), ``Uniform``, ``Laplace``, ``Exponential``,
``Gamma``/``Chi2``, ``Beta``, ``Dirichlet`` (their rsample by implicit reparameterisation),
``LogNormal``, ``Poisson``, ``Binomial``, ``OneHotCategorical`` (and its straight-through
variant), ``MultivariateNormal``, the relaxed (Concrete / Gumbel-softmax) ``RelaxedBernoulli``
and ``RelaxedOneHotCategorical``, ``TransformedDistribution`` with the transforms of
``transforms`` (Affine, Exp, Sigmoid, Tanh, Power, Softmax, Compose), ``MixtureSameFamily``,
``Cauchy``/``HalfCauchy``, ``HalfNormal``, ``Gumbel``, ``StudentT``, ``Geometric``,
``NegativeBinomial``, ``Multinomial``, ``LowRankMultivariateNormal``, ``Weibull``, ``Pareto``,
``InverseGamma``, ``Kumaraswamy``, ``FisherSnedecor``, ``LogisticNormal``,
``ContinuousBernoulli``, ``VonMises``, ``GeneralizedPareto``, ``LKJCholesky``, ``Wishart``,
``constraints``, and ``kl_divergence`` in closed form for the pairs PyTorch registers among them.
``log_prob``, ``entropy``, ``rsample`` and ``kl_divergence`` are differentiable with respect to the parameters. Parameters and values are checked as PyTorch
checks them (``validate_args``; ``Distribution.set_default_validate_args(False)`` turns it off).
"""
from . import bernoulli, categorical, constraints, distribution, independent, kl, normal
from . import transforms
from .bernoulli import Bernoulli
from .categorical import Categorical
from .distribution import Distribution
from .independent import Independent
from .kl import kl_divergence, register_kl
from .normal import Normal
from .uniform import Uniform
from .laplace import Laplace
from .exponential import Exponential
from .gamma import Chi2, Gamma
from .dirichlet import Beta, Dirichlet
from .poisson import Binomial, Poisson
from .one_hot_categorical import OneHotCategorical, OneHotCategoricalStraightThrough
from .multivariate_normal import MultivariateNormal
from .transformed_distribution import LogNormal, TransformedDistribution
from .relaxed import (ExpRelaxedCategorical, LogitRelaxedBernoulli, RelaxedBernoulli,
                      RelaxedOneHotCategorical)
from .mixture_same_family import MixtureSameFamily
from .transforms import (AbsTransform, AffineTransform, ComposeTransform, ExpTransform,
                         PowerTransform, SigmoidTransform, SoftmaxTransform, TanhTransform,
                         Transform, SoftplusTransform, StickBreakingTransform,
                         LowerCholeskyTransform, IndependentTransform, ReshapeTransform,
                         CumulativeDistributionTransform, identity_transform)
from .constraint_registry import biject_to, transform_to
from .inverse_gamma import InverseGamma
from .kumaraswamy import Kumaraswamy
from .fishersnedecor import FisherSnedecor
from .logistic_normal import LogisticNormal
from .continuous_bernoulli import ContinuousBernoulli
from .von_mises import VonMises
from .exp_family import ExponentialFamily
from .generalized_pareto import GeneralizedPareto
from .lkj_cholesky import LKJCholesky
from .wishart import Wishart
from .transforms import (CorrCholeskyTransform, PositiveDefiniteTransform, CatTransform,
                         StackTransform)
from .cauchy import Cauchy
from .half_normal import HalfCauchy, HalfNormal
from .gumbel import Gumbel
from .studentT import StudentT
from .geometric import Geometric
from .negative_binomial import NegativeBinomial
from .multinomial import Multinomial
from .lowrank_multivariate_normal import LowRankMultivariateNormal
from .weibull import Weibull
from .pareto import Pareto

__all__ = ["Distribution", "Normal", "Bernoulli", "Categorical", "Independent",
           "kl_divergence", "register_kl", "Uniform", "Laplace", "Exponential", "Gamma", "Chi2",
           "Beta", "Dirichlet", "Poisson", "Binomial", "OneHotCategorical",
           "OneHotCategoricalStraightThrough", "MultivariateNormal", "LogNormal",
           "TransformedDistribution", "ExpRelaxedCategorical", "LogitRelaxedBernoulli",
           "RelaxedBernoulli", "RelaxedOneHotCategorical", "MixtureSameFamily", "constraints",
           "transforms", "AffineTransform", "ComposeTransform", "ExpTransform", "PowerTransform",
           "SigmoidTransform", "SoftmaxTransform", "TanhTransform", "Transform", "AbsTransform",
           "Cauchy", "HalfCauchy", "HalfNormal", "Gumbel", "StudentT", "Geometric",
           "NegativeBinomial", "Multinomial", "LowRankMultivariateNormal", "Weibull", "Pareto",
           "SoftplusTransform", "StickBreakingTransform", "LowerCholeskyTransform",
           "IndependentTransform", "ReshapeTransform", "CumulativeDistributionTransform",
           "identity_transform", "biject_to", "transform_to", "InverseGamma", "Kumaraswamy",
           "FisherSnedecor", "LogisticNormal", "ContinuousBernoulli", "VonMises",
           "ExponentialFamily", "GeneralizedPareto", "LKJCholesky", "CorrCholeskyTransform",
           "Wishart", "PositiveDefiniteTransform", "CatTransform", "StackTransform"]

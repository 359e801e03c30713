"""``minigen.metrics``: the figures that judge a generative model, in one place.

Likelihoods (``likelihood.py``): turn a mean negative log-likelihood in nats into the units
each family reports: bits per character or per dimension, perplexity.
"""
from .likelihood import LN2, bits, bits_per_dim, perplexity, lm_report

__all__ = ["LN2", "bits", "bits_per_dim", "perplexity", "lm_report"]

"""``minigen.metrics``: the figures that judge a generative model, in one place.

Likelihoods (``likelihood.py``): turn a mean negative log-likelihood in nats into the units
each family reports: bits per character or per dimension, perplexity.
Images (``images.py``): scores of generated digits on the features of minigen's own digit
classifier (``classifier.py``, weights shipped): Frechet distance (not FID), class coverage,
precision and recall, memorisation.
Points (``points.py``): nearest-neighbour and Chamfer distances and the share of each mode, for
samples of 2-D toy sets (two moons).
"""
from .likelihood import LN2, bits, bits_per_dim, perplexity, lm_report
from .images import (as_digit_images, class_coverage, classify, features, format_scores,
                     frechet_distance, memorisation, precision_recall, score_images)
from .points import chamfer_distance, mode_share, nearest, nn_distance

__all__ = ["LN2", "bits", "bits_per_dim", "perplexity", "lm_report", "features", "frechet_distance",
           "class_coverage", "precision_recall", "memorisation", "score_images", "as_digit_images",
           "format_scores", "classify", "nearest", "nn_distance", "mode_share", "chamfer_distance"]

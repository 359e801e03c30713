"""``CosineSimilarity`` and ``PairwiseDistance`` as Modules (``F.cosine_similarity``,
``F.pairwise_distance``)."""
from __future__ import annotations

from ..ops import extras as X
from .module import Module

__all__ = ["CosineSimilarity", "PairwiseDistance"]


class CosineSimilarity(Module):
    def __init__(self, dim=1, eps=1e-8):
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1, x2):
        return X.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    def __init__(self, p=2.0, eps=1e-6, keepdim=False):
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1, x2):
        return X.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)

"""``AdaptiveLogSoftmaxWithLoss``: the adaptive softmax of Grave et al. (2016) for large vocabularies.

The classes are split by ``cutoffs`` c_0 < c_1 < ... into a shortlist [0, c_0) and clusters
[c_i, c_{i+1}) (the last ending at n_classes). A ``head`` Linear scores the shortlist classes
and one logit per cluster; cluster i has its own small two-layer ``tail`` (in_features ->
in_features // div_value^(i+1) -> cluster size, no biases). The log-probability of a class is

    shortlist class y:   log softmax(head(x))[y]
    class y of cluster i: log softmax(head(x))[c_0 + i] + log softmax(tail_i(x))[y - c_i]

``forward(input, target)`` returns (output, loss): output[n] is the log-probability of
target[n] and loss = -mean(output). Each tail runs only on the rows whose target falls in its
cluster (gathered with index_select, put back with index_add), as PyTorch does.
"""
from __future__ import annotations

from collections import namedtuple

from ..autograd import _wrap
from ..ops import softmax_family as SF
from .container import ModuleList, Sequential
from .linear import Linear
from .module import Module

__all__ = ["AdaptiveLogSoftmaxWithLoss"]

_ASMoutput = namedtuple("_ASMoutput", ["output", "loss"])


class AdaptiveLogSoftmaxWithLoss(Module):
    """Adaptive softmax (module docstring). Parameters: ``head.weight`` (shortlist + clusters,
    in_features) (and ``head.bias`` with head_bias=True), ``tail.i.0.weight``,
    ``tail.i.1.weight``."""

    def __init__(self, in_features, n_classes, cutoffs, div_value=4.0, head_bias=False,
                 device=None, dtype=None):
        super().__init__()
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0:
            raise ValueError("cutoffs should be a sequence of length larger than 0")
        if (cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > (n_classes - 1)
                or len(set(cutoffs)) != len(cutoffs) or any(int(c) != c for c in cutoffs)):
            raise ValueError("cutoffs should be a sequence of unique, positive integers sorted "
                             "in an increasing order, where each value is between 1 and "
                             "n_classes-1")
        self.in_features = in_features
        self.n_classes = n_classes
        self.cutoffs = cutoffs + [n_classes]
        self.div_value = div_value
        self.head_bias = head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        fk = dict(device=device, dtype=dtype)
        self.head = Linear(in_features, self.head_size, bias=head_bias, **fk)
        self.tail = ModuleList()
        for i in range(self.n_clusters):
            hsz = int(in_features // (div_value ** (i + 1)))
            osz = self.cutoffs[i + 1] - self.cutoffs[i]
            self.tail.append(Sequential(Linear(in_features, hsz, bias=False, **fk),
                                        Linear(hsz, osz, bias=False, **fk)))

    def reset_parameters(self):
        self.head.reset_parameters()
        for i2h, h2o in self.tail:
            i2h.reset_parameters()
            h2o.reset_parameters()

    def forward(self, input_, target_):
        from .. import creation
        from ..ops import index_add
        targ_dim = target_.ndim
        if targ_dim == 1:
            if input_.shape[0] != target_.shape[0]:
                raise RuntimeError("Input and target should have the same size in the batch "
                                   "dimension.")
            if input_.ndim != 2:
                raise RuntimeError(f"1D target tensor expects 2D input tensors, but found inputs "
                                   f"with size {list(input_.shape)}")
        elif targ_dim == 0:
            if input_.ndim != 1:
                raise RuntimeError(f"0D target tensor expects 1D input tensors, but found inputs "
                                   f"with size {list(input_.shape)}")
        else:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        batched = targ_dim > 0
        input = input_ if batched else input_.unsqueeze(0)
        target = target_ if batched else target_.unsqueeze(0)
        xp = input.xp
        t = target.array
        N = t.shape[0]
        output = creation.zeros(N, dtype=input.dtype, device=input.device)
        gather = xp.zeros(N, dtype=xp.int64)
        bounds = [0] + self.cutoffs
        used = 0
        for i in range(len(bounds) - 1):
            lo, hi = bounds[i], bounds[i + 1]
            mask = (t >= lo) & (t < hi)
            rows = xp.nonzero(mask)[0]
            if rows.size == 0:
                continue
            if i == 0:
                gather[rows] = t[rows]
            else:
                rows_t = _wrap(rows.astype(xp.int64))
                # log p(y) += log softmax(tail_{i-1}(x))[y - c_{i-1}] on this cluster's rows
                cluster = SF.log_softmax(self.tail[i - 1](input.index_select(0, rows_t)), 1)
                rel = _wrap((t[rows] - lo).astype(xp.int64))
                local = cluster.gather(1, rel.unsqueeze(1)).squeeze(1)
                output = index_add(output, 0, rows_t, local)
                gather[rows] = self.shortlist_size + i - 1
            used += int(rows.size)
        if used != N:
            raise RuntimeError(f"Target values should be in [0, {self.n_classes - 1}], but values "
                               f"in range [{int(t.min())}, {int(t.max())}] were found. ")
        head_logprob = SF.log_softmax(self.head(input), 1)
        g = _wrap(gather).unsqueeze(1)
        output = output + head_logprob.gather(1, g).squeeze(1)
        loss = (-output).mean()
        if not batched:
            output = output.squeeze(0)
        return _ASMoutput(output, loss)

    def _get_full_log_prob(self, input, head_output):
        """(N, n_classes) log-probabilities of every class."""
        from ..ops import cat
        head_logprob = SF.log_softmax(head_output, 1)
        parts = [head_logprob[:, :self.shortlist_size]]
        for i in range(self.n_clusters):
            cluster = SF.log_softmax(self.tail[i](input), 1)
            parts.append(cluster + head_logprob[:, self.shortlist_size + i].unsqueeze(1))
        return cat(parts, 1)

    def log_prob(self, input):
        """log p(class | x) for every class: (N, n_classes), or (n_classes,) for a 1-D input."""
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)
        out = self._get_full_log_prob(x, self.head(x))
        return out if batched else out.squeeze(0)

    def predict(self, input):
        """The most likely class of each row (the argmax of ``log_prob``)."""
        return self.log_prob(input).argmax(dim=-1)

"""A mixture-of-experts feed-forward layer: top-k routing with a load-balancing loss (Shazeer et
al. 2017, "Outrageously Large Neural Networks: The Sparsely-Gated Mixture-of-Experts Layer";
Lepikhin et al. 2020, GShard; Fedus et al. 2021, Switch Transformers).

A Transformer block's MLP applies the same weights to every token. A mixture of experts keeps
N MLPs (the experts) and a router that sends each token to k of them, so the layer holds N
experts' parameters but each token pays for only k: more parameters at the same compute.

For a token x (a row of d_model numbers):

    logits = x W_r                              the router, W_r [d_model, N] (no bias)
    p      = softmax(logits)                    p_i: the router's probability of expert i
    S      = top-k(p)                           the k experts with the largest p_i
    g_i    = p_i / sum_{j in S} p_j, i in S     gates, renormalised over the chosen k (GShard's
                                                top-2); with k = 1 they are not (g_i = p_i,
                                                Switch), since a renormalised single gate is
                                                always 1 and the router would get no gradient
                                                from the language-model loss
    y      = sum_{i in S} g_i E_i(x)            E_i(x) = W_2^i GELU(W_1^i x + b_1^i) + b_2^i

Why renormalise (k >= 2): the output is then a convex combination of the chosen experts'
outputs, at the same scale as one dense MLP's whatever the router's confidence, while the
ratio g_1 : g_2 still carries the router's gradient (``renormalize=False`` keeps the raw p_i).

The choice of S is piecewise constant in x: it has no gradient, and the router learns only
through the gates g. Left alone, a router tends to collapse onto a few experts (they get
trained more, so they are chosen more). The load-balancing loss (Switch, eq. 4) counters it:

    f_i = (number of (token, slot) assignments to expert i) / (k * number of tokens)
    P_i = mean over tokens of p_i
    aux = N * sum_i f_i P_i

f_i is a count (no gradient); P_i carries the gradient, pushing probability away from the
experts that receive more than their share. sum_i f_i = sum_i P_i = 1, and aux = 1 when either
is uniform (f_i = 1/N or P_i = 1/N): its minimum under balanced routing. The model adds
``coefficient * aux`` to its loss (Switch: 0.01). For k > 1 this file counts the k slots
separately in f (so sum f = 1; Switch defines f for k = 1).

Every token gets its k experts: there is no capacity limit and no dropped token (the
capacity factor of GShard/Switch exists for fixed-shape accelerator batches; here the
experts run on index-selected rows of any length). The forward pass groups the tokens by
expert: for each expert, the rows routed to it are gathered (``index_select``), run through
it, scaled by their gates and added back in place (``index_add``), so the compute is k MLPs
per token, not N.

After each forward, ``aux_loss`` holds that batch's aux (a Tensor) and ``counts`` (a NumPy
array [N]) how many (token, slot) assignments each expert received: the utilisation.
"""
from __future__ import annotations

import numpy

import minigen

from . import functional as F
from .container import ModuleList
from .linear import Linear
from .module import Module

__all__ = ["MoE", "Expert", "load_balancing_loss"]


class Expert(Module):
    """One expert: E(x) = W_2 GELU(W_1 x + b_1) + b_2 (the Transformer's MLP, narrower or not)."""

    def __init__(self, d_model, d_hidden, bias=True, gelu="tanh"):
        super().__init__()
        self.c_fc = Linear(d_model, d_hidden, bias=bias)
        self.c_proj = Linear(d_hidden, d_model, bias=bias)
        self.gelu = gelu

    def forward(self, x):
        # W_2 GELU(W_1 x + b_1) + b_2
        return self.c_proj(F.gelu(self.c_fc(x), approximate=self.gelu))


def load_balancing_loss(p, counts, top_k):
    """aux = N * sum_i f_i P_i for router probabilities ``p`` [n_tokens, N] and ``counts`` [N]
    (assignments per expert, a NumPy array or list: no gradient)."""
    n_tokens, N = p.shape
    # f_i = count_i / (k * n_tokens)
    f = minigen.tensor(numpy.asarray(counts, dtype="float64") / (top_k * n_tokens), dtype=p.dtype, device=p.device)
    # P_i = mean_n p_{n,i}
    P = p.mean(dim=0)
    # aux = N * sum_i f_i P_i
    return N * (f * P).sum()


class MoE(Module):
    """Top-k mixture of ``n_experts`` MLPs (``d_model -> d_hidden -> d_model``) for inputs
    ``[..., d_model]``; see the module docstring. ``renormalize``: gates renormalised over the
    chosen k (default: for k >= 2; a single gate is left as its probability)."""

    def __init__(self, d_model, d_hidden, n_experts, top_k=2, renormalize=None, bias=True, gelu="tanh"):
        super().__init__()
        for name, v in (("d_model", d_model), ("d_hidden", d_hidden), ("n_experts", n_experts), ("top_k", top_k)):
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"MoE: {name} must be a positive integer, got {v!r}")
        if n_experts < top_k:
            raise ValueError(f"MoE: n_experts ({n_experts}) is smaller than top_k ({top_k}); each token is "
                             f"sent to top_k distinct experts, so 1 <= top_k <= n_experts is allowed")
        self.d_model, self.d_hidden, self.n_experts, self.top_k = d_model, d_hidden, n_experts, top_k
        self.renormalize = top_k > 1 if renormalize is None else bool(renormalize)
        # the router W_r: logits = x W_r
        self.router = Linear(d_model, n_experts, bias=False)
        self.experts = ModuleList(Expert(d_model, d_hidden, bias, gelu) for _ in range(n_experts))
        self.aux_loss = None
        self.counts = numpy.zeros(n_experts, dtype=numpy.int64)

    def forward(self, x):
        if x.ndim < 1 or x.shape[-1] != self.d_model:
            raise ValueError(f"MoE: input {list(x.shape)} must end in d_model = {self.d_model}")
        shape = x.shape
        xf = x.reshape(-1, self.d_model)
        n, k = xf.shape[0], self.top_k
        # p = softmax(x W_r)
        p = F.softmax(self.router(xf), dim=-1)
        # S = top-k(p): the gates' raw values and the experts' indices, each [n, k]
        g, idx = minigen.topk(p, k, dim=-1)
        if self.renormalize:
            # g_i = p_i / sum_{j in S} p_j
            g = g / g.sum(dim=-1, keepdim=True)
        # the n*k (token, slot) assignments, flat: token t, expert e, gate g
        e_flat = idx.reshape(-1)
        t_flat = minigen.arange(n, device=x.device).reshape(n, 1).repeat(1, k).reshape(-1)
        g_flat = g.reshape(-1, 1)
        y = minigen.zeros(n, self.d_model, dtype=x.dtype, device=x.device)
        counts = numpy.zeros(self.n_experts, dtype=numpy.int64)
        for i, expert in enumerate(self.experts):
            (slots,) = minigen.nonzero(e_flat == i, as_tuple=True)
            counts[i] = slots.shape[0]
            if counts[i] == 0:
                continue
            tokens = t_flat.index_select(0, slots)
            # y_t += g_i E_i(x_t) for the tokens t routed to expert i
            y = y.index_add(0, tokens, g_flat.index_select(0, slots) * expert(xf.index_select(0, tokens)))
        self.counts = counts
        # aux = N * sum_i f_i P_i
        self.aux_loss = load_balancing_loss(p, counts, k)
        return y.reshape(shape)

    def extra_repr(self):
        return (f"d_model={self.d_model}, d_hidden={self.d_hidden}, n_experts={self.n_experts}, "
                f"top_k={self.top_k}, renormalize={self.renormalize}")

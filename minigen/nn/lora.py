"""LoRA: low-rank adaptation of a frozen model (Hu et al. 2021, "LoRA: Low-Rank Adaptation of
Large Language Models").

Fine-tuning changes every weight of a pretrained model. LoRA bets that the change a new task
needs has low rank: it freezes each chosen weight W [out, in] and learns the update as a
product of two thin matrices,

    W' = W + (alpha / r) B A,        A [r, in],  B [out, r],  r << min(in, out)

so a linear layer becomes

    y = x W^T + b + (alpha / r) (x A^T) B^T

and only A and B are trained: r (in + out) numbers per layer instead of in * out.

Initialisation (the paper, Sec. 4.1: "a random Gaussian initialization for A and zero for B"):
B = 0, so W' = W at the start and the adapted model computes exactly what the pretrained one
did; A is Gaussian with the fan-in (LeCun/Kaiming, gain 1) scale, A_ij ~ N(0, 1/in), so that
x A^T has about the scale of x. (The paper does not give A's variance; Microsoft's loralib uses
PyTorch's Linear default, a Kaiming *uniform* with the same 1/in order of variance; this file
uses the Gaussian the paper names.) Gradients: dL/dB = s g^T (x A^T) and dL/dA = s (g B)^T x
with s = alpha / r and g = dL/dy; at the start B = 0, so A gets no gradient on the first step
and B does: B moves first, then A.

alpha / r: the update's scale. Keeping alpha fixed while changing r keeps the update's size
about the same, so a learning rate tuned for one rank carries over (the paper: "we simply set
alpha to the first r we try and do not tune it").

Merging: after training, W <- W + (alpha / r) B A gives an ordinary Linear layer with the same
outputs (to float32 rounding) and no extra cost at inference (``merge_lora``).

What the file shows: ``LoRALinear`` (which keeps the frozen ``weight`` and ``bias`` under their
old names, so a pretrained state dict still fits them), ``add_lora`` (wrap the chosen Linear
layers, freeze everything else), ``merge_lora`` and ``trainable_parameters``.
"""
from __future__ import annotations

import math

import minigen

from . import functional as F
from .linear import Dropout, Linear
from .module import Module
from .parameter import Parameter

__all__ = ["LoRALinear", "add_lora", "merge_lora", "trainable_parameters"]


class LoRALinear(Module):
    """``y = x W^T + b + (alpha / r) x A^T B^T`` with W, b frozen (those of ``base``, a Linear)
    and A [r, in] ~ N(0, 1/in), B [out, r] = 0 trained."""

    def __init__(self, base, r=4, alpha=None, dropout=0.0):
        super().__init__()
        if not isinstance(base, Linear):
            raise TypeError(f"LoRALinear: base must be an nn.Linear, got {type(base).__name__}")
        n_in, n_out = base.in_features, base.out_features
        if not isinstance(r, int) or not 1 <= r <= min(n_in, n_out):
            raise ValueError(f"LoRALinear: r must be an integer in 1..min(in, out) = 1..{min(n_in, n_out)} "
                             f"for a Linear of weight [{n_out}, {n_in}], got {r!r}")
        alpha = float(r if alpha is None else alpha)
        if not alpha > 0:
            raise ValueError(f"LoRALinear: alpha must be positive, got {alpha!r}")
        self.in_features, self.out_features, self.r, self.alpha = n_in, n_out, r, alpha
        # s = alpha / r
        self.scaling = alpha / r
        # the frozen W and b, under the names a plain Linear gives them
        self.weight = base.weight
        self.bias = base.bias
        self.weight.requires_grad_(False)
        if self.bias is not None:
            self.bias.requires_grad_(False)
        w = base.weight
        # A ~ N(0, 1/in): [r, in]
        self.lora_A = Parameter(minigen.randn(r, n_in, dtype=w.dtype, device=w.device) * (1.0 / math.sqrt(n_in)))
        # B = 0: [out, r], so that W' = W at the start
        self.lora_B = Parameter(minigen.zeros(n_out, r, dtype=w.dtype, device=w.device))
        self.dropout = Dropout(dropout) if dropout else None

    def forward(self, x):
        # x W^T + b
        y = F.linear(x, self.weight, self.bias)
        h = x if self.dropout is None else self.dropout(x)
        # + (alpha / r) (x A^T) B^T
        return y + self.scaling * F.linear(F.linear(h, self.lora_A), self.lora_B)

    @minigen.no_grad()
    def merged(self):
        """A plain ``Linear`` with W <- W + (alpha / r) B A (the same outputs, no adapter)."""
        w = self.weight
        lin = Linear(self.in_features, self.out_features, bias=self.bias is not None, device=w.device, dtype=w.dtype)
        # W' = W + (alpha / r) B A
        lin.weight = Parameter(w.detach() + self.scaling * (self.lora_B.detach() @ self.lora_A.detach()),
                               requires_grad=w.requires_grad)
        if self.bias is not None:
            lin.bias = self.bias
        return lin

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, r={self.r}, alpha={self.alpha:g}"


def _linears(model):
    """(parent, child name, qualified name, Linear) for every plain Linear inside ``model``."""
    out = []
    for pname, parent in model.named_modules():
        for cname, child in parent._modules.items():
            if type(child) is Linear:
                out.append((parent, cname, f"{pname}.{cname}" if pname else cname, child))
    return out


def add_lora(model, r=4, alpha=None, targets=None, dropout=0.0):
    """Wrap the Linear layers of ``model`` named by ``targets`` in ``LoRALinear`` (in place) and
    freeze every other parameter (``requires_grad=False``). Returns ``model``.

    ``targets``: None (every Linear) or a list of name suffixes: a Linear whose qualified name
    (``blocks.0.attn.c_attn``) ends with one of them is adapted (``['attn.c_attn']``: the GPT's
    query/key/value projection). ``alpha`` defaults to ``r`` (scale 1).
    """
    if not isinstance(model, Module):
        raise TypeError(f"add_lora: model must be an nn.Module, got {type(model).__name__}")
    if isinstance(targets, str):
        targets = [targets]
    found = _linears(model)
    if not found:
        raise ValueError(f"add_lora: {type(model).__name__} has no nn.Linear layers to adapt; LoRA "
                         "wraps Linear layers (y = x W^T + b), and this model has none (or they are already wrapped)")
    chosen = [f for f in found if targets is None or any(f[2] == t or f[2].endswith("." + t) for t in targets)]
    if not chosen:
        raise ValueError(f"add_lora: targets {list(targets)} match none of the Linear layers of "
                         f"{type(model).__name__}: {[f[2] for f in found]}")
    for _, _, qname, lin in chosen:
        # checked for every layer before any is changed
        if not isinstance(r, int) or not 1 <= r <= min(lin.in_features, lin.out_features):
            raise ValueError(f"add_lora: r must be an integer in 1..min(in, out) = 1..{min(lin.in_features, lin.out_features)} "
                             f"for {qname} of weight [{lin.out_features}, {lin.in_features}], got {r!r}")
    for p in model.parameters():
        p.requires_grad_(False)
    for parent, cname, _, lin in chosen:
        parent._modules[cname] = LoRALinear(lin, r=r, alpha=alpha, dropout=dropout)
    return model


def merge_lora(model):
    """Replace every ``LoRALinear`` in ``model`` by the plain Linear of W + (alpha / r) B A (in
    place); the outputs stay the same to float32 rounding. Returns ``model``. The other
    parameters' ``requires_grad`` flags are left as they are (frozen after ``add_lora``)."""
    n = 0
    for _, parent in list(model.named_modules()):
        for cname, child in list(parent._modules.items()):
            if isinstance(child, LoRALinear):
                parent._modules[cname] = child.merged()
                n += 1
    if n == 0:
        raise ValueError(f"merge_lora: {type(model).__name__} has no LoRALinear layers to merge (call add_lora first)")
    return model


def trainable_parameters(model):
    """``(trainable, total)``: the number of parameters with ``requires_grad`` and of all (a
    parameter shared by two layers, as a tied embedding, is counted once)."""
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)

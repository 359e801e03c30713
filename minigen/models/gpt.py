"""GPT: a decoder-only Transformer language model (Radford et al. 2018, "Improving Language
Understanding by Generative Pre-Training"; 2019, "Language Models are Unsupervised Multitask
Learners", GPT-2; the Transformer itself: Vaswani et al. 2017).

The model reads tokens x_1..x_T and gives, at every position t, the distribution of x_{t+1}:

    h^0_t = W_e[x_t] + W_p[t]                          token embedding + learned position
    for each of L blocks (pre-LayerNorm, as GPT-2):
        h <- h + Attn(LN_1(h))                         causal multi-head self-attention
        h <- h + W_2 GELU(W_1 LN_2(h) + b_1) + b_2      a 4x-wide MLP per position
    logits_t = LN_f(h_t) W_head^T                      (W_head = W_e with weight tying)

Causal self-attention, with H heads of size d_h = d / H: each position t asks a query
q_t = a_t W_q, offers a key k_t = a_t W_k and a value v_t = a_t W_v, and mixes the values of
the positions it may see, j <= t:

    Attn(a)_t = sum_{j<=t} softmax_j(q_t . k_j / sqrt(d_h)) v_j          (per head, then W_o)

The mask j <= t is what makes one forward pass train every position at once: position t never
sees x_{t+1}, the token it predicts. Training minimises the mean cross-entropy of the next
token (``lm.py``).

The KV cache. At generation time the keys and values of positions already read do not change
(each depends only on the tokens up to it), so a model continuing a sequence keeps them:
``forward(idx, cache)`` computes q, k, v only for the new tokens and lets their queries attend
over [cached keys; new keys]. One token then costs O(T) instead of re-running the whole
prefix, O(T^2). ``cache`` is a list with one ``(k, v)`` pair per block, each ``[B, H, T, d_h]``.

Two variants (off by default; the default model, its ``config()`` and its checkpoints are
unchanged):

* ``pos="rope"``: no W_p; each head's queries and keys are rotated by their position
  (``minigen/nn/rope.py``), so attention scores depend only on the offset between positions.
  The cache holds the keys already rotated; new tokens are rotated at positions P..P+T-1.
* ``moe=dict(n_experts=4, top_k=2)``: each block's MLP becomes a top-k mixture of experts
  (``minigen/nn/moe.py``), each expert 4d / top_k wide by default, so a token uses as many
  MLP weights as in the dense model; the loss adds ``aux_coef`` (default 0.01, Switch's)
  times the sum over blocks of the load-balancing loss:

    L = CE + aux_coef * sum_l aux_l,     aux_l = N sum_i f_i P_i   (block l's routing)

What the file shows: ``CausalSelfAttention`` (with the cache), ``Block``, ``GPT`` and its
initialisation (GPT-2's: N(0, 0.02) for weights, the residual projections scaled by
1/sqrt(2L); or the layers' PyTorch defaults); ``build_gpt`` sizes it for the names and
Shakespeare, with the variants ``default``, ``rope`` and ``moe``. LoRA fine-tuning of a GPT
is ``minigen.nn.lora.add_lora(gpt, r, alpha, targets=['attn.c_attn'])`` (a Python API; see
``benchmarks/quality/lora_vs_torch.py``).
"""
from __future__ import annotations

import math

import minigen
from minigen import nn
from minigen.nn import functional as F
from minigen.nn.moe import MoE
from minigen.nn.rope import RotaryEmbedding

from .lm import LM_HOOKS, LanguageModel
from .registry import Recipe, register
from .datasets import DATASETS

__all__ = ["GPT", "Block", "CausalSelfAttention", "build_gpt"]


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention in which position t sees positions j <= t (and a KV cache)."""

    def __init__(self, n_embd, n_head, dropout=0.0, bias=True, rope=False, rope_base=10000.0):
        super().__init__()
        if n_embd % n_head:
            raise ValueError(f"CausalSelfAttention: n_embd {n_embd} is not divisible by n_head {n_head}")
        self.n_head, self.d_head = n_head, n_embd // n_head
        if rope and self.d_head % 2:
            raise ValueError(f"CausalSelfAttention: rope rotates pairs of coordinates, so the head size "
                             f"n_embd / n_head = {n_embd} / {n_head} = {self.d_head} must be even")
        # RoPE: queries and keys rotated by their positions (None: learned positions, in GPT)
        self.rope = RotaryEmbedding(self.d_head, rope_base) if rope else None
        # [q; k; v] = a [W_q; W_k; W_v]^T, one product for the three
        self.c_attn = nn.Linear(n_embd, 3 * n_embd, bias=bias)
        # the heads' outputs concatenated, then W_o
        self.c_proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.dropout = dropout
        self.resid_dropout = nn.Dropout(dropout)

    def forward(self, a, past=None):
        """``a`` [B, T, d]; ``past``: cached (k, v), each [B, H, P, d_h], or None.
        Returns the attention output [B, T, d] and the new (k, v) of all P + T positions."""
        B, T, d = a.shape
        q, k, v = self.c_attn(a).split(d, dim=2)
        # [B, T, d] -> [B, H, T, d_h]
        q, k, v = (t.reshape(B, T, self.n_head, self.d_head).transpose(1, 2) for t in (q, k, v))
        P = 0 if past is None else past[0].shape[2]
        if self.rope is not None:
            # q_t, k_t rotated by the angles (P + t) theta_i: the new tokens' positions
            q, k = self.rope(q, k, offset=P)
        if past is not None:
            # keys and values of the P positions read before: [k_1..k_P; k_new]
            k = minigen.cat([past[0], k], dim=2)
            v = minigen.cat([past[1], v], dim=2)
        mask, causal = None, P == 0
        if P > 0 and T > 1:
            # new position i (absolute P + i) sees keys j <= P + i
            j = minigen.arange(P + T, device=a.device)
            i = minigen.arange(T, device=a.device).reshape(T, 1)
            mask = j <= i + P
        # y_t = sum_{j<=t} softmax_j(q_t . k_j / sqrt(d_h)) v_j
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal and T > 1,
                                           dropout_p=self.dropout if self.training else 0.0)
        # heads side by side again, then the output projection W_o
        y = y.transpose(1, 2).reshape(B, T, d)
        return self.resid_dropout(self.c_proj(y)), (k, v)


class Block(nn.Module):
    """h <- h + Attn(LN_1(h));  h <- h + MLP(LN_2(h))   (pre-LayerNorm, GPT-2)."""

    def __init__(self, n_embd, n_head, dropout=0.0, bias=True, gelu="tanh", rope=False, moe=None,
                 rope_base=10000.0):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head, dropout, bias, rope, rope_base)
        self.ln_2 = nn.LayerNorm(n_embd)
        if moe is None:
            self.c_fc = nn.Linear(n_embd, 4 * n_embd, bias=bias)
            self.c_proj = nn.Linear(4 * n_embd, n_embd, bias=bias)
        else:
            # the MLP replaced by a top-k mixture of expert MLPs
            self.moe = MoE(n_embd, moe["d_hidden"], moe["n_experts"], moe["top_k"], moe.get("renormalize"),
                           bias, gelu)
        self.gelu = gelu
        self.mlp_dropout = nn.Dropout(dropout)

    def forward(self, h, past=None):
        # h <- h + Attn(LN_1(h))
        a, kv = self.attn(self.ln_1(h), past)
        h = h + a
        if "moe" in self._modules:
            # h <- h + sum_{i in top-k} g_i E_i(LN_2(h))
            return h + self.mlp_dropout(self.moe(self.ln_2(h))), kv
        # h <- h + W_2 GELU(W_1 LN_2(h) + b_1) + b_2
        h = h + self.mlp_dropout(self.c_proj(F.gelu(self.c_fc(self.ln_2(h)), approximate=self.gelu)))
        return h, kv


class GPT(LanguageModel):
    """A GPT of ``n_layer`` blocks of width ``n_embd`` with ``n_head`` heads over a context of
    ``block_size`` tokens.

    Args:
        vocab_size, block_size, n_layer, n_head, n_embd: the sizes.
        dropout: on the attention probabilities and the residual branches (0: none).
        bias: biases in the attention and MLP linear layers (the head's is ``head_bias``).
        head_bias: a bias in the output head (GPT-2 has none).
        tie_weights: share W_head with the token embedding W_e (Press & Wolf 2017).
        gelu: ``'tanh'`` (GPT-2's approximation) or ``'none'`` (the exact erf form).
        init: ``'gpt2'`` (``reset_parameters``: N(0, 0.02), residual projections scaled) or
            ``'torch'`` (each layer's PyTorch default: Linear U(+-1/sqrt(fan_in)), Embedding
            N(0, 1)). The names protocol uses ``'torch'``: its bar was set that way, and
            over 2,000 steps at lr 5e-4 the larger start learns faster (1.93 against 1.98
            nats with GPT-2's init, both measured in PyTorch at seed 0).
        pos: ``'learned'`` (W_p, GPT-2) or ``'rope'`` (rotary embedding of queries and keys;
            no W_p; the head size must be even).
        moe: None (dense MLPs) or a dict ``n_experts``, ``top_k`` and optionally ``d_hidden``
            (default ``4 * n_embd // top_k``: the dense MLP's active width), ``aux_coef``
            (default 0.01), ``renormalize`` (default: for top_k >= 2); see ``nn/moe.py``.
        rope_base: RoPE's base (10000).
    """

    cache_grows = True

    def __init__(self, vocab_size, block_size, n_layer=4, n_head=4, n_embd=64, dropout=0.0,
                 bias=True, head_bias=False, tie_weights=False, gelu="tanh", init="gpt2", pos="learned",
                 moe=None, rope_base=10000.0):
        super().__init__()
        for name, v in (("vocab_size", vocab_size), ("block_size", block_size), ("n_layer", n_layer),
                        ("n_head", n_head), ("n_embd", n_embd)):
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"GPT: {name} must be a positive integer, got {v!r}")
        if gelu not in ("tanh", "none"):
            raise ValueError(f"GPT: gelu must be 'tanh' or 'none', got {gelu!r}")
        if init not in ("gpt2", "torch"):
            raise ValueError(f"GPT: init must be 'gpt2' or 'torch', got {init!r}")
        if pos not in ("learned", "rope"):
            raise ValueError(f"GPT: pos must be 'learned' or 'rope', got {pos!r}")
        if moe is not None:
            moe = _moe_options(moe, n_embd)
        self.vocab_size, self.block_size = vocab_size, block_size
        self.n_layer, self.n_head, self.n_embd = n_layer, n_head, n_embd
        self.dropout, self.bias, self.head_bias = dropout, bias, head_bias
        self.tie_weights, self.gelu, self.init = tie_weights, gelu, init
        self.pos, self.moe, self.rope_base = pos, moe, float(rope_base)
        # W_e (token) and W_p (position) embeddings (RoPE: no W_p; positions act in attention)
        self.wte = nn.Embedding(vocab_size, n_embd)
        if pos == "learned":
            self.wpe = nn.Embedding(block_size, n_embd)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(n_embd, n_head, dropout, bias, gelu, pos == "rope", moe, rope_base)
                                    for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(n_embd)
        self.head = nn.Linear(n_embd, vocab_size, bias=head_bias)
        if init == "gpt2":
            self.reset_parameters()
        if tie_weights:
            # W_head = W_e: one matrix both reads and writes tokens
            self.head.weight = self.wte.weight

    def reset_parameters(self):
        """GPT-2's initialisation: every weight N(0, 0.02), biases 0, and the two projections
        that add into the residual stream N(0, 0.02 / sqrt(2 L)), so that the sum of 2L
        branches keeps the stream's scale."""
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif p.ndim == 2:
                std = 0.02 / math.sqrt(2 * self.n_layer) if name.endswith("c_proj.weight") else 0.02
                nn.init.normal_(p, 0.0, std)

    def config(self):
        return {"class": "GPT", "vocab_size": self.vocab_size, "block_size": self.block_size,
                "n_layer": self.n_layer, "n_head": self.n_head, "n_embd": self.n_embd,
                "dropout": self.dropout, "bias": self.bias, "head_bias": self.head_bias,
                "tie_weights": self.tie_weights, "gelu": self.gelu, "init": self.init,
                # the variants' keys only when set, so a default GPT's config (and the
                # checkpoints saved with it) stay as they were
                **({"pos": self.pos, "rope_base": self.rope_base} if self.pos != "learned" else {}),
                **({"moe": dict(self.moe)} if self.moe is not None else {})}

    def forward(self, idx, cache=None):
        """Logits ``[B, T, V]`` for the tokens ``idx`` [B, T] after the ``cache`` (or None),
        and the new cache (each block's keys and values)."""
        B, T = idx.shape
        P = 0 if cache is None else cache[0][0].shape[2]
        if P + T > self.block_size:
            raise ValueError(f"GPT: {P} cached + {T} new tokens exceed block_size {self.block_size} "
                             "(the positions it was built for stop there; crop the context, as generate does)")
        if self.pos == "learned":
            pos = minigen.arange(P, P + T, device=idx.device)
            # h^0_t = W_e[x_t] + W_p[t]
            h = self.drop(self.wte(idx) + self.wpe(pos))
        else:
            # h^0_t = W_e[x_t]   (RoPE: positions enter through the rotated queries and keys)
            h = self.drop(self.wte(idx))
        new_cache = []
        for l, block in enumerate(self.blocks):
            h, kv = block(h, None if cache is None else cache[l])
            new_cache.append(kv)
        # logits_t = LN_f(h_t) W_head^T
        return self.head(self.ln_f(h)), new_cache

    def loss(self, x, y):
        """The mean next-token cross-entropy, plus (MoE) aux_coef * sum_l aux_l."""
        ce = super().loss(x, y)
        if self.moe is None:
            return ce
        # L = CE + aux_coef * sum_l aux_l
        return ce + self.moe["aux_coef"] * self.aux_loss()

    def aux_loss(self):
        """The sum over blocks of the MoE load-balancing losses of the last forward pass."""
        if self.moe is None:
            raise RuntimeError("GPT.aux_loss: this GPT has no mixture of experts (moe=None)")
        aux = [b.moe.aux_loss for b in self.blocks]
        if any(a is None for a in aux):
            raise RuntimeError("GPT.aux_loss: run a forward pass first")
        return sum(aux[1:], aux[0])

    def expert_counts(self):
        """The last forward pass's routing: a NumPy array [n_layer, n_experts] of assignments."""
        import numpy
        return numpy.stack([b.moe.counts for b in self.blocks])

    def reorder_cache(self, cache, index):
        return [(k.index_select(0, index), v.index_select(0, index)) for k, v in cache]


def _moe_options(moe, n_embd):
    """The MoE options with their defaults filled in (and checked)."""
    if not isinstance(moe, dict):
        raise TypeError(f"GPT: moe must be None or a dict (n_experts=, top_k=, ...), got {type(moe).__name__}")
    allowed = {"n_experts", "top_k", "d_hidden", "aux_coef", "renormalize"}
    if set(moe) - allowed or not {"n_experts", "top_k"} <= set(moe):
        raise ValueError(f"GPT: moe needs n_experts and top_k and allows {sorted(allowed)}, got {sorted(moe)}")
    top_k = moe["top_k"]
    if not isinstance(top_k, int) or top_k < 1:
        raise ValueError(f"GPT: moe top_k must be a positive integer, got {top_k!r}")
    out = {"n_experts": moe["n_experts"], "top_k": top_k,
           "d_hidden": moe.get("d_hidden", max(1, 4 * n_embd // top_k)),
           "aux_coef": float(moe.get("aux_coef", 0.01))}
    if moe.get("renormalize") is not None:
        out["renormalize"] = bool(moe["renormalize"])
    return out


# ----------------------------------------------------------------------------- registry
# sizes by data set; names is the quality protocol's (4 layers, d 64, 4 heads, block 16)
SIZES = {
    "names": dict(n_layer=4, n_head=4, n_embd=64, block_size=16, init="torch"),
    "shakespeare": dict(n_layer=4, n_head=4, n_embd=128, block_size=64),
}
QUICK = dict(n_layer=1, n_head=2, n_embd=16)


# the variants: keywords of GPT (``options`` given to the builder override them)
VARIANTS = {
    "default": {},
    "rope": dict(pos="rope"),
    "moe": dict(moe=dict(n_experts=4, top_k=2)),
}


def build_gpt(data="names", variant="default", **options):
    """A fresh GPT sized for the text data set ``data`` (``options`` override the sizes), of
    the ``variant`` ``'default'`` (learned positions, dense MLPs), ``'rope'`` or ``'moe'``."""
    spec = DATASETS[data]
    if spec.kind != "text":
        raise ValueError(f"gpt: GPT models text; {data!r} is a {spec.kind} data set")
    if variant not in VARIANTS:
        raise ValueError(f"gpt: unknown variant {variant!r}; choose from {list(VARIANTS)}")
    sizes = dict(SIZES.get(data, SIZES["shakespeare"]), **VARIANTS[variant], **options)
    return GPT(spec.vocab_size, **sizes)


register("gpt", build_gpt, Recipe(
    data="shakespeare", steps=2500, batch_size=32, lr=1e-3, optimizer="adamw", betas=(0.9, 0.99),
    weight_decay=0.01, eval_every=500, data_options={"block_size": 64},
    per_data={"names": dict(steps=2000, lr=5e-4, data_options={"block_size": 16}, eval_every=None)},
    quick=dict(steps=20, eval_every=None, model_options=QUICK), variants=tuple(VARIANTS),
    description="GPT: pre-LN decoder-only Transformer, learned positions (or RoPE), dense MLPs (or a "
                "top-2 mixture of 4 experts), KV cache", **LM_HOOKS))

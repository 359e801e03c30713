"""A neural language model over a fixed context (Bengio, Ducharme, Vincent & Jauvin 2003,
"A Neural Probabilistic Language Model").

The n-gram's trouble is that it counts each context separately: having seen "emma" teaches
it nothing about "emmy". Bengio et al. give every character a learned vector, so that similar
characters get similar vectors and what is learned about one context carries over to its
neighbours. With a context of the n previous characters:

    e = [C[x_{t-n+1}]; ...; C[x_t]]                 the n embeddings, concatenated  (n * d)
    h = tanh(W_h e + b_h)                            one hidden layer
    logits = W_y h + b_y                             p(x_{t+1} | context) = softmax(logits)

(The paper also adds direct connections W_d e to the logits; ``direct=True`` keeps them.)
Before the start of a name the context is padded with the boundary token 0, so the first
character of "emma" is predicted from "...". The context is fixed: ``block_size = n``, and
what lies further back is invisible to the model, whatever its size.

Training minimises the mean cross-entropy of the next character (``lm.py``), the same
objective as every other rung of the ladder.
"""
from __future__ import annotations

import minigen
from minigen import nn

from .datasets import DATASETS
from .lm import LM_HOOKS, LanguageModel
from .registry import Recipe, register

__all__ = ["MLPLanguageModel", "build_mlp_lm"]


class MLPLanguageModel(LanguageModel):
    """Bengio et al.'s model: ``context`` embeddings of width ``n_embd``, a tanh layer of
    ``hidden`` units, a softmax over the vocabulary. ``pad_id`` fills the context before the
    first token."""

    def __init__(self, vocab_size, context=3, n_embd=16, hidden=256, direct=False, pad_id=0):
        super().__init__()
        self.vocab_size, self.context, self.n_embd = vocab_size, context, n_embd
        self.hidden, self.direct, self.pad_id = hidden, direct, pad_id
        self.block_size = context
        # C: one learned vector per character
        self.C = nn.Embedding(vocab_size, n_embd)
        # h = tanh(W_h e + b_h)
        self.W_h = nn.Linear(context * n_embd, hidden)
        # logits = W_y h + b_y
        self.W_y = nn.Linear(hidden, vocab_size)
        if direct:
            self.W_d = nn.Linear(context * n_embd, vocab_size, bias=False)

    def config(self):
        return {"class": "MLPLanguageModel", "vocab_size": self.vocab_size, "context": self.context,
                "n_embd": self.n_embd, "hidden": self.hidden, "direct": self.direct,
                "pad_id": self.pad_id}

    def forward(self, idx, cache=None):
        """Logits ``[B, T, V]`` for each of ``idx``'s positions; ``cache``: the n - 1 tokens
        before ``idx`` (None: padding). Returns the last n - 1 tokens as the new cache."""
        B, T = idx.shape
        n = self.context
        before = cache if cache is not None else \
            minigen.full((B, n - 1), self.pad_id, dtype=minigen.int64, device=idx.device)
        full = minigen.cat([before, idx], dim=1)                       # [B, n - 1 + T]
        emb = self.C(full)                                             # [B, n - 1 + T, d]
        # e_t = [C[x_{t-n+1}]; ...; C[x_t]]: the n embeddings ending at each position
        e = minigen.cat([emb[:, j:j + T] for j in range(n)], dim=2)    # [B, T, n d]
        # h = tanh(W_h e + b_h)
        h = self.W_h(e).tanh()
        # logits = W_y h + b_y (+ W_d e)
        logits = self.W_y(h)
        if self.direct:
            logits = logits + self.W_d(e)
        return logits, full[:, full.shape[1] - (n - 1):]


# ----------------------------------------------------------------------------- registry
SIZES = dict(context=3, n_embd=16, hidden=256)
QUICK = dict(n_embd=4, hidden=16)


def build_mlp_lm(data="names", variant="default", **options):
    spec = DATASETS[data]
    if spec.kind != "text":
        raise ValueError(f"mlp: a character model needs text; {data!r} is a {spec.kind} data set")
    pad = spec.end_token if spec.end_token is not None else 0
    return MLPLanguageModel(spec.vocab_size, pad_id=pad, **dict(SIZES, **options))


register("mlp", build_mlp_lm, Recipe(
    data="names", steps=3000, batch_size=32, lr=2e-3, optimizer="adam",
    data_options={"block_size": 16},
    per_data={"shakespeare": dict(steps=3000, data_options={"block_size": 64})},
    quick=dict(steps=20, model_options=QUICK),
    description="Bengio et al. (2003) MLP over a fixed context of characters", **LM_HOOKS))

"""What every language model shares: the chain-rule objective, its evaluation, and sampling.

A language model assigns a sequence the probability given by the chain rule,

    p(x_1..x_n) = prod_t p(x_{t+1} | x_1..x_t),

each factor a softmax over the vocabulary of the model's scores (logits) at position t. It is
trained by maximum likelihood: the loss is the mean negative log-likelihood of the targets,

    L = -(1/|T|) sum_{t in T} log p(y_t | x_<=t),   y_t = x_{t+1},

over the positions T that hold a real target (the padding after a name's end token is
skipped). Its unit is nats per character; ``minigen.metrics`` turns it into bits per
character (/ ln 2) and perplexity (exp).

``LanguageModel`` holds that objective and ``generate`` (``generation.py``); a model file
defines ``forward(idx, cache=None) -> (logits, cache)``: the logits ``[B, T, V]`` of the tokens
after each of ``idx``'s positions, given a ``cache`` that summarises the tokens before ``idx``
(None: nothing before), and the cache after them. ``block_size`` is the longest context the
next prediction can use (None: unlimited, as in an RNN); ``cache_grows`` says that the cache
holds every token read (a Transformer's keys and values) rather than a fixed-size summary.
"""
from __future__ import annotations

import os

import minigen
from minigen import nn
from minigen.nn import functional as F

from ..data.sequences import IGNORE
from .generation import generate

__all__ = ["LanguageModel", "evaluate_lm", "sample_text", "write_samples", "LM_HOOKS"]


class LanguageModel(nn.Module):
    """Base class of minigen's language models (n-grams, MLP, RNN/GRU/LSTM, GPT)."""

    vocab_size: int
    block_size = None
    cache_grows = False

    def forward(self, idx, cache=None):
        raise NotImplementedError

    def loss(self, x, y):
        """The mean cross-entropy of the targets ``y`` [B, T] (``-1``: no target), nats/char."""
        logits, _ = self(x)
        # L = -(1/|T|) sum_t log softmax(logits_t)[y_t]
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), ignore_index=IGNORE)

    @minigen.no_grad()
    def nll(self, x, y):
        """``(sum of -log p(y_t | x_<=t) in nats, number of targets)`` for one batch."""
        logits, _ = self(x)
        y = y.reshape(-1)
        total = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y, ignore_index=IGNORE,
                                reduction="sum")
        return total.item(), int((y != IGNORE).sum().item())

    def reorder_cache(self, cache, index):
        """The cache of the sequences ``index`` (beam search): every tensor's batch rows picked."""
        if cache is None:
            return None
        if isinstance(cache, minigen.Tensor):
            return cache.index_select(0, index)
        return type(cache)(self.reorder_cache(c, index) for c in cache)

    def generate(self, idx, max_new_tokens, **kwargs):
        """``generation.generate(self, idx, max_new_tokens, **kwargs)``: see ``generation.py``."""
        return generate(self, idx, max_new_tokens, **kwargs)


# ----------------------------------------------------------------------------- recipe hooks
def evaluate_lm(model, data, **unused):
    """Test figures of a language model over every batch of ``data.test`` (``DataLoader``):
    nats, bits per character and perplexity, the mean over all targets."""
    from minigen.metrics import lm_report

    total, count = 0.0, 0
    was = model.training
    model.eval()
    for x, y in data.test_loader:
        s, n = model.nll(x, y)
        total, count = total + s, count + n
    model.train(was)
    return lm_report(total, count)


def sample_text(model, spec, n=1, prompt=None, max_new_tokens=None, **gen):
    """``n`` texts from ``model`` for the text data set ``spec``: names (each ends at the end
    token) or continuations of ``prompt`` (its characters included). ``gen``: the keywords of
    ``generate``."""
    prompt = spec.default_prompt if prompt is None else prompt
    ids = spec.encode_prompt(prompt)
    if max_new_tokens is None:
        max_new_tokens = 30 if spec.end_token is not None else 500
    if gen.get("num_beams", 1) > 1:
        gen.setdefault("num_return_sequences", min(n, gen["num_beams"]))
        gen.setdefault("do_sample", False)
        out = generate(model, [ids], max_new_tokens, eos_token_id=spec.end_token, **gen)
    else:
        out = generate(model, [ids] * n, max_new_tokens, eos_token_id=spec.end_token, **gen)
    return [spec.decode(row) for row in out.cpu().numpy().tolist()]


def write_samples(model, run_dir, data, n_names=20, n_chars=1000):
    """The run's text samples: 20 names, or 1,000 characters after a line break, in
    ``samples.txt`` (drawn at temperature 1 with minigen's generator)."""
    spec = data.spec
    if spec.end_token is not None:
        texts = sample_text(model, spec, n=n_names)
    else:
        texts = sample_text(model, spec, n=1, max_new_tokens=n_chars)
    path = os.path.join(run_dir, "samples.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(texts) + "\n")
    return [path]


LM_HOOKS = dict(evaluate=evaluate_lm, pictures=write_samples)

"""Counting n-grams: the first rung of the language-model ladder (Shannon 1948; Jelinek 1980s;
smoothing: Laplace; Witten & Bell 1991).

An n-gram model assumes that the next character depends only on the n - 1 before it, and
estimates that dependence by counting. With C(.) the number of times a string occurs in the
training text:

    p_ML(v | c) = C(c v) / C(c .)            c = the last n - 1 characters, C(c .) = sum_v C(c v)

The maximum-likelihood estimate gives probability 0 to anything unseen, so a test text with
one unseen pair has infinite loss. Two ways to smooth it:

* add-one (Laplace): pretend every pair was seen once more,

      p(v | c) = (C(c v) + 1) / (C(c .) + V);

  the bigram (n = 2) with add-one smoothing is the names ladder's first rung.
* Witten-Bell interpolation: mix each order with the one below it, giving the lower order
  more weight after contexts that were followed by many different characters,

      p_k(v | c) = (C(c v) + T(c) p_{k-1}(v | c')) / (C(c .) + T(c)),
      T(c) = |{v : C(c v) > 0}|,   c' = c without its first character,
      p_1(v) = (C(v) + 1) / (N + V);

  a context never seen (C(c .) = 0) falls back to p_{k-1}. The 4-gram with Witten-Bell is the
  count baseline that a Transformer must beat on Shakespeare.

"Training" is one pass of counting: ``train_step(batch, optimizers)`` adds the batch's n-grams
to the tables (there is no gradient; the recipe has no optimizer), and the loss it reports is
the cross-entropy of the batch under the counts so far. Where a window of running text starts,
the first characters have less than n - 1 characters of context; they use the longest
context they have (Witten-Bell) and are counted in the lower orders only. Names are padded on
the left with their boundary token, so every position has a full context ('..em' -> 'm').

The tables are sparse (the n-grams seen, sorted, with their counts) and live on the host;
``forward`` returns log-probabilities as the logits, so ``generate`` samples from them.
"""
from __future__ import annotations

import numpy

import minigen

from .datasets import DATASETS
from .lm import LM_HOOKS, LanguageModel
from .registry import Recipe, register

__all__ = ["NGram", "build_ngram"]

SMOOTHING = ("add-one", "witten-bell")


class NGram(LanguageModel):
    """An n-gram character model from counts.

    Args:
        vocab_size: V.
        n: the order (2: bigram, each character from the one before).
        smoothing: ``'add-one'`` or ``'witten-bell'``.
        pad_id: the token that stands for "before the start" (names: the boundary 0), or None
            for running text (a window's first characters back off to shorter contexts).
    """

    def __init__(self, vocab_size, n=2, smoothing="add-one", pad_id=None):
        super().__init__()
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"NGram: n must be a positive integer, got {n!r}")
        if smoothing not in SMOOTHING:
            raise ValueError(f"NGram: smoothing must be one of {SMOOTHING}, got {smoothing!r}")
        if vocab_size ** n >= 2 ** 62:
            raise ValueError(f"NGram: V^n = {vocab_size}^{n} does not fit the int64 keys")
        self.vocab_size, self.n, self.smoothing, self.pad_id = vocab_size, n, smoothing, pad_id
        self.block_size = max(n - 1, 1)
        # the k-gram tables, k = 1..n: sorted keys (the k characters as a base-V number), counts
        for k in range(1, n + 1):
            self.register_buffer(f"keys{k}", minigen.zeros(0, dtype=minigen.int64))
            self.register_buffer(f"counts{k}", minigen.zeros(0, dtype=minigen.int64))
        self._stats = {}

    def config(self):
        return {"class": "NGram", "vocab_size": self.vocab_size, "n": self.n,
                "smoothing": self.smoothing, "pad_id": self.pad_id}

    # -- the tables ----------------------------------------------------------------------
    def _table(self, k):
        return getattr(self, f"keys{k}").cpu().numpy(), getattr(self, f"counts{k}").cpu().numpy()

    def _context_stats(self, k):
        """For the contexts c of order k (k - 1 characters): sorted keys, C(c .), T(c)."""
        if k not in self._stats:
            keys, counts = self._table(k)
            ctx, first = numpy.unique(keys // self.vocab_size, return_index=True)
            total = numpy.add.reduceat(counts, first) if keys.size else numpy.zeros(0, numpy.int64)
            types = numpy.diff(numpy.append(first, keys.size))
            self._stats[k] = (ctx, total, types)
        return self._stats[k]

    def _grams(self, full, y, P, k):
        """Keys of the k-grams (k - 1 context characters of ``full``, then y_t) at the target
        positions t whose whole context lies inside the row."""
        B, T = y.shape
        t = numpy.arange(T)
        ok = (P + t - (k - 2) >= 0) if k >= 2 else numpy.ones(T, bool)
        key = numpy.zeros((B, T), numpy.int64)
        for j in range(k - 1):                 # context characters, oldest first
            col = numpy.clip(P + t - (k - 2) + j, 0, None)
            key = key * self.vocab_size + full[:, col]
        key = key * self.vocab_size + numpy.clip(y, 0, None)
        keep = ok[None, :] & (y >= 0)
        return key[keep]

    def add_counts(self, x, y):
        """Count the n-grams of a batch (x, y) (``y = -1``: no target)."""
        x, y = numpy.asarray(x.cpu().numpy(), numpy.int64), numpy.asarray(y.cpu().numpy(), numpy.int64)
        full, P = self._with_pad(x)
        for k in range(1, self.n + 1):
            new = self._grams(full, y, P, k)
            keys, counts = self._table(k)
            merged, inverse = numpy.unique(numpy.concatenate([keys, new]), return_inverse=True)
            total = numpy.bincount(inverse, weights=numpy.concatenate([counts, numpy.ones(new.size)]),
                                   minlength=merged.size).astype(numpy.int64)
            setattr(self, f"keys{k}", minigen.from_numpy(merged))
            setattr(self, f"counts{k}", minigen.from_numpy(total))
        self._stats = {}

    def _with_pad(self, x):
        """Rows with n - 2 pad tokens in front (names), and the offset P of the first real one."""
        if self.pad_id is None or self.n <= 2:
            return x, 0
        P = self.n - 2
        return numpy.concatenate([numpy.full((x.shape[0], P), self.pad_id, numpy.int64), x], axis=1), P

    def load_state_dict(self, state_dict, strict=True):
        # the tables' sizes come from the checkpoint: resize before loading
        for k in range(1, self.n + 1):
            for name in (f"keys{k}", f"counts{k}"):
                if name in state_dict:
                    setattr(self, name, minigen.zeros(*state_dict[name].shape, dtype=minigen.int64))
        self._stats = {}
        return super().load_state_dict(state_dict, strict)

    # -- probabilities -------------------------------------------------------------------
    def _lookup(self, keys, table_keys, table_values):
        """table_values at table_keys == keys, 0 where absent."""
        if table_keys.size == 0:
            return numpy.zeros(keys.shape, numpy.float64)
        i = numpy.clip(numpy.searchsorted(table_keys, keys), 0, table_keys.size - 1)
        return numpy.where(table_keys[i] == keys, table_values[i], 0).astype(numpy.float64)

    def _probs(self, full, P, T):
        """p(v | context) for the T positions after offset P of ``full``: [B, T, V]."""
        V, B = self.vocab_size, full.shape[0]
        v = numpy.arange(V)
        # p_1(v) = (C(v) + 1) / (N + V)
        keys1, counts1 = self._table(1)
        c1 = numpy.zeros(V)
        c1[keys1] = counts1
        p = numpy.broadcast_to((c1 + 1) / (c1.sum() + V), (B, T, V)).copy()
        t = numpy.arange(T)
        orders = range(2, self.n + 1) if self.smoothing == "witten-bell" else [self.n]
        for k in orders:
            ok = P + t - (k - 2) >= 0                  # positions with k - 1 context characters
            ctx = numpy.zeros((B, T), numpy.int64)
            for j in range(k - 1):
                ctx = ctx * V + full[:, numpy.clip(P + t - (k - 2) + j, 0, None)]
            keys, counts = self._table(k)
            C_cv = self._lookup(ctx[..., None] * V + v, keys, counts)          # C(c v)
            ctx_keys, total, types = self._context_stats(k)
            N = self._lookup(ctx, ctx_keys, total)[..., None]                  # C(c .)
            if self.smoothing == "add-one":
                # p(v | c) = (C(c v) + 1) / (C(c .) + V)
                pk = (C_cv + 1) / (N + V)
            else:
                Tc = self._lookup(ctx, ctx_keys, types)[..., None]            # T(c)
                # p_k(v | c) = (C(c v) + T(c) p_{k-1}(v | c')) / (C(c .) + T(c)), or p_{k-1}
                pk = numpy.where(N > 0, (C_cv + Tc * p) / numpy.maximum(N + Tc, 1), p)
            p = numpy.where(ok[None, :, None], pk, p)
        return p

    def forward(self, idx, cache=None):
        """log p(v | context) ``[B, T, V]`` for each of ``idx``'s positions (the logits), and
        the last n - 2 tokens as the cache (the context the next token needs)."""
        x = numpy.asarray(idx.cpu().numpy(), numpy.int64)
        if cache is None:
            full, P = self._with_pad(x)
        else:
            before = numpy.asarray(cache.cpu().numpy(), numpy.int64)
            full, P = numpy.concatenate([before, x], axis=1), before.shape[1]
        # (the context of position t ends at x_t; t's own index in `full` is P + t)
        p = self._probs(full, P, x.shape[1])
        keep = max(self.n - 2, 0)
        new_cache = minigen.from_numpy(full[:, full.shape[1] - keep:].copy()).to(idx.device)
        logits = minigen.from_numpy(numpy.log(p).astype(numpy.float32)).to(idx.device)
        return logits, new_cache

    def loss(self, x, y):
        """The mean cross-entropy of ``y`` under the counts (nats per character)."""
        logits, _ = self(x)
        return minigen.nn.functional.cross_entropy(logits.reshape(-1, self.vocab_size), y.reshape(-1),
                                                   ignore_index=-1)

    def train_step(self, batch, optimizers=None):
        """Count the batch; report its loss under the counts so far (before adding it)."""
        x, y = batch
        with minigen.no_grad():
            loss = self.loss(x, y).item()          # with no counts yet: uniform, log V
        self.add_counts(x, y)
        return {"loss": loss}


# ----------------------------------------------------------------------------- registry
VARIANTS = {"bigram": dict(n=2, smoothing="add-one"), "4gram": dict(n=4, smoothing="witten-bell")}


def build_ngram(data="names", variant="bigram", **options):
    spec = DATASETS[data]
    if spec.kind != "text":
        raise ValueError(f"ngram: counts characters; {data!r} is a {spec.kind} data set")
    kwargs = dict(VARIANTS[variant], pad_id=spec.end_token, **options)
    return NGram(spec.vocab_size, **kwargs)


register("ngram", build_ngram, Recipe(
    data="names", epochs=1, batch_size=512, optimizer=None, variants=tuple(VARIANTS),
    data_options={"block_size": 16},
    # running text: non-overlapping windows, so that one epoch counts each character once
    per_data={"shakespeare": dict(data_options={"block_size": 64, "stride": 64})},
    quick=dict(epochs=1),
    description="n-gram counts: the bigram with add-one smoothing, the 4-gram with Witten-Bell",
    **LM_HOOKS))

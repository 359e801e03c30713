"""Generating text from any language model: one toolkit for every model of ``minigen.models``.

A language model gives the distribution of the next token, p(x_{t+1} | x_1..x_t). Generation
is the chain rule run forwards: pick x_{t+1}, append it, ask again. What varies is how the
next token is picked from the model's scores (logits) s_v, in this order:

1. repetition penalty theta (Keskar et al. 2019, CTRL): for every token v already in the
   sequence, s_v <- s_v / theta if s_v > 0 else s_v * theta (theta > 1 discourages repeats);
2. no repeated n-grams: a token that would complete an n-gram already in the sequence gets
   s_v = -inf;
3. temperature T: s <- s / T; T < 1 sharpens the distribution, T > 1 flattens it;
4. top-k (Fan et al. 2018): keep the k highest scores (and any tied with the k-th), the rest -inf;
5. top-p, "nucleus" (Holtzman et al. 2020): sort p = softmax(s) in decreasing order and keep
   the smallest set whose total probability reaches p, plus any token tied with its smallest;
6. then either sample x ~ softmax(s) (``do_sample=True``) or take argmax_v s_v (greedy).

Beam search (``num_beams = K > 1``, greedy only) keeps the K sequences of highest total
log-probability sum_t log p(x_t | x_<t) instead of one; a sequence that emits ``eos_token_id``
is finished, and finished ones compete by that sum divided by (new tokens)^length_penalty.

The cache. Every model here can continue from a summary of what it has read: an RNN's hidden
state, an n-gram's last n - 1 tokens, a Transformer's keys and values (the KV cache). The
model's ``forward(idx, cache)`` reads only the new tokens ``idx`` and returns
``(logits, cache)``; with ``use_cache=False`` the toolkit instead re-reads the whole context
at every step (cropped to the model's ``block_size``), which gives the same tokens and costs
O(T) times more. A Transformer with learned positions cannot slide its cache past
``block_size`` (the positions are absolute), so from there each step re-reads the last
``block_size`` tokens, exactly as without the cache.

The keyword names are those of Hugging Face's ``generate``, so code written for it reads the
same; where this toolkit differs: ``do_sample`` defaults to True, sequences that ended (after
``eos_token_id``) are padded with ``eos_token_id``, and beam sampling is not provided.
"""
from __future__ import annotations

import math
import numbers

import numpy

import minigen

__all__ = ["generate", "process_scores"]


# ----------------------------------------------------------------------------- arguments
def _check_args(max_new_tokens, do_sample, temperature, top_k, top_p, repetition_penalty,
                no_repeat_ngram_size, num_return_sequences, num_beams, length_penalty):
    def integer(name, v, low):
        if not isinstance(v, numbers.Integral) or isinstance(v, bool) or v < low:
            raise ValueError(f"generate: {name} must be an integer >= {low}, got {v!r}")

    integer("max_new_tokens", max_new_tokens, 0)
    integer("num_return_sequences", num_return_sequences, 1)
    integer("num_beams", num_beams, 1)
    integer("no_repeat_ngram_size", no_repeat_ngram_size, 0)
    if top_k is not None:
        integer("top_k", top_k, 1)
    if do_sample:
        if not isinstance(temperature, numbers.Real) or not temperature > 0 or math.isinf(temperature):
            raise ValueError(f"generate: temperature must be a finite number > 0 when sampling, got "
                             f"{temperature!r} (for greedy decoding pass do_sample=False)")
        if top_p is not None and not (isinstance(top_p, numbers.Real) and 0 < top_p <= 1):
            raise ValueError(f"generate: top_p must lie in (0, 1], got {top_p!r}")
    if not isinstance(repetition_penalty, numbers.Real) or not repetition_penalty > 0:
        raise ValueError(f"generate: repetition_penalty must be > 0 (1.0: no penalty), got {repetition_penalty!r}")
    if num_beams > 1 and do_sample:
        raise ValueError("generate: beam search here is deterministic; pass do_sample=False with "
                         f"num_beams={num_beams}")
    if num_return_sequences > num_beams and not do_sample and num_return_sequences > 1:
        raise ValueError(f"generate: greedy decoding returns num_beams={num_beams} sequence(s) at most "
                         f"per prompt, got num_return_sequences={num_return_sequences}")
    if not isinstance(length_penalty, numbers.Real):
        raise ValueError(f"generate: length_penalty must be a number, got {length_penalty!r}")


def _as_prompt(idx, model):
    """The prompt as an int64 tensor [B, T0] on the model's device."""
    device = next(iter(model.parameters()), None)
    device = device.device if device is not None else getattr(model, "device", "cpu")
    if isinstance(idx, minigen.Tensor):
        t = idx
    else:
        a = numpy.asarray(idx)
        if a.dtype == object or (a.size and not numpy.issubdtype(a.dtype, numpy.integer)):
            raise ValueError("generate: idx must be token ids (integers): a list, an array or an int64 tensor")
        t = minigen.tensor(a.astype(numpy.int64))
    if t.ndim == 1:
        t = t.unsqueeze(0)
    if t.ndim != 2:
        raise ValueError(f"generate: idx must be [T] or [B, T] token ids, got shape {list(t.shape)}")
    if t.shape[1] == 0:
        raise ValueError("generate: the prompt is empty; give at least one token (a start token "
                         "such as the names' boundary 0, or a character of the text)")
    if t.dtype not in (minigen.int64, minigen.int32):
        raise ValueError(f"generate: idx must hold integer token ids, got {t.dtype}")
    V = model.vocab_size
    lo, hi = int(t.min().item()), int(t.max().item())
    if lo < 0 or hi >= V:
        raise ValueError(f"generate: token id {lo if lo < 0 else hi} is outside the vocabulary [0, {V})")
    return t.to(minigen.int64).to(device)


# ----------------------------------------------------------------------------- the model
class _Reader:
    """Feeds a sequence to the model, with or without its cache; returns the last logits."""

    def __init__(self, model, use_cache):
        self.model, self.use_cache = model, use_cache
        self.block = getattr(model, "block_size", None)
        self.grows = getattr(model, "cache_grows", False)
        self.cache = None
        self.seen = 0           # tokens of the sequence the model has read so far
        self.cached = 0         # tokens held in a growing cache (a Transformer's keys and values)

    def next_logits(self, seq):
        """Logits of the token after ``seq`` [B, T]: ``[B, V]``."""
        T = seq.shape[1]
        context = seq if self.block is None or T <= self.block else seq[:, T - self.block:]
        if not self.use_cache:
            logits, _ = self.model(context, None)
            return logits[:, -1]
        new = T - self.seen
        full = self.grows and self.block is not None and self.cached + new > self.block
        if self.cache is None or full:
            # nothing cached yet, or a cache of absolute positions that is full: re-read
            logits, self.cache = self.model(context, None)
            self.cached = context.shape[1]
        else:
            logits, self.cache = self.model(seq[:, T - new:], self.cache)
            self.cached += new
        self.seen = T
        return logits[:, -1]

    def reorder(self, index):
        if self.use_cache and self.cache is not None:
            self.cache = self.model.reorder_cache(self.cache, index)


# ----------------------------------------------------------------------------- scores
def _ngram_bans(rows, n):
    """For each row (a list of ids), the tokens that would complete an n-gram seen before."""
    bans = []
    for row in rows:
        if len(row) < n - 1 or n < 1:
            bans.append(())
            continue
        prefix = tuple(row[len(row) - n + 1:]) if n > 1 else ()
        seen = set()
        for i in range(len(row) - n + 1):
            if tuple(row[i:i + n - 1]) == prefix:
                seen.add(row[i + n - 1])
        bans.append(tuple(seen))
    return bans


def process_scores(scores, seq, *, do_sample=True, temperature=1.0, top_k=None, top_p=None,
                   repetition_penalty=1.0, no_repeat_ngram_size=0):
    """Rules 1-5 of the module docstring applied to ``scores`` [B, V] given ``seq`` [B, T]."""
    B, V = scores.shape
    if repetition_penalty != 1.0:
        # s_v <- s_v / theta if s_v > 0 else s_v * theta, for v in the sequence
        present = minigen.scatter(minigen.zeros(B, V, device=scores.device), 1, seq, value=1.0) > 0
        penalised = minigen.where(scores > 0, scores / repetition_penalty, scores * repetition_penalty)
        scores = minigen.where(present, penalised, scores)
    if no_repeat_ngram_size > 0:
        bans = _ngram_bans(seq.cpu().numpy().tolist(), no_repeat_ngram_size)
        mask = numpy.zeros((B, V), dtype=bool)
        for b, banned in enumerate(bans):
            mask[b, list(banned)] = True
        if mask.all(axis=1).any():
            b = int(numpy.flatnonzero(mask.all(axis=1))[0])
            raise RuntimeError(f"generate: no_repeat_ngram_size={no_repeat_ngram_size} bans every one of "
                               f"the {V} tokens for sequence {b} (each would repeat an n-gram it "
                               "already holds); use a larger n or fewer new tokens")
        # a banned token can never be chosen: s_v = -inf
        scores = minigen.masked_fill(scores, minigen.tensor(mask).to(scores.device), -math.inf)
    if not do_sample:
        return scores
    if temperature != 1.0:
        # s <- s / T
        scores = scores / float(temperature)
    if top_k is not None and top_k < V:
        # keep s_v >= the k-th largest score (ties with it included)
        kth = minigen.topk(scores, top_k, dim=-1).values[:, -1:]
        scores = minigen.masked_fill(scores, scores < kth, -math.inf)
    if top_p is not None and top_p < 1.0:
        p = minigen.softmax(scores.to(minigen.float64), dim=-1)
        p_sorted = minigen.sort(p, dim=-1, descending=True).values
        # the smallest prefix of the sorted probabilities whose sum reaches top_p ...
        cum = p_sorted.cumsum(dim=-1)
        m = (cum < top_p).sum(dim=-1, keepdim=True).clamp(max=V - 1)
        # ... and every token at least as probable as its last member
        threshold = minigen.gather(p_sorted, 1, m)
        scores = minigen.masked_fill(scores, p < threshold, -math.inf)
    return scores


def _choose(scores, do_sample):
    if do_sample:
        # x ~ softmax(s)
        return minigen.multinomial(minigen.softmax(scores.to(minigen.float64), dim=-1), 1)
    # x = argmax_v s_v
    return scores.argmax(dim=-1, keepdim=True)


# ----------------------------------------------------------------------------- generate
@minigen.no_grad()
def generate(model, idx, max_new_tokens, *, do_sample=True, temperature=1.0, top_k=None,
             top_p=None, repetition_penalty=1.0, no_repeat_ngram_size=0, num_return_sequences=1,
             eos_token_id=None, use_cache=True, num_beams=1, length_penalty=1.0):
    """Continue the prompt ``idx`` ([T] or [B, T] token ids) by up to ``max_new_tokens`` tokens.

    Returns an int64 tensor ``[B * num_return_sequences, T + new]`` (prompt included); rows
    that ended with ``eos_token_id`` are padded with it, and generation stops early when every
    row has ended. The rules for picking each token are in the module docstring. Randomness
    comes from minigen's generator, so ``minigen.manual_seed(s)`` makes sampling repeat.
    """
    _check_args(max_new_tokens, do_sample, temperature, top_k, top_p, repetition_penalty,
                no_repeat_ngram_size, num_return_sequences, num_beams, length_penalty)
    V = model.vocab_size
    if eos_token_id is not None and not (isinstance(eos_token_id, numbers.Integral) and 0 <= eos_token_id < V):
        raise ValueError(f"generate: eos_token_id must be a token id in [0, {V}), got {eos_token_id!r}")
    seq = _as_prompt(idx, model)
    was_training = model.training
    model.eval()
    try:
        if num_beams > 1:
            return _beam_search(model, seq, max_new_tokens, num_beams, num_return_sequences,
                                eos_token_id, use_cache, length_penalty, repetition_penalty,
                                no_repeat_ngram_size)
        if num_return_sequences > 1:
            seq = seq.repeat_interleave(num_return_sequences, dim=0)
        reader = _Reader(model, use_cache)
        done = numpy.zeros(seq.shape[0], dtype=bool)
        for _ in range(max_new_tokens):
            scores = reader.next_logits(seq).to(minigen.float32)
            scores = process_scores(scores, seq, do_sample=do_sample, temperature=temperature,
                                    top_k=top_k, top_p=top_p, repetition_penalty=repetition_penalty,
                                    no_repeat_ngram_size=no_repeat_ngram_size)
            nxt = _choose(scores, do_sample)
            if eos_token_id is not None:
                # a finished row keeps emitting eos
                nxt = minigen.where(minigen.tensor(done[:, None]).to(nxt.device), eos_token_id, nxt)
                done |= nxt.cpu().numpy()[:, 0] == eos_token_id
            seq = minigen.cat([seq, nxt.to(seq.dtype)], dim=1)
            if eos_token_id is not None and done.all():
                break
        return seq
    finally:
        model.train(was_training)


def _beam_search(model, seq, max_new_tokens, K, n_return, eos, use_cache, length_penalty,
                 repetition_penalty, no_repeat_ngram_size):
    """Keep the K most probable continuations of each prompt (module docstring)."""
    B, T0 = seq.shape
    seq = seq.repeat_interleave(K, dim=0)                     # [B*K, T0]
    # log p of each beam so far; at first only beam 0 is live, so the K beams differ
    beam_logp = numpy.full((B, K), -numpy.inf)
    beam_logp[:, 0] = 0.0
    finished = [[] for _ in range(B)]                         # (score, ids) per prompt
    reader = _Reader(model, use_cache)
    for t in range(1, max_new_tokens + 1):
        logits = reader.next_logits(seq).to(minigen.float32)
        logp = minigen.log_softmax(logits.to(minigen.float64), dim=-1)
        logp = process_scores(logp, seq, do_sample=False, repetition_penalty=repetition_penalty,
                              no_repeat_ngram_size=no_repeat_ngram_size).cpu().numpy()
        V = logp.shape[1]
        # score of extending beam k by token v: log p(beam k) + log p(v | beam k)
        total = (beam_logp[:, :, None] + logp.reshape(B, K, V)).reshape(B, K * V)
        order = numpy.argsort(-total, axis=1, kind="stable")[:, :2 * K]
        rows = seq.cpu().numpy()
        keep_rows, keep_tokens, new_logp = [], [], numpy.full((B, K), -numpy.inf)
        for b in range(B):
            kept = 0
            for c in order[b]:
                score = total[b, c]
                if not numpy.isfinite(score):
                    break
                k, v = divmod(int(c), V)
                if eos is not None and v == eos:
                    if len(finished[b]) < K or score / t ** length_penalty > min(s for s, _ in finished[b]):
                        finished[b].append((score / t ** length_penalty, rows[b * K + k].tolist() + [v]))
                        finished[b] = sorted(finished[b], key=lambda h: -h[0])[:K]
                    continue
                keep_rows.append(b * K + k)
                keep_tokens.append(v)
                new_logp[b, kept] = score
                kept += 1
                if kept == K:
                    break
            while kept < K:                                   # fewer than K live candidates
                keep_rows.append(b * K)
                keep_tokens.append(eos if eos is not None else 0)
                kept += 1
        index = minigen.tensor(numpy.asarray(keep_rows, dtype=numpy.int64)).to(seq.device)
        reader.reorder(index)
        nxt = minigen.tensor(numpy.asarray(keep_tokens, dtype=numpy.int64)[:, None]).to(seq.device)
        seq = minigen.cat([seq.index_select(0, index), nxt], dim=1)
        beam_logp = new_logp
        # stop when no live beam can beat the worst finished one (lengths only grow)
        if eos is not None and all(
                len(finished[b]) >= K and numpy.max(beam_logp[b]) / t ** length_penalty <= min(s for s, _ in finished[b])
                for b in range(B)):
            break
    rows = seq.cpu().numpy()
    out = []
    steps = rows.shape[1] - T0
    for b in range(B):
        hyps = list(finished[b])
        for k in range(K):
            if numpy.isfinite(beam_logp[b, k]):
                hyps.append((beam_logp[b, k] / max(steps, 1) ** length_penalty, rows[b * K + k].tolist()))
        hyps.sort(key=lambda h: -h[0])
        out.extend(ids for _, ids in hyps[:n_return])
    width = max(len(r) for r in out)
    pad = eos if eos is not None else 0
    return minigen.tensor(numpy.asarray([r + [pad] * (width - len(r)) for r in out],
                                        dtype=numpy.int64)).to(seq.device)

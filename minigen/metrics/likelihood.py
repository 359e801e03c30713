"""Units of likelihood: nats, bits, bits per dimension, perplexity.

A model's negative log-likelihood is measured in nats (natural logarithms) by the losses.
The other units are the same number rescaled:

    bits = nats / ln 2                                  (log base 2 instead of base e)
    bits per dim = NLL(x) / (D ln 2)                    (an example of D dimensions, e.g. pixels)
    perplexity = exp(mean NLL per token)                (the "effective branching factor":
                                                         a uniform choice among PPL symbols
                                                         has the same mean surprise)

For a language model the mean is over predicted tokens (characters here, the end token of a
name included); ``lm_report`` gives all three figures from a total and a count.
"""
from __future__ import annotations

import math

__all__ = ["LN2", "bits", "bits_per_dim", "perplexity", "lm_report"]

LN2 = math.log(2.0)


def _finite(name, v):
    v = float(v)
    if math.isnan(v):
        raise ValueError(f"{name}: got NaN")
    return v


def bits(nats):
    """``nats / ln 2``: the same amount of information in bits."""
    return _finite("bits", nats) / LN2


def bits_per_dim(nats_per_example, dims):
    """Bits per dimension of an example of ``dims`` dimensions: ``NLL / (dims ln 2)``."""
    if dims <= 0:
        raise ValueError(f"bits_per_dim: dims must be positive, got {dims}")
    return _finite("bits_per_dim", nats_per_example) / (dims * LN2)


def perplexity(nats_per_token):
    """``exp(mean NLL per token)``; a mean of 0 nats is a perplexity of 1."""
    v = _finite("perplexity", nats_per_token)
    return math.exp(v) if v < 700 else float("inf")


def lm_report(total_nats, n_tokens, prefix="test"):
    """``{prefix}_nats_per_char, {prefix}_bits_per_char, {prefix}_perplexity, {prefix}_tokens``
    from a summed NLL over ``n_tokens`` predicted tokens."""
    if n_tokens <= 0:
        raise ValueError(f"lm_report: no tokens to average over (n_tokens = {n_tokens})")
    nats = float(total_nats) / n_tokens
    return {f"{prefix}_nats_per_char": nats, f"{prefix}_bits_per_char": bits(nats),
            f"{prefix}_perplexity": perplexity(nats), f"{prefix}_tokens": int(n_tokens)}

"""English number words and their digits: "four thousand three hundred and twelve" -> "4312".

A procedural translation task for the encoder-decoder Transformer: every integer 0..9999 written
out in British English, the source a string of characters, the target its decimal digits.

The wording (British, with "and"):

* 0..19 have their own words ("zero" .. "nineteen"); the tens are "twenty" .. "ninety", and a
  tens word joins its unit with a hyphen: "seventy-seven";
* "N hundred" and "N thousand" with N a single word ("one hundred", never "a hundred");
* "and" comes before the part under 100 when something bigger precedes it: "three hundred and
  twelve", "one thousand and five" (the thousands followed directly by a remainder under 100),
  but "one thousand two hundred" (nothing under 100 follows, so no "and").

The split: ``numpy.random.default_rng(0).permutation(10000)``; its first 8,000 numbers are the
training set, the last 2,000 the test set (so the test numbers are never seen in training: the
model must learn the rule, not a table).

Tokens. Source: the 21 characters the words use (19 letters, space and hyphen) plus PAD = 0. Target: PAD = 0, BOS = 1, EOS = 2, and the
digits 0..9 as 3..12: 13 symbols.
"""
from __future__ import annotations

import functools

import numpy

__all__ = ["number_words", "NumberVocab", "SOURCE", "TARGET", "numbers_split", "encode_pairs"]

ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen").split()
TENS = (None, None, "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")


def _under_100(n):
    if n < 20:
        return ONES[n]
    tens, unit = divmod(n, 10)
    # tens hyphenated to their unit: "seventy-seven"
    return TENS[tens] + ("-" + ONES[unit] if unit else "")


def number_words(n):
    """``n`` (an integer 0..9999) in British English words."""
    if isinstance(n, bool) or not isinstance(n, (int, numpy.integer)) or not 0 <= n <= 9999:
        raise ValueError(f"number_words: n must be an integer in 0..9999, got {n!r}")
    n = int(n)
    if n == 0:
        return "zero"
    thousands, rest = divmod(n, 1000)
    hundreds, remainder = divmod(rest, 100)
    parts = []
    if thousands:
        parts.append(ONES[thousands] + " thousand")
    if hundreds:
        parts.append(ONES[hundreds] + " hundred")
    if remainder:
        if parts:
            # "and" before the part under 100 when something bigger came first
            parts.append("and")
        parts.append(_under_100(remainder))
    return " ".join(parts)


class NumberVocab:
    """A fixed vocabulary: ``symbols`` after the special tokens ``specials`` (PAD first)."""

    def __init__(self, symbols, specials, name):
        self.specials, self.symbols, self.name = tuple(specials), tuple(symbols), name
        self.itos = self.specials + self.symbols
        self.stoi = {s: i for i, s in enumerate(self.itos)}
        self.pad = 0

    def __len__(self):
        return len(self.itos)

    def encode(self, text):
        bad = sorted({c for c in text if c not in self.stoi or c in self.specials})
        if bad:
            raise ValueError(f"{self.name}: characters {bad} are not in the vocabulary "
                             f"{''.join(self.symbols)!r}")
        return [self.stoi[c] for c in text]

    def decode(self, ids):
        """The symbols of ``ids``, stopping at EOS and skipping PAD/BOS."""
        out = []
        for i in ids:
            s = self.itos[int(i)]
            if s == "<eos>":
                break
            if s not in self.specials:
                out.append(s)
        return "".join(out)


@functools.lru_cache(maxsize=None)
def _source_symbols():
    chars = sorted({c for n in range(10000) for c in number_words(n)})
    return "".join(chars)


SOURCE = NumberVocab(_source_symbols(), ["<pad>"], "number words")
TARGET = NumberVocab("0123456789", ["<pad>", "<bos>", "<eos>"], "digits")
BOS, EOS = TARGET.stoi["<bos>"], TARGET.stoi["<eos>"]


def numbers_split(seed=0):
    """``(train, test)``: integer arrays of the 8,000 training and 2,000 test numbers."""
    order = numpy.random.default_rng(seed).permutation(10000)
    return order[:8000], order[8000:]


def encode_pairs(numbers):
    """``(src, tgt)``: int64 arrays ``[N, S]`` (the words' characters, PAD-padded to the
    longest) and ``[N, U]`` (BOS, the digits, EOS, PAD-padded)."""
    words = [SOURCE.encode(number_words(int(n))) for n in numbers]
    digits = [[BOS] + TARGET.encode(str(int(n))) + [EOS] for n in numbers]
    src = numpy.zeros((len(words), max(map(len, words))), dtype=numpy.int64)
    tgt = numpy.zeros((len(digits), max(map(len, digits))), dtype=numpy.int64)
    for i, (w, d) in enumerate(zip(words, digits)):
        src[i, :len(w)], tgt[i, :len(d)] = w, d
    return src, tgt

"""Captions for the MNIST digits, made by rule: every image of a 7 is "a handwritten seven",
"the digit 7", "a drawing of the number seven", "7", ...

The multimodal models (CLIP, and later a text-to-image prior) learn from image-caption pairs.
MNIST has no captions, but it has labels, so the captions are procedural: a caption is a
template with the digit filled in, either as its English word ({w}: "seven") or as the
numeral ({d}: "7").

The templates. ``TRAIN_TEMPLATES`` are the 8 fixed templates the models train with (the CLIP
protocol's "8 fixed caption templates"); ``HELDOUT_TEMPLATES`` are 8 others that no model sees
in training, for truly zero-shot tests (is the text tower reading the digit, or has it learnt
eight strings by heart?):

    train                               held out
    "a handwritten {w}"                 "an image of the number {w}"
    "the digit {d}"                     "this is a {w}"
    "a drawing of the number {w}"       "a scribbled {w}"
    "{d}"                               "number {d}"
    "the number {w}"                    "a sketch of the digit {w}"
    "a picture of a {w}"                "someone wrote the digit {d}"
    "{w}"                               "it is a {w}"
    "a handwritten digit {d}"           "the handwritten number {d}"

The drawing rule. At every training step each image gets a fresh template, uniform over the 8
training templates and independent of everything else: t_i ~ U{0, ..., 7}, caption_i =
TRAIN_TEMPLATES[t_i] with digit y_i filled in. The draw is made from minigen's own generator
(``minigen.randint``) inside the model's step, not inside the data loader, because the training
loop saves minigen's generator in every checkpoint (and, on resume, replays the loader's
batches it skips): a resumed run draws the same templates as an unbroken one. Over an epoch an
image therefore meets its captions in random order; over 20 epochs it sees most of them.

Because there are only 10 digits, the 8 templates give just 80 distinct captions:
``caption_table(templates)`` tokenises them once into ``ids [T, 10, L]`` (PAD-padded) and
``lengths [T, 10]``, and a batch's captions are a gather ``ids[t, y]``.

Tokenizers.

* ``CharTokenizer``: the character-level text tower's. A fixed alphabet of 37 symbols, space,
  the digits 0-9 and the letters a-z, plus PAD = 0 (id 0 is never a character): 38 ids. Text is
  lower-cased first ("A Handwritten Seven" reads as "a handwritten seven"); any other character
  (punctuation, accents, emoji, tabs) is a ``ValueError`` naming the characters, as is an empty
  text (after stripping spaces at the ends) and one longer than ``max_len`` (64) characters.
* ``WordTokenizer``: a word-level one for a later caption prior: PAD = 0, BOS = 1, EOS = 2,
  then the words of all 16 templates with both digit forms (the numerals and the ten number
  words), sorted. Text is lower-cased and split on spaces; a word outside the vocabulary is a
  ``ValueError`` naming it.
"""
from __future__ import annotations

import numpy

__all__ = ["DIGIT_WORDS", "TRAIN_TEMPLATES", "HELDOUT_TEMPLATES", "ALPHABET", "caption",
           "captions_for", "CharTokenizer", "WordTokenizer", "caption_table", "draw_templates",
           "captioned_mnist"]

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

TRAIN_TEMPLATES = (
    "a handwritten {w}",
    "the digit {d}",
    "a drawing of the number {w}",
    "{d}",
    "the number {w}",
    "a picture of a {w}",
    "{w}",
    "a handwritten digit {d}",
)

HELDOUT_TEMPLATES = (
    "an image of the number {w}",
    "this is a {w}",
    "a scribbled {w}",
    "number {d}",
    "a sketch of the digit {w}",
    "someone wrote the digit {d}",
    "it is a {w}",
    "the handwritten number {d}",
)

# the character tower's alphabet; id 0 is PAD, so character ALPHABET[k] has id k + 1
ALPHABET = " 0123456789abcdefghijklmnopqrstuvwxyz"


def _check_digit(name, digit):
    if isinstance(digit, bool) or not isinstance(digit, (int, numpy.integer)) or not 0 <= digit <= 9:
        raise ValueError(f"{name}: digit must be an integer 0..9, got {digit!r}")
    return int(digit)


def caption(template, digit):
    """``template`` with ``digit`` filled in: {w} as its word, {d} as its numeral."""
    digit = _check_digit("caption", digit)
    if "{w}" not in template and "{d}" not in template:
        raise ValueError(f"caption: a template needs a {{w}} or {{d}} slot for the digit, got {template!r}")
    return template.replace("{w}", DIGIT_WORDS[digit]).replace("{d}", str(digit))


def captions_for(digit, templates=TRAIN_TEMPLATES):
    """Every caption of ``digit``, one per template."""
    return [caption(t, digit) for t in templates]


class CharTokenizer:
    """Characters <-> ids over ``ALPHABET`` (space, 0-9, a-z), PAD = 0; lower-cases its input.

    ``encode(text) -> [ids]``, ``decode(ids) -> text`` (PAD dropped), ``batch(texts) ->
    (ids int64 [N, L], lengths int64 [N])`` padded with PAD to the longest text."""

    pad = 0

    def __init__(self, max_len=64):
        self.max_len = max_len
        self.itos = ["<pad>"] + list(ALPHABET)
        self.stoi = {c: i + 1 for i, c in enumerate(ALPHABET)}

    def __len__(self):
        return len(self.itos)

    def encode(self, text):
        if not isinstance(text, str):
            raise TypeError(f"text: expected a string, got {type(text).__name__}")
        text = text.lower().strip(" ")
        if text == "":
            raise ValueError("text: the caption is empty; give at least one character "
                             "(e.g. 'a handwritten seven')")
        bad = sorted({c for c in text if c not in self.stoi})
        if bad:
            raise ValueError(f"text: character(s) {''.join(bad)!r} in {text!r} are not in the character "
                             f"tokenizer's alphabet; allowed: space, 0-9 and a-z (upper case is lower-cased)")
        if len(text) > self.max_len:
            raise ValueError(f"text: {len(text)} characters is longer than the tokenizer's max_len "
                             f"{self.max_len}: {text[:20]!r}...")
        return [self.stoi[c] for c in text]

    def decode(self, ids):
        return "".join(self.itos[int(i)] for i in ids if int(i) != self.pad)

    def batch(self, texts):
        """``(ids int64 [N, L], lengths int64 [N])``, PAD after each text's last character."""
        if isinstance(texts, str):
            texts = [texts]
        rows = [self.encode(t) for t in texts]
        if not rows:
            raise ValueError("text: expected at least one caption, got none")
        L = max(len(r) for r in rows)
        ids = numpy.zeros((len(rows), L), dtype=numpy.int64)
        for i, r in enumerate(rows):
            ids[i, :len(r)] = r
        return ids, numpy.array([len(r) for r in rows], dtype=numpy.int64)


class WordTokenizer:
    """Words <-> ids: PAD 0, BOS 1, EOS 2, then the sorted words of every template (both digit
    forms filled in). ``encode(text, bos=False, eos=False)``, ``decode(ids)``."""

    pad, bos, eos = 0, 1, 2

    def __init__(self, templates=TRAIN_TEMPLATES + HELDOUT_TEMPLATES):
        words = set()
        for t in templates:
            for d in range(10):
                words.update(caption(t, d).split())
        self.itos = ["<pad>", "<bos>", "<eos>"] + sorted(words)
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    def __len__(self):
        return len(self.itos)

    def encode(self, text, bos=False, eos=False):
        if not isinstance(text, str):
            raise TypeError(f"text: expected a string, got {type(text).__name__}")
        words = text.lower().split()
        if not words:
            raise ValueError("text: the caption is empty; give at least one word (e.g. 'a handwritten seven')")
        bad = [w for w in words if w not in self.stoi or self.stoi[w] < 3]
        if bad:
            raise ValueError(f"text: word(s) {bad} are not in the caption vocabulary of {len(self) - 3} words "
                             f"(the words of the caption templates: {' '.join(self.itos[3:])})")
        return [self.bos] * bos + [self.stoi[w] for w in words] + [self.eos] * eos

    def decode(self, ids):
        return " ".join(self.itos[int(i)] for i in ids if int(i) > 2)


def caption_table(templates=TRAIN_TEMPLATES, tokenizer=None):
    """Every (template, digit) caption tokenised: ``(ids int64 [T, 10, L], lengths int64 [T, 10])``
    as NumPy arrays, PAD-padded to the longest caption L."""
    tokenizer = tokenizer or CharTokenizer()
    ids, lengths = tokenizer.batch([caption(t, d) for t in templates for d in range(10)])
    return ids.reshape(len(templates), 10, -1), lengths.reshape(len(templates), 10)


def draw_templates(n, num_templates=len(TRAIN_TEMPLATES), device=None):
    """A fresh template for each of ``n`` images: int64 [n], uniform on 0..num_templates - 1,
    from minigen's generator on ``device`` (saved in checkpoints, so runs resume exactly)."""
    import minigen
    return minigen.randint(0, num_templates, (n,), device=device)


def captioned_mnist(split="train", templates=TRAIN_TEMPLATES, seed=0):
    """minigen's MNIST-5k ``split`` with one caption per image drawn by the rule above from
    ``numpy.random.default_rng(seed)`` (a reproducible listing; training draws afresh each
    step): ``(images [N, 1, 28, 28], labels [N], captions: list of N strings)``."""
    from .images import load_mnist
    x, y = load_mnist(split)
    t = numpy.random.default_rng(seed).integers(0, len(templates), size=len(y))
    return x, y, [caption(templates[k], int(d)) for k, d in zip(t, y.cpu().numpy())]

"""Datasets that ship inside minigen, so every model trains offline on real data.

Images (``images.py``):   ``load_digits`` (8x8 UCI digits), ``load_mnist`` (5k subset, or
                          your own IDX files via ``path=``), with fixed seeded splits.
Text (``text.py``):       ``load_names`` (US first names), ``load_shakespeare`` (ten works),
                          ``CharVocab`` (char <-> id), ``split_corpus`` (fixed 90/10 split),
                          ``names_split`` (the language models' split of the names).
Sequences (``sequences.py``): text cut into (x, y) examples for language models:
                          ``NameSequences`` (padded names with the end token),
                          ``TextWindows`` (windows of running text), ``TextStreams`` (parallel
                          streams for truncated backpropagation through time).
Toy 2-d (``toy.py``):     ``toy2d('moons' | 'circles' | '8gaussians' | 'swissroll' |
                          'checkerboard' | 'spirals')``; ``moons_split`` (the two-moons protocol of
                          the diffusion, score and flow models: 10,000 train, 2,000 fresh points).
Audio (``audio.py``):     ``load_spoken_digits`` (800 clips of "zero".."nine", 8 kHz, split by
                          speaker: 36 train, 4 test voices), ``read_wav``.
Captions (``captions.py``): procedural captions of the MNIST digits ("a handwritten seven",
                          "the digit 7", ...): 8 training and 8 held-out templates, the drawing
                          rule, ``CharTokenizer`` and ``WordTokenizer``.
IDX (``idx.py``):         ``read_idx`` / ``write_idx`` for the MNIST file format.

Every loader is deterministic and returns cpu tensors (or Python strings); nothing is
downloaded. Where each file comes from, and its licence, is in ``minigen/data/README.md``.
"""
from .idx import IDXFormatError, read_idx, write_idx
from .images import load_digits, load_mnist
from .text import WORKS, CharVocab, load_names, load_shakespeare, names_split, split_corpus
from .sequences import IGNORE, NameSequences, TextStreams, TextWindows
from .toy import moons_split, toy2d, two_moons
from .audio import load_spoken_digits, read_wav, spoken_digits_speakers, write_wav
from .numbers import number_words, numbers_split
from . import captions

__all__ = ["load_digits", "load_mnist", "load_names", "load_shakespeare", "CharVocab",
           "split_corpus", "names_split", "NameSequences", "TextWindows", "TextStreams", "IGNORE",
           "WORKS", "toy2d", "two_moons", "moons_split", "load_spoken_digits", "read_wav", "write_wav",
           "spoken_digits_speakers", "number_words", "numbers_split", "read_idx", "write_idx", "IDXFormatError"]

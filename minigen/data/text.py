"""Text shipped inside minigen: US first names and ten works of Shakespeare, plus a char vocab.

Character-level language models (the bigram model, RNN/LSTM/GRU, GPT) need three things:
a corpus, a map from characters to integer ids (``CharVocab``), and a fixed train/test split
(``split_corpus``). All three are deterministic; nothing is downloaded.
"""
from __future__ import annotations

import functools
import io
import random
import tarfile

from ._files import check_choice, read_bytes

WORKS = ("hamlet", "julius_caesar", "lear", "macbeth", "merchant_of_venice",
         "midsummer_nights_dream", "othello", "romeo_and_juliet", "sonnets", "tempest")
WORK_SEPARATOR = "\n\n"  # put between works when several are concatenated
SPLIT_SEED = 0


class CharVocab:
    """A character vocabulary: ``itos`` (id -> char) and ``stoi`` (char -> id).

    ``CharVocab(corpus, boundary=None)`` collects the distinct characters of ``corpus`` (a
    string, or an iterable of strings such as a list of names) and numbers them in sorted
    order. With ``boundary='.'`` the boundary token gets id 0 and everything else shifts by
    one; a model of *separate words* (names) then learns "start" as "after '.'" and "stop" as
    "predict '.'", as in Karpathy's makemore. The boundary must not occur in the corpus, or an
    id would mean two things, so a corpus with full stops (Shakespeare) uses no boundary:
    a running text needs none.

    >>> v = CharVocab(["emma", "ava"], boundary=".")
    >>> v.itos
    ['.', 'a', 'e', 'm', 'v']
    >>> v.encode("ava", boundary=True)
    [0, 1, 4, 1, 0]
    >>> v.decode([0, 1, 4, 1, 0])
    '.ava.'
    """

    def __init__(self, corpus, boundary=None):
        chars = set(corpus) if isinstance(corpus, str) else set().union(*map(set, corpus))
        if boundary is not None:
            if not isinstance(boundary, str) or len(boundary) != 1:
                raise ValueError(f"CharVocab: boundary must be a single character, got {boundary!r}")
            if boundary in chars:
                raise ValueError(
                    f"CharVocab: the boundary token {boundary!r} occurs in the corpus, so its id "
                    "would be ambiguous; choose another character or boundary=None")
        self.boundary = boundary
        self.itos = ([boundary] if boundary is not None else []) + sorted(chars)
        self.stoi = {c: i for i, c in enumerate(self.itos)}

    def __len__(self):
        return len(self.itos)

    @property
    def vocab_size(self):
        return len(self.itos)

    def encode(self, s, boundary=False):
        """The ids of the characters of ``s``; with ``boundary=True``, wrapped in the boundary id.

        Returns a list of ints; ``minigen.tensor(vocab.encode(text))`` makes an int64 tensor.
        """
        if boundary and self.boundary is None:
            raise ValueError("CharVocab.encode: boundary=True but this vocabulary has no boundary token")
        try:
            ids = [self.stoi[c] for c in s]
        except KeyError:
            pos = next(i for i, c in enumerate(s) if c not in self.stoi)
            raise ValueError(
                f"CharVocab.encode: character {s[pos]!r} at position {pos} is not in the "
                f"vocabulary of {len(self)} characters") from None
        return [0] + ids + [0] if boundary else ids

    def decode(self, ids):
        """The string for a sequence of ids (a list, a NumPy array or a 1-d tensor).

        Boundary tokens are kept; ``.strip(vocab.boundary)`` removes them at the ends.
        """
        if hasattr(ids, "tolist"):
            ids = ids.tolist()
        n = len(self.itos)
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < n:
                raise ValueError(f"CharVocab.decode: id {i} is outside the vocabulary [0, {n})")
            out.append(self.itos[i])
        return "".join(out)

    def __repr__(self):
        return f"CharVocab(size={len(self)}, boundary={self.boundary!r})"


@functools.lru_cache(maxsize=None)
def _names_file(sex):
    lines = read_bytes(f"dist.{sex}.first.gz").decode("ascii").splitlines()
    return tuple(line.split()[0].lower() for line in lines if line.strip())


def load_names(sex="all"):
    """US first names from the 1990 census, lower case, most common first.

    ``sex='female'`` gives 4,275 names, ``'male'`` 1,219, ``'all'`` the female list followed by
    the male names not already in it (a name like "james" appears in both files; it is kept
    once, at its female-list position). Letters a-z only, so ``'.'`` is free to be the
    boundary token of a ``CharVocab``. Source: US Census Bureau, public domain.
    """
    check_choice("load_names", "sex", sex, ("all", "female", "male"))
    if sex != "all":
        return list(_names_file(sex))
    return list(dict.fromkeys(_names_file("female") + _names_file("male")))


@functools.lru_cache(maxsize=None)
def _shakespeare():
    with tarfile.open(fileobj=io.BytesIO(read_bytes("shakespeare.tar.gz")), mode="r:") as tar:
        return {m.name[: -len("_gut.txt")]: tar.extractfile(m).read().decode("ascii")
                for m in tar.getmembers() if m.isfile()}


def load_shakespeare(works=None, separator=WORK_SEPARATOR):
    """Shakespeare as one string: 9 plays and the sonnets, Project Gutenberg headers removed.

    ``works`` is None (all ten, in the order of ``WORKS``, which is sorted by file name), one
    name or a list of names from ``WORKS``. Several works are joined by ``separator`` (default
    ``WORK_SEPARATOR``, a blank line; the language-model corpus uses ``''``). The ten texts
    hold 1,252,640 characters, 80 distinct. Source: the Open Knowledge Foundation's
    ``shakespeare`` package, CC BY 2.5 (see ``minigen/data/files/shakespeare_COPYING.txt``).
    """
    if works is None:
        works = WORKS
    elif isinstance(works, str):
        works = (works,)
    texts = _shakespeare()
    for w in works:
        check_choice("load_shakespeare", "each work", w, WORKS)
    return separator.join(texts[w] for w in works)


def names_split(seed=0):
    """The names corpus of the language models, and its fixed (train, test) split.

    The distinct names of ``load_names('all')`` (female and male lists, set union), ``sorted()``,
    then reordered by ``numpy.random.default_rng(seed).permutation(N)``; the first
    ``N * 9 // 10`` are train, the rest test:
    5,163 names, 4,646 / 517. This is the protocol of the language-model quality runs
    (``benchmarks/quality/``); ``split_corpus`` is the general-purpose split of any list.
    """
    import numpy

    names = sorted(set(load_names("all")))
    perm = numpy.random.default_rng(seed).permutation(len(names))
    cut = len(names) * 9 // 10
    return [names[i] for i in perm[:cut]], [names[i] for i in perm[cut:]]


def split_corpus(corpus, train_frac=0.9):
    """A fixed (train, test) split of a character-level corpus.

    * a string (Shakespeare): the first ``train_frac`` of the characters are train, the rest
      test, as in nanoGPT; a contiguous cut keeps the test text unseen, word for word.
    * a list of strings (names): shuffled once with ``random.Random(0)`` and cut there, since
      the names come sorted by frequency and a plain cut would leave only rare names to test.
    """
    if not 0.0 < train_frac < 1.0:
        raise ValueError(f"split_corpus: train_frac must lie strictly between 0 and 1, got {train_frac}")
    if isinstance(corpus, str):
        cut = int(len(corpus) * train_frac)
        return corpus[:cut], corpus[cut:]
    items = list(corpus)
    random.Random(SPLIT_SEED).shuffle(items)
    cut = int(len(items) * train_frac)
    return items[:cut], items[cut:]

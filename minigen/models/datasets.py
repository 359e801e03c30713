"""The data sets a registered model trains on, and what each one gives to the training loop.

``DATASETS`` maps a name (``minigen train NAME --data D``) to a ``DataSpec``. A spec hides what
kind of data it is from ``train.py`` and ``cli.py``: they ask it for a train and a test
``Dataset`` (whose batches are the arguments of ``model.loss(*batch)``), for loaders over them,
and, for text, how to turn a prompt into ids and ids back into text.

=============  ======  ===================================================================
name           kind    batch
=============  ======  ===================================================================
``mnist``      images  ``(x,)``: float32 ``[N, 1, 28, 28]`` in [0, 1]; 4,000 train / 1,000 test
``digits``     images  ``(x,)``: float32 ``[N, 1, 8, 8]`` in [0, 1]; 1,500 train / 297 test
``names``      text    ``(x, y)``: int64 ``[N, T]``, one name a row with the end token
                       (``NameSequences``); ``names_split()``: 4,646 train / 517 test names
``shakespeare`` text   ``(x, y)``: int64 ``[N, T]`` windows of the ten works concatenated with
                       no separator (1,252,640 characters, 80 symbols); the first 90% train,
                       the rest validation, of which the first 1,600 x 64 characters are the
                       test windows (``TextWindows``, stride = T)
``moons``      points ``(x,)``: float32 ``[N, 2]``, the two-moons protocol (``moons_split``):
                       10,000 train points, 2,000 fresh test points, standardised
``spoken``     audio  ``(codes, digits)``: int64 ``[N, 1512]`` mu-law windows of the spoken digits and
                       the digit; 720 clips of 36 speakers train, 80 clips of 4 others test
``digits2mnist`` unpaired ``(a, b, y_a, y_b)``: UCI digits upsampled to 32x32 and MNIST padded
                       to 32x32, in [0, 1], unpaired (for CycleGAN; labels for evaluation)
``captions``   captions ``(x, y)``: minigen's MNIST split (4,000 / 1,000) with the digits, from which
                       a multimodal model draws each image's caption every step
                       (``minigen.data.captions``: "a handwritten seven", "the digit 7", ...)
=============  ======  ===================================================================

Options (a recipe's ``data_options``): ``block_size`` (T) for text; on Shakespeare,
``streams=True`` trains on ``TextStreams`` (consecutive chunks, for truncated BPTT) instead of
windows at random offsets, and ``stride`` spaces the training windows (default 1: every
offset; ``stride=T`` covers the text once, as a counting model wants).
"""
from __future__ import annotations

import dataclasses
import functools

import numpy

from minigen.creation import from_numpy

__all__ = ["DataSpec", "ImageData", "TextData", "NamesData", "ShakespeareData", "UnpairedDigits", "PointsData", "AudioData", "NumbersData", "CaptionData", "RunData",
           "DATASETS", "load_data"]

TEST_CHARS = 1600 * 64  # Shakespeare's test windows cover the first 102,400 validation targets


class DataSpec:
    """One data set as the training loop sees it. Subclasses set ``kind`` and ``datasets``."""

    kind = "?"
    name = "?"

    def datasets(self, **options):
        """``(train, test)``: two ``Dataset``\\ s whose batches are tuples for ``model.loss``."""
        raise NotImplementedError

    def loaders(self, batch_size, seed=0, test_batch_size=500, device=None, drop_last=False, **options):
        """``(train_loader, test_loader)``: the train loader shuffles with its own generator
        (seeded by ``seed``) so a resumed run redraws the same order (``drop_last``: skip a
        last partial batch). ``device``: where image sets are put whole (text batches are
        moved by the training loop)."""
        from minigen.utils.data import DataLoader

        train, test = self.datasets(batch_size=batch_size, device=device, **options)
        # streams (truncated BPTT) must come in order: batch k + 1 continues batch k
        shuffle = not getattr(train, "ordered", False)
        return (DataLoader(train, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last,
                           generator=numpy.random.default_rng([seed, 1]) if shuffle else None),
                DataLoader(test, batch_size=test_batch_size))

    def __repr__(self):
        return f"<{self.kind} data set {self.name!r}>"


class ImageData(DataSpec):
    """Images ``[N, C, H, W]`` in [0, 1]; batches are ``(x,)``, or ``(x, y)`` with the digit
    labels when ``labels=True`` (conditional models)."""

    kind = "images"

    def __init__(self, name, load, shape):
        self.name, self._load, self.shape = name, load, tuple(shape)

    def images(self, split="train"):
        return self._load(split)[0]

    def labels(self, split="train"):
        return self._load(split)[1]

    def datasets(self, device=None, labels=False, **options):
        from minigen.utils.data import TensorDataset
        out = []
        for split in ("train", "test"):
            x, y = self._load(split)
            tensors = (x, y) if labels else (x,)
            out.append(TensorDataset(*(t.to(device or "cpu") for t in tensors)))
        return tuple(out)


class TextData(DataSpec):
    """A character corpus with a ``vocab`` (``CharVocab``)."""

    kind = "text"
    default_block_size = 64

    @property
    def vocab_size(self):
        return len(self.vocab)

    def check_prompt(self, prompt):
        """The ids of ``prompt``; a character outside the vocabulary is a ``ValueError``
        that names it and lists the allowed characters."""
        bad = sorted({c for c in prompt if c not in self.vocab.stoi})
        if bad:
            allowed = "".join(c for c in self.vocab.itos if c != self.vocab.boundary)
            raise ValueError(f"prompt: character(s) {''.join(bad)!r} are not in the {self.name} "
                             f"vocabulary; allowed: {allowed!r}")
        return self.vocab.encode(prompt)


class NamesData(TextData):
    """US first names, one per row with the end token; ``'.'`` (id 0) starts and ends a name."""

    name = "names"
    default_block_size = 16

    @functools.cached_property
    def split(self):
        from minigen.data import names_split
        return names_split()

    @functools.cached_property
    def vocab(self):
        from minigen.data import CharVocab
        train, test = self.split
        return CharVocab(train + test, boundary=".")

    def datasets(self, block_size=None, streams=False, **options):
        from minigen.data import NameSequences
        if streams:
            raise ValueError("names: separate names have no running text to cut into streams; "
                             "use the default variant")
        T = block_size or self.default_block_size
        return tuple(NameSequences(part, self.vocab, T) for part in self.split)

    def encode_prompt(self, prompt):
        """A prompt is the start of a name (possibly empty): ``[0] + ids``."""
        return [0] + self.check_prompt(prompt)

    default_prompt = ""
    end_token = 0

    def decode(self, ids):
        """The name in ``ids`` (after the start token, up to the end token)."""
        text = self.vocab.decode(ids)
        return text[1:].split(".")[0] if text.startswith(".") else text.split(".")[0]


class ShakespeareData(TextData):
    """Ten works of Shakespeare as one running text."""

    name = "shakespeare"

    @functools.cached_property
    def text(self):
        from minigen.data import load_shakespeare
        return load_shakespeare(separator="")

    @functools.cached_property
    def vocab(self):
        from minigen.data import CharVocab
        return CharVocab(self.text)

    @functools.cached_property
    def ids(self):
        return numpy.asarray(self.vocab.encode(self.text), dtype=numpy.int64)

    @property
    def split(self):
        """(train ids, validation ids): the first ``N * 9 // 10`` characters, and the rest."""
        cut = self.ids.size * 9 // 10
        return self.ids[:cut], self.ids[cut:]

    def datasets(self, block_size=None, streams=False, batch_size=32, stride=1, **options):
        from minigen.data import TextStreams, TextWindows
        T = block_size or self.default_block_size
        train_ids, val_ids = self.split
        train = TextStreams(train_ids, batch_size, T) if streams else TextWindows(train_ids, T, stride)
        # the test windows: j = 0.. at validation character T j, covering TEST_CHARS targets
        test = TextWindows(val_ids[:TEST_CHARS + 1], T, stride=T)
        return train, test

    def encode_prompt(self, prompt):
        if prompt == "":
            raise ValueError("prompt: an empty prompt gives the model nothing to continue; give at "
                             "least one character (the default is a line break, '\\n')")
        return self.check_prompt(prompt)

    default_prompt = "\n"
    end_token = None

    def decode(self, ids):
        return self.vocab.decode(ids)


class PointsData(DataSpec):
    """2-D points ``[N, 2]`` (the two moons of ``minigen.data.moons_split``); batches ``(x,)``."""

    kind = "points"
    name = "moons"
    shape = (2,)

    @functools.cached_property
    def split(self):
        from minigen.data import moons_split
        return moons_split()

    def datasets(self, device=None, **options):
        from minigen.utils.data import TensorDataset
        return tuple(TensorDataset(from_numpy(self.split[part]).to(device or "cpu"))
                     for part in ("train", "test"))


class AudioWindows:
    """Windows of ``length`` mu-law codes at every ``stride``-th start of every clip (a flat index
    over (clip, start)), with the clip's digit: batches ``(codes int64 [B, length], digits [B])``."""

    def __init__(self, clips, length, stride=1):
        self.clips = [(c, d) for c, d in clips if len(c) >= length]
        self.length, self.stride = length, stride
        counts = numpy.array([(len(c) - length) // stride + 1 for c, _ in self.clips])
        self.offsets = numpy.concatenate([[0], numpy.cumsum(counts)])

    def __len__(self):
        return int(self.offsets[-1])

    def __getitem__(self, i):
        codes, digits = self._gather(numpy.arange(len(self))[[i]])
        return codes[0], digits[0]

    def _gather(self, idx):
        idx = numpy.asarray(idx).reshape(-1)
        k = numpy.searchsorted(self.offsets, idx, side="right") - 1
        starts = (idx - self.offsets[k]) * self.stride
        rows = numpy.stack([self.clips[c][0][s:s + self.length] for c, s in zip(k, starts)])
        digits = numpy.array([self.clips[c][1] for c in k], dtype=numpy.int64)
        return from_numpy(rows.astype(numpy.int64)), from_numpy(digits)


class AudioData(DataSpec):
    """The spoken digits as mu-law codes (``wavenet.mu_law_encode``), split by speaker: training
    batches are windows of ``window`` codes at random starts; the test set holds each test
    clip's windows with a stride of ``window - 512`` (the loop's running test loss; the model's
    ``evaluate`` scores every test position exactly)."""

    kind = "audio"
    name = "spoken"
    sample_rate = 8000

    @functools.cached_property
    def _codes(self):
        from minigen.data import load_spoken_digits
        from minigen.models.wavenet import mu_law_encode
        return {split: [(mu_law_encode(s), d) for s, d, _ in load_spoken_digits(split)]
                for split in ("train", "test")}

    def clips(self, split):
        """[(codes int64 [n], digit)] of the ``'train'`` or ``'test'`` speakers' clips."""
        return self._codes[split]

    def datasets(self, window=1512, **options):
        return (AudioWindows(self.clips("train"), window),
                AudioWindows(self.clips("test"), window, stride=window - 512))

    def loaders(self, batch_size, seed=0, test_batch_size=16, device=None, drop_last=False, **options):
        return super().loaders(batch_size, seed=seed, test_batch_size=test_batch_size, device=device,
                               drop_last=drop_last, **options)


class UnpairedDigits(DataSpec):
    """Domain A: the UCI 8x8 digits upsampled (bilinear) to 32x32; domain B: MNIST padded with 0
    to 32x32; both in [0, 1]. Item i of the training set pairs B's image i with A's image
    i mod |A|: the pairs are arbitrary (the loader shuffles them) and carry no correspondence."""

    kind = "unpaired"
    name = "digits2mnist"
    shape = (1, 32, 32)

    def _domain(self, which, split):
        from minigen.data import load_digits, load_mnist
        from minigen.nn import functional as F
        if which == "A":
            x, y = load_digits(split)
            x = F.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False).clamp(0.0, 1.0)
        else:
            x, y = load_mnist(split)
            x = F.pad(x, (2, 2, 2, 2), value=0.0)
        return x, y

    def test_images(self, which="A"):
        return self._domain(which, "test")[0]

    def test_labels(self, which="A"):
        return self._domain(which, "test")[1]

    def datasets(self, device=None, **options):
        from minigen.utils.data import TensorDataset
        out = []
        for split in ("train", "test"):
            (a, ya), (b, yb) = self._domain("A", split), self._domain("B", split)
            idx = from_numpy(numpy.arange(len(b)) % len(a))
            out.append(TensorDataset(*(t.to(device or "cpu") for t in (a[idx], b, ya[idx], yb))))
        return tuple(out)


class NumbersData(DataSpec):
    """English number words -> digits (``minigen.data.numbers``): 8,000 training and 2,000
    test integers of 0..9999; batches ``(src, tgt)``, PAD-padded int64 ids ``[B, S]``, ``[B, U]``."""

    kind = "seq2seq"
    name = "numbers"

    @functools.cached_property
    def split(self):
        from minigen.data.numbers import numbers_split
        return numbers_split()

    def datasets(self, device=None, **options):
        from minigen.data.numbers import encode_pairs
        from minigen.utils.data import TensorDataset
        return tuple(TensorDataset(*(from_numpy(a).to(device or "cpu") for a in encode_pairs(part)))
                     for part in self.split)


class CaptionData(ImageData):
    """minigen's MNIST split (4,000 / 1,000) as image-caption pairs (``minigen.data.captions``):
    batches ``(x, y)``, the images and their digits; the model draws each image's caption from
    the templates afresh every step (from minigen's generator, so runs resume exactly)."""

    kind = "captions"

    def __init__(self):
        super().__init__("captions", _mnist, (1, 28, 28))

    @property
    def templates(self):
        from minigen.data.captions import TRAIN_TEMPLATES
        return TRAIN_TEMPLATES

    def datasets(self, device=None, **options):
        return super().datasets(device=device, labels=True)


@dataclasses.dataclass
class RunData:
    """What a training run holds of its data: the spec and the two loaders."""

    spec: DataSpec
    train_loader: object
    test_loader: object
    epochs: int = 0           # of the run (hooks that draw "every few epochs" need it)

    def test_images(self, n=None):
        """The first ``n`` (default: all) test images, on the loader's device."""
        x = self.test_loader.dataset.tensors[0]
        return x if n is None else x[:n]


def _mnist(split):
    from minigen.data import load_mnist
    return load_mnist(split)


def _digits(split):
    from minigen.data import load_digits
    return load_digits(split)


DATASETS = {
    "mnist": ImageData("mnist", _mnist, (1, 28, 28)),
    "digits": ImageData("digits", _digits, (1, 8, 8)),
    "names": NamesData(),
    "shakespeare": ShakespeareData(),
    "digits2mnist": UnpairedDigits(),
    "moons": PointsData(),
    "spoken": AudioData(),
    "numbers": NumbersData(),
    "captions": CaptionData(),
}


def load_data(name, split="train"):
    """Images of the embedded image data set ``name`` (``'mnist'``, ``'digits'``): a cpu tensor
    float32 ``[N, C, H, W]`` in [0, 1], from the fixed ``split`` (``'train'`` or ``'test'``)."""
    spec = DATASETS.get(name)
    if spec is None or spec.kind != "images":
        images = sorted(k for k, v in DATASETS.items() if v.kind == "images")
        raise ValueError(f"unknown data set {name!r}; choose from {images}")
    return spec.images(split)

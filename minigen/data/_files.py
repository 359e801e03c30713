"""Where the embedded data files live, and the small helpers every loader shares.

The files sit in ``minigen/data/files/`` inside the installed package (see ``README.md`` next
to this module for where each one comes from). They are opened through ``importlib.resources``
so the loaders also work when minigen is installed as a zip or wheel; nothing is downloaded.
"""
from __future__ import annotations

import functools
import gzip
import io
from importlib import resources

import numpy

from ..creation import from_numpy

FILES = "files"


def open_file(name):
    """A binary file object for the embedded data file ``name`` (e.g. ``'digits.csv.gz'``)."""
    ref = resources.files(__package__).joinpath(FILES).joinpath(name)
    if not ref.is_file():
        raise FileNotFoundError(
            f"minigen.data: the embedded file '{name}' is missing from the installed package "
            f"(expected it under minigen/data/{FILES}/); reinstall minigen with its package data")
    return ref.open("rb")


def read_bytes(name):
    """The bytes of an embedded file, gunzipped when its name ends in ``.gz``."""
    with open_file(name) as f:
        raw = f.read()
    return gzip.decompress(raw) if name.endswith(".gz") else raw


@functools.lru_cache(maxsize=None)
def read_csv_uint8(name):
    """An embedded ``.csv.gz`` of small non-negative integers as a read-only uint8 array.

    Cached: the loaders convert it to float (a copy) before handing anything out, and the
    array is marked read-only so no caller can change the cached copy by accident.
    """
    a = numpy.loadtxt(io.BytesIO(read_bytes(name)), delimiter=",", dtype=numpy.uint8, ndmin=2)
    a.flags.writeable = False
    return a


def check_choice(fn, arg, value, choices):
    """Raise a ValueError naming the function, the argument and the allowed values."""
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{fn}: {arg} must be one of {allowed}, got {value!r}")


def image_tensors(pixels, labels, peak, shape, range, flatten):
    """(images, labels) tensors on cpu from uint8 ``pixels`` [N, H*W] and integer ``labels``.

    Pixels are divided by ``peak`` (the largest grey level of the source: 16 for the 8x8
    digits, 255 for MNIST) to lie in [0, 1]; ``range='-11'`` maps them on to [-1, 1], the
    range that tanh-output generators (DCGAN) and diffusion models expect.
    """
    x = pixels.astype(numpy.float32) / numpy.float32(peak)
    if range == "-11":
        x = x * numpy.float32(2.0) - numpy.float32(1.0)
    x = x.reshape((len(x), -1) if flatten else (len(x), 1) + tuple(shape))
    y = numpy.array(labels, dtype=numpy.int64)  # always a fresh copy
    return from_numpy(numpy.ascontiguousarray(x)), from_numpy(y)

"""Spoken digits: 800 clips of the words "zero" to "nine", 8 kHz mono 16-bit WAV, read with the
standard library's ``wave`` module.

The clips (``spoken_digits.tar.gz``, see ``README.md``) are named ``{digit}_{speaker}_{take}.wav``
(the Free Spoken Digit Dataset's naming): 40 synthetic voices (``en029_Annie`` ...), 2 takes of
each digit per voice, 0.19-0.81 s each. The split is by speaker, so that test voices are never
heard in training: the 40 speaker names sorted, ``numpy.random.default_rng(0).permutation(40)``,
the first 36 train, the last 4 test (720 / 80 clips).

``read_wav`` refuses, naming what it found, a file that is not 8 kHz, mono and 16-bit (this
module does not resample); samples come back as float32 ``int16 / 32768`` in [-1, 1).
"""
from __future__ import annotations

import functools
import io
import tarfile
import wave

import numpy

from ._files import check_choice, open_file

__all__ = ["read_wav", "write_wav", "load_spoken_digits", "spoken_digits_speakers", "SAMPLE_RATE"]

SAMPLE_RATE = 8000
SPLITS = ("train", "test", "all")


def read_wav(source, name=None):
    """The samples of a WAV file (a path, a file object or bytes) as float32 in [-1, 1):
    int16 / 32768. Only 8 kHz mono 16-bit PCM is accepted; anything else is a ``ValueError``
    that names the file and what it holds."""
    name = name or (source if isinstance(source, str) else "<wav>")
    f = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
    try:
        with wave.open(f, "rb") as w:
            rate, channels, width, n = w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()
            raw = w.readframes(n)
    except (wave.Error, EOFError) as e:
        raise ValueError(f"read_wav: {name} is not a readable WAV file ({e})") from None
    if (rate, channels, width) != (SAMPLE_RATE, 1, 2):
        raise ValueError(f"read_wav: {name} is {rate} Hz, {channels} channel(s), {8 * width}-bit; "
                         f"expected {SAMPLE_RATE} Hz mono 16-bit PCM (resample it first, e.g. "
                         f"sox in.wav -r 8000 -c 1 -b 16 out.wav)")
    return numpy.frombuffer(raw, dtype="<i2").astype(numpy.float32) / 32768.0


@functools.lru_cache(maxsize=None)
def _clips():
    """[(digit, speaker, take, samples)] of every clip, sorted by file name."""
    out = []
    with open_file("spoken_digits.tar.gz") as f, tarfile.open(fileobj=f, mode="r:gz") as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            if not member.name.endswith(".wav"):
                continue
            base = member.name.rsplit("/", 1)[-1][:-4]
            digit, rest = base.split("_", 1)
            speaker, take = rest.rsplit("_", 1)
            samples = read_wav(tar.extractfile(member).read(), member.name)
            samples.setflags(write=False)
            out.append((int(digit), speaker, int(take), samples))
    return tuple(out)


def spoken_digits_speakers(split="all"):
    """The speakers of ``split``: sorted names permuted by ``default_rng(0)``; 36 train, 4 test."""
    check_choice("spoken_digits_speakers", "split", split, SPLITS)
    names = sorted({c[1] for c in _clips()})
    perm = numpy.random.default_rng(0).permutation(len(names))
    order = [names[i] for i in perm]
    return {"train": order[:36], "test": order[36:], "all": order}[split]


def load_spoken_digits(split="train"):
    """The clips of ``split`` (``'train'``: 36 speakers, 720 clips; ``'test'``: 4 speakers, 80;
    ``'all'``): a list of ``(samples float32 [n] in [-1, 1), digit, speaker)``, in file order."""
    keep = set(spoken_digits_speakers(split))
    return [(s, d, spk) for d, spk, _, s in _clips() if spk in keep]


def write_wav(path, samples, sample_rate=SAMPLE_RATE):
    """Write ``samples`` (floats in [-1, 1], NumPy or tensor) as mono 16-bit PCM at ``sample_rate``."""
    a = samples.cpu().numpy() if hasattr(samples, "numpy") and not isinstance(samples, numpy.ndarray) else numpy.asarray(samples)
    a = numpy.asarray(a, dtype=numpy.float64).reshape(-1)
    if not numpy.isfinite(a).all():
        raise ValueError("write_wav: the samples hold NaN or infinite values")
    pcm = numpy.clip(numpy.round(a * 32768.0), -32768, 32767).astype("<i2")
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(pcm.tobytes())
    return path

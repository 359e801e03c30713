"""Hearing digits: an audio encoder trained contrastively against CLIP's frozen image space, so
that a spoken "seven" lands next to pictures of 7 (the idea of AudioCLIP, Guzhov et al. 2022,
and of ImageBind, Girdhar et al. 2023: bind a new modality to an existing image space).

The features. A clip of the spoken digits (8 kHz, ``minigen.data.load_spoken_digits``) is
scaled to a peak of 1, zero-padded or cut to S = 6,528 samples (0.82 s; the longest clip has
6,457), and turned into a log-mel spectrogram:

    X_t(f) = sum_n w(n) s(128 t + n) exp(-2 pi i f n / 256)       Hann window w, 256 samples (32 ms),
                                                                   hop 128 (16 ms): T = 50 frames
    M_t(m) = sum_f H_m(f) |X_t(f)|^2                               40 triangular mel filters, 0-4 kHz
    A_t(m) = log(M_t(m) + 1e-6), then standardised over the clip    a = (A - mean(A)) / std(A)

The encoder. A 1-D convolution over time (the 40 mel bands are its input channels):

    h = ReLU(Conv1d 40 -> 64, k 5), MaxPool 2, ReLU(Conv1d 64 -> 64, k 5), MaxPool 2,
        ReLU(Conv1d 64 -> 128, k 3), mean over time
    z = W h + b                         [64]: the size of CLIP's space
    a = z / ||z||

The loss. CLIP stays frozen; only the audio encoder learns. In a batch of B clips of digits
y_1..y_B, clip i is paired with a training image of its digit drawn at random (from minigen's
generator), whose CLIP image embedding u_i = f(x_i) / ||f(x_i)|| was computed once. The loss is
CLIP's symmetric InfoNCE between the audio vectors and those image vectors,

    S_ij = s a_i . u_j,    L = (CE_rows(S, diag) + CE_cols(S, diag)) / 2,

with its own learned temperature s = exp(min(t, log 100)), t starting at log(1/0.07). The image
side does not move, so the audio encoder has to learn CLIP's geometry: where CLIP put the 7s.

Retrieval. A test speaker's clip retrieves the test images nearest to it in CLIP's space,
argmax_n a . u_n; top-1 accuracy is the share of clips whose nearest image shows the spoken
digit. The test speakers (4 of 40) are never heard in training.

Prompting the text-to-image model. ``prompt_from_audio`` hears a clip as the caption whose CLIP
text embedding is nearest ("a handwritten {zero..nine}"): the prior draws from that caption,
and the candidates are ranked by the audio vector itself.
"""
from __future__ import annotations

import functools
import os
import types

import numpy

import minigen
from minigen import nn
from minigen.data import captions as C

from .clip import CLIP, QUICK as CLIP_QUICK, clip_loss, l2_normalize, INIT_LOG_SCALE, MAX_LOG_SCALE
from .datasets import DataSpec
from .registry import Recipe, register

__all__ = ["AudioCLIP", "AudioEncoder", "log_mel", "mel_filterbank", "build_audio_clip", "retrieval",
           "prompt_from_audio", "SHIPPED"]

SAMPLE_RATE = 8000
N_SAMPLES = 6528          # 0.816 s: the longest clip (6,457 samples) fits
N_FFT, HOP, N_MELS = 256, 128, 40
HERE = os.path.dirname(os.path.abspath(__file__))
SHIPPED = os.path.join(HERE, "weights", "audio_clip.npz")


# ----------------------------------------------------------------------------- features
def _hz_to_mel(f):
    # mel(f) = 2595 log10(1 + f / 700)
    return 2595.0 * numpy.log10(1.0 + f / 700.0)


def _mel_to_hz(m):
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


@functools.lru_cache(maxsize=None)
def mel_filterbank(n_mels=N_MELS, n_fft=N_FFT, sample_rate=SAMPLE_RATE):
    """H [n_mels, n_fft // 2 + 1]: triangular filters with centres equally spaced in mel."""
    freqs = numpy.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    edges = _mel_to_hz(numpy.linspace(0.0, _hz_to_mel(sample_rate / 2), n_mels + 2))
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    # H_m(f) rises from lo to mid and falls from mid to hi
    H = numpy.maximum(0.0, numpy.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)))
    return H.astype(numpy.float32)


def log_mel(samples):
    """The standardised log-mel spectrogram of one clip: float32 [N_MELS, T] (T = 50).

    ``samples``: a 1-D float array in [-1, 1] at 8 kHz (peak-normalised, then padded with
    zeros or cut to ``N_SAMPLES``)."""
    s = numpy.asarray(samples, dtype=numpy.float64).reshape(-1)
    if s.size == 0:
        raise ValueError("audio: the clip is empty (0 samples)")
    if not numpy.isfinite(s).all():
        raise ValueError("audio: the clip holds NaN or infinite samples")
    peak = numpy.abs(s).max()
    if peak == 0:
        raise ValueError("audio: the clip is silent (every sample is 0)")
    s = s / peak
    s = numpy.pad(s, (0, max(0, N_SAMPLES - s.size)))[:N_SAMPLES]
    T = 1 + (N_SAMPLES - N_FFT) // HOP
    frames = numpy.stack([s[HOP * t: HOP * t + N_FFT] for t in range(T)])
    # X_t(f) = sum_n w(n) s(hop t + n) e^{-2 pi i f n / N}
    X = numpy.fft.rfft(frames * numpy.hanning(N_FFT), axis=1)
    # M_t(m) = sum_f H_m(f) |X_t(f)|^2;  A = log(M + 1e-6)
    A = numpy.log(numpy.abs(X) ** 2 @ mel_filterbank().T + 1e-6).T
    # a = (A - mean A) / std A over the clip
    return ((A - A.mean()) / (A.std() + 1e-6)).astype(numpy.float32)


@functools.lru_cache(maxsize=None)
def spoken_features(split):
    """``(features float32 [N, 40, 50], digits int64 [N])`` of the spoken digits' ``split``."""
    from minigen.data import load_spoken_digits
    clips = load_spoken_digits(split)
    return (numpy.stack([log_mel(s) for s, _, _ in clips]),
            numpy.array([d for _, d, _ in clips], dtype=numpy.int64))


# ----------------------------------------------------------------------------- the model
class AudioEncoder(nn.Module):
    """Three 1-D convolutions over the log-mel frames, mean over time, Linear to ``embed_dim``."""

    def __init__(self, n_mels=N_MELS, channels=(64, 64, 128), embed_dim=64):
        super().__init__()
        c1, c2, c3 = channels
        self.features = nn.Sequential(
            nn.Conv1d(n_mels, c1, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(c1, c2, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(c2, c3, 3, padding=1), nn.ReLU())
        self.proj = nn.Linear(c3, embed_dim)

    def forward(self, a):
        # h = mean_t conv(a)_t
        h = self.features(a).mean(dim=2)
        # z = W h + b
        return self.proj(h)


class AudioCLIP(nn.Module):
    """The audio encoder and its temperature; CLIP's image embeddings of the training images
    (``image_bank`` [N, E] with digits ``image_labels``) are fixed buffers, not parameters."""

    def __init__(self, channels=(64, 64, 128), embed_dim=64):
        super().__init__()
        self.channels, self.embed_dim = tuple(channels), embed_dim
        self.audio = AudioEncoder(N_MELS, self.channels, embed_dim)
        # t = log s, s = exp(min(t, log 100))
        self.logit_scale = nn.Parameter(minigen.tensor(INIT_LOG_SCALE))
        self.image_bank = self.image_labels = None

    def config(self):
        return {"class": "AudioCLIP", "channels": list(self.channels), "embed_dim": self.embed_dim}

    def set_image_bank(self, u, labels):
        """The frozen CLIP's unit image vectors ``u`` [N, E] of the training images and their digits."""
        if u.shape[1] != self.embed_dim:
            raise ValueError(f"AudioCLIP: CLIP's space has {u.shape[1]} dimensions, the audio encoder "
                             f"{self.embed_dim}")
        self.register_buffer("image_bank", u, persistent=False)
        self.register_buffer("image_labels", labels, persistent=False)
        # rows of the bank by digit, for drawing an image of digit d
        idx = [numpy.flatnonzero(labels.cpu().numpy() == d) for d in range(10)]
        self._by_digit = idx

    def encode_audio(self, a):
        """a = z / ||z|| for features [B, 40, 50]."""
        shape = tuple(getattr(a, "shape", ()))
        if not isinstance(a, minigen.Tensor) or len(shape) != 3 or shape[1] != N_MELS:
            got = list(shape) if isinstance(a, minigen.Tensor) else type(a).__name__
            raise ValueError(f"AudioCLIP: expected log-mel features [B, {N_MELS}, T] (log_mel), got {got}")
        return l2_normalize(self.audio(a))

    def draw_images(self, digits):
        """For each digit, the row of a random training image of that digit in the bank (int64 [B])."""
        if self.image_bank is None:
            raise RuntimeError("AudioCLIP: no image bank; build it with build_audio_clip (it embeds the "
                               "training images with the frozen CLIP)")
        r = minigen.rand(digits.shape[0]).cpu().numpy()
        rows = [self._by_digit[d][int(q * len(self._by_digit[d]))] for d, q in zip(digits.cpu().numpy(), r)]
        return minigen.from_numpy(numpy.array(rows, dtype=numpy.int64)).to(digits.device)

    def loss(self, a, digits):
        """Symmetric InfoNCE between the clips and one random training image of each clip's digit."""
        u = self.image_bank[self.draw_images(digits)]
        # s = exp(min(t, log 100))
        s = self.logit_scale.clamp(max=MAX_LOG_SCALE).exp()
        return clip_loss(self.encode_audio(a), u, s)


# ----------------------------------------------------------------------------- evaluation
@minigen.no_grad()
def retrieval(model, clip, features, digits, images, labels, k=10):
    """Spoken digit -> image retrieval over ``images`` (the test images) in CLIP's space:
    top-1 accuracy (the nearest image shows the spoken digit), class-level precision@k, and the
    share of clips heard as the right digit through the nearest prompt "a handwritten {w}"."""
    A = model.encode_audio(minigen.from_numpy(features)).cpu().numpy()
    U = clip.image_embeddings(images).cpu().numpy()
    y = labels.cpu().numpy() if hasattr(labels, "numpy") else numpy.asarray(labels)
    order = numpy.argsort(-(A @ U.T), axis=1, kind="stable")
    V = clip.class_embeddings().cpu().numpy()
    return {"top1_accuracy": float((y[order[:, 0]] == digits).mean()),
            f"precision_at_{k}": float((y[order[:, :k]] == digits[:, None]).mean()),
            "heard_as_prompt_accuracy": float(((A @ V.T).argmax(1) == digits).mean())}


def evaluate(model, data, k=None):
    """Retrieval of the 1,000 MNIST test images by the 80 clips of the 4 test speakers."""
    from minigen.data import load_mnist
    model.eval()
    x, y = load_mnist("test")
    f, d = spoken_features("test")
    return retrieval(model, model.clip_ref, f, d, x, y)


def prompt_from_audio(path, clip):
    """``(prompt, a [1, E])``: the clip at ``path`` (8 kHz mono 16-bit WAV) heard by the shipped
    audio encoder: the nearest caption "a handwritten {w}" in CLIP's space, and its audio vector."""
    from minigen.data import read_wav
    from minigen.train import load_checkpoint
    from minigen import io
    if not os.path.exists(path):
        raise ValueError(f"--audio: no such file {path!r}")
    samples = read_wav(path)
    if not os.path.exists(SHIPPED):
        raise ValueError("--audio: the audio encoder's weights (minigen/models/weights/audio_clip.npz) are missing")
    meta = io.load_meta(SHIPPED)
    model = AudioCLIP(**{k: v for k, v in meta["config"].items() if k != "class"})
    load_checkpoint(SHIPPED, model, expect={"model": "audio_clip"})
    model.eval()
    with minigen.no_grad():
        a = model.encode_audio(minigen.from_numpy(log_mel(samples)[None]))
        d = int((a @ clip.class_embeddings().transpose(0, 1)).argmax(dim=1).item())
    return C.caption("a handwritten {w}", d), a


# ----------------------------------------------------------------------------- registry
class SpokenFeatures(DataSpec):
    """The spoken digits as log-mel features ``(a [N, 40, 50], digit [N])``, split by speaker
    (36 training speakers, 720 clips; 4 test speakers, 80 clips)."""

    kind = "spoken_features"
    name = "spoken_mel"

    def datasets(self, device=None, **options):
        from minigen.utils.data import TensorDataset
        return tuple(TensorDataset(*(minigen.from_numpy(t).to(device or "cpu") for t in spoken_features(split)))
                     for split in ("train", "test"))


def _add_data_set():
    from .datasets import DATASETS
    DATASETS.setdefault("spoken_mel", SpokenFeatures())


_add_data_set()

QUICK = dict(channels=(8, 8, 8), embed_dim=CLIP_QUICK["embed_dim"], clip_checkpoint="random")


def build_audio_clip(data="spoken_mel", variant="default", clip_checkpoint="runs/clip/last.npz", **options):
    """The audio encoder, with CLIP's image space from ``clip_checkpoint`` (the default run of
    ``minigen train clip``; when absent, the CLIP inside the shipped text-to-image model;
    ``'random'``: a small random CLIP, for ``--quick``): the training images are embedded once
    into the bank. ``None``: no bank (a model to load weights into and encode audio with)."""
    if data != "spoken_mel":
        raise ValueError(f"audio_clip: trains on the spoken digits' log-mel features (data 'spoken_mel'), "
                         f"got {data!r}")
    from minigen.data import load_mnist
    from .dalle import _load_part
    model = AudioCLIP(**options)

    if clip_checkpoint is None:
        return model
    parts = types.SimpleNamespace(clip=CLIP((1, 28, 28), **(CLIP_QUICK if clip_checkpoint == "random" else {})))
    if clip_checkpoint != "random":
        _load_part(parts, "clip", clip_checkpoint)
    clip = parts.clip.eval()
    x, y = load_mnist("train")
    model.set_image_bank(clip.image_embeddings(x), y)
    # the frozen CLIP, kept outside the module tree (not saved, not trained)
    object.__setattr__(model, "clip_ref", clip)
    return model


register("audio_clip", build_audio_clip, Recipe(
    data="spoken_mel", epochs=40, batch_size=64, lr=1e-3, optimizer="adam",
    quick=dict(epochs=1, steps=4, batch_size=16, model_options=QUICK),
    evaluate=evaluate,
    description="hearing digits: a log-mel conv encoder trained contrastively against CLIP's frozen "
                "image space; spoken digit -> image retrieval"))

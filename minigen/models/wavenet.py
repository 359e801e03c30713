"""WaveNet (van den Oord et al. 2016, "WaveNet: A Generative Model for Raw Audio"), with fast
generation by per-layer caches (Paine et al. 2016, "Fast Wavenet Generation Algorithm"), on
the spoken digits (8 kHz).

The chain rule again, over time. A waveform of T samples is predicted one sample at a time:

    p(x) = prod_t p(x_t | x_1, ..., x_{t-1}, digit)

mu-law companding. Speech is quiet most of the time; a uniform 256-level grid would waste its
levels on loud values. mu-law (mu = 255) spends them logarithmically:

    f(x) = sign(x) ln(1 + mu |x|) / ln(1 + mu)            x in [-1, 1] -> f in [-1, 1]
    q = floor((f + 1) / 2 * 255 + 1/2)                     the code, 0 .. 255
    decode: f = 2 q / 255 - 1,  x = sign(f) ((1 + mu)^|f| - 1) / mu

and each sample's conditional is a 256-way softmax over q.

Dilated causal convolutions. A kernel-2 convolution with dilation d combines x_t and x_{t-d};
stacking dilations 1, 2, 4, ..., 128 reaches 256 samples back in 8 layers. Two such stacks and
the kernel-2 input convolution see R = 1 + 2 x 255 + 1 = 512 samples (64 ms). The convolutions
are unpadded ("valid"): each layer's output is d samples shorter, so an input of L samples
gives L - R + 1 outputs, each predicting the sample after its window.

A layer (gated unit, residual and skip connections, global conditioning on the digit h):

    a = W_{d} * z + V h                      (2 C channels: filter and gate halves)
    u = tanh(a_f) * sigmoid(a_g)
    z <- z[d:] + W_res u                     (residual, 1x1)
    s <- s + W_skip u                        (skip, 1x1, the last L_out positions)
    logits = W_2 relu(W_1 relu(s))           (1x1s, 256 codes)

Fast generation. Naively each new sample reruns the network over the last R samples. But a
layer with dilation d needs, for its new output, only its input now and its input d steps ago:
a queue of the last d inputs per layer (``GenerationCache``) makes each new sample cost one
step of every layer, O(layers) instead of O(R x layers). The two agree sample for sample at a
fixed seed (a test checks it); ``benchmarks`` measure both.
"""
from __future__ import annotations

import math

import numpy

import minigen
from minigen import nn
from minigen.nn import functional as F

from .registry import DATASETS, Recipe, register

__all__ = ["MU", "mu_law_encode", "mu_law_decode", "WaveNet", "build_wavenet", "evaluate"]

MU = 255


def mu_law_encode(x, mu=MU):
    """Audio ``x`` in [-1, 1] (NumPy or tensor) -> int64 codes 0 .. mu:
    f = sign(x) ln(1 + mu |x|) / ln(1 + mu), q = floor((f + 1) / 2 mu + 1/2)."""
    a = x.cpu().numpy() if hasattr(x, "numpy") and not isinstance(x, numpy.ndarray) else numpy.asarray(x)
    a = a.astype(numpy.float64)
    if a.size and (not numpy.isfinite(a).all() or a.min() < -1.0 or a.max() > 1.0):
        bad = a[~numpy.isfinite(a) | (a < -1) | (a > 1)]
        raise ValueError(f"mu_law_encode: audio must lie in [-1, 1] (int16 / 32768), got values such as "
                         f"{bad.ravel()[:3].tolist()}")
    f = numpy.sign(a) * numpy.log1p(mu * numpy.abs(a)) / math.log1p(mu)
    return numpy.floor((f + 1.0) / 2.0 * mu + 0.5).astype(numpy.int64)


def mu_law_decode(q, mu=MU):
    """Codes 0 .. mu -> audio in [-1, 1]: f = 2 q / mu - 1, x = sign(f) ((1 + mu)^|f| - 1) / mu."""
    a = q.cpu().numpy() if hasattr(q, "numpy") and not isinstance(q, numpy.ndarray) else numpy.asarray(q)
    f = 2.0 * a.astype(numpy.float64) / mu - 1.0
    return (numpy.sign(f) * ((1.0 + mu) ** numpy.abs(f) - 1.0) / mu).astype(numpy.float32)


class _Layer(nn.Module):
    def __init__(self, d, C_res, C_dil, C_skip, num_classes):
        super().__init__()
        self.d, self.C_dil = d, C_dil
        self.dilated = nn.Conv1d(C_res, 2 * C_dil, 2, dilation=d)
        self.cond = nn.Linear(num_classes, 2 * C_dil, bias=False) if num_classes else None
        self.res = nn.Conv1d(C_dil, C_res, 1)
        self.skip = nn.Conv1d(C_dil, C_skip, 1)

    def gate(self, a, h):
        if h is not None:
            a = a + self.cond(h)[:, :, None]
        # u = tanh(a_f) * sigmoid(a_g)
        return minigen.tanh(a[:, :self.C_dil]) * minigen.sigmoid(a[:, self.C_dil:])


class WaveNet(nn.Module):
    """Dilated causal convolutions over mu-law codes, globally conditioned on the digit."""

    def __init__(self, dilations=(1, 2, 4, 8, 16, 32, 64, 128) * 2, residual=32, dilation_channels=32,
                 skip=64, quantization=256, num_classes=10):
        super().__init__()
        self.dilations, self.Q, self.num_classes = tuple(dilations), quantization, num_classes
        self.residual, self.dilation_channels, self.skip_channels = residual, dilation_channels, skip
        self.input_conv = nn.Conv1d(quantization, residual, 2)
        self.layers = nn.ModuleList(_Layer(d, residual, dilation_channels, skip, num_classes) for d in self.dilations)
        self.head1 = nn.Conv1d(skip, skip, 1)
        self.head2 = nn.Conv1d(skip, quantization, 1)

    @property
    def receptive_field(self):
        """R = 1 (the kernel-2 input conv adds 1) + sum of the dilations + 1."""
        return 2 + sum(self.dilations)

    def config(self):
        return {"class": "WaveNet", "dilations": list(self.dilations), "residual": self.residual,
                "dilation_channels": self.dilation_channels, "skip": self.skip_channels,
                "quantization": self.Q, "num_classes": self.num_classes}

    def _h(self, digits, n, device):
        if not self.num_classes:
            return None
        if digits is None:
            raise ValueError("WaveNet: the model is conditioned on the digit; give digits (0 .. 9)")
        y = digits if isinstance(digits, minigen.Tensor) else minigen.tensor(list(digits), dtype=minigen.int64)
        if y.shape != (n,):
            raise ValueError(f"WaveNet: digits must be one per sequence, shape [{n}], got {list(y.shape)}")
        lo, hi = minigen.stack(y.aminmax()).tolist()  # one read of the device, not two
        if lo < 0 or hi >= self.num_classes:
            raise ValueError(f"WaveNet: digits must lie in 0 .. {self.num_classes - 1}, got {lo} .. {hi}")
        return F.one_hot(y.to(device), self.num_classes).to(minigen.float32)

    def forward(self, codes, digits=None):
        """Logits [B, Q, L - R + 1] for int64 codes [B, L]: output j predicts code j + R of the
        input (the sample after its window of R)."""
        B, L = codes.shape
        if L < self.receptive_field:
            raise ValueError(f"WaveNet: sequences must be at least the receptive field, {self.receptive_field} "
                             f"samples, got {L}")
        h = self._h(digits, B, codes.device)
        x = F.one_hot(codes, self.Q).to(minigen.float32).transpose(1, 2)      # [B, Q, L]
        z = self.input_conv(x)                                                  # [B, C, L - 1]
        L_out = L - self.receptive_field + 1
        s = None
        for layer in self.layers:
            u = layer.gate(layer.dilated(z), h)                                # [B, C, len - d]
            # z <- z[d:] + W_res u;  s <- s + W_skip u[-L_out:]
            z = z[:, :, layer.d:] + layer.res(u)
            sk = layer.skip(u[:, :, -L_out:])
            s = sk if s is None else s + sk
        # logits = W_2 relu(W_1 relu(s))
        return self.head2(F.relu(self.head1(F.relu(s))))

    def loss(self, codes, digits=None):
        """Mean cross-entropy (nats per predicted sample) of codes [B, L] given the first R."""
        # the window x_j .. x_{j+R-1} predicts x_{j+R}
        logits = self(codes[:, :-1], digits)
        return F.cross_entropy(logits, codes[:, self.receptive_field:])

    @minigen.no_grad()
    def nll_bits(self, codes, digit):
        """Bits of one clip's codes [L] at positions >= R (summed), and their count L - R."""
        c = minigen.tensor(numpy.asarray(codes)[None], dtype=minigen.int64).to(self._device())
        logits = self(c[:, :-1], [digit])
        nats = F.cross_entropy(logits, c[:, self.receptive_field:], reduction="sum").item()
        return nats / math.log(2), c.shape[1] - self.receptive_field

    def _device(self):
        return self.input_conv.weight.device

    # ------------------------------------------------------------------ generation
    @minigen.no_grad()
    def generate(self, n_samples, digit, seed_codes=None, fast=True, temperature=1.0):
        """``n_samples`` new codes (int64 NumPy) after ``seed_codes`` (default: R codes of
        silence, 128) for ``digit``; ``fast``: per-layer caches (Paine et al.) instead of
        rerunning the network over the last R samples for each new one. Both draw the same
        samples at a fixed seed."""
        R = self.receptive_field
        device = self._device()
        if seed_codes is None:
            seed_codes = numpy.full(R, self.Q // 2, dtype=numpy.int64)
        seed_codes = numpy.asarray(seed_codes, dtype=numpy.int64)
        if seed_codes.size < R:
            seed_codes = numpy.concatenate([numpy.full(R - seed_codes.size, self.Q // 2), seed_codes])
        h = self._h([digit], 1, device)
        out = []
        if not fast:
            codes = list(seed_codes[-R:])
            for _ in range(n_samples):
                window = minigen.tensor(numpy.asarray(codes[-R:])[None], dtype=minigen.int64).to(device)
                logits = self(window, [digit])[0, :, -1]
                q = self._draw(logits, temperature)
                codes.append(q)
                out.append(q)
            return numpy.asarray(out, dtype=numpy.int64)
        # fast: each layer's queue of past inputs from the seed but its last code, then one
        # step per code: the seed's last, then each new sample
        cache = self._warm_cache(seed_codes[-R:-1], h)
        x_last = int(seed_codes[-1])
        for _ in range(n_samples):
            logits = self._step(x_last, cache, h)
            q = self._draw(logits, temperature)
            out.append(q)
            x_last = q
        return numpy.asarray(out, dtype=numpy.int64)

    def _draw(self, logits, temperature):
        p = F.softmax(logits.reshape(1, -1) * (1.0 / temperature), dim=1)
        return int(minigen.multinomial(p, 1).item())

    def _warm_cache(self, seed, h):
        """For each layer, its inputs at the last d time steps of ``seed`` (R - 1 codes, enough
        for the deepest layer's d); for the input conv, the last code."""
        device = self._device()
        c = minigen.tensor(numpy.asarray(seed)[None], dtype=minigen.int64).to(device)
        x = F.one_hot(c, self.Q).to(minigen.float32).transpose(1, 2)
        z = self.input_conv(x)                               # [1, C, R - 1]: inputs of layer 0
        cache = {"prev_code": int(seed[-1]), "queues": []}
        for i, layer in enumerate(self.layers):
            # the layer's input history, newest last; keep d of them
            cache["queues"].append([z[:, :, t] for t in range(z.shape[2] - layer.d, z.shape[2])])
            if i + 1 < len(self.layers):
                u = layer.gate(layer.dilated(z), h)
                z = z[:, :, layer.d:] + layer.res(u)
        return cache

    def _step(self, code, cache, h):
        """The logits for the sample after ``code``, given the queues; updates the queues."""
        W = self.input_conv.weight                            # [C, Q, 2]
        # input conv over (previous code, code): two columns of W
        z = (W[:, cache["prev_code"], 0] + W[:, code, 1] + self.input_conv.bias)[None]   # [1, C]
        cache["prev_code"] = code
        s = None
        for layer, queue in zip(self.layers, cache["queues"]):
            past = queue.pop(0)                               # the input d steps ago
            queue.append(z)
            Wd = layer.dilated.weight                         # [2C, C, 2]
            a = past @ Wd[:, :, 0].t() + z @ Wd[:, :, 1].t() + layer.dilated.bias
            u = layer.gate(a[:, :, None], h)[:, :, 0]
            z = z + u @ layer.res.weight[:, :, 0].t() + layer.res.bias
            sk = u @ layer.skip.weight[:, :, 0].t() + layer.skip.bias
            s = sk if s is None else s + sk
        hid = F.relu(F.relu(s) @ self.head1.weight[:, :, 0].t() + self.head1.bias)
        return (hid @ self.head2.weight[:, :, 0].t() + self.head2.bias)[0]

    @minigen.no_grad()
    def sample(self, n, labels=None, seconds=1.0, fast=True):
        """``n`` waveforms [n, seconds * 8000] in [-1, 1], one per digit of ``labels`` (default
        0, 1, 2, ...), each generated from silence."""
        labels = [v % 10 for v in range(n)] if labels is None else [int(v) for v in labels]
        T = int(round(seconds * 8000))
        waves = [mu_law_decode(self.generate(T, d, fast=fast)) for d in labels]
        return minigen.tensor(numpy.stack(waves))


# ----------------------------------------------------------------------------- registry
def build_wavenet(data="spoken", variant="default"):
    """The issue's WaveNet: 2 stacks of dilations 1 .. 128, residual 32, dilation 32, skip 64."""
    if DATASETS[data].kind != "audio":
        raise ValueError(f"wavenet: models audio; {data!r} is a {DATASETS[data].kind} data set")
    return WaveNet()


def evaluate(model, data=None, k=None):
    """Test bits per sample over every test-speaker sample at position >= R of its clip."""
    from minigen.data import load_spoken_digits
    bits, n = 0.0, 0
    for samples, digit, _ in load_spoken_digits("test"):
        b, m = model.nll_bits(mu_law_encode(samples), digit)
        bits, n = bits + b, n + m
    return {"test_bits_per_sample": bits / n, "test_targets": n}


def _pictures(model, run_dir, data):
    from minigen import plots
    return plots.audio_pictures(model, run_dir)


register("wavenet", build_wavenet, Recipe(
    data="spoken", steps=1500, batch_size=4, lr=3e-3, schedule="cosine", variants=("default",),
    data_options={"window": 1512}, eval_every=500,
    quick={"steps": 3, "batch_size": 2, "data_options": {"window": 600}},
    pictures=_pictures, evaluate=evaluate,
    description="WaveNet: dilated causal convolutions over mu-law codes of the spoken digits"))

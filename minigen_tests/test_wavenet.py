"""WaveNet, mu-law, AR(p) and the spoken digits: formulas against NumPy, causality, fast
generation equal to naive, overfitting, checkpoints, both devices, and the errors."""
import io
import math
import os
import wave

import numpy
import pytest

import minigen
from minigen.data import load_spoken_digits, read_wav, spoken_digits_speakers, write_wav
from minigen.models.ar import fit_ar
from minigen.models.wavenet import WaveNet, mu_law_decode, mu_law_encode
from minigen.train import load_checkpoint, save_checkpoint, training_step


def _small(**kw):
    minigen.manual_seed(0)
    m = WaveNet(dilations=(1, 2, 4, 1, 2, 4), residual=8, dilation_channels=8, skip=16, **kw)
    for layer in m.layers:
        minigen.nn.init.normal_(layer.dilated.weight, 0, 0.5)
    return m


# ----------------------------------------------------------------------------- data
def test_spoken_digits_split_by_speaker():
    train, test = spoken_digits_speakers("train"), spoken_digits_speakers("test")
    assert len(train) == 36 and len(test) == 4 and not set(train) & set(test)
    names = sorted(train + test)
    assert [names[i] for i in numpy.random.default_rng(0).permutation(40)][36:] == test
    clips = load_spoken_digits("test")
    assert len(clips) == 80 and len(load_spoken_digits("train")) == 720
    # every clip 8 kHz floats in [-1, 1); the count of test targets at position >= 512
    assert sum(len(s) - 512 for s, _, _ in clips) == 222278
    s, d, spk = clips[0]
    assert s.dtype == numpy.float32 and -1 <= s.min() and s.max() < 1 and spk in test and 0 <= d <= 9


def test_wav_round_trip_and_refusals(tmp_path):
    x = numpy.sin(numpy.linspace(0, 50, 800)).astype(numpy.float32) * 0.5
    p = str(tmp_path / "a.wav")
    write_wav(p, x)
    numpy.testing.assert_allclose(read_wav(p), x, atol=1 / 32768)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0" * 40)
    with pytest.raises(ValueError, match="16000 Hz, 2 channel.*expected 8000 Hz mono 16-bit"):
        read_wav(buf.getvalue(), "stereo.wav")
    with pytest.raises(ValueError, match="not a readable WAV"):
        read_wav(b"RIFFnope", "bad.wav")


# ----------------------------------------------------------------------------- mu-law
def test_mu_law_matches_the_formula_and_inverts():
    x = numpy.random.default_rng(0).uniform(-1, 1, 1000)
    f = numpy.sign(x) * numpy.log1p(255 * numpy.abs(x)) / numpy.log(256)
    numpy.testing.assert_array_equal(mu_law_encode(x), numpy.floor((f + 1) / 2 * 255 + 0.5))
    q = numpy.arange(256)
    numpy.testing.assert_array_equal(mu_law_encode(mu_law_decode(q)), q)
    assert mu_law_encode(numpy.array([-1.0, 0.0, 1.0])).tolist() == [0, 128, 255]
    # quiet sounds get fine levels: the step near 0 is far smaller than near 1
    d = numpy.diff(mu_law_decode(q))
    assert d[127] < d[-1] / 100
    with pytest.raises(ValueError, match=r"must lie in \[-1, 1\]"):
        mu_law_encode(numpy.array([0.5, 1.5]))
    with pytest.raises(ValueError, match=r"must lie in \[-1, 1\]"):
        mu_law_encode(numpy.array([numpy.nan]))


# ----------------------------------------------------------------------------- AR(p)
def test_ar_recovers_a_simulated_ar2_process():
    rng = numpy.random.default_rng(0)
    a1, a2, c, sigma = 0.6, -0.3, 0.1, 0.5
    x = numpy.zeros(20000)
    for t in range(2, len(x)):
        x[t] = c + a1 * x[t - 1] + a2 * x[t - 2] + sigma * rng.standard_normal()
    m = fit_ar(x, 2)
    numpy.testing.assert_allclose(m.a, [a1, a2], atol=0.02)
    assert m.c == pytest.approx(c, abs=0.02) and m.sigma == pytest.approx(sigma, rel=0.02)
    # the least-squares solution satisfies the normal equations
    X = numpy.stack([numpy.ones(len(x) - 2), x[1:-1], x[:-2]], 1)
    theta = numpy.concatenate([[m.c], m.a])
    numpy.testing.assert_allclose(X.T @ (x[2:] - X @ theta), 0, atol=1e-6)
    f = m.forecast([1.0, 2.0], 2)
    assert f[0] == pytest.approx(m.c + m.a[0] * 2.0 + m.a[1] * 1.0)
    assert f[1] == pytest.approx(m.c + m.a[0] * f[0] + m.a[1] * 2.0)
    s = m.sample([0.0, 0.0], 5000, numpy.random.default_rng(1))
    assert s.std() == pytest.approx(x.std(), rel=0.1)
    assert m.gaussian_nll([x]) == pytest.approx(0.5 + 0.5 * math.log(2 * math.pi * m.sigma ** 2), rel=1e-6)
    with pytest.raises(ValueError, match="p must be a positive integer"):
        fit_ar(x, 0)
    with pytest.raises(ValueError, match="shorter than p"):
        fit_ar([x[:3]], 5)


# ----------------------------------------------------------------------------- WaveNet
def test_receptive_field_and_causality():
    m = WaveNet()
    assert m.receptive_field == 512
    s = _small()
    R = s.receptive_field
    assert R == 2 + 14
    codes = minigen.randint(0, 256, (1, 40))
    x = minigen.nn.functional.one_hot(codes, 256).to(minigen.float32).requires_grad_(True)
    # the gradient of output j reaches exactly inputs j .. j + R - 1
    h = s._h([3], 1, "cpu")
    z = s.input_conv(x.transpose(1, 2))
    L_out = 40 - R + 1
    acc = None
    for layer in s.layers:
        u = layer.gate(layer.dilated(z), h)
        z = z[:, :, layer.d:] + layer.res(u)
        sk = layer.skip(u[:, :, -L_out:])
        acc = sk if acc is None else acc + sk
    out = s.head2(minigen.nn.functional.relu(s.head1(minigen.nn.functional.relu(acc))))
    numpy.testing.assert_allclose(out.cpu().numpy(), s(codes, [3]).cpu().numpy(), rtol=1e-6)
    j = 5
    out[0, :, j].sum().backward()
    seen = numpy.flatnonzero(numpy.abs(x.grad.cpu().numpy()[0]).sum(1) > 0)
    assert seen.min() == j and seen.max() == j + R - 1


def test_loss_is_the_mean_cross_entropy_of_the_next_sample():
    s = _small()
    codes = minigen.randint(0, 256, (2, 30))
    logits = s(codes[:, :-1], [1, 2]).cpu().numpy().astype(numpy.float64)
    t = codes.cpu().numpy()[:, s.receptive_field:]
    lse = numpy.log(numpy.exp(logits - logits.max(1, keepdims=True)).sum(1)) + logits.max(1)
    ref = (lse - numpy.take_along_axis(logits, t[:, None], 1)[:, 0]).mean()
    assert s.loss(codes, [1, 2]).item() == pytest.approx(ref, rel=1e-5)


def test_fast_generation_equals_naive_sample_for_sample(device):
    s = _small().to(device)
    seed = numpy.random.default_rng(0).integers(0, 256, 30)
    minigen.manual_seed(5)
    a = s.generate(60, 3, seed, fast=False)
    minigen.manual_seed(5)
    b = s.generate(60, 3, seed, fast=True)
    numpy.testing.assert_array_equal(a, b)
    assert a.dtype == numpy.int64 and a.min() >= 0 and a.max() <= 255
    minigen.manual_seed(5)
    numpy.testing.assert_array_equal(s.generate(60, 3, seed, fast=True), b)
    w = s.sample(2, labels=[1, 2], seconds=0.005)
    assert w.shape == (2, 40) and -1 <= w.cpu().numpy().min() and w.cpu().numpy().max() <= 1


def test_overfits_one_clip_and_round_trips(tmp_path, device):
    s = _small().to(device)
    clip = mu_law_encode(load_spoken_digits("train")[0][0][:200])
    codes = minigen.tensor(clip[None]).to(device)
    d = minigen.tensor([4]).to(device)
    opt = minigen.optim.Adam(s.parameters(), lr=1e-2)
    losses = [training_step(s, opt, (codes, d)).item() for _ in range(60)]
    assert losses[0] > 5.0 and losses[-1] < 0.5 * losses[0]
    path = os.path.join(tmp_path, "w.npz")
    save_checkpoint(path, s, opt, meta={"model": "wavenet"})
    other = _small().to(device)
    load_checkpoint(path, other)
    numpy.testing.assert_array_equal(other.loss(codes, d).cpu().numpy(), s.loss(codes, d).cpu().numpy())


def test_wavenet_errors():
    s = _small()
    codes = minigen.randint(0, 256, (1, 30))
    with pytest.raises(ValueError, match="digits must lie in 0 .. 9"):
        s(codes, [10])
    with pytest.raises(ValueError, match="conditioned on the digit"):
        s(codes)
    with pytest.raises(ValueError, match="at least the receptive field"):
        s(codes[:, :10], [1])

"""Hearing digits (minigen/models/audio_clip.py): the log-mel features against a direct NumPy
computation, the mel filters, the contrastive loss against CLIP's frozen image bank, tiny
overfit, determinism, checkpoints, devices, the registry's --quick run, errors."""
import os

import numpy
import pytest

import minigen
from minigen.data import load_mnist
from minigen.models import audio_clip as A
from minigen.models.clip import CLIP, QUICK as CLIP_QUICK
from minigen.train import load_checkpoint, save_checkpoint, training_step


def tone(hz, seconds=0.5, rate=8000):
    t = numpy.arange(int(seconds * rate)) / rate
    return 0.3 * numpy.sin(2 * numpy.pi * hz * t)


def small(n_bank=200):
    minigen.manual_seed(0)
    m = A.AudioCLIP(channels=(8, 8, 8), embed_dim=CLIP_QUICK["embed_dim"])
    clip = CLIP((1, 28, 28), **CLIP_QUICK).eval()
    x, y = load_mnist("train")
    m.set_image_bank(clip.image_embeddings(x[:n_bank]), y[:n_bank])
    return m


def test_mel_filterbank_is_triangles_covering_0_to_4khz():
    H = A.mel_filterbank()
    assert H.shape == (A.N_MELS, A.N_FFT // 2 + 1) and H.min() >= 0 and H.max() <= 1 + 1e-6
    peaks = H.argmax(1)
    assert (numpy.diff(peaks) >= 0).all()                 # centres rise with m
    # away from the ends every frequency bin is covered by some filter
    assert (H[:, 2:-2].sum(0) > 0).all()


def test_log_mel_matches_a_direct_computation():
    s = tone(440) + 0.1 * tone(1500)
    a = A.log_mel(s)
    assert a.shape == (A.N_MELS, 50) and abs(a.mean()) < 1e-4 and abs(a.std() - 1) < 1e-3
    x = numpy.zeros(A.N_SAMPLES)
    x[:s.size] = s / numpy.abs(s).max()
    w = 0.5 - 0.5 * numpy.cos(2 * numpy.pi * numpy.arange(A.N_FFT) / (A.N_FFT - 1))
    t = 10
    frame = x[A.HOP * t: A.HOP * t + A.N_FFT] * w
    power = numpy.abs([numpy.sum(frame * numpy.exp(-2j * numpy.pi * f * numpy.arange(A.N_FFT) / A.N_FFT))
                       for f in range(A.N_FFT // 2 + 1)]) ** 2
    A_full = numpy.log(numpy.abs(numpy.fft.rfft(
        numpy.stack([x[A.HOP * k: A.HOP * k + A.N_FFT] * w for k in range(50)]), axis=1)) ** 2
        @ A.mel_filterbank().T.astype(numpy.float64) + 1e-6).T
    col = numpy.log(A.mel_filterbank().astype(numpy.float64) @ power + 1e-6)
    numpy.testing.assert_allclose((col - A_full.mean()) / A_full.std(), a[:, t], rtol=1e-3, atol=1e-3)
    # the 440 Hz tone's energy sits in the filter whose centre is nearest 440 Hz
    mid = A._mel_to_hz(numpy.linspace(0, A._hz_to_mel(4000), A.N_MELS + 2))[1:-1]
    assert abs(int(A.log_mel(tone(440))[:, 5].argmax()) - int(numpy.abs(mid - 440).argmin())) <= 1
    # loudness does not matter (peak-normalised)
    numpy.testing.assert_allclose(A.log_mel(0.01 * s), a, atol=1e-4)


def test_log_mel_errors():
    with pytest.raises(ValueError, match="empty"):
        A.log_mel(numpy.zeros(0))
    with pytest.raises(ValueError, match="silent"):
        A.log_mel(numpy.zeros(100))
    with pytest.raises(ValueError, match="NaN"):
        A.log_mel(numpy.array([0.1, numpy.nan]))


def test_loss_is_infonce_against_the_frozen_bank_and_only_the_encoder_learns():
    m = small()
    feats = minigen.from_numpy(numpy.stack([A.log_mel(tone(200 + 50 * d)) for d in range(6)]))
    digits = minigen.from_numpy(numpy.arange(6, dtype=numpy.int64))
    minigen.manual_seed(3)
    rows = m.draw_images(digits).cpu().numpy()
    assert (m.image_labels.cpu().numpy()[rows] == numpy.arange(6)).all()       # an image of each clip's digit
    minigen.manual_seed(3)
    loss = m.loss(feats, digits)
    a = m.encode_audio(feats).cpu().numpy().astype(numpy.float64)
    u = m.image_bank.cpu().numpy()[rows].astype(numpy.float64)
    S = numpy.exp(m.logit_scale.item()) * a @ u.T

    def ce(M):
        M = M - M.max(1, keepdims=True)
        return -(numpy.diag(M) - numpy.log(numpy.exp(M).sum(1))).mean()
    assert abs(loss.item() - (ce(S) + ce(S.T)) / 2) < 1e-5
    loss.backward()
    assert all(p.grad is not None for p in m.parameters())
    assert "image_bank" not in m.state_dict()


def test_tiny_set_overfits_retrieval():
    # a bank whose digits are well apart: 5 noisy copies of a unit vector per digit
    rng = numpy.random.default_rng(0)
    minigen.manual_seed(0)
    m = A.AudioCLIP(channels=(16, 16, 16), embed_dim=16)
    u = numpy.repeat(numpy.eye(16)[:10], 5, 0) + 0.05 * rng.normal(size=(50, 16))
    u /= numpy.linalg.norm(u, axis=1, keepdims=True)
    m.set_image_bank(minigen.from_numpy(u.astype(numpy.float32)), minigen.from_numpy(numpy.repeat(numpy.arange(10), 5)))
    feats = minigen.from_numpy(numpy.stack([A.log_mel(tone(150 + 120 * d)) for d in range(10)]))
    digits = minigen.from_numpy(numpy.arange(10, dtype=numpy.int64))
    opt = minigen.optim.Adam(m.parameters(), lr=3e-3)
    first = m.loss(feats, digits).item()
    for _ in range(120):
        last = training_step(m, opt, (feats, digits)).item()
    assert first > 2.0 and last < 0.5, (first, last)
    # each tone's nearest class centre of the bank is its own digit
    centres = numpy.stack([m.image_bank.cpu().numpy()[m.image_labels.cpu().numpy() == d].mean(0) for d in range(10)])
    got = (m.encode_audio(feats).cpu().numpy() @ centres.T).argmax(1)
    assert (got == numpy.arange(10)).all()


def test_same_seed_same_run():
    runs = []
    feats = minigen.from_numpy(numpy.stack([A.log_mel(tone(200 + 50 * d)) for d in range(4)]))
    digits = minigen.from_numpy(numpy.arange(4, dtype=numpy.int64))
    for _ in range(2):
        m = small()
        minigen.manual_seed(9)
        opt = minigen.optim.Adam(m.parameters(), lr=1e-3)
        runs.append([training_step(m, opt, (feats, digits)).item() for _ in range(3)])
    assert runs[0] == runs[1]


def test_checkpoint_round_trip(tmp_path, device):
    m = small().to(device)
    feats = minigen.from_numpy(numpy.stack([A.log_mel(tone(300)), A.log_mel(tone(900))])).to(device)
    path = os.path.join(tmp_path, "a.npz")
    save_checkpoint(path, m, None, meta={"model": "audio_clip"})
    other = A.AudioCLIP(channels=(8, 8, 8), embed_dim=CLIP_QUICK["embed_dim"]).to(device)
    load_checkpoint(path, other)
    numpy.testing.assert_array_equal(m.encode_audio(feats).cpu().numpy(), other.encode_audio(feats).cpu().numpy())
    assert other.image_bank is None
    with pytest.raises(RuntimeError, match="image bank"):
        other.loss(feats, minigen.from_numpy(numpy.array([0, 1])).to(device))


def test_cpu_and_cuda_agree():
    m = small()
    feats = minigen.from_numpy(numpy.stack([A.log_mel(tone(300)), A.log_mel(tone(900))]))
    a = m.encode_audio(feats).cpu().numpy()
    b = m.to("cuda").encode_audio(feats.to("cuda")).cpu().numpy()
    numpy.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_errors():
    m = small()
    with pytest.raises(ValueError, match=r"\[B, 40, T\]"):
        m.encode_audio(minigen.zeros(2, 20, 50))
    with pytest.raises(ValueError, match="spoken_mel"):
        A.build_audio_clip(data="mnist")
    with pytest.raises(ValueError, match="dimensions"):
        A.AudioCLIP(embed_dim=16).set_image_bank(minigen.zeros(3, 8), minigen.zeros(3, dtype=minigen.int64))


def test_quick_runs_through_the_registry():
    from minigen.train import train_model
    import tempfile
    with tempfile.TemporaryDirectory() as out:
        r = train_model("audio_clip", quick=True, out=out, progress=False, pictures=False, log=lambda *a: None)
    met = r["metrics"]
    assert met["steps"] == 4 and 0.0 <= met["top1_accuracy"] <= 1.0 and 0.0 <= met["precision_at_10"] <= 1.0


@pytest.mark.skipif(not (os.path.exists(A.SHIPPED) and os.path.exists(os.path.join(os.path.dirname(A.SHIPPED), "dalle.npz"))),
                    reason="no shipped weights")
def test_a_spoken_digit_prompts_the_text_to_image_model(tmp_path, capsys):
    from minigen.cli import main
    from minigen.data import load_spoken_digits, write_wav
    s, d, _ = next(c for c in load_spoken_digits("test") if c[1] == 7)
    wav = write_wav(str(tmp_path / "seven.wav"), s)
    npy = str(tmp_path / "s.npy")
    assert main(["sample", "dalle", "--audio", wav, "--n", "4", "--out", npy]) == 0
    assert "a handwritten seven" in capsys.readouterr().out
    assert numpy.load(npy).shape == (4, 1, 28, 28)
    assert main(["sample", "dalle", "--audio", wav, "--prompt", "7", "--out", npy]) == 1
    assert "not both" in capsys.readouterr().err
    assert main(["sample", "dalle", "--audio", str(tmp_path / "none.wav"), "--out", npy]) == 1
    assert "no such file" in capsys.readouterr().err

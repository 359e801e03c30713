"""minigen.train: the loop, exact resume, Ctrl-C checkpoints, bad checkpoints.

A tiny noisy linear autoencoder stands in for a real model: its loss draws noise from
minigen's generator (like a VAE's eps), the loader shuffles with its own generator, and the
test loss is evaluated every epoch, so every piece of state a checkpoint must carry is used.
"""
import csv
import os
import signal

import numpy as np
import pytest

import minigen
from minigen import io, nn, optim
from minigen.io import CheckpointError
from minigen.train import BEST, LAST, LOG, fit, load_checkpoint
from minigen.utils.data import DataLoader, TensorDataset

META = {"model": "tiny", "dim": 6}


class TinyAE(nn.Module):
    """loss = mean || (x + 0.1 eps) W W^T + b - x ||^2,  eps ~ N(0, I)."""

    def __init__(self, dim=6, code=3):
        super().__init__()
        self.W = nn.Parameter(minigen.randn(dim, code) * 0.3)
        self.b = nn.Parameter(minigen.zeros(dim))

    def loss(self, x):
        noisy = x + 0.1 * minigen.randn_like(x)
        return ((noisy @ self.W @ self.W.t() + self.b - x) ** 2).mean()


def _setup(device="cpu", seed=0, lr=0.05):
    minigen.manual_seed(seed)
    # rank-3 data in 6 dimensions: a 3-dimensional code can reconstruct it
    A = np.random.default_rng(0).standard_normal((3, 6))
    data = (np.random.default_rng(1).standard_normal((40, 3)) @ A).astype(np.float32)
    test = (np.random.default_rng(2).standard_normal((16, 3)) @ A).astype(np.float32)
    model = TinyAE().to(device)
    opt = optim.Adam(model.parameters(), lr=lr)
    train = DataLoader(TensorDataset(minigen.tensor(data, device=device)), batch_size=8,
                       shuffle=True, generator=7)           # 5 steps per epoch
    test = DataLoader(TensorDataset(minigen.tensor(test, device=device)), batch_size=8)
    return model, opt, train, test


def _params(model):
    return {k: v.cpu().numpy() for k, v in model.state_dict().items()}


def _run(out, epochs=4, resume=False, callback=None, **kw):
    model, opt, train, test = _setup()
    r = fit(model, opt, train, epochs, test_loader=test, out=str(out), meta=META, resume=resume,
            callback=callback, progress=False, **kw)
    return model, r


class Stop(Exception):
    """Stands in for the process dying (SIGKILL): no handler runs, nothing is saved."""


def _raise_at(k, exc):
    def cb(step, loss):
        if step == k:
            raise exc
    return cb


def test_loss_decreases_and_files(tmp_path):
    losses = []
    model, r = _run(tmp_path, epochs=6, callback=lambda step, loss: losses.append(loss))
    assert r["step"] == 30 and r["epoch"] == 6 and r["interrupted"] is None
    assert np.mean(losses[-5:]) < 0.3 * np.mean(losses[:5])
    assert [s for s, _ in r["history"]["train"]] == [10, 20, 30]   # mean loss every 10 steps
    assert len(r["history"]["test"]) == 6                 # one test evaluation per epoch
    for f in (LAST, BEST, LOG):
        assert os.path.exists(tmp_path / f)
    rows = list(csv.DictReader(open(tmp_path / LOG)))
    assert [r_["split"] for r_ in rows].count("test") == 6
    assert rows[-1]["step"] == "30"


def test_straight_runs_repeat(tmp_path):
    a, _ = _run(tmp_path / "a")
    b, _ = _run(tmp_path / "b")
    for k, v in _params(a).items():
        assert np.array_equal(v, _params(b)[k])


@pytest.mark.parametrize("k", [7, 10, 13])   # mid-epoch, at an epoch boundary, after a test eval
def test_resume_after_ctrl_c_is_bit_exact(tmp_path, k):
    straight, r0 = _run(tmp_path / "straight")
    m1, r1 = _run(tmp_path / "cut", callback=_raise_at(k, KeyboardInterrupt()))
    assert r1["interrupted"] == "KeyboardInterrupt" and r1["step"] == k
    assert io.load(tmp_path / "cut" / LAST)["step"] == k        # Ctrl-C wrote a checkpoint at k
    m2, r2 = _run(tmp_path / "cut", resume=True)
    assert r2["step"] == r0["step"] and r2["interrupted"] is None
    p0, p2 = _params(straight), _params(m2)
    assert p0.keys() == p2.keys()
    for name in p0:
        assert np.array_equal(p0[name], p2[name]), name
    assert r2["history"] == r0["history"]


def test_resume_after_kill_uses_last_periodic_checkpoint(tmp_path):
    straight, r0 = _run(tmp_path / "straight", checkpoint_every=4)
    with pytest.raises(Stop):
        _run(tmp_path / "cut", checkpoint_every=4, callback=_raise_at(11, Stop()))
    assert io.load(tmp_path / "cut" / LAST)["step"] == 8
    # the log holds rows past step 8 from the dead run; resuming drops them
    m2, r2 = _run(tmp_path / "cut", checkpoint_every=4, resume=True)
    for name, v in _params(straight).items():
        assert np.array_equal(v, _params(m2)[name]), name
    steps = [int(r["step"]) for r in csv.DictReader(open(tmp_path / "cut" / LOG)) if r["split"] == "train"]
    assert steps == sorted(steps) and len(steps) == len(set(steps))
    straight_rows = [(r["step"], r["split"], r["loss"]) for r in csv.DictReader(open(tmp_path / "straight" / LOG))]
    cut_rows = [(r["step"], r["split"], r["loss"]) for r in csv.DictReader(open(tmp_path / "cut" / LOG))]
    assert cut_rows == straight_rows


def test_real_sigint_finishes_the_step_and_checkpoints(tmp_path):
    def cb(step, loss):
        if step == 6:
            os.kill(os.getpid(), signal.SIGINT)

    prev = signal.getsignal(signal.SIGINT)
    m1, r1 = _run(tmp_path / "cut", callback=cb)
    assert signal.getsignal(signal.SIGINT) is prev          # handler restored
    assert r1["interrupted"] == "SIGINT" and r1["step"] == 6
    m2, r2 = _run(tmp_path / "cut", resume=True)
    straight, _ = _run(tmp_path / "straight")
    for name, v in _params(straight).items():
        assert np.array_equal(v, _params(m2)[name]), name


def test_interrupt_mid_step_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    calls = {"n": 0}
    loss = TinyAE.loss

    def interrupted_loss(self, x):  # a second Ctrl-C inside step 8 (calls 6, 7: the test loss)
        calls["n"] += 1
        if calls["n"] == 10:
            raise KeyboardInterrupt
        return loss(self, x)

    monkeypatch.setattr(TinyAE, "loss", interrupted_loss)
    _, r = _run(tmp_path / "cut", checkpoint_every=5)
    monkeypatch.undo()
    assert r["interrupted"] == "KeyboardInterrupt" and r["step"] == 7
    assert io.load(tmp_path / "cut" / LAST)["step"] == 5   # the half-done step was not saved
    m2, _ = _run(tmp_path / "cut", checkpoint_every=5, resume=True)
    straight, _ = _run(tmp_path / "straight", checkpoint_every=5)
    for name, v in _params(straight).items():
        assert np.array_equal(v, _params(m2)[name]), name


def test_max_steps_and_resume_past_it(tmp_path):
    _, r = _run(tmp_path, max_steps=3)
    assert r["step"] == 3
    _, r = _run(tmp_path, resume=True)
    assert r["step"] == 20


def test_shuffling_loader_needs_its_own_generator(tmp_path):
    model, opt, train, test = _setup()
    train.generator = None
    with pytest.raises(ValueError, match="generator"):
        fit(model, opt, train, 1, out=str(tmp_path), progress=False)


def test_resume_without_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        _run(tmp_path, resume=True)


# ----------------------------------------------------------------------------- bad checkpoints
def _good_run(tmp_path):
    _run(tmp_path, epochs=1)
    path = tmp_path / LAST
    return path, path.read_bytes()


def test_truncated_checkpoint_is_refused(tmp_path):
    path, good = _good_run(tmp_path)
    bad = tmp_path / "truncated.npz"
    bad.write_bytes(good[: len(good) // 2])
    model, opt, _, _ = _setup()
    before = _params(model)
    with pytest.raises(CheckpointError, match="truncated.npz"):
        load_checkpoint(bad, model, opt, expect=META)
    for k, v in _params(model).items():
        assert np.array_equal(v, before[k])                  # nothing changed


def test_pickled_checkpoint_is_refused(tmp_path):
    path, _ = _good_run(tmp_path)
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    first = next(k for k in arrays if k != "__minigen__")
    arrays[first] = np.array([{"evil": "object"}], dtype=object)
    bad = tmp_path / "pickled.npz"
    np.savez(bad, **arrays)
    model, opt, _, _ = _setup()
    with pytest.raises(CheckpointError, match="pickle"):
        load_checkpoint(bad, model, opt, expect=META)


def test_checkpoint_of_another_model_is_refused_and_survives(tmp_path):
    path, good = _good_run(tmp_path)
    with pytest.raises(CheckpointError, match="model"):
        fit(*_setup()[:3], 2, out=str(tmp_path), meta={"model": "vae", "dim": 6}, resume=True,
            progress=False)
    assert path.read_bytes() == good                          # the good checkpoint is untouched
    _, r = _run(tmp_path, epochs=2, resume=True)              # and still resumes
    assert r["step"] == 10


def test_checkpoint_that_does_not_fit_is_refused(tmp_path):
    path, _ = _good_run(tmp_path)
    minigen.manual_seed(0)
    model = TinyAE(dim=6, code=4)
    before = _params(model)
    with pytest.raises(CheckpointError, match="does not fit"):
        load_checkpoint(path, model, optim.Adam(model.parameters()), expect=META)
    for k, v in _params(model).items():
        assert np.array_equal(v, before[k])


def test_crash_while_writing_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    path, good = _good_run(tmp_path)

    def dying_write(f, arrays, compress):
        f.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(io, "_write_npz", dying_write)
    with pytest.raises(OSError, match="disk full"):
        _run(tmp_path, epochs=2, resume=True)
    monkeypatch.undo()
    assert path.read_bytes() == good
    assert [p for p in os.listdir(tmp_path) if p.endswith(".tmp")] == []
    assert io.load(path)["step"] == 5


def test_fit_on_cuda(tmp_path, device):
    model, opt, train, test = _setup(device)
    r = fit(model, opt, train, 1, test_loader=test, out=str(tmp_path), meta=META, progress=False)
    assert r["step"] == 5 and model.W.device == device
    ckpt = load_checkpoint(tmp_path / LAST, model, opt, expect=META)
    assert ckpt["step"] == 5 and model.W.device == device

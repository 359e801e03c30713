"""CLIP (minigen/models/clip.py): the symmetric InfoNCE loss against NumPy, the temperature's
clamp, the normalised towers, the GRU reading the last real character, training, checkpoints,
devices, the registry run, the PyTorch twin, errors."""
import math
import os

import numpy
import pytest

import minigen
from minigen.data import captions as C
from minigen.data import load_mnist
from minigen.models.clip import CLIP, MAX_LOG_SCALE, QUICK, build_clip, clip_loss, retrieval_precision
from minigen.train import load_checkpoint, save_checkpoint, training_step


def small():
    return build_clip(**QUICK)


def _numpy_infonce(u, v, s):
    S = s * u @ v.T
    def ce(M):
        M = M - M.max(1, keepdims=True)
        return -(numpy.diag(M) - numpy.log(numpy.exp(M).sum(1))).mean()
    return (ce(S) + ce(S.T)) / 2


def test_infonce_against_numpy_float64(device):
    rng = numpy.random.default_rng(0)
    u, v = rng.normal(size=(7, 5)), rng.normal(size=(7, 5))
    u /= numpy.linalg.norm(u, axis=1, keepdims=True)
    v /= numpy.linalg.norm(v, axis=1, keepdims=True)
    for s in (1.0, 14.28, 100.0):
        got = clip_loss(minigen.from_numpy(u).to(device), minigen.from_numpy(v).to(device),
                        minigen.from_numpy(numpy.array(s)).to(device)).item()
        assert abs(got - _numpy_infonce(u, v, s)) < 1e-12
    # the gradient of both directions, against central differences of the reference
    U = minigen.from_numpy(u).to(device).requires_grad_()
    clip_loss(U, minigen.from_numpy(v).to(device), minigen.from_numpy(numpy.array(3.0)).to(device)).backward()
    e = numpy.zeros_like(u)
    e[2, 3] = 1e-6
    fd = (_numpy_infonce(u + e, v, 3.0) - _numpy_infonce(u - e, v, 3.0)) / 2e-6
    assert abs(U.grad.cpu().numpy()[2, 3] - fd) < 1e-7


def test_temperature_starts_at_1_over_0_07_and_is_clamped_at_100():
    m = small()
    assert abs(m.scale().item() - 1 / 0.07) < 1e-4
    m.logit_scale.array = minigen.tensor(5.0).array
    assert abs(m.scale().item() - 100.0) < 1e-3
    x, y = load_mnist("test")
    m.loss(x[:8], y[:8]).backward()
    assert m.logit_scale.grad.item() == 0.0     # above the cap no gradient reaches t
    m.zero_grad()
    m.logit_scale.array = minigen.tensor(2.0).array
    m.loss(x[:8], y[:8]).backward()
    assert m.logit_scale.grad.item() != 0.0
    assert abs(MAX_LOG_SCALE - math.log(100)) < 1e-15


def test_embeddings_are_unit_vectors(device):
    m = small().to(device)
    x, _ = load_mnist("test")
    u = m.encode_image(x[:6].to(device)).cpu().numpy()
    v = m.encode_text(["a handwritten seven", "7", "the digit 3"]).cpu().numpy()
    numpy.testing.assert_allclose(numpy.linalg.norm(u, axis=1), 1.0, atol=1e-5)
    numpy.testing.assert_allclose(numpy.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert u.shape == (6, 8) and v.shape == (3, 8)


def test_gru_reads_the_state_after_the_last_real_character(device):
    m = build_clip().to(device)
    ids, lengths = C.CharTokenizer().batch(["a handwritten seven", "7", "the number two"])
    ids_t, len_t = minigen.from_numpy(ids).to(device), minigen.from_numpy(lengths).to(device)
    a = m.encode_ids(ids_t, len_t).cpu().numpy()
    # more PAD after each caption, or junk characters after its end: nothing changes
    padded = numpy.concatenate([ids, numpy.zeros((3, 9), numpy.int64)], axis=1)
    junk = padded.copy()
    for i, n in enumerate(lengths):
        junk[i, n:] = 5
    for other in (padded, junk):
        b = m.encode_ids(minigen.from_numpy(other).to(device), len_t).cpu().numpy()
        numpy.testing.assert_allclose(a, b, atol=1e-6)
    # one string at a time gives the same vectors as the padded batch
    single = numpy.concatenate([m.encode_text(t).cpu().numpy() for t in ["a handwritten seven", "7", "the number two"]])
    numpy.testing.assert_allclose(a, single, atol=1e-6)
    # but the last real character itself matters
    changed = ids.copy()
    changed[1, 0] = C.CharTokenizer().stoi["8"]
    c = m.encode_ids(minigen.from_numpy(changed).to(device), len_t).cpu().numpy()
    assert numpy.abs(c[1] - a[1]).max() > 1e-4


def test_tiny_batch_overfits():
    minigen.manual_seed(0)
    m = build_clip()
    x, y = load_mnist("train")
    idx = numpy.array([numpy.flatnonzero(y.cpu().numpy() == d)[0] for d in range(10)])
    xb, yb = x[minigen.from_numpy(idx)], y[minigen.from_numpy(idx)]
    opt = minigen.optim.Adam(m.parameters(), lr=3e-3)
    first = m.loss(xb, yb).item()
    for _ in range(60):
        last = training_step(m, opt, (xb, yb)).item()
    assert first > 2.0 and last < 0.1
    assert (m.classify(xb).cpu().numpy() == yb.cpu().numpy()).all()
    assert (m.classify(xb, C.TRAIN_TEMPLATES).cpu().numpy() == yb.cpu().numpy()).all()


def test_same_seed_same_run():
    x, y = load_mnist("train")
    runs = []
    for _ in range(2):
        minigen.manual_seed(5)
        m = small()
        opt = minigen.optim.Adam(m.parameters(), lr=1e-3)
        runs.append([training_step(m, opt, (x[:32], y[:32])).item() for _ in range(3)])
    assert runs[0] == runs[1]
    # fresh templates each step: the same batch twice gives two different captions draws
    minigen.manual_seed(5)
    m = small()
    a, b = m.draw_captions(y[:32]), m.draw_captions(y[:32])
    assert not numpy.array_equal(a[0].cpu().numpy()[:, :3], b[0].cpu().numpy()[:, :3]) or not numpy.array_equal(
        a[1].cpu().numpy(), b[1].cpu().numpy())


def test_checkpoint_round_trip(tmp_path, device):
    minigen.manual_seed(0)
    m = small().to(device)
    opt = minigen.optim.Adam(m.parameters(), lr=1e-3)
    x, y = load_mnist("train")
    training_step(m, opt, (x[:16].to(device), y[:16].to(device)))
    path = os.path.join(tmp_path, "c.npz")
    save_checkpoint(path, m, opt, meta={"model": "clip"})
    other = small().to(device)
    load_checkpoint(path, other)
    xs = x[:4].to(device)
    numpy.testing.assert_array_equal(m.encode_image(xs).cpu().numpy(), other.encode_image(xs).cpu().numpy())
    numpy.testing.assert_array_equal(m.encode_text("the digit 4").cpu().numpy(), other.encode_text("the digit 4").cpu().numpy())
    assert m.scale().item() == other.scale().item()
    assert "caption_ids" not in m.state_dict()      # the caption table is rebuilt, not saved


def test_cpu_and_cuda_agree():
    minigen.manual_seed(0)
    m = small()
    x, y = load_mnist("test")
    ids, lengths = C.CharTokenizer().batch(["a handwritten seven", "7", "the digit 0", "a picture of a one"])
    a = m(x[:4], minigen.from_numpy(ids), minigen.from_numpy(lengths)).cpu().numpy()
    m = m.to("cuda")
    b = m(x[:4].to("cuda"), minigen.from_numpy(ids).to("cuda"), minigen.from_numpy(lengths).to("cuda")).cpu().numpy()
    numpy.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_retrieval_precision_against_a_hand_count():
    U = numpy.eye(3)[[0, 1, 2, 0]]
    y = numpy.array([0, 1, 2, 0])
    V = numpy.eye(3)
    t2i, i2t = retrieval_precision(U, y, V, numpy.arange(3), k=2)
    # caption 0 finds images 0 and 3 (both 0s); captions 1, 2 find their image then a wrong one
    assert abs(t2i - (1.0 + 0.5 + 0.5) / 3) < 1e-12
    # each image: its caption first, then a wrong one
    assert abs(i2t - 0.5) < 1e-12


def test_quick_runs_through_the_registry_and_the_cli(tmp_path, capsys):
    from minigen.cli import main
    from minigen.train import train_model
    out = str(tmp_path / "r")
    r = train_model("clip", quick=True, out=out, progress=False, pictures=True, log=lambda *a: None)
    m = r["metrics"]
    assert m["steps"] == 6 and 0.0 <= m["zero_shot_accuracy"] <= 1.0
    for k in ("heldout_template_accuracy_mean", "ensemble_train_templates_accuracy",
              "precision_at_10_text_to_image", "precision_at_10_image_to_text"):
        assert 0.0 <= m[k] <= 1.0
    assert {os.path.basename(p) for p in r["pictures"]} >= {"clip_similarity.png", "loss.png"}
    ckpt = os.path.join(out, "last.npz")
    png = str(tmp_path / "top.png")
    assert main(["sample", "clip", "--checkpoint", ckpt, "--prompt", "a handwritten seven", "--n", "9",
                 "--out", png]) == 0
    assert os.path.exists(png)
    npy = str(tmp_path / "top.npy")
    assert main(["sample", "clip", "--checkpoint", ckpt, "--prompt", "7", "--out", npy]) == 0
    assert numpy.load(npy).shape == (16, 1, 28, 28)
    capsys.readouterr()
    assert main(["sample", "clip", "--checkpoint", ckpt, "--prompt", "", "--out", png]) == 1
    assert "empty" in capsys.readouterr().err
    assert main(["sample", "clip", "--checkpoint", ckpt, "--prompt", "a seven!", "--out", png]) == 1
    assert "'!'" in capsys.readouterr().err
    assert main(["sample", "clip", "--checkpoint", ckpt, "--out", png]) == 1
    assert "--prompt" in capsys.readouterr().err


def test_pytorch_twin_agrees_with_copied_weights():
    torch = pytest.importorskip("torch")
    from minigen.bench.torch_twins import torch_clip
    for variant in ("cnn", "vit"):
        minigen.manual_seed(0)
        m = build_clip(variant=variant, **({} if variant == "cnn" else {"vit_options": dict(depth=1)}))
        t = torch_clip(m.config()).double()
        t.load_state_dict({k: torch.from_numpy(numpy.asarray(p.cpu().numpy(), numpy.float64)) for k, p in m.state_dict().items()})
        m = m.to(minigen.float64)
        x, y = load_mnist("train")
        x = x[:12].to(minigen.float64)
        ids, lengths = m.draw_captions(y[:12])
        loss = clip_loss(m.encode_image(x), m.encode_ids(ids, lengths), m.scale())
        loss.backward()
        tl = t.loss(torch.from_numpy(x.cpu().numpy()), torch.from_numpy(ids.cpu().numpy()), torch.from_numpy(lengths.cpu().numpy()))
        tl.backward()
        assert abs(loss.item() - tl.item()) < 1e-10
        grads = dict(t.named_parameters())
        for name, p in m.named_parameters():
            numpy.testing.assert_allclose(p.grad.cpu().numpy(), grads[name].grad.cpu().numpy(), rtol=1e-7, atol=1e-10,
                                          err_msg=name)


def test_bench_steps_run_on_both_sides():
    pytest.importorskip("torch")
    from minigen.bench.workloads_models import TORCH_TWINS
    from minigen.models import registry
    step = registry.bench_step("clip", quick=True)
    a = float(step().item())
    tstep = TORCH_TWINS["clip"](step, "cpu")
    b = float(tstep().item())
    assert math.isfinite(a) and math.isfinite(b)


def test_errors():
    m = small()
    with pytest.raises(ValueError, match=r"expected images \[B, 1, 28, 28\].*got \[2, 1, 8, 8\]"):
        m.encode_image(minigen.rand(2, 1, 8, 8))
    with pytest.raises(ValueError, match=r"got \[1, 28, 28\]"):
        m.encode_image(minigen.rand(1, 28, 28))
    with pytest.raises(ValueError, match="got ndarray"):
        m.encode_image(numpy.zeros((2, 1, 28, 28), numpy.float32))
    with pytest.raises(TypeError, match="float images"):
        m.encode_image(minigen.zeros(2, 1, 28, 28, dtype=minigen.int64))
    with pytest.raises(ValueError, match="empty"):
        m.encode_text("")
    with pytest.raises(ValueError, match=r"'\?'.*not in the character tokenizer's alphabet"):
        m.encode_text("seven?")
    with pytest.raises(ValueError, match="image_tower must be 'cnn' or 'vit'"):
        CLIP(image_tower="mlp")
    with pytest.raises(ValueError, match="data 'captions'"):
        build_clip("mnist")


def test_resumed_run_draws_the_same_captions(tmp_path):
    """The templates come from minigen's generator, which checkpoints save: a run stopped after
    3 steps and resumed ends with the same weights as an unbroken one."""
    from minigen.train import train_model
    kw = dict(quick=True, progress=False, pictures=False, log=lambda *a: None, checkpoint_every=1)
    a = str(tmp_path / "a")
    b = str(tmp_path / "b")
    ra = train_model("clip", out=a, **kw)
    train_model("clip", out=b, max_steps=3, **kw)
    rb = train_model("clip", out=b, resume=True, **kw)
    sa, sb = ra["model"].state_dict(), rb["model"].state_dict()
    for k in sa:
        numpy.testing.assert_array_equal(sa[k].cpu().numpy(), sb[k].cpu().numpy(), err_msg=k)

"""ViT and its small-CNN baseline: the patch order against NumPy, the class token's attention
against a NumPy float64 reference, shapes, the initialisation, overfitting a tiny batch,
determinism, checkpoints, both devices, the registry and the command line, errors, and the
PyTorch twin computing the same logits and gradients with the same weights."""
import math
import os

import numpy
import pytest

import minigen
from minigen.data import load_digits
from minigen.models.vit import SmallCNN, ViT, build_vit, patchify
from minigen.train import load_checkpoint, save_checkpoint, training_step

SMALL = dict(patch_size=2, d_model=16, depth=2, nhead=2, dim_feedforward=32)


def small_vit(**kw):
    return ViT((1, 8, 8), **dict(SMALL, **kw))


def test_patches_are_row_major_against_numpy(device):
    x = numpy.random.default_rng(0).random((2, 3, 8, 12)).astype(numpy.float32)
    p = 4
    want = numpy.stack([numpy.stack([x[b, :, r * p:(r + 1) * p, c * p:(c + 1) * p].reshape(-1)
                                     for r in range(8 // p) for c in range(12 // p)]) for b in range(2)])
    got = patchify(minigen.tensor(x, device=device), p).cpu().numpy()
    assert got.shape == (2, 6, 3 * 16)
    numpy.testing.assert_array_equal(got, want)
    # patch 1 is the top row's second square, patch 3 the second row's first
    numpy.testing.assert_array_equal(got[0, 1, :16].reshape(4, 4), x[0, 0, 0:4, 4:8])
    numpy.testing.assert_array_equal(got[0, 3, :16].reshape(4, 4), x[0, 0, 4:8, 0:4])
    with pytest.raises(ValueError, match="does not divide"):
        patchify(minigen.tensor(x), 5)


def test_shapes_and_initialisation(device):
    m = build_vit("mnist").to(device)
    x = minigen.rand(3, 1, 28, 28, device=device)
    assert m.num_patches == 16
    assert m(x).shape == (3, 10) and m.encode(x).shape == (3, 64)
    maps = m.attention_maps(x)
    assert maps.shape == (3, 4, 4, 16)
    s = maps.cpu().numpy().sum(-1)
    assert (s > 0).all() and (s < 1).all()          # the rest is the class token's own weight
    assert m.predict(x).shape == (3,) and m.predict(x).dtype == minigen.int64
    params = dict(m.named_parameters())
    assert not params["cls_token"].cpu().numpy().any()
    for name in ("pos_embed", "patch_embed.weight", "encoder.layers.0.self_attn.in_proj_weight",
                 "encoder.layers.3.self_attn.out_proj.weight", "encoder.layers.2.linear1.weight", "head.weight"):
        assert params[name].cpu().numpy().std() == pytest.approx(0.02, rel=0.1), name
    for name, p in params.items():
        if name.endswith("bias"):
            assert not p.cpu().numpy().any(), name
    numpy.testing.assert_array_equal(params["norm.weight"].cpu().numpy(), 1.0)
    numpy.testing.assert_array_equal(params["encoder.layers.1.norm2.weight"].cpu().numpy(), 1.0)
    assert sum(p.numel() for p in m.parameters()) == 139018
    cnn = build_vit("mnist", "cnn").to(device)
    assert cnn(x).shape == (3, 10) and cnn.encode(x).shape == (3, 64)


def test_class_token_attention_against_numpy_float64():
    """Layer 1's class-token row, softmax(q_cls . k_j / sqrt(d_h)) per head, from NumPy."""
    minigen.manual_seed(0)
    m = small_vit().double()
    x = minigen.rand(2, 1, 8, 8, dtype=minigen.float64)
    z = m.embed(x).cpu().numpy()
    sd = {k: v.cpu().numpy() for k, v in m.state_dict().items()}
    pre = "encoder.layers.0."
    a = (z - z.mean(-1, keepdims=True)) / numpy.sqrt(z.var(-1, keepdims=True) + 1e-5)
    a = a * sd[pre + "norm1.weight"] + sd[pre + "norm1.bias"]
    W, b = sd[pre + "self_attn.in_proj_weight"], sd[pre + "self_attn.in_proj_bias"]
    d, H = 16, 2
    q, k = a @ W[:d].T + b[:d], a @ W[d:2 * d].T + b[d:2 * d]
    dh = d // H
    want = []
    for h in range(H):
        # s_j = q_cls . k_j / sqrt(d_h), head h's slice
        s = numpy.einsum("bd,bjd->bj", q[:, 0, h * dh:(h + 1) * dh], k[:, :, h * dh:(h + 1) * dh]) / math.sqrt(dh)
        e = numpy.exp(s - s.max(-1, keepdims=True))
        want.append((e / e.sum(-1, keepdims=True))[:, 1:])
    got = m.attention_maps(x).cpu().numpy()[:, 0]
    numpy.testing.assert_allclose(got, numpy.stack(want, axis=1), rtol=1e-10, atol=1e-12)
    # running the layers one at a time for the maps leaves the features as encode computes them
    z_l = m.embed(x)
    for layer in m.encoder.layers:
        z_l = layer(z_l)
    numpy.testing.assert_allclose(m.norm(z_l[:, 0]).cpu().numpy(), m.encode(x).cpu().numpy(), rtol=1e-12)


@pytest.mark.parametrize("variant", ["vit", "cnn"])
def test_tiny_batch_overfits(device, variant):
    minigen.manual_seed(0)
    x, y = load_digits("train")
    x, y = x[:32].to(device), y[:32].to(device)
    m = (small_vit() if variant == "vit" else SmallCNN((1, 8, 8), channels=(8, 8), hidden=32)).to(device)
    opt = minigen.optim.AdamW(m.parameters(), lr=5e-3, weight_decay=0.0)
    first = m.loss(x, y).item()
    for _ in range(150):
        loss = training_step(m, opt, (x, y))
    assert first > 2.0 and loss.item() < 0.05
    assert (m.predict(x).cpu().numpy() == y.cpu().numpy()).all()


def test_same_seed_same_run():
    x, y = load_digits("train")
    runs = []
    for _ in range(2):
        minigen.manual_seed(3)
        m = small_vit()
        opt = minigen.optim.AdamW(m.parameters(), lr=1e-3, weight_decay=0.05)
        losses = [training_step(m, opt, (x[:16], y[:16])).item() for _ in range(3)]
        runs.append((losses, m.head.weight.cpu().numpy().copy(), m.pos_embed.cpu().numpy().copy()))
    assert runs[0][0] == runs[1][0]
    numpy.testing.assert_array_equal(runs[0][1], runs[1][1])
    numpy.testing.assert_array_equal(runs[0][2], runs[1][2])
    minigen.manual_seed(4)
    m = small_vit()
    assert not numpy.array_equal(m.head.weight.cpu().numpy(), runs[0][1])


def test_checkpoint_round_trip(tmp_path, device):
    minigen.manual_seed(0)
    m = build_vit("digits").to(device)
    opt = minigen.optim.AdamW(m.parameters(), lr=1e-3, weight_decay=0.05)
    x, y = load_digits("train")
    training_step(m, opt, (x[:16].to(device), y[:16].to(device)))
    path = os.path.join(tmp_path, "v.npz")
    save_checkpoint(path, m, opt, meta={"model": "vit"})
    other = build_vit("digits").to(device)
    load_checkpoint(path, other)
    xs = x[:4].to(device)
    numpy.testing.assert_array_equal(m(xs).cpu().numpy(), other(xs).cpu().numpy())
    numpy.testing.assert_array_equal(m.attention_maps(xs).cpu().numpy(), other.attention_maps(xs).cpu().numpy())


@pytest.mark.parametrize("variant,data", [("vit", "mnist"), ("cnn", "digits")])
def test_quick_runs_through_the_registry_and_the_cli(tmp_path, variant, data):
    from minigen.cli import main
    from minigen.train import train_model
    out = str(tmp_path / "r")
    r = train_model("vit", data=data, variant=variant, quick=True, out=out, progress=False,
                    pictures=True, log=lambda *a: None)
    m = r["metrics"]
    assert m["steps"] == 10 and 0.0 <= m["test_accuracy"] <= 1.0 and math.isfinite(m["test_nll"])
    names = {os.path.basename(p) for p in r["pictures"]}
    assert "predictions.png" in names and (("attention.png" in names) == (variant == "vit"))
    png = str(tmp_path / "labels.png")
    assert main(["sample", "vit", "--checkpoint", os.path.join(out, "last.npz"), "--out", png, "--n", "12"]) == 0
    assert os.path.exists(png) and os.path.exists(str(tmp_path / "labels-attention.png")) == (variant == "vit")
    assert main(["sample", "vit", "--checkpoint", os.path.join(out, "last.npz"), "--out", str(tmp_path / "x.npy")]) == 1


def test_errors():
    m = small_vit()
    with pytest.raises(ValueError, match=r"expected images \[B, 1, 8, 8\].*got \[2, 3, 8, 8\]"):
        m(minigen.rand(2, 3, 8, 8))
    with pytest.raises(ValueError, match=r"got \[2, 1, 28, 28\]"):
        m(minigen.rand(2, 1, 28, 28))
    with pytest.raises(ValueError, match=r"got \[1, 8, 8\]"):
        m.attention_maps(minigen.rand(1, 8, 8))
    with pytest.raises(ValueError, match="got ndarray"):
        m(numpy.zeros((2, 1, 8, 8), numpy.float32))
    with pytest.raises(TypeError, match="float images"):
        m(minigen.zeros(2, 1, 8, 8, dtype=minigen.int64))
    with pytest.raises(ValueError, match=r"patch_size 5 does not divide the image size 28x28.*\[1, 2, 4, 7, 14, 28\]"):
        ViT((1, 28, 28), patch_size=5)
    with pytest.raises(ValueError, match="d_model 30 is not divisible by nhead 4"):
        ViT(d_model=30)
    with pytest.raises(ValueError, match="depth must be a positive integer"):
        ViT(depth=0)
    with pytest.raises(ValueError, match=r"image_shape must be \(channels, height, width\)"):
        ViT((28, 28))
    with pytest.raises(ValueError, match="multiples of 4"):
        SmallCNN((1, 10, 10))
    with pytest.raises(ValueError, match=r"SmallCNN: expected images \[B, 1, 28, 28\]"):
        SmallCNN()(minigen.rand(2, 1, 8, 8))
    with pytest.raises(ValueError, match="'mnist' or 'digits'; got 'moons'"):
        build_vit("moons")


@pytest.mark.parametrize("variant", ["vit", "cnn"])
def test_pytorch_twin_computes_the_same_logits_and_gradients(variant):
    torch = pytest.importorskip("torch")
    from minigen.bench.torch_twins import torch_vit
    minigen.manual_seed(0)
    m = build_vit("digits", variant)
    # move every weight off its initial value (biases, class token) so nothing is trivially equal
    with minigen.no_grad():
        for p in m.parameters():
            p.add_(0.05 * minigen.randn(*p.shape))
    net = torch_vit(m.config())
    net.load_state_dict({k: torch.from_numpy(numpy.array(v.cpu().numpy())) for k, v in m.state_dict().items()}, strict=True)
    x, y = load_digits("test")
    x, y = x[:8], y[:8]
    loss = m.loss(x, y)
    loss.backward()
    t_loss = torch.nn.functional.cross_entropy(net(torch.from_numpy(x.cpu().numpy())), torch.from_numpy(y.cpu().numpy()))
    t_loss.backward()
    numpy.testing.assert_allclose(m(x).cpu().numpy(), net(torch.from_numpy(x.cpu().numpy())).detach().cpu().numpy(), rtol=1e-4, atol=1e-5)
    assert loss.item() == pytest.approx(t_loss.item(), rel=1e-5)
    grads = dict(net.named_parameters())
    for name, p in m.named_parameters():
        numpy.testing.assert_allclose(p.grad.cpu().numpy(), grads[name].grad.cpu().numpy(), rtol=1e-3, atol=1e-5, err_msg=name)


def test_bench_steps_run_on_both_sides():
    pytest.importorskip("torch")
    from minigen.bench.workloads_models import TORCH_TWINS
    from minigen.models import registry
    step = registry.get("vit").bench_step("cpu", quick=True)
    a = float(step().item())
    b = float(TORCH_TWINS["vit"](step, "cpu")().item())
    assert math.isfinite(a) and math.isfinite(b)
    assert step.model.config()["image_shape"] == [1, 8, 8]

"""VQ-VAE (minigen/models/vqvae.py): the nearest-code lookup against NumPy, the straight-through
gradient, where the codebook and commitment losses send their gradients, codebook use, dead-code
restarts, training, checkpoints, devices, the registry run, the PyTorch twin, errors."""
import os

import numpy
import pytest

import minigen
from minigen.data import load_mnist
from minigen.models.vqvae import QUICK, VQVAE, build_vqvae, code_usage, nearest_codes, quantize
from minigen.train import load_checkpoint, save_checkpoint, training_step


def test_nearest_code_lookup_against_numpy(device):
    rng = numpy.random.default_rng(0)
    z, e = rng.normal(size=(50, 4)), rng.normal(size=(9, 4))
    want = ((z[:, None, :] - e[None]) ** 2).sum(-1).argmin(1)
    got = nearest_codes(minigen.from_numpy(z).to(device), minigen.from_numpy(e).to(device)).cpu().numpy()
    numpy.testing.assert_array_equal(got, want)
    z_e = minigen.from_numpy(rng.normal(size=(2, 4, 3, 5))).to(device)
    z_st, z_q, codes = quantize(z_e, minigen.from_numpy(e).to(device))
    flat = z_e.cpu().numpy().transpose(0, 2, 3, 1).reshape(-1, 4)
    k = ((flat[:, None, :] - e[None]) ** 2).sum(-1).argmin(1)
    numpy.testing.assert_array_equal(codes.cpu().numpy().reshape(-1), k)
    numpy.testing.assert_allclose(z_q.cpu().numpy().transpose(0, 2, 3, 1).reshape(-1, 4), e[k])
    numpy.testing.assert_allclose(z_st.cpu().numpy(), z_q.cpu().numpy(), atol=1e-12)


def test_straight_through_gradient_reaches_the_encoder_unchanged(device):
    rng = numpy.random.default_rng(1)
    z_e = minigen.from_numpy(rng.normal(size=(2, 3, 2, 2))).to(device).requires_grad_()
    e = minigen.from_numpy(rng.normal(size=(5, 3))).to(device).requires_grad_()
    z_st, z_q, _ = quantize(z_e, e)
    g = rng.normal(size=(2, 3, 2, 2))
    (z_st * minigen.from_numpy(g).to(device)).sum().backward()
    # dL/dz_e = dL/dz_q exactly, and the reconstruction sends nothing to the codebook
    numpy.testing.assert_array_equal(z_e.grad.cpu().numpy(), g)
    assert e.grad is None or numpy.abs(e.grad.cpu().numpy()).max() == 0.0


def test_codebook_and_commitment_gradients_go_where_they_should():
    minigen.manual_seed(0)
    m = VQVAE(**QUICK, restarts=False)
    x, _ = load_mnist("test")
    x = x[:8]
    for term, moves, still in (("codebook", "codebook", ("encoder", "decoder")),
                               ("commitment", "encoder", ("codebook", "decoder"))):
        m.zero_grad()
        m.losses(x)[term].backward()
        for name, p in m.named_parameters():
            g = 0.0 if p.grad is None else float(numpy.abs(p.grad.cpu().numpy()).max())
            if name.startswith(still):
                assert g == 0.0, (term, name)
        assert any(float(numpy.abs(p.grad.cpu().numpy()).max()) > 0 for n_, p in m.named_parameters()
                   if n_.startswith(moves) and p.grad is not None), term
    # the reconstruction trains encoder and decoder, never the codebook
    m.zero_grad()
    m.losses(x)["recon"].backward()
    assert m.codebook.weight.grad is None or numpy.abs(m.codebook.weight.grad.cpu().numpy()).max() == 0.0
    assert numpy.abs(m.encoder[0].weight.grad.cpu().numpy()).max() > 0
    # the codebook loss's gradient is 2 (e_k - z_e) / (N D) summed over the positions choosing k
    m.zero_grad()
    x_hat, z_e, z_q, codes = m(x)
    m.losses(x)["codebook"].backward()
    flat = z_e.cpu().numpy().transpose(0, 2, 3, 1).reshape(-1, m.code_dim)
    e = m.codebook.weight.cpu().numpy()
    k = codes.cpu().numpy().reshape(-1)
    want = numpy.zeros_like(e)
    numpy.add.at(want, k, 2 * (e[k] - flat) / flat.size)
    numpy.testing.assert_allclose(m.codebook.weight.grad.cpu().numpy(), want, rtol=1e-4, atol=1e-9)


def test_usage_statistics():
    p, dead, counts = code_usage(numpy.array([[0, 0, 1, 1]]), 4)
    assert abs(p - 2.0) < 1e-12 and dead == 2 and counts.tolist() == [2, 2, 0, 0]
    p, dead, _ = code_usage(numpy.arange(8), 8)
    assert abs(p - 8.0) < 1e-9 and dead == 0


def test_dead_codes_restart_onto_encodings():
    minigen.manual_seed(0)
    m = VQVAE(**QUICK)
    x, _ = load_mnist("test")
    m.train()
    _, z_e, _, codes = m(x[:16])
    used = set(codes.cpu().numpy().reshape(-1).tolist())
    # every code unused by that batch now sits on one of its encodings
    flat = z_e.cpu().numpy().transpose(0, 2, 3, 1).reshape(-1, m.code_dim)
    e = m.codebook.weight.cpu().numpy()
    for k in range(m.num_codes):
        if k not in used:
            assert numpy.abs(flat - e[k]).max(1).min() < 1e-6
    # in eval mode nothing moves
    m.eval()
    before = m.codebook.weight.cpu().numpy().copy()
    m(x[16:20])
    numpy.testing.assert_array_equal(before, m.codebook.weight.cpu().numpy())


def test_tiny_batch_overfits_and_codes_round_trip():
    minigen.manual_seed(0)
    m = build_vqvae()
    x, _ = load_mnist("train")
    xb = x[:16]
    opt = minigen.optim.Adam(m.parameters(), lr=2e-3)
    def mse():
        return ((m(xb)[0] - xb) ** 2).mean().item()
    first = mse()
    for _ in range(80):
        training_step(m, opt, (xb,))
    m.eval()
    last = mse()
    assert first > 0.2 and last < 0.02
    codes = m.encode_codes(xb)
    assert tuple(codes.shape) == (16, 7, 7) and codes.dtype == minigen.int64
    r = m.decode_codes(codes)
    assert tuple(r.shape) == (16, 1, 28, 28) and 0.0 <= r.min().item() and r.max().item() <= 1.0
    numpy.testing.assert_allclose(r.cpu().numpy(), m(xb)[0].cpu().numpy(), atol=1e-6)


def test_same_seed_same_run():
    x, _ = load_mnist("train")
    runs = []
    for _ in range(2):
        minigen.manual_seed(4)
        m = VQVAE(**QUICK)
        opt = minigen.optim.Adam(m.parameters(), lr=1e-3)
        runs.append([training_step(m, opt, (x[:16],)).item() for _ in range(3)])
    assert runs[0] == runs[1]


def test_checkpoint_round_trip(tmp_path, device):
    minigen.manual_seed(0)
    m = VQVAE(**QUICK).to(device)
    opt = minigen.optim.Adam(m.parameters(), lr=1e-3)
    x, _ = load_mnist("train")
    training_step(m, opt, (x[:16].to(device),))
    path = os.path.join(tmp_path, "v.npz")
    save_checkpoint(path, m, opt, meta={"model": "vqvae"})
    other = VQVAE(**QUICK).to(device)
    load_checkpoint(path, other)
    m.eval(), other.eval()
    xs = x[:4].to(device)
    numpy.testing.assert_array_equal(m.encode_codes(xs).cpu().numpy(), other.encode_codes(xs).cpu().numpy())
    numpy.testing.assert_array_equal(m.reconstruct(xs).cpu().numpy(), other.reconstruct(xs).cpu().numpy())


def test_cpu_and_cuda_agree():
    minigen.manual_seed(0)
    m = VQVAE(**QUICK).eval()
    x, _ = load_mnist("test")
    a = m(x[:4])
    m = m.to("cuda")
    b = m(x[:4].to("cuda"))
    numpy.testing.assert_allclose(a[0].cpu().numpy(), b[0].cpu().numpy(), atol=1e-5)
    numpy.testing.assert_array_equal(a[3].cpu().numpy(), b[3].cpu().numpy())


def test_training_step_on_cuda_restarts_codes():
    minigen.manual_seed(0)
    m = VQVAE(**QUICK).to("cuda")
    opt = minigen.optim.Adam(m.parameters(), lr=1e-3)
    x, _ = load_mnist("train")
    loss = training_step(m, opt, (x[:16].to("cuda"),))
    assert numpy.isfinite(loss.item())


def test_quick_runs_through_the_registry_and_the_cli(tmp_path, capsys):
    from minigen.cli import main
    from minigen.train import train_model
    out = str(tmp_path / "r")
    r = train_model("vqvae", quick=True, out=out, progress=False, pictures=True, log=lambda *a: None)
    m = r["metrics"]
    assert m["steps"] == 6 and 0 <= m["mse_per_pixel"] <= 1 and 1 <= m["code_perplexity"] <= 16
    assert 0 <= m["dead_codes"] <= 16
    assert {os.path.basename(p) for p in r["pictures"]} >= {"vqvae_reconstructions.png", "vqvae_codebook_usage.png"}
    ckpt = os.path.join(out, "last.npz")
    png = str(tmp_path / "rec.png")
    assert main(["sample", "vqvae", "--checkpoint", ckpt, "--n", "8", "--out", png]) == 0 and os.path.exists(png)
    npy = str(tmp_path / "rec.npy")
    assert main(["sample", "vqvae", "--checkpoint", ckpt, "--n", "5", "--out", npy]) == 0
    assert numpy.load(npy).shape == (5, 1, 28, 28)
    capsys.readouterr()
    assert main(["sample", "vqvae", "--checkpoint", ckpt, "--prompt", "seven", "--out", png]) == 1
    assert "--prompt" in capsys.readouterr().err


def test_pytorch_twin_agrees_with_copied_weights():
    torch = pytest.importorskip("torch")
    from minigen.bench.torch_twins import torch_vqvae
    minigen.manual_seed(0)
    m = VQVAE(**QUICK, restarts=False).to(minigen.float64)
    t = torch_vqvae(m.config()).double()
    t.load_state_dict({k: torch.from_numpy(p.cpu().numpy()) for k, p in m.state_dict().items()})
    x, _ = load_mnist("train")
    x = x[:8].to(minigen.float64)
    loss = m.loss(x)
    loss.backward()
    tl = t.loss(torch.from_numpy(x.cpu().numpy()))
    tl.backward()
    assert abs(loss.item() - tl.item()) < 1e-12
    grads = dict(t.named_parameters())
    for name, p in m.named_parameters():
        numpy.testing.assert_allclose(p.grad.cpu().numpy(), grads[name].grad.cpu().numpy(), rtol=1e-7, atol=1e-12, err_msg=name)


def test_errors():
    m = VQVAE(**QUICK)
    with pytest.raises(ValueError, match=r"expected images \[B, 1, 28, 28\].*got \[2, 1, 8, 8\]"):
        m(minigen.rand(2, 1, 8, 8))
    with pytest.raises(TypeError, match="float images"):
        m.encode_codes(minigen.zeros(2, 1, 28, 28, dtype=minigen.int64))
    with pytest.raises(ValueError, match=r"expected codes \[N, 7, 7\], got \[2, 4, 4\]"):
        m.decode_codes(minigen.zeros(2, 4, 4, dtype=minigen.int64))
    with pytest.raises(ValueError, match=r"codes must lie in 0..15, got 0..16"):
        m.decode_codes(minigen.full((1, 7, 7), 16, dtype=minigen.int64) * (minigen.arange(7) > 0).to(minigen.int64))
    with pytest.raises(TypeError, match="integer codes"):
        m.decode_codes(minigen.zeros(1, 7, 7))
    with pytest.raises(ValueError, match="multiples of 4"):
        VQVAE((1, 30, 30))
    with pytest.raises(ValueError, match="image data set"):
        build_vqvae("names")


def test_bench_steps_run_on_both_sides():
    pytest.importorskip("torch")
    from minigen.bench.workloads_models import TORCH_TWINS
    from minigen.models import registry
    step = registry.bench_step("vqvae", quick=True, data="mnist")
    a = float(step().item())
    b = float(TORCH_TWINS["vqvae"](step, "cpu")().item())
    assert numpy.isfinite(a) and numpy.isfinite(b)

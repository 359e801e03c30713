"""The GAN family: the game's steps, each variant's own mechanism against a reference, seeds,
devices, checkpoints through the command line, and bad input."""
import math
import warnings

import numpy as np
import pytest

import minigen
from minigen import cli, io, optim
from minigen.models import registry
from minigen.models.cgan import ConditionalGAN
from minigen.models.cyclegan import CycleGAN
from minigen.models.dcgan import DCGAN, DCDiscriminator
from minigen.models.gan import bce, gan_optimizers
from minigen.models.mlp_gan import MLPGAN, SNLinear
from minigen.models.stylegan import ModulatedConv2d, StyleGAN
from minigen.models.wgan_gp import WGANGP, gradient_penalty

TINY = {
    "dcgan": lambda: DCGAN(nz=8, ngf=4, ndf=4),
    "cgan": lambda: ConditionalGAN(nz=8, ngf=4, ndf=4),
    "cgan_concat": lambda: ConditionalGAN(nz=8, ngf=4, ndf=4, conditioning="concat"),
    "cgan_projection": lambda: ConditionalGAN(nz=8, ngf=4, ndf=4, conditioning="projection"),
    "wgan_gp": lambda: WGANGP(nz=8, ngf=4, ndf=4, n_critic=2),
    "mlp_gan": lambda: MLPGAN(nz=8),
    "mlp_gan_stable": lambda: MLPGAN(nz=8, dropout=0.3, real_label=0.9, instance_noise=0.1, spectral_norm=True),
    "stylegan": lambda: StyleGAN(z_dim=8, w_dim=8, channels=(8, 8, 4, 4), mapping_layers=2, ndf=4),
}


def opts(model, lr=2e-4, betas=(0.5, 0.999)):
    return {"G": optim.Adam(model.G.parameters(), lr=lr, betas=betas),
            "D": optim.Adam(model.D.parameters(), lr=lr, betas=betas)}


def real_batch(device="cpu", n=8, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.random((n, 1, 28, 28)) > 0.7).astype(np.float32)
    y = rng.integers(0, 10, n)
    return minigen.tensor(x).to(device), minigen.tensor(y).to(device)


@pytest.mark.parametrize("name", sorted(TINY))
def test_a_step_returns_the_games_figures_and_samples_are_images(name, device):
    minigen.manual_seed(0)
    m = TINY[name]().to(device)
    stats = m.train_step(real_batch(device), opts(m))
    assert {"loss_D", "grad_D"} <= set(stats) and all(np.isfinite(v) for v in stats.values())
    assert ("wasserstein" in stats) if name == "wgan_gp" else (0 < stats["D_x"] < 1 and 0 < stats["D_G_z"] < 1)
    x = m.sample(10)
    assert x.device.type == device and x.shape[0] == 10 and x.shape[1] == 1
    assert 0.0 <= float(x.min().item()) and float(x.max().item()) <= 1.0
    assert m.training          # sample() restores the mode


@pytest.mark.parametrize("name", sorted(TINY))
def test_seeds_repeat(name):
    out = []
    for _ in range(2):
        minigen.manual_seed(3)
        m = TINY[name]()
        stats = m.train_step(real_batch(), opts(m))
        out.append((stats["loss_D"], m.sample(4).cpu().numpy()))
    assert out[0][0] == out[1][0]
    np.testing.assert_array_equal(out[0][1], out[1][1])


def test_the_discriminator_learns_to_tell_a_fixed_fake_from_the_real_batch():
    minigen.manual_seed(0)
    m = DCGAN(nz=8, ngf=4, ndf=8)
    x = m.to_model(real_batch()[0])
    fake = m.G(m.noise(8)).detach()
    opt = optim.Adam(m.D.parameters(), lr=2e-3)
    first = None
    for _ in range(60):
        opt.zero_grad()
        loss = bce(m.D(x), 1.0) + bce(m.D(fake), 0.0)
        loss.backward()
        opt.step()
        first = first or loss.item()
    assert loss.item() < 0.05 < first


def test_the_generator_learns_against_a_fixed_discriminator():
    minigen.manual_seed(0)
    m = MLPGAN(nz=8)
    opt = optim.Adam(m.G.parameters(), lr=1e-3)
    z = m.noise(16)
    losses = []
    for _ in range(60):
        opt.zero_grad()
        loss = m.g_loss_of(m.D(m.G(z)))
        loss.backward()
        opt.step()
        losses.append(loss.item())
    # D(G(z)) rises from ~0.5 to ~0.7 (G's tanh box bounds what a fixed random D can say)
    assert math.exp(-losses[0]) < 0.55 and math.exp(-losses[-1]) > 0.65


def test_minimax_and_non_saturating_gradients_at_a_confident_discriminator():
    """Where D(G(z)) ~ 0, the minimax loss's gradient vanishes and the non-saturating one does not."""
    m = MLPGAN(nz=4)
    l = minigen.tensor([-8.0], requires_grad=True)
    m.g_loss = "minimax"
    (g_mm,) = minigen.grad(m.g_loss_of(l), l)
    m.g_loss = "non-saturating"
    (g_ns,) = minigen.grad(m.g_loss_of(l), l)
    assert abs(g_mm.item()) < 1e-3 and abs(g_ns.item() + 1.0) < 1e-3


def test_images_to_the_players_space_and_back():
    m = DCGAN(nz=4, ngf=2, ndf=2)
    x = minigen.rand(3, 1, 28, 28)
    g = m.to_model(x)
    assert g.shape == (3, 1, 32, 32)
    np.testing.assert_allclose(g.cpu().numpy()[:, :, 2:30, 2:30], x.cpu().numpy() * 2 - 1, atol=1e-6)
    assert (g.cpu().numpy()[:, :, :2] == -1).all()
    np.testing.assert_allclose(m.to_images(g).cpu().numpy(), x.cpu().numpy(), atol=1e-6)


# ----------------------------------------------------------------------------- WGAN-GP
def test_gradient_penalty_matches_its_definition_and_is_differentiated_twice():
    minigen.manual_seed(0)
    D = DCDiscriminator(ndf=2, batch_norm=False).to(dtype=minigen.float64)
    x = minigen.randn(2, 1, 32, 32, dtype=minigen.float64)
    f = minigen.randn(2, 1, 32, 32, dtype=minigen.float64)
    minigen.manual_seed(5)
    gp = gradient_penalty(D, x, f)
    # the same by hand, with the same eps
    minigen.manual_seed(5)
    eps = minigen.rand(2, 1, 1, 1)
    xh = (eps.to(minigen.float64) * x + (1 - eps.to(minigen.float64)) * f).requires_grad_(True)
    (g,) = minigen.grad(D(xh).sum(), xh)
    ref = ((np.sqrt((g.cpu().numpy().reshape(2, -1) ** 2).sum(1)) - 1) ** 2).mean()
    assert abs(gp.item() - ref) < 1e-10
    # d gp / d (critic weight): analytic (through create_graph) against central differences
    w = D.out.weight
    gp.backward()
    analytic = w.grad.cpu().numpy().ravel()[:5].copy()
    numeric = []
    for j in range(5):
        flat = w.array.reshape(-1)
        old = float(flat[j])
        vals = []
        for d in (1e-6, -1e-6):
            flat[j] = old + d
            minigen.manual_seed(5)
            with minigen.enable_grad():
                vals.append(gradient_penalty(D, x, f).item())
        flat[j] = old
        numeric.append((vals[0] - vals[1]) / 2e-6)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-4, atol=1e-8)


def test_wgan_steps_g_every_n_critic_and_warns_about_batch_norm():
    minigen.manual_seed(0)
    m = WGANGP(nz=8, ngf=4, ndf=4, n_critic=3)
    o = opts(m, 1e-4, (0.0, 0.9))
    g0 = m.G.net[0].weight.cpu().numpy().copy()
    m.train_step(real_batch(), o)
    m.train_step(real_batch(), o)
    np.testing.assert_array_equal(m.G.net[0].weight.cpu().numpy(), g0)      # no G step yet
    m.train_step(real_batch(), o)
    assert (m.G.net[0].weight.cpu().numpy() != g0).any() and int(m.critic_steps.item()) == 3
    with pytest.warns(UserWarning, match="batch norm under a gradient penalty"):
        WGANGP(nz=4, ngf=2, ndf=2, critic_batch_norm=True)


# ----------------------------------------------------------------------------- conditional
def test_conditional_labels():
    minigen.manual_seed(0)
    m = ConditionalGAN(nz=8, ngf=4, ndf=4)
    assert m.sample(3, labels=[1, 2, 3]).shape == (3, 1, 28, 28)      # cropped back to the data's size
    with pytest.raises(ValueError, match="digits 0..9"):
        m.sample(2, labels=[1, 12])
    with pytest.raises(ValueError, match="expected 3 digit labels"):
        m.sample(3, labels=[1, 2])
    with pytest.raises(ValueError, match="not conditional"):
        DCGAN(nz=4, ngf=2, ndf=2).sample(2, labels=[1, 2])
    # the label changes the image (same noise)
    z = m.noise(2)
    a = m.sample(2, labels=[3, 3], z=z).cpu().numpy()
    b = m.sample(2, labels=[7, 7], z=z).cpu().numpy()
    assert not np.array_equal(a, b)          # (an untrained G is near 0.5 everywhere)
    with pytest.raises(ValueError, match="conditioning must be one of"):
        ConditionalGAN(conditioning="film")


def test_projection_discriminator_is_psi_plus_class_projection():
    """l(x, y) = psi . phi(x) + E_D[y] . phi(x), checked in NumPy on D's own features."""
    minigen.manual_seed(0)
    m = ConditionalGAN(nz=8, ngf=4, ndf=4)
    assert m.conditioning == "projection"                                 # the default
    D = m.D.eval()
    x = minigen.randn(3, 1, 32, 32)
    y = minigen.tensor(np.array([0, 4, 9]))
    phi = D.net.features(x).cpu().numpy().reshape(3, -1)
    psi = D.net.out.weight.cpu().numpy().reshape(-1)
    E = D.embed.weight.cpu().numpy()
    want = phi @ psi + (E[[0, 4, 9]] * phi).sum(1)
    np.testing.assert_allclose(D(x, y).cpu().numpy(), want, rtol=1e-4, atol=1e-5)
    # the label moves only the projection term
    y2 = minigen.tensor(np.array([1, 4, 2]))
    diff = D(x, y2).cpu().numpy() - D(x, y).cpu().numpy()
    np.testing.assert_allclose(diff, ((E[[1, 4, 2]] - E[[0, 4, 9]]) * phi).sum(1), rtol=1e-4, atol=1e-5)
    assert diff[1] == 0.0


# ----------------------------------------------------------------------------- StyleGAN
def test_modulated_conv_equals_per_sample_weights():
    minigen.manual_seed(0)
    mc = ModulatedConv2d(3, 4, 3, w_dim=5).to(dtype=minigen.float64)
    x = minigen.randn(2, 3, 6, 6, dtype=minigen.float64)
    w = minigen.randn(2, 5, dtype=minigen.float64)
    y = mc(x, w).cpu().numpy()
    s = mc.affine(w).cpu().numpy()
    W = mc.weight.cpu().numpy()
    for n in range(2):
        Wn = W * s[n][None, :, None, None]                                  # modulate
        Wn = Wn / np.sqrt((Wn ** 2).sum(axis=(1, 2, 3), keepdims=True) + 1e-8)   # demodulate
        ref = minigen.nn.functional.conv2d(x[n:n + 1], minigen.tensor(Wn), padding=1).cpu().numpy()
        np.testing.assert_allclose(y[n:n + 1], ref, rtol=1e-10, atol=1e-12)


def test_truncation_mixing_and_noise():
    minigen.manual_seed(0)
    m = TINY["stylegan"]()
    m.train_step(real_batch(), opts(m))
    z = m.noise(4)
    # psi = 0: every latent becomes w_avg, so with the same noise every image is the same
    with minigen.no_grad():
        noise = [minigen.zeros(4, 1, 4 * 2 ** i, 4 * 2 ** i) for i in range(4)]
        m.eval()
        ws = m.styles(z, psi=0.0)
        x0 = m.G.synthesis(ws, noise).cpu().numpy()
        assert np.abs(x0 - x0[:1]).max() < 1e-6
        # mixing: crossover 0 is all z2, crossover = n_styles all z
        z2 = m.noise(4)
        np.testing.assert_allclose(m.styles(z, z2, 0).cpu().numpy(), m.styles(z2).cpu().numpy())
        np.testing.assert_allclose(m.styles(z, z2, m.G.n_styles).cpu().numpy(), m.styles(z).cpu().numpy())
    with pytest.raises(ValueError, match=r"psi must lie in \[0, 1\]"):
        m.sample(2, psi=1.5)
    assert abs(float(m.w_avg.cpu().numpy().std())) > 0      # tracked during training


# ----------------------------------------------------------------------------- MLP GAN
def test_spectral_norm_divides_by_the_largest_singular_value():
    minigen.manual_seed(0)
    lin = SNLinear(6, 5)
    for _ in range(50):                         # power iteration converges
        lin(minigen.randn(2, 6))
    W = lin.weight.cpu().numpy()
    sigma = np.linalg.svd(W, compute_uv=False)[0]
    x = minigen.randn(3, 6)
    np.testing.assert_allclose(lin(x).cpu().numpy(), x.cpu().numpy() @ (W / sigma).T + lin.bias.cpu().numpy(), rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------- CycleGAN
def test_cyclegan_step_and_translation(device):
    minigen.manual_seed(0)
    m = CycleGAN(ngf=4, ndf=4).to(device)
    a = minigen.rand(4, 1, 32, 32).to(device)
    b = minigen.rand(4, 1, 32, 32).to(device)
    from minigen.models.cyclegan import optimizers
    from minigen.models.registry import Recipe
    stats = m.train_step((a, b), optimizers(m, Recipe(lr=2e-4, betas=(0.5, 0.999))))
    assert {"loss_cycle", "loss_identity", "loss_D", "loss_G"} <= set(stats)
    t = m.translate(a)
    assert t.shape == (4, 1, 32, 32) and 0 <= float(t.min().item()) and float(t.max().item()) <= 1


# ----------------------------------------------------------------------------- the command line
@pytest.fixture(scope="module")
def gan_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("gans")
    out = {}
    for name in ["mlp_gan", "dcgan", "cgan", "wgan_gp", "stylegan", "cyclegan"]:
        out[name] = root / name
        assert cli.main(["train", name, "--quick", "--no-progress", "--out", str(out[name])]) == 0
    return out


@pytest.mark.parametrize("name", ["mlp_gan", "dcgan", "cgan", "wgan_gp", "stylegan", "cyclegan"])
def test_quick_runs_write_pictures_figures_and_npy(gan_runs, name, tmp_path, capsys):
    out = gan_runs[name]
    for f in ("last.npz", "stats.csv", "results.json", "game.png"):
        assert (out / f).exists(), f
    meta = io.load_meta(out / "last.npz")
    assert meta["model"] == name
    npy = tmp_path / "s.npy"
    assert cli.main(["sample", name, "--checkpoint", str(out / "last.npz"), "--n", "12", "--out", str(npy)]) == 0
    x = np.load(npy)
    assert x.shape[0] == 12 and x.shape[1:] in ((1, 28, 28), (1, 32, 32)) and x.dtype == np.float32
    assert 0 <= x.min() and x.max() <= 1
    assert cli.main(["eval", str(npy)]) == 0
    assert "Frechet distance (digit classifier, not FID)" in capsys.readouterr().out


def test_sample_labels_and_psi_from_the_command_line(gan_runs, tmp_path, capsys):
    png = tmp_path / "d.png"
    assert cli.main(["sample", "cgan", "--checkpoint", str(gan_runs["cgan"] / "last.npz"),
                     "--labels", "0,1,2,7", "--out", str(png)]) == 0
    assert png.exists()
    assert cli.main(["sample", "cgan", "--checkpoint", str(gan_runs["cgan"] / "last.npz"), "--labels", "3,10"]) == 1
    assert "digits must lie in 0..9" in capsys.readouterr().err
    assert cli.main(["sample", "stylegan", "--checkpoint", str(gan_runs["stylegan"] / "last.npz"),
                     "--psi", "0.5", "--n", "4", "--out", str(tmp_path / "t.png")]) == 0
    assert cli.main(["sample", "stylegan", "--checkpoint", str(gan_runs["stylegan"] / "last.npz"),
                     "--psi", "2", "--n", "4", "--out", str(tmp_path / "t.png")]) == 1
    assert "psi must lie in [0, 1]" in capsys.readouterr().err
    assert cli.main(["sample", "dcgan", "--checkpoint", str(gan_runs["dcgan"] / "last.npz"), "--psi", "0.5"]) == 1
    assert "no truncation trick" in capsys.readouterr().err


def test_eval_refuses_bad_arrays(tmp_path, capsys):
    for arr, match in [(np.zeros((4, 3, 28, 28), np.float32), "got shape"),
                       (np.full((4, 1, 28, 28), 2.0, np.float32), "must lie in"),
                       (np.zeros((4, 1, 28, 28), np.int64), "floating-point"),
                       (np.full((4, 1, 28, 28), np.nan, np.float32), "NaN")]:
        p = tmp_path / "x.npy"
        np.save(p, arr)
        assert cli.main(["eval", str(p)]) == 1
        assert match in capsys.readouterr().err


def test_gan_resume_is_exact(tmp_path):
    from minigen.train import train_model
    kw = dict(name="wgan_gp", quick=True, steps=8, progress=False, pictures=False, log=lambda *a: None,
              checkpoint_every=2)
    whole = train_model(out=str(tmp_path / "a"), **kw)["model"]

    def stop(step, loss):
        if step == 5:
            raise KeyboardInterrupt
    train_model(out=str(tmp_path / "b"), callback=stop, **kw)
    resumed = train_model(out=str(tmp_path / "b"), resume=True, **kw)["model"]
    for (k, a), (_, b) in zip(whole.state_dict().items(), resumed.state_dict().items()):
        np.testing.assert_array_equal(a.cpu().numpy(), b.cpu().numpy(), err_msg=k)


@pytest.mark.parametrize("name", ["mlp_gan", "dcgan", "wgan_gp", "stylegan"])
def test_bench_steps(name):
    out = registry.get(name).bench_step("cpu", quick=True)()
    assert isinstance(out, dict) and math.isfinite(out["loss_D"])


def test_r1_penalty_enters_d_loss_and_rejects_negative_gamma():
    """D's step with r1_gamma > 0 differs from the same step without it by exactly the penalty's
    gradient; a negative gamma is refused."""
    from minigen import optim
    x = minigen.rand(4, 1, 28, 28)
    grads = {}
    for gamma in (0.0, 50.0):
        minigen.manual_seed(0)
        m = MLPGAN(nz=4, r1_gamma=gamma)
        o = {"G": optim.SGD(m.G.parameters(), lr=0.0), "D": optim.SGD(m.D.parameters(), lr=0.0)}
        minigen.manual_seed(1)
        m.train_step((x,), o)
        grads[gamma] = next(iter(m.D.parameters())).grad.cpu().numpy().copy()
        if gamma:
            for p in m.D.parameters():
                p.grad = None
            m.r1_penalty(m.to_model(x)).backward()
            pen = next(iter(m.D.parameters())).grad.cpu().numpy()
    assert np.abs(pen).max() > 1e-6
    np.testing.assert_allclose(grads[50.0] - grads[0.0], pen, rtol=1e-3, atol=1e-6 * np.abs(pen).max())
    with pytest.raises(ValueError, match="r1_gamma must be >= 0"):
        MLPGAN(nz=4, r1_gamma=-1.0)

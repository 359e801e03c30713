"""Diffusion (DDPM/DDIM, guidance, inpainting, the bound), the score model and RealNVP: the math
against NumPy float64, the samplers' mechanics, overfitting, determinism, checkpoints, both
devices, and the errors."""
import math
import os

import numpy
import pytest

import minigen
from minigen import metrics
from minigen.data import load_digits, moons_split, two_moons
from minigen.models import registry
from minigen.models.diffusion import (DDPM, PointDenoiser, build_ddpm, check_betas, cosine_betas,
                                      linear_betas, sinusoidal_embedding)
from minigen.models.realnvp import ALPHA, LEVELS, RealNVP, build_realnvp
from minigen.models.score import ScoreModel, geometric_sigmas
from minigen.models.unet import UNet
from minigen.train import load_checkpoint, save_checkpoint, training_step


def _tiny_image_ddpm(T=20, guided=False, ema=None, channels=(8, 16)):
    minigen.manual_seed(0)
    net = UNet(1, channels=channels, num_classes=10 if guided else None)
    return DDPM(net, (1, 8, 8), T=T, images=True, num_classes=10 if guided else None, ema_decay=ema)


class ConstEps(minigen.nn.Module):
    """A stand-in denoiser: eps = c (y's value when labelled), to check the samplers' algebra."""

    def __init__(self, c=0.0):
        super().__init__()
        self.c = c
        self.w = minigen.nn.Parameter(minigen.zeros(1))

    def forward(self, x, t, y=None):
        base = x * 0.0 + self.c + self.w
        if y is None:
            return base
        return base + y.to(minigen.float32).reshape(-1, *([1] * (x.ndim - 1))) * 0.01


# ----------------------------------------------------------------------------- data and metrics
def test_two_moons_follow_the_protocol_recipe():
    x, up = two_moons(0, 5000)
    rng = numpy.random.default_rng(0)
    t_up, t_lo = rng.uniform(0, numpy.pi, 5000), rng.uniform(0, numpy.pi, 5000)
    ref = numpy.concatenate([numpy.stack([numpy.cos(t_up), numpy.sin(t_up)], 1),
                             numpy.stack([1 - numpy.cos(t_lo), 0.5 - numpy.sin(t_lo)], 1)])
    ref = ref + rng.normal(0, 0.05, (10000, 2))
    numpy.testing.assert_allclose(x, ref)
    assert up[:5000].all() and not up[5000:].any()
    d = moons_split()
    numpy.testing.assert_allclose(d["train"].mean(0), 0, atol=1e-5)
    numpy.testing.assert_allclose(d["train"].std(0), 1, atol=1e-5)
    assert d["train"].shape == (10000, 2) and d["test"].shape == (2000, 2)
    # the yardsticks for fresh points
    assert abs(metrics.nn_distance(d["test"], d["train"]) - 0.0095) < 5e-4
    assert metrics.mode_share(d["test"], d["train"], d["train_upper"]) == pytest.approx(0.5, abs=0.03)


def test_point_metrics_against_brute_force():
    rng = numpy.random.default_rng(3)
    a, b = rng.normal(size=(37, 2)), rng.normal(size=(1500, 2))
    d = numpy.sqrt(((a[:, None] - b[None]) ** 2).sum(-1))
    dist, idx = metrics.nearest(a, b, chunk=10)
    numpy.testing.assert_allclose(dist, d.min(1), rtol=1e-9, atol=1e-9)
    numpy.testing.assert_array_equal(idx, d.argmin(1))
    mask = b[:, 0] > 0
    assert metrics.mode_share(a, b, mask) == pytest.approx(mask[d.argmin(1)].mean())
    assert metrics.chamfer_distance(a, b) == pytest.approx(0.5 * (d.min(1).mean() + d.min(0).mean()))
    with pytest.raises(ValueError, match="NaN"):
        metrics.nn_distance(numpy.array([[numpy.nan, 0.0]]), b)
    with pytest.raises(ValueError, match="in_mode"):
        metrics.mode_share(a, b, mask[:10])


# ----------------------------------------------------------------------------- schedules
def test_schedules_and_their_checks():
    b = linear_betas(1000)
    assert b[0] == pytest.approx(1e-4) and b[-1] == pytest.approx(0.02)
    c = cosine_betas(100)
    ab = numpy.cumprod(1 - c)
    s = 0.008
    f = numpy.cos((numpy.arange(101) / 100 + s) / (1 + s) * math.pi / 2) ** 2
    numpy.testing.assert_allclose(ab[:-1], (f / f[0])[1:-1], rtol=1e-9)
    assert (numpy.diff(ab) < 0).all() and ab[-1] > 0
    with pytest.raises(ValueError, match=r"beta\[2\]"):
        check_betas([0.1, 0.2, 1.0])
    with pytest.raises(ValueError, match=r"beta\[0\]"):
        check_betas([0.0, 0.2])
    with pytest.raises(ValueError, match="underflows"):
        check_betas(numpy.full(200000, 0.999))
    with pytest.raises(ValueError, match="schedule must be one of"):
        DDPM(PointDenoiser(), (2,), T=10, schedule="quadratic", images=False)


def test_sinusoidal_embedding_matches_numpy():
    t = minigen.tensor([0, 3, 99])
    e = sinusoidal_embedding(t, 32).cpu().numpy()
    f = numpy.exp(-numpy.log(10000.0) * numpy.arange(16) / 16)
    ref = numpy.concatenate([numpy.sin(numpy.outer([0, 3, 99], f)), numpy.cos(numpy.outer([0, 3, 99], f))], 1)
    numpy.testing.assert_allclose(e, ref, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="even"):
        sinusoidal_embedding(t, 7)


# ----------------------------------------------------------------------------- the process
def test_q_sample_is_the_closed_form_and_matches_iterated_noising():
    m = DDPM(PointDenoiser(), (2,), T=50, images=False)
    ab = numpy.cumprod(1 - linear_betas(50))
    x0 = minigen.tensor([[1.0, -2.0], [0.5, 0.25]])
    eps = minigen.tensor([[0.3, 0.1], [-1.0, 2.0]])
    t = minigen.tensor([0, 49])
    ref = numpy.sqrt(ab[[0, 49]])[:, None] * x0.cpu().numpy() + numpy.sqrt(1 - ab[[0, 49]])[:, None] * eps.cpu().numpy()
    numpy.testing.assert_allclose(m.q_sample(x0, t, eps).cpu().numpy(), ref, rtol=1e-6)
    # q(x_t | x_0) by t single steps x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) z: same mean and variance
    rng = numpy.random.default_rng(0)
    x = numpy.full(200000, 1.5)
    for beta in linear_betas(50)[:30]:
        x = numpy.sqrt(1 - beta) * x + numpy.sqrt(beta) * rng.standard_normal(x.shape)
    assert x.mean() == pytest.approx(1.5 * numpy.sqrt(ab[29]), abs=0.01)
    assert x.var() == pytest.approx(1 - ab[29], rel=0.02)


def test_ancestral_step_mean_is_the_epsilon_form():
    # with eps_theta = c and no clamping (points), mu~(x_t, x0_hat) = (x_t - beta/sqrt(1 - ab) c) / sqrt(alpha)
    m = DDPM(ConstEps(0.7), (2,), T=10, images=False)
    b = linear_betas(10)
    ab, a = numpy.cumprod(1 - b), 1 - b
    x = minigen.tensor([[0.2, -1.0]])
    out = m.p_step(x, 0).cpu().numpy()     # t = 0: the mean, no noise
    ref = (x.cpu().numpy() - b[0] / numpy.sqrt(1 - ab[0]) * 0.7) / numpy.sqrt(a[0])
    numpy.testing.assert_allclose(out, ref, rtol=1e-5)
    # at t > 0 the noise has standard deviation sqrt(beta_t)
    minigen.manual_seed(0)
    xs = minigen.zeros(20000, 2)
    t = 5
    draws = m.p_step(xs, t).cpu().numpy()
    mean = (0 - b[t] / numpy.sqrt(1 - ab[t]) * 0.7) / numpy.sqrt(a[t])
    assert draws.mean() == pytest.approx(mean, abs=0.003)
    assert draws.std() == pytest.approx(numpy.sqrt(b[t]), rel=0.02)


def test_guidance_mixes_the_two_predictions():
    m = DDPM(ConstEps(0.0), (2,), T=10, images=False, num_classes=10)
    x = minigen.zeros(3, 2)
    y = minigen.tensor([1, 4, 9])
    w = 3.0
    e = m.eps(x, 2, y, guidance=w).cpu().numpy()
    e_y, e_null = y.cpu().numpy()[:, None] * 0.01, 10 * 0.01
    numpy.testing.assert_allclose(e, e_null + w * (e_y - e_null) + 0 * e, rtol=1e-5, atol=1e-6)
    numpy.testing.assert_allclose(m.eps(x, 2, y, guidance=1.0).cpu().numpy(), numpy.repeat(e_y, 2, 1), atol=1e-6)
    numpy.testing.assert_allclose(m.eps(x, 2).cpu().numpy(), numpy.full((3, 2), e_null), atol=1e-6)


def test_label_dropout_in_training_is_p_uncond():
    seen = []

    class Spy(ConstEps):
        def forward(self, x, t, y=None):
            seen.append(y.cpu().numpy().copy())
            return super().forward(x, t, None)

    m = DDPM(Spy(), (2,), T=10, images=False, num_classes=10, p_uncond=0.25)
    minigen.manual_seed(0)
    m.loss(minigen.zeros(20000, 2), minigen.zeros(20000, dtype=minigen.int64) + 3)
    y = seen[0]
    assert set(numpy.unique(y)) == {3, 10}
    assert (y == 10).mean() == pytest.approx(0.25, abs=0.01)


def test_ddim_inversion_round_trip_and_determinism(device):
    # the zero-initialised UNet predicts eps = 0: inversion then DDIM sampling is exact
    m = _tiny_image_ddpm(T=30).to(device)
    m.eval()
    x = load_digits("test")[0][:4].to(device)
    x_T = m.ddim_invert(x, steps=10)
    back = m.sample(4, sampler="ddim", steps=10, x_T=x_T)
    numpy.testing.assert_allclose(back.cpu().numpy(), x.cpu().numpy(), atol=1e-4)
    a = m.sample(3, sampler="ddim", steps=7, x_T=x_T[:3])
    b = m.sample(3, sampler="ddim", steps=7, x_T=x_T[:3])
    numpy.testing.assert_array_equal(a.cpu().numpy(), b.cpu().numpy())
    assert m.ddim_times(7) == [0, 5, 10, 14, 19, 24, 29]
    with pytest.raises(ValueError, match=r"steps must lie in 1 \.\. 30"):
        m.sample(2, sampler="ddim", steps=31)
    with pytest.raises(ValueError, match="ancestral sampling runs all T"):
        m.sample(2, steps=10)


def test_inpainting_keeps_the_known_pixels(device):
    m = _tiny_image_ddpm(T=10).to(device)
    m.eval()
    x = load_digits("test")[0][:3].to(device)
    mask = minigen.ones(1, 8, 8)
    mask[:, 4:, :] = 0.0
    out = m.inpaint(x, mask.to(device)).cpu().numpy()
    numpy.testing.assert_allclose(out[:, :, :4], x.cpu().numpy()[:, :, :4], atol=1e-6)
    assert out.shape == (3, 1, 8, 8) and 0 <= out.min() and out.max() <= 1
    with pytest.raises(ValueError, match="mask must have the image shape"):
        m.inpaint(x, minigen.ones(1, 4, 4).to(device))


def test_nll_bound_with_one_step_matches_numpy():
    # T = 1: the bound is L_T + L_0, both in closed form given the decoder's mean
    m = _tiny_image_ddpm(T=1)
    m.eval()
    x = load_digits("test")[0][:2]
    minigen.manual_seed(5)
    got = m.nll_bound(x).cpu().numpy()
    minigen.manual_seed(5)
    eps = minigen.randn(2, 1, 8, 8).cpu().numpy().astype(numpy.float64)
    beta = 1e-4
    x0 = x.cpu().numpy().astype(numpy.float64) * 2 - 1
    ab = 1 - beta
    LT = 0.5 * ((x0 ** 2).sum((1, 2, 3)) * ab + 64 * ((1 - ab) - 1 - numpy.log(1 - ab)))
    x1 = numpy.sqrt(ab) * x0 + numpy.sqrt(1 - ab) * eps
    mu = numpy.clip(x1 / numpy.sqrt(ab), -1, 1)          # eps_theta = 0 (zero-initialised net)
    from math import erf
    cdf = numpy.vectorize(lambda v: 0.5 * (1 + erf(v / math.sqrt(2))))
    sd, half = math.sqrt(beta), 1 / 16
    hi = numpy.where(x0 > 1 - 1e-3, 1.0, cdf((x0 + half - mu) / sd))
    lo = numpy.where(x0 < -1 + 1e-3, 0.0, cdf((x0 - half - mu) / sd))
    L0 = -numpy.log(numpy.maximum(hi - lo, 1e-12)).sum((1, 2, 3))
    numpy.testing.assert_allclose(got, LT + L0, rtol=1e-4)


def test_ema_tracks_the_weights_and_is_used_for_sampling():
    m = _tiny_image_ddpm(T=10, ema=0.5)
    opt = minigen.optim.Adam(m.parameters(), lr=1e-2)
    assert len(list(m.parameters())) == len(list(m.net.parameters()))
    x = load_digits("train")[0][:8]
    before = [p.cpu().numpy().copy() for p in m.ema_net.parameters()]
    training_step(m, opt, (x,))
    assert int(m.ema_steps.item()) == 1
    d = min(0.5, 1 / 10)
    for pe, p, b in zip(m.ema_net.parameters(), m.net.parameters(), before):
        numpy.testing.assert_allclose(pe.cpu().numpy(), d * b + (1 - d) * p.cpu().numpy(), rtol=1e-5, atol=1e-7)
    m.train()
    assert m.denoiser() is m.net
    m.eval()
    assert m.denoiser() is m.ema_net


def test_tiny_batch_overfits_and_samples_in_range(device):
    m = _tiny_image_ddpm(T=50).to(device)
    x = load_digits("train")[0][:4].to(device)
    opt = minigen.optim.Adam(m.parameters(), lr=3e-3)
    minigen.manual_seed(1)
    losses = [training_step(m, opt, (x,)).item() for _ in range(250)]
    assert numpy.mean(losses[:10]) > 0.7
    assert numpy.mean(losses[-25:]) < 0.35 * numpy.mean(losses[:10])
    m.eval()
    s = m.sample(5)
    assert s.shape == (5, 1, 8, 8) and s.device == device
    a = s.cpu().numpy()
    assert numpy.isfinite(a).all() and a.min() >= 0 and a.max() <= 1


def test_points_ddpm_determinism_and_checkpoint_round_trip(tmp_path, device):
    m = DDPM(PointDenoiser(), (2,), T=20, images=False).to(device)
    opt = minigen.optim.Adam(m.parameters(), lr=1e-3)
    x = minigen.from_numpy(moons_split()["train"][:64]).to(device)
    for _ in range(5):
        training_step(m, opt, (x,))
    minigen.manual_seed(3)
    a = m.sample(10)
    minigen.manual_seed(3)
    b = m.sample(10)
    numpy.testing.assert_array_equal(a.cpu().numpy(), b.cpu().numpy())
    assert a.shape == (10, 2) and numpy.isfinite(a.cpu().numpy()).all()
    path = os.path.join(tmp_path, "d.npz")
    save_checkpoint(path, m, opt, meta={"model": "ddpm"})
    m2 = DDPM(PointDenoiser(), (2,), T=20, images=False).to(device)
    load_checkpoint(path, m2)
    minigen.manual_seed(3)
    numpy.testing.assert_array_equal(m2.sample(10).cpu().numpy(), a.cpu().numpy())


def test_guided_image_checkpoint_keeps_the_average(tmp_path):
    m = _tiny_image_ddpm(T=10, guided=True, ema=0.9)
    opt = minigen.optim.Adam(m.parameters(), lr=1e-2)
    x, y = load_digits("train")
    for _ in range(3):
        training_step(m, opt, (x[:8], y[:8]))
    path = os.path.join(tmp_path, "g.npz")
    save_checkpoint(path, m, opt, meta={"model": "ddpm"})
    m2 = _tiny_image_ddpm(T=10, guided=True, ema=0.9)
    load_checkpoint(path, m2)
    for a, b in zip(m.ema_net.parameters(), m2.ema_net.parameters()):
        numpy.testing.assert_array_equal(a.cpu().numpy(), b.cpu().numpy())
    assert int(m2.ema_steps.item()) == 3


def test_ddpm_bad_input():
    m = _tiny_image_ddpm(T=10, guided=True)
    x, y = load_digits("train")
    with pytest.raises(ValueError, match=r"labels must lie in 0 \.\. 9"):
        m.loss(x[:4], minigen.tensor([0, 1, 2, 10]))
    with pytest.raises(ValueError, match="trains on"):
        m.loss(x[:4])
    with pytest.raises(ValueError, match="guidance needs labels"):
        m.sample(2, guidance=2.0)
    with pytest.raises(ValueError, match="guidance must be a finite scale"):
        m.sample(2, labels=[1, 2], guidance=-1.0)
    with pytest.raises(ValueError, match="sampler must be"):
        m.sample(2, sampler="euler")
    u = _tiny_image_ddpm(T=10)
    with pytest.raises(ValueError, match="trained without labels"):
        u.sample(2, labels=[1, 2])
    with pytest.raises(ValueError, match="p_uncond"):
        DDPM(PointDenoiser(), (2,), T=10, images=False, p_uncond=1.0)
    with pytest.raises(ValueError, match="ema_decay"):
        DDPM(PointDenoiser(), (2,), T=10, images=False, ema_decay=1.0)
    with pytest.raises(ValueError, match="no labels"):
        build_ddpm("moons", "guided")
    with pytest.raises(ValueError, match=r"timestep t must lie in 0 \.\. 9"):
        u.q_sample(x[:2] * 2 - 1, minigen.tensor([0, 10]), minigen.zeros(2, 1, 8, 8))
    with pytest.raises(ValueError, match="must be integers"):
        u.q_sample(x[:2], minigen.tensor([0.0, 1.0]), minigen.zeros(2, 1, 8, 8))
    with pytest.raises(ValueError, match=r"timestep t must lie in 0 \.\. 9"):
        u.p_step(minigen.zeros(1, 1, 8, 8), -1)
    with pytest.raises(ValueError, match="t_prev must lie"):
        u.ddim_step(minigen.zeros(1, 1, 8, 8), 3, 5)


def test_unet_shapes_on_mnist_sizes():
    net = UNet(1, channels=(8, 16, 16), num_classes=10)
    out = net(minigen.zeros(2, 1, 28, 28), minigen.tensor([0, 5]), minigen.tensor([3, 10]))
    assert out.shape == (2, 1, 28, 28)
    with pytest.raises(ValueError, match="without labels"):
        UNet(1, channels=(8, 16))(minigen.zeros(1, 1, 8, 8), minigen.tensor([0]), minigen.tensor([1]))


# ----------------------------------------------------------------------------- score model
def test_score_loss_and_score_match_numpy():
    m = ScoreModel()
    numpy.testing.assert_allclose(m.sigmas, numpy.geomspace(1, 0.01, 10))
    x = minigen.tensor([[0.3, -0.2], [1.0, 0.5]])
    i = 4
    s = m.score(x, i).cpu().numpy()
    with minigen.no_grad():
        raw = m.net(x, minigen.tensor([i, i])).cpu().numpy()
    numpy.testing.assert_allclose(s, raw / m.sigmas[i], rtol=1e-5)
    # the loss, with the same draws of i and z
    minigen.manual_seed(2)
    got = m.loss(x).item()
    minigen.manual_seed(2)
    idx = minigen.randint(0, 10, (2,))
    z = minigen.randn(2, 2)
    sig = numpy.array(m.sigmas)[idx.cpu().numpy()][:, None]
    with minigen.no_grad():
        r = m.net(x + minigen.tensor(sig, dtype=minigen.float32) * z, idx).cpu().numpy() + z.cpu().numpy()
    assert got == pytest.approx(0.5 * (r ** 2).sum(1).mean(), rel=1e-5)
    with pytest.raises(ValueError, match="level i must lie"):
        m.score(x, 10)
    with pytest.raises(ValueError):
        geometric_sigmas(0.01, 1.0)


def test_langevin_samples_a_known_gaussian(device):
    # a "network" whose score is exact for N(0, s^2 I) smoothed by sigma: -(x) / (s^2 + sigma^2)
    class Exact(minigen.nn.Module):
        def __init__(self, sigmas):
            super().__init__()
            self.sig = minigen.tensor(sigmas, dtype=minigen.float32)
            self.w = minigen.nn.Parameter(minigen.zeros(1))

        def forward(self, x, i, y=None):
            sig = self.sig.to(x.device)[i][:, None]
            return -x * sig / (0.25 + sig * sig)   # net = sigma * score
    m = ScoreModel()
    m.net = Exact(m.sigmas)
    m = m.to(device)
    minigen.manual_seed(0)
    x = m.sample(4000, steps_per_level=100).cpu().numpy()
    assert x.std() == pytest.approx(0.5, rel=0.06)
    assert abs(x.mean()) < 0.03


# ----------------------------------------------------------------------------- RealNVP
def test_coupling_inverts_and_its_log_det_is_the_jacobians():
    minigen.manual_seed(0)
    flow = RealNVP(dim=2, n_couplings=4)
    for c in flow.couplings:
        minigen.nn.init.normal_(c.out.weight, 0, 0.5)
    x32 = minigen.tensor([[0.3, -0.7], [1.2, 0.4]])
    numpy.testing.assert_allclose(flow.inverse(flow(x32)[0]).cpu().numpy(), x32.cpu().numpy(), atol=1e-5)
    # in float64, log|det| against the Jacobian by central differences
    flow = flow.double()
    x = x32.to(minigen.float64)
    _, logdet = flow(x)
    h = 1e-5
    for n in range(2):
        J = numpy.zeros((2, 2))
        for j in range(2):
            e = numpy.zeros((1, 2))
            e[0, j] = h
            up = flow(minigen.tensor(x.cpu().numpy()[n:n + 1] + e))[0].cpu().numpy()[0]
            down = flow(minigen.tensor(x.cpu().numpy()[n:n + 1] - e))[0].cpu().numpy()[0]
            J[:, j] = (up - down) / (2 * h)
        assert logdet.cpu().numpy()[n] == pytest.approx(numpy.log(abs(numpy.linalg.det(J))), abs=1e-7)


def test_flow_density_integrates_to_one():
    minigen.manual_seed(0)
    flow = RealNVP(dim=2, n_couplings=4)
    for c in flow.couplings:
        minigen.nn.init.normal_(c.out.weight, 0, 0.3)
    g = numpy.linspace(-16, 16, 801)
    gx, gy = numpy.meshgrid(g, g)
    pts = minigen.tensor(numpy.stack([gx.ravel(), gy.ravel()], 1).astype(numpy.float32))
    with minigen.no_grad():
        p = numpy.exp(flow.log_prob_flow(pts).cpu().numpy().astype(numpy.float64))
    assert p.sum() * (g[1] - g[0]) ** 2 == pytest.approx(1.0, abs=0.003)


def test_logit_step_log_det_and_the_discrete_bound():
    flow = build_realnvp("digits")
    y = minigen.tensor(numpy.random.default_rng(0).uniform(0, 1, (3, 64)).astype(numpy.float32))
    w, ld = flow.to_logit(y)
    q = ALPHA + (1 - 2 * ALPHA) * y.cpu().numpy().astype(numpy.float64)
    numpy.testing.assert_allclose(w.cpu().numpy(), numpy.log(q / (1 - q)), rtol=1e-4, atol=1e-5)
    numpy.testing.assert_allclose(ld.cpu().numpy(), (numpy.log(1 - 2 * ALPHA) - numpy.log(q) - numpy.log(1 - q)).sum(1),
                                  rtol=1e-5)
    x = load_digits("test")[0][:5]
    minigen.manual_seed(0)
    v = flow.dequantise(x).cpu().numpy() * LEVELS
    numpy.testing.assert_array_equal(numpy.floor(v), numpy.round(x.cpu().numpy().reshape(5, 64) * 16))
    plain, iw = flow.nll_bound(x, draws=4)
    assert (iw.cpu().numpy() <= plain.cpu().numpy() + 1e-4).all()
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        flow.log_prob_y(minigen.ones(2, 64) * 1.5)
    flow.log_prob_y(minigen.ones(2, 64))     # (16 + u) / 17 may round to 1.0 in float32
    with pytest.raises(ValueError, match="image_shape"):
        RealNVP(dim=10, image_shape=(1, 8, 8))
    with pytest.raises(ValueError, match="two moons or the 8x8 digits"):
        build_realnvp("mnist")


def test_realnvp_overfits_and_round_trips(tmp_path, device):
    minigen.manual_seed(0)
    flow = build_realnvp("moons").to(device)
    x = minigen.from_numpy(moons_split()["train"][:16]).to(device)
    opt = minigen.optim.Adam(flow.parameters(), lr=3e-3)
    losses = [training_step(flow, opt, (x,)).item() for _ in range(150)]
    assert losses[-1] < losses[0] - 1.0
    minigen.manual_seed(4)
    s = flow.sample(7)
    assert s.shape == (7, 2) and s.device == device
    path = os.path.join(tmp_path, "f.npz")
    save_checkpoint(path, flow, opt, meta={"model": "realnvp"})
    f2 = build_realnvp("moons").to(device)
    load_checkpoint(path, f2)
    minigen.manual_seed(4)
    numpy.testing.assert_array_equal(f2.sample(7).cpu().numpy(), s.cpu().numpy())
    img = build_realnvp("digits").sample(3)
    assert img.shape == (3, 1, 8, 8) and img.cpu().numpy().min() >= 0 and img.cpu().numpy().max() <= 1


# ----------------------------------------------------------------------------- registry and CLI
@pytest.mark.parametrize("name,data", [("ddpm", "moons"), ("score", "moons"), ("realnvp", "moons"),
                                       ("realnvp", "digits"), ("ddpm", "digits")])
def test_quick_runs_through_the_registry(tmp_path, name, data):
    from minigen.train import train_model
    r = train_model(name, data=data, quick=True, out=str(tmp_path / "run"), progress=False,
                    log=lambda *a: None)
    m = r["metrics"]
    assert m["steps"] == 30
    assert all(math.isfinite(v) for v in m.values() if isinstance(v, float))
    assert os.path.exists(tmp_path / "run" / "last.npz")
    assert len(r["pictures"]) >= 2


def test_default_variant_follows_the_data_set():
    entry = registry.get("ddpm")
    assert entry.recipe.resolve().variants[0] == "guided"
    assert entry.recipe.resolve("moons").variants[0] == "uncond"
    assert isinstance(entry.build("moons").net, PointDenoiser)


def test_cli_sampler_flags(tmp_path, capsys):
    from minigen.cli import main
    from minigen.train import train_model
    run = str(tmp_path / "r")
    train_model("ddpm", data="moons", quick=True, out=run, progress=False, pictures=False, log=lambda *a: None)
    ck = os.path.join(run, "last.npz")
    out = str(tmp_path / "s.npy")
    assert main(["sample", "ddpm", "--checkpoint", ck, "--sampler", "ddim", "--steps", "5", "--n", "9",
                 "--out", out]) == 0
    assert numpy.load(out).shape == (9, 2)
    assert main(["sample", "ddpm", "--checkpoint", ck, "--steps", "5"]) != 0
    assert "add --sampler ddim" in capsys.readouterr().err
    assert main(["sample", "ddpm", "--checkpoint", ck, "--sampler", "ddim", "--steps", "500"]) != 0
    assert "steps must lie in 1 .. 20" in capsys.readouterr().err
    assert main(["sample", "ddpm", "--checkpoint", ck, "--guidance", "2"]) != 0
    assert "--guidance needs --labels" in capsys.readouterr().err

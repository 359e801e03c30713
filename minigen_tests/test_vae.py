"""minigen.models.vae: the negative ELBO and the IWAE bound against NumPy float64 references,
shapes of sample / reconstruct / interpolate, training makes progress, both devices."""
import math

import numpy as np
import pytest

import minigen
from minigen import optim
from minigen.models import VAE, ConvVAE, get, load_data
from minigen.models.vae import build_vae, evaluate


def _params64(model):
    return {k: v.cpu().numpy().astype(np.float64) for k, v in model.state_dict().items()}


def _mlp64(p, X, eps):
    """The MLP VAE in NumPy float64: (mu, logvar, z, x_logits)."""
    h = np.maximum(X @ p["fc1.weight"].T + p["fc1.bias"], 0)
    mu = h @ p["fc_mu.weight"].T + p["fc_mu.bias"]
    logvar = h @ p["fc_logvar.weight"].T + p["fc_logvar.bias"]
    z = mu + np.exp(0.5 * logvar) * eps
    x_logits = np.maximum(z @ p["fc3.weight"].T + p["fc3.bias"], 0) @ p["fc4.weight"].T + p["fc4.bias"]
    return mu, logvar, z, x_logits


def _bce64(l, x):
    return np.maximum(l, 0) - l * x + np.log1p(np.exp(-np.abs(l)))


def _digits(n=32, split="train"):
    return load_data("digits", split)[:n]


def test_negative_elbo_matches_numpy_reference():
    model = build_vae("digits")
    x = _digits(16)
    minigen.manual_seed(3)
    got = model.negative_elbo(x).cpu().numpy()
    minigen.manual_seed(3)
    eps = minigen.randn(16, model.z_dim).cpu().numpy().astype(np.float64)
    X = x.cpu().numpy().reshape(16, -1).astype(np.float64)
    mu, logvar, z, l = _mlp64(_params64(model), X, eps)
    want = _bce64(l, X).sum(1) - 0.5 * (1 + logvar - mu ** 2 - np.exp(logvar)).sum(1)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    minigen.manual_seed(3)
    loss = model.loss(x)
    assert loss.shape == () and abs(loss.item() - want.mean()) < 1e-4 * want.mean()


def test_iwae_nll_matches_numpy_reference_in_chunks():
    model = build_vae("digits")
    x = _digits(5)
    k = 4
    minigen.manual_seed(11)
    got = model.nll(x, k=k, max_rows=2 * k).cpu().numpy()       # chunks of 2, 2 and 1 examples
    minigen.manual_seed(11)
    p, X = _params64(model), x.cpu().numpy().reshape(5, -1).astype(np.float64)
    want = []
    for s in range(0, 5, 2):
        xs = X[s:s + 2]
        m = len(xs)
        eps = minigen.randn(k, m, model.z_dim).cpu().numpy().astype(np.float64)
        mu, logvar, z, l = _mlp64(p, np.broadcast_to(xs, (k,) + xs.shape), eps)
        log_px_z = -_bce64(l, xs).sum(-1)
        log_pz = -0.5 * (z ** 2 + math.log(2 * math.pi)).sum(-1)
        log_qz = -0.5 * (eps ** 2 + logvar + math.log(2 * math.pi)).sum(-1)
        log_w = log_px_z + log_pz - log_qz
        mx = log_w.max(0)
        want.append(-(mx + np.log(np.exp(log_w - mx).mean(0))))
    np.testing.assert_allclose(got, np.concatenate(want), rtol=1e-5)


def test_iwae_bound_is_tighter_than_the_elbo():
    model = build_vae("digits")
    _train(model, _digits(256), steps=30)
    x = load_data("digits", "test")[:64]
    neg_elbo = np.mean([model.negative_elbo(x).mean().item() for _ in range(4)])
    nll_100 = model.nll(x, k=100).mean().item()
    nll_1 = model.nll(x, k=1).mean().item()
    assert nll_100 < neg_elbo
    assert nll_100 < nll_1
    assert abs(nll_1 - neg_elbo) < 0.05 * neg_elbo         # K = 1 is an ELBO estimate


def test_anomaly_score_matches_reference_and_flags_noise():
    model = build_vae("digits")
    x = load_data("digits", "test")[:20]
    got = model.anomaly_score(x).cpu().numpy()
    X = x.cpu().numpy().reshape(20, -1).astype(np.float64)
    mu, logvar, z, l = _mlp64(_params64(model), X, np.zeros((20, model.z_dim)))
    np.testing.assert_allclose(got, _bce64(l, X).sum(1), rtol=1e-5)
    _train(model, _digits(1500), steps=150, batch=64)
    noise = minigen.rand(20, 1, 8, 8)
    assert model.anomaly_score(noise).mean().item() > 1.2 * model.anomaly_score(x).mean().item()


def _train(model, x, steps, batch=32, lr=3e-3):
    opt = optim.Adam(model.parameters(), lr=lr)
    losses = []
    for i in range(steps):
        s = (i * batch) % x.shape[0]
        xb = x[s:s + batch]
        opt.zero_grad()
        loss = model.loss(xb)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


@pytest.mark.parametrize("variant", ["mlp", "conv"])
def test_loss_decreases_and_shapes(device, variant):
    model = build_vae("digits", variant).to(device)
    x = _digits(64).to(device)
    losses = _train(model, x, steps=12)
    assert np.mean(losses[-3:]) < np.mean(losses[:3])
    assert model.sample(5).shape == (5, 1, 8, 8) and model.sample(5).device == device
    s = model.sample(5).cpu().numpy()
    assert s.min() >= 0 and s.max() <= 1
    assert model.reconstruct(x[:3]).shape == (3, 1, 8, 8)
    assert model.reconstruct(x[:3].reshape(3, 64)).shape == (3, 64)
    one = model.interpolate(x[0], x[1], steps=6)
    assert one.shape == (6, 1, 8, 8)
    many = model.interpolate(x[:3], x[3:6], steps=4)
    assert many.shape == (3, 4, 1, 8, 8)
    # the ends of the line are the reconstructions of a and b (t = 0 and t = 1 exactly)
    np.testing.assert_allclose(many[:, 0].cpu().numpy(), model.reconstruct(x[:3]).cpu().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(many[:, -1].cpu().numpy(), model.reconstruct(x[3:6]).cpu().numpy(), rtol=1e-5, atol=1e-6)
    nll = model.nll(x[:4], k=8)
    assert nll.shape == (4,) and np.isfinite(nll.cpu().numpy()).all()
    assert model.anomaly_score(x[:4]).shape == (4,)


def test_mnist_sizes():
    mlp = build_vae("mnist")
    assert (mlp.x_dim, mlp.h_dim, mlp.z_dim) == (784, 400, 20)
    n_params = sum(p.numel() for p in mlp.parameters())
    assert n_params == 784 * 400 + 400 + 2 * (400 * 20 + 20) + 20 * 400 + 400 + 400 * 784 + 784
    conv = build_vae("mnist", "conv")
    x = load_data("mnist", "test")[:4]
    assert conv.loss(x).shape == ()
    mu, logvar = conv.encode(x)
    assert mu.shape == (4, 20) and conv.decode(mu).shape == (4, 1, 28, 28)


def test_gradcheck_through_the_whole_elbo():
    minigen.manual_seed(0)
    model = VAE(4, 3, 2, image_shape=(1, 2, 2)).double()
    x = minigen.rand(3, 1, 2, 2, dtype=minigen.float64, requires_grad=True)

    def f(x):
        minigen.manual_seed(7)          # the same eps at every evaluation
        return model.negative_elbo(x)

    assert minigen.gradcheck(f, (x,))
    # and the parameters' gradients against finite differences of the loss
    w = model.fc4.weight
    minigen.manual_seed(7)
    model.loss(x.detach()).backward()
    g = w.grad.cpu().numpy()[0, 0]
    h = 1e-6
    vals = []
    for d in (h, -h):
        w.array[0, 0] += d
        minigen.manual_seed(7)
        vals.append(model.loss(x.detach()).item())
        w.array[0, 0] -= d
    assert abs(g - (vals[0] - vals[1]) / (2 * h)) < 1e-6


def test_bad_arguments():
    with pytest.raises(ValueError, match="x_dim"):
        VAE(100, 10, 2, image_shape=(1, 28, 28))
    with pytest.raises(ValueError, match="divisible by 4"):
        ConvVAE((1, 10, 10))
    model = build_vae("digits")
    with pytest.raises(ValueError, match="same shape"):
        model.interpolate(_digits(2), _digits(3))


def test_evaluate_and_registry_entry():
    model = build_vae("digits")
    m = evaluate(model, load_data("digits", "test")[:20], k=5, batch_size=8)
    assert set(m) == {"test_neg_elbo", "test_iwae_nll_k5"}
    assert m["test_iwae_nll_k5"] < m["test_neg_elbo"] + 5
    entry = get("vae")
    assert entry.recipe.data == "mnist" and entry.recipe.variants == ("mlp", "conv")
    assert isinstance(entry.build("digits", "conv"), ConvVAE)

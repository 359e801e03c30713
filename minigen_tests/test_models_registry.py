"""minigen.models.registry: names, recipes, one-line registration, the benchmark hook."""
import numpy as np
import pytest

import minigen
from minigen import nn
from minigen.models import registry
from minigen.models.registry import Recipe


@pytest.fixture
def scratch_registry(monkeypatch):
    """Registrations made in a test vanish after it."""
    registry.names()                                      # the built-in models first
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))


def test_builtin_names_and_errors():
    assert "vae" in registry.names()
    assert registry.names() == sorted(registry.names())
    with pytest.raises(KeyError, match="unknown model 'nope'.*vae"):
        registry.get("nope")
    entry = registry.get("vae")
    with pytest.raises(ValueError, match="unknown variant 'big'"):
        entry.build("mnist", "big")
    with pytest.raises(ValueError, match="unknown data set 'cifar'"):
        entry.build("cifar")


def test_recipe_per_data_overrides():
    r = Recipe(data="mnist", epochs=10, batch_size=128, per_data={"digits": {"epochs": 3}})
    d = r.for_data("digits")
    assert (d.data, d.epochs, d.batch_size) == ("digits", 3, 128)
    assert r.for_data("mnist").epochs == 10
    r = Recipe(data="mnist", epochs=10, variants=("mlp", "conv"), per_data={"digits": {"epochs": 3}},
               per_variant={"conv": {"epochs": 2, "lr": 0.5}})
    c = r.resolve("digits", "conv")
    assert (c.data, c.epochs, c.lr, c.variants) == ("digits", 2, 0.5, ("conv", "mlp"))
    assert r.resolve().epochs == 10 and r.resolve(variant="conv").data == "mnist"  # (a Recipe field)


def test_load_data():
    x = registry.load_data("digits", "test")
    assert x.shape == (297, 1, 8, 8) and x.dtype == minigen.float32
    assert registry.load_data("mnist", "test").shape == (1000, 1, 28, 28)
    with pytest.raises(ValueError, match="unknown data set"):
        registry.load_data("svhn")


class Mean(nn.Module):
    """The smallest 'generative model': a learned mean image, squared error."""

    def __init__(self, shape):
        super().__init__()
        self.m = nn.Parameter(minigen.zeros(*shape))

    def loss(self, x):
        return ((x - self.m) ** 2).mean()


def test_a_model_is_added_with_one_line_and_trains(scratch_registry, tmp_path):
    from minigen.train import train_model

    registry.register("mean", lambda data, variant: Mean(registry.DATASETS[data].shape),
                      Recipe(data="digits", epochs=2, batch_size=100, lr=0.1))
    assert "mean" in registry.names()
    report = train_model("mean", out=str(tmp_path), progress=False, log=lambda *a: None)
    assert report["fit"]["step"] == 2 * 15
    assert (tmp_path / "last.npz").exists() and (tmp_path / "loss.png").exists()
    mean_image = registry.load_data("digits", "train").cpu().numpy().mean(0)
    # it learned the mean image (it started at zeros)
    assert np.abs(report["model"].m.cpu().numpy() - mean_image).mean() < 0.3 * np.abs(mean_image).mean()


def test_register_checks_its_arguments(scratch_registry):
    with pytest.raises(ValueError, match="identifier"):
        registry.register("two words", lambda d, v: None)
    with pytest.raises(TypeError, match="callable"):
        registry.register("x", 3)


def test_bench_step_hook(device):
    step = registry.bench_step("vae", device, quick=True, batch_size=16)
    losses = [step() for _ in range(4)]
    assert all(l.device == device and l.shape == () for l in losses)
    assert losses[-1].item() < losses[0].item()
    full = registry.get("vae").bench_step("cpu")
    assert full.batch.shape == (128, 1, 28, 28) and full.model.z_dim == 20

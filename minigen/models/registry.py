"""The model registry: every model the ``minigen`` command knows, with its default recipe.

A model is added by registering it, one line at the bottom of its own file::

    register("vae", build_vae, Recipe(data="mnist", epochs=30, batch_size=128, lr=1e-3,
                                      variants=("mlp", "conv"), pictures=vae_pictures))

``builder(data, variant)`` returns a fresh ``nn.Module`` sized for the named data set (its
``loss(x)`` is the training objective). The ``Recipe`` holds what ``minigen train NAME`` uses
when the command line does not say otherwise: the data set, epochs, batch size, learning rate,
and the hooks that draw the run's pictures and compute its final metrics. ``train.py`` and
``cli.py`` read only this, so they never name a model.

``bench_step(name, device)`` (or ``get(name).bench_step(device)``) builds the model at its
default size and returns a function that runs one training step; the benchmark harness times it.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Optional

__all__ = ["Recipe", "ModelEntry", "register", "get", "names", "bench_step", "load_data",
           "DATASETS"]


@dataclasses.dataclass
class Recipe:
    """The defaults ``minigen train NAME`` uses, and the hooks it calls.

    Attributes:
        data: default data set name (a key of ``DATASETS``: ``'mnist'`` or ``'digits'``).
        epochs, batch_size, lr: the optimisation defaults (Adam).
        variants: the architectures ``builder`` knows; the first is the default.
        per_data: overrides by data set, e.g. ``{'digits': {'epochs': 60, 'batch_size': 64}}``.
        per_variant: overrides by variant, applied after ``per_data``, e.g. ``{'conv': {'epochs': 20}}``.
        pictures: ``pictures(model, run_dir, test_images) -> [paths]`` draws the model's PNGs
            (the loss curves are drawn by ``train.py`` for every model).
        evaluate: ``evaluate(model, test_images, progress) -> {name: float}``, the final
            metrics printed at the end of a run and written to ``results.json``.
    """

    data: str = "mnist"
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    variants: tuple = ("default",)
    per_data: dict = dataclasses.field(default_factory=dict)
    per_variant: dict = dataclasses.field(default_factory=dict)
    pictures: Optional[Callable] = None
    evaluate: Optional[Callable] = None
    description: str = ""

    def resolve(self, data=None, variant=None):
        """This recipe for ``data`` and ``variant`` (defaults: its own data, its first variant),
        with their overrides applied; ``variants`` then starts with the chosen variant."""
        data = data or self.data
        variant = variant or self.variants[0]
        r = dataclasses.replace(self, data=data, per_data={}, per_variant={},
                                **self.per_data.get(data, {}))
        r = dataclasses.replace(r, **self.per_variant.get(variant, {}))
        if variant in r.variants:
            r.variants = (variant,) + tuple(v for v in r.variants if v != variant)
        return r

    def for_data(self, data):
        """This recipe with the overrides for ``data`` applied."""
        return self.resolve(data, self.variants[0])


@dataclasses.dataclass
class ModelEntry:
    name: str
    builder: Callable
    recipe: Recipe

    def build(self, data=None, variant=None):
        """A fresh model for ``data`` (default: the recipe's) and ``variant`` (default: first)."""
        data = data or self.recipe.data
        variant = variant or self.recipe.variants[0]
        if data not in DATASETS:
            raise ValueError(f"{self.name}: unknown data set {data!r}; choose from {sorted(DATASETS)}")
        if variant not in self.recipe.variants:
            raise ValueError(f"{self.name}: unknown variant {variant!r}; choose from {list(self.recipe.variants)}")
        return self.builder(data, variant)

    def bench_step(self, device="cpu", quick=False, batch_size=None, data=None, variant=None, seed=0):
        """Build the model at its default size on ``device`` and return ``step()``.

        Each call of ``step()`` runs one training step (zero_grad, loss, backward, Adam step)
        on one fixed batch of ``batch_size`` (default: the recipe's) real training images and
        returns the loss tensor without reading it back, so no host sync happens inside; call
        ``minigen.synchronize()`` before reading a timer. ``quick=True`` uses the small 8x8
        digits model instead (for smoke tests of the benchmark harness).
        """
        import minigen
        from minigen import optim

        recipe = self.recipe.resolve(data or ("digits" if quick else self.recipe.data), variant)
        minigen.manual_seed(seed)
        model = self.build(recipe.data, variant).to(device)
        optimizer = optim.Adam(model.parameters(), lr=recipe.lr)
        x = load_data(recipe.data, "train")[: batch_size or recipe.batch_size].to(device)

        def step():
            optimizer.zero_grad()
            loss = model.loss(x)
            loss.backward()
            optimizer.step()
            return loss

        step.model, step.optimizer, step.batch = model, optimizer, x
        return step


_REGISTRY: dict = {}


def register(name, builder, recipe=None):
    """Make ``name`` known to ``minigen train`` / ``sample`` / ``bench``. Re-registering replaces."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"register: model name must be an identifier-like string, got {name!r}")
    if not callable(builder):
        raise TypeError(f"register: builder for {name!r} must be callable, got {type(builder).__name__}")
    _REGISTRY[name] = ModelEntry(name, builder, recipe if recipe is not None else Recipe())
    return _REGISTRY[name]


def get(name):
    """The ``ModelEntry`` registered under ``name`` (raises ``KeyError`` listing the known ones)."""
    _load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; registered models: {', '.join(names()) or '(none)'}") from None


def names():
    """The registered model names, sorted."""
    _load_builtin()
    return sorted(_REGISTRY)


def bench_step(name, device="cpu", **kwargs):
    """``get(name).bench_step(device, ...)``: a function running one training step of ``name``."""
    return get(name).bench_step(device, **kwargs)


def _load_builtin():
    # importing a model file runs its register(...) line
    from . import vae  # noqa: F401


# ----------------------------------------------------------------------------- data
def _mnist(split):
    from minigen.data import load_mnist
    return load_mnist(split)[0]


def _digits(split):
    from minigen.data import load_digits
    return load_digits(split)[0]


# name -> (loader(split) -> images float32 [N, C, H, W] in [0, 1], image shape)
DATASETS = {
    "mnist": (_mnist, (1, 28, 28)),
    "digits": (_digits, (1, 8, 8)),
}


def load_data(name, split="train"):
    """Images of the embedded data set ``name`` (``'mnist'``, ``'digits'``): a cpu tensor
    float32 ``[N, C, H, W]`` in [0, 1], from the fixed ``split`` (``'train'`` or ``'test'``)."""
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose from {sorted(DATASETS)}")
    return DATASETS[name][0](split)

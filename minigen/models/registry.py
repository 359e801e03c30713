"""The model registry: every model the ``minigen`` command knows, with its default recipe.

A model is added by registering it, one line at the bottom of its own file::

    register("vae", build_vae, Recipe(data="mnist", epochs=30, batch_size=128, lr=1e-3,
                                      variants=("mlp", "conv"), pictures=vae_pictures))

``builder(data, variant, **model_options)`` returns a fresh ``nn.Module`` sized for the named
data set. The model has either ``loss(*batch) -> Tensor`` (one objective: VAE, language
models) or ``train_step(batch, optimizers) -> {name: float}`` (several players taking turns,
or a model that counts instead of descending a gradient). The ``Recipe`` holds what
``minigen train NAME`` uses when the command line does not say otherwise: the data set (any
kind: ``datasets.py``), the optimizer(s), epochs or steps, batch size, learning rate, the
``--quick`` sizes, and the hooks that draw the run's pictures and compute its final metrics.
``train.py`` and ``cli.py`` read only this, so they never name a model.

``bench_step(name, device)`` (or ``get(name).bench_step(device)``) builds the model at its
default size and returns a function that runs one training step; the benchmark harness times it.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Optional

__all__ = ["Recipe", "ModelEntry", "register", "get", "names", "bench_step", "load_data",
           "DATASETS"]


_DICT_FIELDS = ("data_options", "model_options")


@dataclasses.dataclass
class Recipe:
    """The defaults ``minigen train NAME`` uses, and the hooks it calls.

    Attributes:
        data: default data set name (a key of ``DATASETS``: ``'mnist'``, ``'digits'``,
            ``'names'``, ``'shakespeare'``).
        epochs: passes over the training set; ``steps``, when set, trains that many steps instead.
        batch_size, lr: the optimisation defaults.
        optimizer: ``'adam'``, ``'adamw'`` or ``'sgd'`` (with ``betas`` and ``weight_decay``), or
            ``optimizer(model, recipe) -> Optimizer or {name: Optimizer}`` for models with
            several players (a GAN's generator and discriminator); ``None`` for a model with
            no parameters to optimise (an n-gram's counts).
        grad_clip: clip the gradients' total 2-norm to this before each step (None: no clipping).
        schedule: ``None`` (a constant learning rate) or ``'cosine'`` (cosine decay from ``lr``
            to 0 over the run's steps: ``CosineAnnealingLR``, stepped after every step).
        eval_every: also compute the test loss every this many steps (it is always computed at
            each epoch's end).
        variants: the architectures ``builder`` knows; the first is the default (a ``per_data``
            entry may narrow them for one data set, the first of its list then the default).
        per_data: overrides by data set, e.g. ``{'digits': {'epochs': 60, 'batch_size': 64}}``.
        per_variant: overrides by variant, applied after ``per_data``, e.g. ``{'conv': {'epochs': 20}}``.
        quick: overrides for ``--quick`` (tiny sizes, a few steps: CI runs it), applied last.
        data_options: keywords for the data set (``block_size``, ``streams``).
        model_options: keywords for ``builder(data, variant, **model_options)``; they are saved
            in the checkpoint, so ``minigen sample`` rebuilds the same model.
        pictures: ``pictures(model, run_dir, data) -> [paths]`` writes the model's pictures and
            samples (``data`` is the run's ``RunData``; loss curves are drawn for every model).
        evaluate: ``evaluate(model, data, k=...) -> {name: float}``, the final metrics printed
            at the end of a run and written to ``results.json``.
        every_epoch: ``every_epoch(model, run_dir, data, epoch)`` after each epoch (a GAN's
            fixed-noise grid); it must not draw from minigen's generator (exact resume).
        sample: ``sample(model, spec, args) -> exit code``: what ``minigen sample NAME`` does
            for a model whose output is not what its data kind's default writes (a translator
            answering ``--prompt``, a masked LM filling blanks, a classifier's predictions).
            ``args`` is the parsed command line; raise ``ValueError`` for bad input.
        warmup: with ``schedule='cosine'``, this many steps of linear warm-up first (the
            learning rate rises from lr / warmup to lr), then cosine decay to 0.

    The dict-valued fields (``data_options``, ``model_options``) are merged, not replaced, by
    ``per_data``, ``per_variant`` and ``quick``.
    """

    data: str = "mnist"
    epochs: int = 10
    steps: Optional[int] = None
    batch_size: int = 128
    lr: float = 1e-3
    optimizer: object = "adam"
    betas: tuple = (0.9, 0.999)
    weight_decay: float = 0.0
    grad_clip: Optional[float] = None
    schedule: Optional[str] = None
    eval_every: Optional[int] = None
    variants: tuple = ("default",)
    per_data: dict = dataclasses.field(default_factory=dict)
    per_variant: dict = dataclasses.field(default_factory=dict)
    quick: dict = dataclasses.field(default_factory=dict)
    data_options: dict = dataclasses.field(default_factory=dict)
    model_options: dict = dataclasses.field(default_factory=dict)
    pictures: Optional[Callable] = None
    evaluate: Optional[Callable] = None
    every_epoch: Optional[Callable] = None
    sample: Optional[Callable] = None
    warmup: int = 0
    description: str = ""

    def _with(self, overrides):
        for key in overrides:
            if key not in self.__dataclass_fields__:
                raise ValueError(f"Recipe: unknown field {key!r} in the overrides {overrides}")
        merged = {k: ({**getattr(self, k), **v} if k in _DICT_FIELDS else v) for k, v in overrides.items()}
        return dataclasses.replace(self, **merged)

    def resolve(self, data=None, variant=None, quick=False):
        """This recipe for ``data`` and ``variant`` (defaults: its own data, its first variant),
        with their overrides applied (and the ``quick`` ones when asked); ``variants`` then
        starts with the chosen variant."""
        data = data or self.data
        r = dataclasses.replace(self, data=data, per_data={}, per_variant={}, quick={})
        r = r._with(self.per_data.get(data, {}))
        # the default variant is the first one this data set allows
        variant = variant or r.variants[0]
        r = r._with(self.per_variant.get(variant, {}))
        if quick:
            r = r._with(self.quick)
        if variant in r.variants:
            r.variants = (variant,) + tuple(v for v in r.variants if v != variant)
        return r

    def for_data(self, data):
        """This recipe with the overrides for ``data`` applied."""
        return self.resolve(data)


@dataclasses.dataclass
class ModelEntry:
    name: str
    builder: Callable
    recipe: Recipe

    def build(self, data=None, variant=None, **options):
        """A fresh model for ``data`` (default: the recipe's) and ``variant`` (default: first);
        ``options`` go to the builder (default: the recipe's ``model_options`` for them)."""
        data = data or self.recipe.data
        if data not in DATASETS:
            raise ValueError(f"{self.name}: unknown data set {data!r}; choose from {sorted(DATASETS)}")
        variant = variant or self.recipe.for_data(data).variants[0]
        if variant not in self.recipe.variants:
            raise ValueError(f"{self.name}: unknown variant {variant!r}; choose from {list(self.recipe.variants)}")
        return self.builder(data, variant, **options)

    def bench_step(self, device="cpu", quick=False, batch_size=None, data=None, variant=None, seed=0):
        """Build the model at its default size on ``device`` and return ``step()``.

        Each call of ``step()`` runs one training step (``train.training_step``: zero_grad,
        loss, backward, optimizer step; or the model's own ``train_step``) on one fixed batch
        of ``batch_size`` (default: the recipe's) real training examples and returns the loss
        without reading it back, so no host sync happens inside; call ``minigen.synchronize()``
        before reading a timer. ``quick=True`` uses the recipe's ``--quick`` sizes (and, for
        image models, the small 8x8 digits) for smoke tests of the benchmark harness.
        """
        import minigen
        from minigen.train import make_optimizers, training_step

        default = self.recipe.resolve(data, variant)
        if quick and data is None and DATASETS[default.data].kind == "images":
            data = "digits"
        recipe = self.recipe.resolve(data, variant, quick=quick)
        minigen.manual_seed(seed)
        model = self.build(recipe.data, recipe.variants[0], **recipe.model_options).to(device)
        optimizer = make_optimizers(model, recipe)
        bs = batch_size or recipe.batch_size
        loader, _ = DATASETS[recipe.data].loaders(bs, seed=seed, device=device, **recipe.data_options)
        batch = tuple(t.to(device) for t in next(iter(loader)))

        def step():
            return training_step(model, optimizer, batch, recipe.grad_clip)

        step.model, step.optimizer, step.batch = model, optimizer, batch[0] if len(batch) == 1 else batch
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
    from . import vae, ngram, mlp_lm, char_rnn, gpt, mlp_gan, dcgan, cgan, wgan_gp, stylegan, cyclegan, diffusion, score, realnvp, pixelcnn, pixelrnn, wavenet, vit, transformer, bert, clip, vqvae, dalle, audio_clip  # noqa: F401


from .datasets import DATASETS, load_data  # noqa: E402  (the data sets, re-exported)



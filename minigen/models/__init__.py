"""``minigen.models``: one generative model a file, and the registry that names them.

Each model file ends with one ``register(...)`` line; ``minigen train NAME`` finds the model,
its builder and its default recipe through ``registry``.
"""
from .registry import Recipe, ModelEntry, register, get, names, bench_step, load_data, DATASETS
from .vae import VAEBase, VAE, ConvVAE

__all__ = ["Recipe", "ModelEntry", "register", "get", "names", "bench_step", "load_data",
           "DATASETS", "VAEBase", "VAE", "ConvVAE"]

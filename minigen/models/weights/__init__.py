"""Trained weights that ship inside the package ("Slow models ship trained", DESIGN.md).

``NAME.npz`` here is an ordinary ``minigen train NAME`` checkpoint (model weights in float16,
no optimizer state), so ``minigen sample NAME`` works on a fresh install without
``--checkpoint``. Each model's page in ``docs/models/`` gives the command that made its file.
"""
from __future__ import annotations

import os

__all__ = ["shipped"]

HERE = os.path.dirname(os.path.abspath(__file__))


def shipped(name):
    """The path of the trained checkpoint that ships for model ``name``; a ``ValueError`` saying
    that ``--checkpoint`` is needed when none ships."""
    path = os.path.join(HERE, f"{name}.npz")
    if not os.path.exists(path):
        have = sorted(f[:-4] for f in os.listdir(HERE) if f.endswith(".npz"))
        raise ValueError(f"--checkpoint: required for {name} (no trained weights ship for it; "
                         f"models that ship trained: {', '.join(have) or 'none'})")
    return path

"""Pictures of a run, written as PNG files (matplotlib's Agg renderer; no window, no display).

``image_grid`` tiles images into one array; ``save_image_grid`` writes a grid of samples;
``save_reconstructions`` writes originals above their reconstructions; ``save_interpolations``
writes latent-space interpolation strips; ``save_loss_curves`` writes train and test loss
against the step. ``autoencoder_pictures`` draws all of them for a model that has
``sample`` / ``reconstruct`` / ``interpolate``.

Figures are built with ``matplotlib.figure.Figure`` and an Agg canvas directly, not pyplot, so
importing or calling this module never changes the user's matplotlib backend or global state.
"""
from __future__ import annotations

import math
import os

import numpy

__all__ = ["image_grid", "save_image_grid", "save_reconstructions", "save_interpolations",
           "save_loss_curves", "autoencoder_pictures"]


def _host_images(images):
    """A float NumPy array ``[N, H, W]`` (grey) or ``[N, H, W, 3]`` from a tensor or array."""
    a = images.numpy() if hasattr(images, "numpy") and not isinstance(images, numpy.ndarray) else images
    a = numpy.asarray(a, dtype=numpy.float64)
    if a.ndim == 4 and a.shape[1] in (1, 3):          # [N, C, H, W] -> [N, H, W(, C)]
        a = a[:, 0] if a.shape[1] == 1 else a.transpose(0, 2, 3, 1)
    elif a.ndim == 2:                                  # [N, H*W]: assume square images
        side = math.isqrt(a.shape[1])
        if side * side != a.shape[1]:
            raise ValueError(f"image_grid: can't make square images from rows of {a.shape[1]} values")
        a = a.reshape(len(a), side, side)
    if a.ndim not in (3, 4):
        raise ValueError(f"image_grid: expected images [N, C, H, W], [N, H, W] or [N, H*W], got shape {list(a.shape)}")
    return a


def image_grid(images, nrow=8, padding=1, pad_value=1.0):
    """Tile ``images`` into one array, ``nrow`` images per row, with ``padding`` pixels between.

    Values are clipped to [0, 1]. Returns ``[rows*(H+p)+p, nrow*(W+p)+p(, 3)]``.
    """
    a = numpy.clip(_host_images(images), 0.0, 1.0)
    n, h, w = a.shape[:3]
    ncol = min(nrow, n)
    nrows = -(-n // ncol)
    p = padding
    grid = numpy.full((nrows * (h + p) + p, ncol * (w + p) + p) + a.shape[3:], pad_value)
    for i in range(n):
        r, c = divmod(i, ncol)
        grid[p + r * (h + p): p + r * (h + p) + h, p + c * (w + p): p + c * (w + p) + w] = a[i]
    return grid


def _figure(width, height):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path):
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path)
    return path


def _show_grid(fig, grid, title=None, rect=(0, 0, 1, 1)):
    ax = fig.add_axes(rect)
    ax.imshow(grid, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def save_image_grid(images, path, nrow=8, title=None):
    """Write ``images`` (``[N, C, H, W]`` in [0, 1]) as one PNG grid; returns the path."""
    grid = image_grid(images, nrow=nrow)
    # inches per grid pixel: the longer side 6 in, but at least 2 screen pixels per image pixel
    # (at 100 dpi) so that long strips stay legible, and at most 14 in wide
    scale = min(max(6.0 / max(grid.shape[:2]), 0.02), 14.0 / grid.shape[1])
    h, w = grid.shape[0] * scale, grid.shape[1] * scale
    top = 0.35 if title else 0.0
    fig = _figure(w, h + top)
    _show_grid(fig, grid, title, rect=(0, 0, 1, h / (h + top)))
    return _save(fig, path)


def save_reconstructions(x, x_hat, path, title="top: test images, bottom: reconstructions"):
    """Write originals (top row) above their reconstructions (bottom row)."""
    a, b = _host_images(x), _host_images(x_hat)
    if a.shape != b.shape:
        raise ValueError(f"save_reconstructions: originals {list(a.shape)} and reconstructions "
                         f"{list(b.shape)} differ in shape")
    return save_image_grid(numpy.concatenate([a, b]), path, nrow=len(a), title=title)


def save_interpolations(rows, path, title="latent interpolation (left image to right image)"):
    """Write interpolation strips: ``rows`` is ``[M, steps, C, H, W]``, one strip per row."""
    r = rows.numpy() if hasattr(rows, "numpy") and not isinstance(rows, numpy.ndarray) else numpy.asarray(rows)
    if r.ndim == 4:
        r = r[None]
    m, steps = r.shape[:2]
    return save_image_grid(r.reshape(m * steps, *r.shape[2:]), path, nrow=steps, title=title)


def save_loss_curves(history, path, ylabel="loss", title=None):
    """Write train and test loss against the step.

    ``history``: ``{'train': [(step, loss), ...], 'test': [(step, loss), ...]}``. The y range
    leaves out the first few percent of training, whose large losses would flatten the rest.
    """
    fig = _figure(6.4, 4.0)
    ax = fig.add_subplot(1, 1, 1)
    shown = []
    for name, style in (("train", dict(lw=1, alpha=0.8)), ("test", dict(lw=2))):
        pts = numpy.asarray(history.get(name) or [], dtype=numpy.float64).reshape(-1, 2)
        if 0 < len(pts) <= 40 and name == "test":
            style["marker"], style["ms"] = "o", 3
        if len(pts):
            ax.plot(pts[:, 0], pts[:, 1], label=name, **style)
            shown.append(pts)
    if shown:
        allpts = numpy.concatenate(shown)
        last_step = allpts[:, 0].max()
        late = allpts[allpts[:, 0] >= 0.05 * last_step, 1]
        late = late[numpy.isfinite(late)]
        if len(late):
            lo, hi = late.min(), late.max()
            pad = 0.05 * (hi - lo) if hi > lo else 0.05 * abs(hi) + 1e-3
            ax.set_ylim(lo - pad, hi + pad)
        ax.legend()
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


def autoencoder_pictures(model, run_dir, test_images, n_samples=64, n_recon=16, n_interp=8, steps=10):
    """Samples, reconstructions and interpolations of a model that has ``sample(n)``,
    ``reconstruct(x)`` and ``interpolate(a, b, steps)``; returns the PNG paths written."""
    paths = []
    if hasattr(model, "sample"):
        paths.append(save_image_grid(model.sample(n_samples), os.path.join(run_dir, "samples.png"),
                                     nrow=int(math.isqrt(n_samples)), title="samples"))
    x = test_images[:n_recon]
    if hasattr(model, "reconstruct"):
        paths.append(save_reconstructions(x, model.reconstruct(x), os.path.join(run_dir, "reconstructions.png")))
    if hasattr(model, "interpolate") and test_images.shape[0] >= 2 * n_interp:
        rows = model.interpolate(test_images[:n_interp], test_images[n_interp:2 * n_interp], steps=steps)
        paths.append(save_interpolations(rows, os.path.join(run_dir, "interpolation.png")))
    return paths


def _read_csv(path):
    import csv
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    head = rows[0]
    data = numpy.asarray([[float(v) if v != "" else numpy.nan for v in r] for r in rows[1:] if r],
                         dtype=numpy.float64)
    return head, data.reshape(-1, len(head))


def save_game_curves(stats_csv, path, title="the game"):
    """A GAN's figures against the step, from ``stats.csv``: D(x) and D(G(z)) (or the
    critic's Wasserstein estimate), both losses, both gradient norms: one panel each."""
    head, d = _read_csv(stats_csv)
    col = {h: d[:, i] for i, h in enumerate(head)}
    panels = [("probabilities", ["D_x", "D_G_z"], "D's mean output"),
              ("Wasserstein", ["wasserstein"], "critic: E D(x) - E D(G(z))"),
              ("losses", ["loss_D", "loss_G", "loss_cycle", "loss_identity"], "loss"),
              ("gradient norms", ["grad_D", "grad_G"], "||grad||")]
    panels = [p for p in panels if any(k in col for k in p[1])]
    fig = _figure(4.0 * len(panels), 3.4)
    for i, (name, keys, ylabel) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        for k in keys:
            if k in col:
                ax.plot(col["step"], col[k], label=k.replace("D_G_z", "D(G(z))").replace("D_x", "D(x)"), lw=1)
        if name == "gradient norms":
            ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_ylabel(ylabel)
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def save_coverage(coverage_csv, path, title="predicted class of 500 fixed-noise samples, by epoch"):
    """A heat map of the class histogram over training (``coverage.csv``): a healthy GAN
    fills every row; a collapsing one narrows to a few."""
    head, d = _read_csv(coverage_csv)
    shares = d[:, 2:12]
    fig = _figure(6.4, 3.6)
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(shares.T, aspect="auto", origin="lower", cmap="viridis", vmin=0, vmax=0.3,
                   extent=(d[0, 0] - 0.5, d[-1, 0] + 0.5, -0.5, 9.5))
    ax.set_yticks(range(10))
    ax.set_xlabel("epoch")
    ax.set_ylabel("predicted digit")
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, label="share of samples (0.1: even)", extend="max")
    fig.tight_layout()
    return _save(fig, path)

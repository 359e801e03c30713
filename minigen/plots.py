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
           "save_loss_curves", "autoencoder_pictures", "save_point_strip", "save_trajectories",
           "save_vector_fields", "save_density", "diffusion_pictures", "score_pictures", "flow_pictures",
           "save_receptive_fields", "autoregressive_pictures", "spectrogram", "save_audio_panels",
           "audio_pictures"]


def _host_images(images):
    """A float NumPy array ``[N, H, W]`` (grey) or ``[N, H, W, 3]`` from a tensor or array."""
    a = images.cpu().numpy() if hasattr(images, "numpy") and not isinstance(images, numpy.ndarray) else images
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
    r = rows.cpu().numpy() if hasattr(rows, "numpy") and not isinstance(rows, numpy.ndarray) else numpy.asarray(rows)
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


# ----------------------------------------------------------------------------- 2-D points
def _host_points(x):
    a = x.cpu().numpy() if hasattr(x, "numpy") and not isinstance(x, numpy.ndarray) else x
    return numpy.asarray(a, dtype=numpy.float64)


def save_point_strip(frames, path, titles=None, data=None, lim=3.0, suptitle=None):
    """A row of scatter plots of 2-D point clouds ``frames`` (each ``[N, 2]``), with the
    training points ``data`` in light grey behind each (a process step by step)."""
    k = len(frames)
    fig = _figure(2.2 * k, 2.5 if suptitle else 2.3)
    for i, f in enumerate(frames):
        ax = fig.add_subplot(1, k, i + 1)
        if data is not None:
            d = _host_points(data)
            ax.scatter(d[:, 0], d[:, 1], s=1, c="0.85", linewidths=0)
        p = _host_points(f)
        ax.scatter(p[:, 0], p[:, 1], s=1.5, c="C0", linewidths=0)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        if titles:
            ax.set_title(titles[i], fontsize=8)
    if suptitle:
        fig.suptitle(suptitle, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def save_trajectories(paths, path, data=None, lim=3.0, title=None):
    """Lines through each point's positions along a sampler's steps (``paths``: ``[S, N, 2]``);
    a dot marks the end."""
    p = _host_points(numpy.stack([_host_points(s) for s in paths]))
    fig = _figure(4.2, 4.2)
    ax = fig.add_subplot(1, 1, 1)
    if data is not None:
        d = _host_points(data)
        ax.scatter(d[:, 0], d[:, 1], s=1, c="0.85", linewidths=0)
    for j in range(p.shape[1]):
        ax.plot(p[:, j, 0], p[:, j, 1], lw=0.6, alpha=0.7)
        ax.scatter(p[-1, j, 0], p[-1, j, 1], s=6, c="k")
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def save_vector_fields(field, levels, path, titles, data=None, lim=2.5, n=21):
    """Arrows of a vector field on an n x n grid, one panel per level: ``field(points [M, 2],
    level) -> [M, 2]`` (a score model's s(x, sigma_i)); arrows are normalised to show the
    direction, their colour the length (log scale)."""
    g = numpy.linspace(-lim, lim, n)
    gx, gy = numpy.meshgrid(g, g)
    pts = numpy.stack([gx.ravel(), gy.ravel()], 1).astype(numpy.float32)
    k = len(levels)
    fig = _figure(2.6 * k, 2.8)
    for i, lev in enumerate(levels):
        v = _host_points(field(pts, lev))
        norm = numpy.linalg.norm(v, axis=1) + 1e-12
        ax = fig.add_subplot(1, k, i + 1)
        if data is not None:
            d = _host_points(data)
            ax.scatter(d[:, 0], d[:, 1], s=1, c="0.8", linewidths=0)
        ax.quiver(pts[:, 0], pts[:, 1], v[:, 0] / norm, v[:, 1] / norm, numpy.log10(norm),
                  cmap="viridis", scale=28, width=0.006)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(titles[i], fontsize=8)
    fig.tight_layout()
    return _save(fig, path)


def save_density(log_prob, path, data=None, lim=2.5, n=200, title=None):
    """Contours of exp(log_prob(points [M, 2])) on an n x n grid, data points on top."""
    g = numpy.linspace(-lim, lim, n)
    gx, gy = numpy.meshgrid(g, g)
    pts = numpy.stack([gx.ravel(), gy.ravel()], 1).astype(numpy.float32)
    dens = numpy.exp(_host_points(log_prob(pts)).reshape(n, n))
    fig = _figure(4.4, 4.0)
    ax = fig.add_subplot(1, 1, 1)
    cs = ax.contourf(gx, gy, dens, levels=20, cmap="magma")
    if data is not None:
        d = _host_points(data)[:1000]
        ax.scatter(d[:, 0], d[:, 1], s=0.5, c="w", alpha=0.4, linewidths=0)
    ax.set_aspect("equal")
    fig.colorbar(cs, ax=ax, label="density")
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


# ----------------------------------------------------------------------------- diffusion, score, flows
def _points_train():
    from minigen.data import moons_split
    return moons_split()["train"]


def diffusion_pictures(model, run_dir, data, n=1000):
    """A DDPM's pictures: the forward process, the reverse process as a strip, samples; on
    points the sampling trajectories; on images DDIM samples, the guided grid per class and
    scale, and inpainting of the bottom half."""
    import minigen
    minigen.manual_seed(7)
    out = []
    T = model.T
    show = [0, T // 10, T // 4, T // 2, T - 1]
    if not model.images:
        train = _points_train()
        x0 = minigen.from_numpy(train[:n])
        frames = [x0] + [model.q_sample(x0, minigen.full((n,), t, dtype=minigen.int64),
                                        minigen.randn(n, 2)) for t in show[1:]]
        out.append(save_point_strip(frames, os.path.join(run_dir, "forward.png"),
                                    ["x_0"] + [f"x_{t + 1}" for t in show[1:]], data=train,
                                    suptitle="forward process q(x_t | x_0)"))
        x, path = model.sample(n, trajectory=True)
        keep = {T - t for t in show} | {T}
        frames = [p for i, (t, p) in enumerate(path) if i in keep]
        names = [f"x_{t}" if t else "x_0" for i, (t, _) in enumerate(path) if i in keep]
        out.append(save_point_strip(frames, os.path.join(run_dir, "reverse.png"), names, data=train,
                                    suptitle="reverse process (ancestral sampling)"))
        out.append(save_trajectories([p[:40] for _, p in path], os.path.join(run_dir, "trajectories.png"),
                                     data=train, title="40 sampling trajectories, x_T to x_0"))
        return out
    real = data.test_images(10)
    labels = minigen.arange(100) % 10 if model.conditional else None
    s = model.sample(100, labels=labels, sampler="ddim")
    out.append(save_image_grid(s, os.path.join(run_dir, "samples.png"), nrow=10,
                               title="DDIM, 50 steps" + (" (row by digit)" if labels is not None else "")))
    x0 = model.to_process(real[:1])
    strip = [model.from_process(model.q_sample(x0, minigen.full((1,), t, dtype=minigen.int64),
                                               minigen.randn(*x0.shape))) for t in numpy.linspace(0, T - 1, 10).astype(int)]
    out.append(save_image_grid(minigen.cat(strip), os.path.join(run_dir, "forward.png"), nrow=10,
                               title="forward process on one digit, t = 1 .. T"))
    _, path = model.sample(8, labels=None if labels is None else labels[:8], trajectory=True)
    # path[k] is x_{T-k}; most of the picture forms late, so the snapshots crowd towards t = 0
    ts = [T, int(0.6 * T), int(0.4 * T), int(0.3 * T), int(0.2 * T), int(0.15 * T), int(0.1 * T),
          int(0.05 * T), int(0.02 * T), 0]
    rows = minigen.stack([path[T - t][1] for t in ts], 1).reshape(80, *model.shape)
    out.append(save_image_grid(rows, os.path.join(run_dir, "reverse.png"), nrow=10,
                               title="reverse process: x_t at t/T = 1, .6, .4, .3, .2, .15, .1, .05, .02, 0"))
    if model.conditional:
        scales = (0.0, 1.0, 3.0)
        grids = [model.sample(40, labels=minigen.arange(40) % 10, sampler="ddim", guidance=w)
                 for w in scales]
        out.append(save_image_grid(minigen.cat(grids), os.path.join(run_dir, "guidance.png"), nrow=10,
                                   title="guidance w = 0, 1, 3 (4 rows each; column = digit)"))
    mask = minigen.ones(*model.shape)
    mask[:, model.shape[1] // 2:, :] = 0.0
    x = data.test_images(10)
    filled = model.inpaint(x, mask)
    out.append(save_image_grid(minigen.cat([x, x * mask, filled]), os.path.join(run_dir, "inpainting.png"),
                               nrow=10, title="test digits, bottom half removed, completed"))
    return out


def score_pictures(model, run_dir, n=2000):
    """A score model's pictures: the learned score field at several noise levels, and the
    annealed Langevin chains at the end of each level."""
    import minigen
    minigen.manual_seed(7)
    train = _points_train()
    L = model.L
    levels = [0, L // 3, 2 * L // 3, L - 1]

    def field(pts, i):
        with minigen.no_grad():
            return model.score(minigen.from_numpy(pts), i)

    out = [save_vector_fields(field, levels, os.path.join(run_dir, "score_field.png"),
                              [f"s(x, sigma={model.sigmas[i]:.2g})" for i in levels], data=train)]
    _, path = model.sample(n, trajectory=True)
    frames = [path[0][1]] + [path[i + 1][1] for i in levels]
    out.append(save_point_strip(frames, os.path.join(run_dir, "langevin.png"),
                                ["start N(0, I)"] + [f"after sigma={model.sigmas[i]:.2g}" for i in levels],
                                data=train, suptitle="annealed Langevin dynamics"))
    return out


def flow_pictures(model, run_dir, data, n=2000):
    """A flow's pictures: on points the density contours, the data pushed layer by layer to the
    Gaussian, samples pulled back; on images a grid of samples."""
    import minigen
    minigen.manual_seed(7)
    if model.images:
        s = model.sample(100)
        return [save_image_grid(s, os.path.join(run_dir, "samples.png"), nrow=10, title="RealNVP samples")]
    train = _points_train()

    def log_prob(pts):
        with minigen.no_grad():
            return model.log_prob_flow(minigen.from_numpy(pts))

    out = [save_density(log_prob, os.path.join(run_dir, "density.png"), data=train, title="p(x) of the flow")]
    x = minigen.from_numpy(train[::5][:n])
    frames, names = [x], ["data x"]
    with minigen.no_grad():
        for k, c in enumerate(model.couplings):
            x, _ = c(x)
            if k % 2 == 1:
                frames.append(x)
                names.append(f"after coupling {k + 1}")
    out.append(save_point_strip(frames, os.path.join(run_dir, "flow_layers.png"), names, lim=4.0,
                                suptitle="data pushed through the flow to N(0, I)"))
    z, path = model.sample(n, trajectory=True)
    out.append(save_point_strip([path[0], path[len(path) // 2], z], os.path.join(run_dir, "flow_samples.png"),
                                ["z ~ N(0, I)", "halfway back", "samples x = f^-1(z)"], data=train, lim=3.0))
    return out


# ----------------------------------------------------------------------------- autoregressive images
def save_receptive_fields(maps, titles, pixel, path, suptitle=None):
    """Side-by-side maps of which input pixels one output pixel depends on (``maps``: bool or
    gradient-magnitude arrays [H, W]); the output pixel in red, pixels after it in raster order
    hatched grey."""
    k = len(maps)
    fig = _figure(3.0 * k, 3.4)
    r, c = pixel
    for i, (m, t) in enumerate(zip(maps, titles)):
        a = numpy.asarray(m, dtype=numpy.float64)
        H, W = a.shape
        order = numpy.arange(H * W).reshape(H, W)
        rgb = numpy.ones((H, W, 3))
        rgb[order > r * W + c] = 0.85                       # the future: not allowed
        seen = a > 0
        rgb[seen] = (0.15, 0.35, 0.8)                        # seen earlier pixels
        blind = (order < r * W + c) & ~seen
        rgb[blind] = (1.0, 1.0, 1.0)
        rgb[r, c] = (0.9, 0.1, 0.1)
        ax = fig.add_subplot(1, k, i + 1)
        ax.imshow(rgb, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{t}\n{int(seen.sum())} of {int((order < r * W + c).sum())} earlier pixels seen", fontsize=8)
    if suptitle:
        fig.suptitle(suptitle, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def autoregressive_pictures(model, run_dir, data):
    """A PixelCNN's pictures: samples (by class for a conditional model), completions of test
    images' bottom halves, and the receptive field of the centre pixel beside the other
    architecture's (the blind spot and its fix)."""
    import minigen
    from minigen.models.pixelcnn import GatedPixelCNN, PixelCNN, receptive_field
    minigen.manual_seed(7)
    out = []
    n = 20 if model.image_shape[1] > 8 else 50
    labels = minigen.arange(n) % 10 if model.num_classes is not None else None
    s = model.sample(n, labels=labels)
    out.append(save_image_grid(s, os.path.join(run_dir, "samples.png"), nrow=10,
                               title="samples" + (" (column = digit)" if labels is not None else "")))
    ds = data.test_loader.dataset.tensors
    x = ds[0][:10]
    y = ds[1][:10] if model.num_classes is not None else None
    H = model.image_shape[1]
    filled = model.complete(x, H // 2, y)
    shown = model.inputs(model.targets(x)) if model.levels == 2 else model.targets(x) / (model.levels - 1)
    top = shown.clone()
    top[:, :, H // 2:, :] = 0.5
    out.append(save_image_grid(minigen.cat([shown, top, filled]), os.path.join(run_dir, "completion.png"),
                               nrow=10, title="test images, top half given, bottom half sampled"))
    other_cls = GatedPixelCNN if isinstance(model, PixelCNN) else PixelCNN
    other = other_cls(model.image_shape, levels=model.levels)
    pix = (H // 2, H // 2)
    maps = [receptive_field(m, pix) for m in ((model, other) if isinstance(model, PixelCNN) else (other, model))]
    out.append(save_receptive_fields(maps, ["PixelCNN (masked 3x3 stack)", "Gated PixelCNN (two stacks)"], pix,
                                     os.path.join(run_dir, "receptive_field.png"),
                                     suptitle=f"which pixels does pixel {pix} see? (white: the blind spot)"))
    return out


# ----------------------------------------------------------------------------- audio
def spectrogram(x, n_fft=256, hop=64):
    """log |STFT| of a waveform (Hann window ``n_fft``, hop ``hop``): [n_fft/2 + 1, frames], dB."""
    x = numpy.asarray(x, dtype=numpy.float64).reshape(-1)
    if len(x) < n_fft:
        x = numpy.pad(x, (0, n_fft - len(x)))
    win = numpy.hanning(n_fft)
    frames = numpy.stack([x[s:s + n_fft] * win for s in range(0, len(x) - n_fft + 1, hop)], 1)
    return 20 * numpy.log10(numpy.abs(numpy.fft.rfft(frames, axis=0)) + 1e-6)


def save_audio_panels(waves, titles, path, sample_rate=8000, suptitle=None):
    """Each waveform (row) drawn as a wave and as a spectrogram."""
    k = len(waves)
    fig = _figure(9.0, 1.9 * k + (0.4 if suptitle else 0))
    for i, (w, t) in enumerate(zip(waves, titles)):
        w = numpy.asarray(w, dtype=numpy.float64).reshape(-1)
        ax = fig.add_subplot(k, 2, 2 * i + 1)
        ax.plot(numpy.arange(len(w)) / sample_rate, w, lw=0.4)
        ax.set_ylim(-1, 1)
        ax.set_title(t, fontsize=8)
        ax.tick_params(labelsize=7)
        ax = fig.add_subplot(k, 2, 2 * i + 2)
        S = spectrogram(w)
        ax.imshow(S, origin="lower", aspect="auto", cmap="magma", vmin=S.max() - 80, vmax=S.max(),
                  extent=(0, len(w) / sample_rate, 0, sample_rate / 2))
        ax.set_title("spectrogram (Hz)", fontsize=8)
        ax.tick_params(labelsize=7)
    if suptitle:
        fig.suptitle(suptitle, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def audio_pictures(model, run_dir, digits=(7, 3), seconds=0.6):
    """WaveNet's pictures and sounds: a real test clip of each digit beside a generated one
    (waveform and spectrogram), and the generated clips as WAV files."""
    import minigen
    from minigen.data import load_spoken_digits, write_wav
    minigen.manual_seed(7)
    test = load_spoken_digits("test")
    waves, titles, out = [], [], []
    for d in digits:
        real = next(s for s, dd, _ in test if dd == d)
        gen = model.sample(1, labels=[d], seconds=seconds)[0].cpu().numpy()
        out.append(write_wav(os.path.join(run_dir, f"generated-{d}.wav"), gen))
        waves += [real, gen]
        titles += [f"real '{d}' (a test speaker)", f"generated, digit {d} ({seconds} s from silence)"]
    out.append(save_audio_panels(waves, titles, os.path.join(run_dir, "audio.png")))
    return out


# ----------------------------------------------------------------------------- image classifiers
def save_predictions(images, predicted, labels, path, nrow=10, title=None):
    """A grid of images, each titled with its predicted label; a wrong one in red with the true
    label beside it."""
    a = _host_images(images)
    pred, true = numpy.asarray(predicted).reshape(-1), numpy.asarray(labels).reshape(-1)
    n = len(a)
    ncol = min(nrow, n)
    rows = -(-n // ncol)
    fig = _figure(0.9 * ncol, 1.0 * rows + (0.4 if title else 0.1))
    for i in range(n):
        ax = fig.add_subplot(rows, ncol, i + 1)
        ax.imshow(a[i], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_axis_off()
        wrong = pred[i] != true[i]
        ax.set_title(f"{pred[i]}" + (f" (is {true[i]})" if wrong else ""), fontsize=8,
                     color="red" if wrong else "black", pad=2)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout(pad=0.3, rect=(0, 0, 1, 1 - (0.4 / (1.0 * rows + 0.4) if title else 0)))
    return _save(fig, path)


def save_class_attention(images, maps, grid, path, predicted=None, suptitle=None):
    """The class token's attention to the patches: one row per image, the image and then one
    panel per layer with the weights (``maps`` [n, L, P], P = rows x cols patches of ``grid``,
    usually averaged over the heads) drawn over it, each panel scaled to its own largest
    weight; the weight the class token keeps for itself (1 - the patches' sum) is printed."""
    a = _host_images(images)
    m = numpy.asarray(maps, dtype=numpy.float64)
    n, L, P = m.shape
    gr, gc = grid
    if gr * gc != P:
        raise ValueError(f"save_class_attention: a {gr}x{gc} grid of patches has {gr * gc} patches, "
                         f"the maps have {P}")
    H, W = a.shape[1:3]
    fig = _figure(1.5 * (L + 1), 1.7 * n + (0.45 if suptitle else 0.1))
    for i in range(n):
        ax = fig.add_subplot(n, L + 1, i * (L + 1) + 1)
        ax.imshow(a[i], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_axis_off()
        ax.set_title("image" + ("" if predicted is None else f" (predicted {int(predicted[i])})"), fontsize=7, pad=2)
        for l in range(L):
            w = m[i, l].reshape(gr, gc)
            ax = fig.add_subplot(n, L + 1, i * (L + 1) + l + 2)
            # each patch's weight over the patch's pixels, the digit's outline on top
            heat = numpy.kron(w, numpy.ones((H // gr, W // gc)))
            ax.imshow(heat, cmap="viridis", vmin=0.0, vmax=max(w.max(), 1e-12), interpolation="nearest")
            ax.contour(a[i], levels=[0.5], colors="white", linewidths=0.8)
            ax.set_axis_off()
            ax.set_title(f"layer {l + 1}: max {w.max():.2f}, self {1 - w.sum():.2f}", fontsize=6, pad=2)
    top = 0.45 / (1.7 * n + 0.45) if suptitle else 0.0
    if suptitle:
        fig.suptitle(suptitle, fontsize=8)
    fig.tight_layout(pad=0.3, rect=(0, 0, 1, 1 - top))
    return _save(fig, path)


def classifier_pictures(model, run_dir, images, labels, n=50, n_attention=6,
                        predictions_name="predictions.png", attention_name="attention.png"):
    """An image classifier's pictures in ``run_dir``: the first ``n`` test images with their
    predicted labels, and, for a model with ``attention_maps`` (the ViT), the class token's
    attention over the first ``n_attention`` of them, averaged over the heads."""
    import minigen
    model.eval()
    x, y = images[:n], labels[:n]
    pred = model.predict(x).cpu().numpy()
    acc = float((pred == y.cpu().numpy()).mean())
    out = [save_predictions(x, pred, y.cpu().numpy(), os.path.join(run_dir, predictions_name),
                            title=f"predicted digits of {len(x)} test images ({acc:.0%} right; red: wrong, with the true digit)")]
    if hasattr(model, "attention_maps"):
        with minigen.no_grad():
            maps = model.attention_maps(x[:n_attention]).mean(dim=2).cpu().numpy()
        H, W = model.image_shape[1:]
        p = model.patch_size
        out.append(save_class_attention(x[:n_attention], maps, (H // p, W // p), os.path.join(run_dir, attention_name),
                                        predicted=pred[:n_attention],
                                        suptitle="the class token's attention to the patches, mean over heads "
                                                 "(each panel scaled to its largest weight)"))
    return out


__all__ += ["save_predictions", "save_class_attention", "classifier_pictures"]


# ----------------------------------------------------------------------------- cross-attention
def save_cross_attention(results, texts, path, suptitle=None):
    """One row per example, one panel per decoder layer: the cross-attention weights (averaged
    over heads) of each output step (digits, then EOS; rows) over the source characters
    (columns). ``results``: ``[(maps [layers, heads, U, S], answer), ...]``."""
    import numpy as np
    n_layers = results[0][0].shape[0]
    width = max(len(t) for t in texts)
    fig = _figure(0.17 * width * n_layers + 1.5, 1.2 * len(results) + 0.9)
    axes = fig.subplots(len(results), n_layers, squeeze=False)
    for r, ((maps, answer), text) in enumerate(zip(results, texts)):
        rows = list(answer) + ["EOS"]
        for l in range(n_layers):
            ax = axes[r][l]
            w = np.asarray(maps[l]).mean(axis=0)[:len(rows), :len(text)]
            ax.imshow(w, cmap="viridis", aspect="auto", vmin=0.0)
            ax.set_xticks(range(len(text)))
            ax.set_xticklabels(list(text), fontsize=7, family="monospace")
            ax.set_yticks(range(len(rows)))
            ax.set_yticklabels(rows, fontsize=7)
            if r == 0:
                ax.set_title(f"decoder layer {l + 1}", fontsize=9)
    fig.suptitle(suptitle or "cross-attention (mean over heads): output digit (rows) looking "
                             "at source characters (columns)", fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


__all__ += ["save_cross_attention"]


# ----------------------------------------------------------------------------- CLIP, VQ-VAE
def save_clip_similarity(S, images, prompts, path, title=None):
    """CLIP's cosine similarities ``S`` [P, N] (prompts by images) as a heat map, the N images
    (sorted by digit) in a strip above it and the prompts as the row labels."""
    S = numpy.asarray(S, dtype=numpy.float64)
    P, N = S.shape
    a = numpy.clip(_host_images(images), 0.0, 1.0)
    fig = _figure(max(8.0, 0.11 * N + 2.5), 0.35 * P + 2.2)
    ax_img = fig.add_axes((0.2, 0.80, 0.72, 0.12))
    per = N // 10 if N % 10 == 0 else None
    # above each digit's block of columns, its first image (all N if they are few enough)
    show = [(per * d, per) for d in range(10)] if per else [(i, 1) for i in range(N)]
    for start, width in show:
        pad = 0.1 * width
        ax_img.imshow(a[start], cmap="gray", vmin=0, vmax=1, aspect="auto", interpolation="nearest",
                      extent=(start - 0.5 + pad, start + width - 0.5 - pad, 0, 1))
    ax_img.set_xlim(-0.5, N - 0.5)
    ax_img.set_ylim(0, 1)
    ax_img.set_axis_off()
    ax_img.set_title(title or "cosine similarity of test images (sorted by digit) and prompts", fontsize=10)
    ax = fig.add_axes((0.2, 0.08, 0.72, 0.70))
    im = ax.imshow(S, aspect="auto", cmap="viridis", interpolation="nearest")
    ax.set_yticks(range(P))
    ax.set_yticklabels(prompts, fontsize=8)
    if per:
        ax.set_xticks([per * d + (per - 1) / 2 for d in range(10)])
        ax.set_xticklabels([str(d) for d in range(10)])
        ax.set_xlabel(f"test images, {per} of each digit")
    cax = fig.add_axes((0.935, 0.08, 0.015, 0.70))
    fig.colorbar(im, cax=cax)
    return _save(fig, path)


def save_code_usage(counts, path, title=None):
    """A VQ-VAE's codebook use: how often each code is chosen (sorted, most used first), with
    the perplexity and the number of dead (never chosen) codes in the title."""
    counts = numpy.asarray(counts, dtype=numpy.float64)
    p = counts / max(counts.sum(), 1.0)
    nz = p[p > 0]
    perplexity = float(numpy.exp(-(nz * numpy.log(nz)).sum()))
    dead = int((counts == 0).sum())
    fig = _figure(7.0, 3.2)
    ax = fig.add_axes((0.1, 0.16, 0.86, 0.7))
    ax.bar(numpy.arange(len(p)), numpy.sort(p)[::-1], width=1.0, color="tab:blue")
    ax.set_xlabel("code (sorted by use)")
    ax.set_ylabel("share of latent positions")
    ax.set_xlim(-0.5, len(p) - 0.5)
    ax.set_title(title or f"codebook use: perplexity {perplexity:.1f} of {len(p)} codes, {dead} dead",
                 fontsize=10)
    return _save(fig, path)

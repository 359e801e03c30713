"""Generative adversarial networks (Goodfellow et al. 2014, "Generative Adversarial Nets"):
the game every GAN file of minigen plays, and what they share (sampling, watching the game).

A generator G maps noise z ~ N(0, I) to an image; a discriminator D maps an image to the
probability D(x) = sigmoid(l(x)) that it is real. They play

    min_G max_D  V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))].

For a fixed G the best D is D*(x) = p_data(x) / (p_data(x) + p_G(x)), and against it G
minimises 2 JS(p_data || p_G) - log 4: the game's equilibrium is p_G = p_data. In practice the
two take turns, one gradient step each, on these losses (BCE(l, t) = binary cross-entropy of
logit l with target t, computed from the logits for stability):

    L_D = BCE(l(x), 1) + BCE(l(G(z)), 0)        = -log D(x) - log(1 - D(G(z)))
    L_G = -BCE(l(G(z)), 0)                      = log(1 - D(G(z)))          (minimax)
    L_G = BCE(l(G(z)), 1)                       = -log D(G(z))              (non-saturating)

Why the non-saturating loss. Early in training D rejects G's samples easily: D(G(z)) ~ 0.
With l = l(G(z)), the minimax loss's gradient is d/dl log(1 - sigmoid(l)) = -sigmoid(l), about
0 there: G learns nothing just when it has the most to learn. The non-saturating loss has the
same fixed point but the gradient d/dl (-log sigmoid(l)) = -(1 - sigmoid(l)), about -1 there
(Goodfellow et al. 2014, section 3).

``GAN`` holds the players and this game: ``train_step(batch, optimizers)`` is one D step (on
the real batch and the detached fake batch) and one G step (on the same fake batch), and
returns the figures that let a learner watch the game: D(x) and D(G(z)) (D's mean
probabilities before its step), both losses, and both players' gradient norms. Subclasses
change the losses (WGAN-GP), the turns (n_critic), or add labels (conditional GANs).

Images: the data sets give pixels in [0, 1]; the players work in [-1, 1] (G ends in tanh),
padded with -1 from 28x28 to 32x32 for the convolutional GANs; ``sample`` maps back to [0, 1]
and crops back to the data's 28x28.
"""
from __future__ import annotations

import csv
import os
import warnings

import numpy

import minigen
from minigen import nn
from minigen.nn import functional as F
from minigen.train import read_figures

__all__ = ["GAN", "grad_norm", "gan_optimizers", "GAN_HOOKS", "bce"]

G_LOSSES = ("non-saturating", "minimax")


def bce(logits, target):
    """BCE(l, t), the mean over the batch, from logits (``t`` a number: every target equal)."""
    return F.binary_cross_entropy_with_logits(logits, minigen.full(logits.shape, float(target),
                                                                   device=logits.device))


def logit(d):
    """The real/fake logit of a discriminator's output (an auxiliary classifier's D returns
    ``(logit, class_logits)``)."""
    return d[0] if isinstance(d, tuple) else d


def grad_norm(module):
    """The 2-norm of all of ``module``'s gradients together, a 0-d tensor (0.0 if none): left
    on the device, for ``read_figures`` to read with the step's other figures."""
    squares = [(p.grad * p.grad).sum() for p in module.parameters() if p.grad is not None]
    return minigen.stack(squares).sum().sqrt() if squares else 0.0


class GAN(nn.Module):
    """Generator ``G`` and discriminator ``D`` in the game of the module docstring.

    Args:
        G: ``G(z[, labels])`` -> images in [-1, 1], shaped like ``image_shape`` (model space).
        D: ``D(x[, labels])`` -> one logit per image, ``[N]``.
        nz: the noise dimension.
        image_shape: ``(C, H, W)`` of G's output (e.g. ``(1, 32, 32)``).
        data_shape: ``(C, H, W)`` of the data set's images (e.g. ``(1, 28, 28)``): real images
            are scaled to [-1, 1] and padded with -1 to ``image_shape``.
        g_loss: ``'non-saturating'`` (default) or ``'minimax'``.
        conditional: G and D also take the digit labels (batches are ``(x, y)``).
        r1_gamma: the weight of the R1 penalty on D (0: none; see ``r1_penalty``).
    """

    def __init__(self, G, D, nz, image_shape, data_shape=None, g_loss="non-saturating",
                 conditional=False, r1_gamma=0.0):
        super().__init__()
        if g_loss not in G_LOSSES:
            raise ValueError(f"GAN: g_loss must be one of {G_LOSSES}, got {g_loss!r}")
        self.G, self.D = G, D
        self.nz, self.image_shape = nz, tuple(image_shape)
        self.data_shape = tuple(data_shape or image_shape)
        self.g_loss, self.conditional = g_loss, conditional
        if r1_gamma < 0:
            raise ValueError(f"GAN: r1_gamma must be >= 0, got {r1_gamma}")
        self.r1_gamma = r1_gamma

    # -- images --------------------------------------------------------------------------
    def to_model(self, x):
        """Real images [N, C, h, w] in [0, 1] -> the players' space: 2x - 1, padded with -1
        (the background's value) to ``image_shape``, flattened if G's output is flat."""
        x = x * 2.0 - 1.0
        C, H, W = self.image_shape if len(self.image_shape) == 3 else self.data_shape
        h, w = x.shape[-2], x.shape[-1]
        if (h, w) != (H, W):
            top, left = (H - h) // 2, (W - w) // 2
            x = F.pad(x, (left, W - w - left, top, H - h - top), value=-1.0)
        return x.reshape(x.shape[0], *self.image_shape)

    def to_images(self, g):
        """G's output in [-1, 1] -> images in [0, 1] shaped like the data ([N, C, h, w]: the
        padding added by ``to_model`` is cropped away again)."""
        x = ((g + 1.0) * 0.5).clamp(0.0, 1.0)
        if len(self.image_shape) != 3:
            return x.reshape(g.shape[0], *self.data_shape)
        (C, H, W), (h, w) = self.image_shape, self.data_shape[1:]
        top, left = (H - h) // 2, (W - w) // 2
        return x[:, :, top:top + h, left:left + w]

    def noise(self, n, generator=None):
        """z ~ N(0, I), ``[n, nz]``; from a NumPy ``generator`` when given (fixed noise for
        pictures, leaving minigen's generator untouched)."""
        device = next(iter(self.parameters())).device
        if generator is not None:
            return minigen.tensor(generator.standard_normal((n, self.nz)).astype(numpy.float32)).to(device)
        return minigen.randn(n, self.nz, device=device)

    def check_labels(self, labels, n=None):
        labels = minigen.tensor(numpy.asarray(labels, dtype=numpy.int64)) if not isinstance(labels, minigen.Tensor) else labels
        if labels.ndim != 1 or (n is not None and labels.shape[0] != n):
            raise ValueError(f"labels: expected {n if n is not None else 'N'} digit labels [N], got shape {list(labels.shape)}")
        if labels.numel() and (int(labels.min().item()) < 0 or int(labels.max().item()) > 9):
            raise ValueError(f"labels must be digits 0..9, got {sorted(set(labels.numpy().tolist()))}")
        return labels.to(next(iter(self.parameters())).device)

    def generate(self, z, labels=None):
        return self.G(z, labels) if self.conditional else self.G(z)

    def discriminate(self, x, labels=None):
        return self.D(x, labels) if self.conditional else self.D(x)

    @minigen.no_grad()
    def sample(self, n, labels=None, z=None):
        """``n`` images [n, C, H, W] in [0, 1] from G in eval mode (batch norm uses its running
        statistics). A conditional GAN takes ``labels`` (n digits; default 0..9 repeated)."""
        was = self.training
        self.eval()
        try:
            z = self.noise(n) if z is None else z
            if self.conditional:
                labels = self.check_labels(numpy.arange(n) % 10 if labels is None else labels, n)
            elif labels is not None:
                raise ValueError(f"{type(self).__name__} is not conditional: it takes no labels")
            return self.to_images(self.generate(z, labels))
        finally:
            self.train(was)

    # -- the game ------------------------------------------------------------------------
    def d_loss(self, d_real, d_fake, x_real, x_fake, labels):
        # L_D = BCE(l(x), 1) + BCE(l(G(z)), 0)
        return bce(d_real, 1.0) + bce(d_fake, 0.0)

    def r1_penalty(self, x_real, labels=None):
        """R1 (Mescheder, Geiger & Nowozin 2018): (gamma / 2) E_x ||grad_x l(x)||^2 on real images.

        It keeps D flat around the data, so D cannot build steep walls around the training
        images and its gradient keeps pointing G towards them. It is instance noise in closed
        form: Roth et al. (2017) expand D's loss under Gaussian noise of variance sigma^2 on its
        inputs to second order and find a penalty proportional to sigma^2 ||grad_x l(x)||^2;
        R1 is that penalty on the real images, with no noise drawn. The gradient is a graph
        (``create_graph=True``): D's update differentiates it again.
        """
        x = x_real.detach().requires_grad_(True)
        l = logit(self.D(x, labels) if self.conditional else self.D(x))
        (g,) = minigen.grad(l.sum(), x, create_graph=True)
        # (gamma / 2) * mean over the batch of ||grad_x l(x)||^2
        return 0.5 * self.r1_gamma * (g * g).reshape(x.shape[0], -1).sum(dim=1).mean()

    def g_loss_of(self, d_fake, labels=None):
        if self.g_loss == "minimax":
            # L_G = log(1 - D(G(z))) = -BCE(l(G(z)), 0)
            return -bce(d_fake, 0.0)
        # L_G = -log D(G(z)) = BCE(l(G(z)), 1)
        return bce(d_fake, 1.0)

    def train_step(self, batch, optimizers):
        """One D step, then one G step on the same fake batch; returns the game's figures."""
        x = self.to_model(batch[0])
        labels = batch[1] if self.conditional else None
        n = x.shape[0]
        fake = self.generate(self.noise(n), labels)
        # D's turn, on the real batch and the fake batch detached from G
        optimizers["D"].zero_grad()
        d_real = self.discriminate(x, labels)
        d_fake = self.discriminate(fake.detach(), labels)
        loss_D = self.d_loss(d_real, d_fake, x, fake.detach(), labels)
        if self.r1_gamma:
            loss_D = loss_D + self.r1_penalty(x, labels)
        loss_D.backward()
        grad_D = grad_norm(self.D)
        optimizers["D"].step()
        # G's turn, on the same fake batch through the updated D
        optimizers["G"].zero_grad()
        loss_G = self.g_loss_of(self.discriminate(fake, labels), labels)
        loss_G.backward()
        grad_G = grad_norm(self.G)
        optimizers["G"].step()
        f = read_figures(loss_D=loss_D, loss_G=loss_G, D_x=logit(d_real).sigmoid().mean(),
                         D_G_z=logit(d_fake).sigmoid().mean(), grad_D=grad_D, grad_G=grad_G)
        return {"loss": f["loss_D"] + f["loss_G"], **f}


def gan_optimizers(model, recipe):
    """Adam for each player with the recipe's lr and betas: ``{'G': ..., 'D': ...}``."""
    from minigen import optim
    return {"G": optim.Adam(model.G.parameters(), lr=recipe.lr, betas=tuple(recipe.betas)),
            "D": optim.Adam(model.D.parameters(), lr=recipe.lr, betas=tuple(recipe.betas))}


def has_batch_norm(module):
    return any(isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) for m in module.modules())


def warn_batch_norm_under_penalty(D, name="critic"):
    """A gradient penalty is per example: batch norm mixes the examples of a batch, so the
    penalised gradient is not the critic's gradient at x_hat alone (Gulrajani et al. 2017,
    section 4). Warn, do not forbid: a learner may want to see what happens."""
    if has_batch_norm(D):
        warnings.warn(f"the {name} has batch norm under a gradient penalty: batch norm makes each "
                      "output depend on the whole batch, so ||grad_x D(x_hat)|| is not a per-example "
                      "gradient and the penalty no longer constrains what it should; use layer norm "
                      "or no normalisation in the critic (Gulrajani et al. 2017, section 4)",
                      UserWarning, stacklevel=3)


# ----------------------------------------------------------------------------- pictures
PROGRESS_GRIDS = 8        # about this many fixed-noise grids over a run


def _fixed(model, n=64):
    """The fixed noise (and labels) of the progress grids: a NumPy generator of its own."""
    z = model.noise(n, numpy.random.default_rng(1234))
    labels = minigen.tensor(numpy.arange(n) % 10) if model.conditional else None
    return z, labels


def every_epoch(model, run_dir, data, epoch):
    """After an epoch: a fixed-noise grid (``progress/epoch_NNN.png``, every few epochs) and
    the predicted-class histogram of 500 fixed-noise samples (``coverage.csv``), so that
    collapse shows up while it happens."""
    from minigen import plots
    from minigen.metrics import images as metrics

    steps = len(data.train_loader)
    every = max(1, (data.epochs or 1) // PROGRESS_GRIDS)
    if epoch % every == 0 or epoch == 1:
        n = 100 if model.conditional else 64
        z, labels = _fixed(model, n)
        os.makedirs(os.path.join(run_dir, "progress"), exist_ok=True)
        plots.save_image_grid(model.sample(n, labels=labels, z=z),
                              os.path.join(run_dir, "progress", f"epoch_{epoch:03d}.png"),
                              nrow=10 if model.conditional else 8,
                              title=f"fixed noise after epoch {epoch} ({epoch * steps} steps)")
    z = model.noise(500, numpy.random.default_rng(4321))
    labels = minigen.tensor(numpy.arange(500) % 10) if model.conditional else None
    x = model.sample(500, labels=labels, z=z).cpu().numpy()
    share = metrics.class_coverage(metrics.classify(x)[1])["class_histogram"]
    path = os.path.join(run_dir, "coverage.csv")
    new = not os.path.exists(path)
    with open(path, "a", newline="") as f:
        w = csv.writer(f)
        if new:
            w.writerow(["epoch", "step"] + [f"class_{c}" for c in range(10)])
        w.writerow([epoch, epoch * steps] + share)


def pictures(model, run_dir, data):
    """The run's pictures: 64 samples, the game's curves (``stats.csv``) and the class
    coverage over training (``coverage.csv``)."""
    from minigen import plots

    n = 100 if model.conditional else 64
    z, labels = _fixed(model, n)
    paths = [plots.save_image_grid(model.sample(n, labels=labels, z=z), os.path.join(run_dir, "samples.png"),
                                   nrow=10 if model.conditional else 8,
                                   title=f"{n} samples (fixed noise)" + (", the digit asked for: 0-9 by column"
                                                                         if model.conditional else ""))]
    stats = os.path.join(run_dir, "stats.csv")
    if os.path.exists(stats):
        paths.append(plots.save_game_curves(stats, os.path.join(run_dir, "game.png")))
    cov = os.path.join(run_dir, "coverage.csv")
    if os.path.exists(cov):
        paths.append(plots.save_coverage(cov, os.path.join(run_dir, "coverage.png")))
    return paths


def evaluate(model, data, n=1000, **unused):
    """The sample scores of ``minigen.metrics`` on ``n`` samples against the test images."""
    from minigen.metrics import score_images

    kwargs = {}
    if model.conditional:
        kwargs["labels"] = numpy.arange(n) % 10
    x = model.sample(n, **kwargs).cpu().numpy()
    scores = score_images(x)
    out = {k: v for k, v in scores.items() if isinstance(v, (int, float))}
    out["class_histogram"] = scores["class_histogram"]
    if model.conditional:
        # the share of samples the classifier reads as the digit asked for, overall and by digit
        from minigen.metrics import classify
        pred = classify(x)[1].argmax(1)
        asked = kwargs["labels"]
        out["agreement"] = float((pred == asked).mean())
        out["agreement_by_digit"] = [round(float((pred[asked == d] == d).mean()), 4) for d in range(10)]
    return out


GAN_HOOKS = dict(optimizer=gan_optimizers, pictures=pictures, evaluate=evaluate, every_epoch=every_epoch)

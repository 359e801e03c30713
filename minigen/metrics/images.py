"""How good are generated digits? Scores on the features of minigen's own digit classifier.

Every score compares a set of generated images with real ones through f(x), the 64
penultimate features of the small CNN in ``classifier.py`` (trained by minigen on the
MNIST-5k training split; its weights ship in the package).

* **Frechet distance on the digit classifier** (the idea of FID, Heusel et al. 2017, on
  another network; it is *not* FID and its numbers are not comparable with FID's). With
  (mu_r, S_r) and (mu_g, S_g) the mean and covariance of f over real and generated images:

      FD = ||mu_r - mu_g||^2 + Tr(S_r + S_g - 2 (S_r S_g)^{1/2})

  the distance between the two Gaussians fitted to the features; 0 for identical
  statistics. ``Tr (S_r S_g)^{1/2}`` is computed as ``Tr (S_r^{1/2} S_g S_r^{1/2})^{1/2}``,
  a symmetric matrix whose eigenvalues are real and non-negative.
* **Class coverage**: the classifier's predicted class of each sample; the histogram, the
  number of classes holding at least 5% of the samples (10 for a sampler that covers every
  digit; 1-3 for a collapsed GAN), and KL(histogram || uniform) in nats (0: perfectly even).
* **Precision and recall** (Kynkaanniemi et al. 2019, "Improved Precision and Recall Metric
  for Assessing Generative Models"): around each real feature vector a ball reaching its k-th
  nearest real neighbour (k = 3) approximates the manifold of real images; precision is the
  fraction of generated samples inside some real ball (are samples realistic?), recall the
  fraction of real images inside some generated ball (is the variety covered?).
* **Memorisation**: the distance from each sample to its nearest training image, in pixel
  space (L2 on [0, 1] pixels), beside the same distance for real test images. A generator
  that copies its training set has samples far closer to training images than new real
  digits are (ratio well below 1).

``score_images(samples)`` computes them all against the 1,000 MNIST test images; ``minigen
eval SAMPLES.npy`` prints them.
"""
from __future__ import annotations

import numpy

import minigen

__all__ = ["features", "frechet_distance", "class_coverage", "precision_recall", "memorisation",
           "score_images", "as_digit_images", "format_scores", "classify"]


def as_digit_images(x, name="samples"):
    """``x`` as a float32 NumPy array [N, 1, 28, 28] (or [N, 1, 8, 8]) in [0, 1]: a tensor or
    array of shape [N, 1, 28, 28], [N, 1, 32, 32] (centre-cropped) or [N, 1, 8, 8] (the UCI
    digits, judged by their own classifier); anything else is a ``ValueError`` naming the
    shape or the range."""
    a = x.cpu().numpy() if hasattr(x, "numpy") and not isinstance(x, numpy.ndarray) else numpy.asarray(x)
    if a.ndim != 4 or a.shape[1] != 1 or a.shape[2:] not in ((28, 28), (32, 32), (8, 8)):
        raise ValueError(f"{name}: expected images [N, 1, 28, 28], [N, 1, 32, 32] or [N, 1, 8, 8], "
                         f"got shape {list(a.shape)}")
    if a.shape[0] < 2:
        raise ValueError(f"{name}: need at least 2 images to compare statistics, got {a.shape[0]}")
    if not numpy.issubdtype(a.dtype, numpy.floating):
        raise ValueError(f"{name}: expected floating-point pixels in [0, 1], got dtype {a.dtype}")
    if not numpy.isfinite(a).all():
        raise ValueError(f"{name}: the images hold NaN or infinite pixels")
    lo, hi = float(a.min()), float(a.max())
    if lo < -1e-3 or hi > 1 + 1e-3:
        raise ValueError(f"{name}: pixels must lie in [0, 1], got [{lo:.3g}, {hi:.3g}] (images in "
                         "[-1, 1] map to [0, 1] by (x + 1) / 2)")
    if a.shape[2] == 32:
        a = a[:, :, 2:30, 2:30]
    return numpy.clip(a, 0.0, 1.0).astype(numpy.float32)


def classify(x, batch=500):
    """``(features [N, 64], logits [N, 10])`` of the classifier for images ``x`` (any shape
    ``as_digit_images`` accepts)."""
    return _classify(as_digit_images(x))


def _classify(x, batch=500):
    from .classifier import load_classifier

    model = load_classifier(x.shape[-1])
    feats, logits = [], []
    with minigen.no_grad():
        for s in range(0, len(x), batch):
            f = model.features(minigen.tensor(x[s:s + batch]))
            feats.append(f.cpu().numpy().astype(numpy.float64))
            logits.append(model.fc2(f).cpu().numpy())
    return numpy.concatenate(feats), numpy.concatenate(logits)


def features(x):
    """The classifier's 64 features of images ``x`` ([N, 1, 28|32, 28|32] in [0, 1])."""
    return _classify(as_digit_images(x))[0]


def _sqrtm_psd(a):
    w, v = numpy.linalg.eigh((a + a.T) / 2)
    return (v * numpy.sqrt(numpy.clip(w, 0, None))) @ v.T


def frechet_distance(f_real, f_gen):
    """``||mu_r - mu_g||^2 + Tr(S_r + S_g - 2 (S_r S_g)^{1/2})`` of two feature sets [N, D]."""
    mu_r, mu_g = f_real.mean(0), f_gen.mean(0)
    S_r, S_g = numpy.cov(f_real, rowvar=False), numpy.cov(f_gen, rowvar=False)
    root = _sqrtm_psd(S_r)
    # Tr (S_r S_g)^{1/2} = Tr (S_r^{1/2} S_g S_r^{1/2})^{1/2}
    w = numpy.linalg.eigvalsh(root @ S_g @ root)
    cross = numpy.sqrt(numpy.clip(w, 0, None)).sum()
    return float(((mu_r - mu_g) ** 2).sum() + numpy.trace(S_r) + numpy.trace(S_g) - 2 * cross)


def class_coverage(logits, min_share=0.05):
    """Predicted-class histogram (shares), classes with at least ``min_share`` of the samples,
    and KL(histogram || uniform) in nats."""
    pred = logits.argmax(1)
    share = numpy.bincount(pred, minlength=10) / len(pred)
    nz = share[share > 0]
    kl = float((nz * numpy.log(nz * 10)).sum())
    return {"class_histogram": share.round(4).tolist(), "classes_covered": int((share >= min_share).sum()),
            "kl_from_uniform": kl}


def _knn_radius(f, k):
    d = _pairwise(f, f)
    d.sort(axis=1)
    return d[:, k]                       # column 0 is the point itself


def _pairwise(a, b):
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return numpy.sqrt(numpy.clip(d, 0, None))


def precision_recall(f_real, f_gen, k=3):
    """Kynkaanniemi et al.'s precision and recall with k-NN balls (k = 3)."""
    r_real, r_gen = _knn_radius(f_real, k), _knn_radius(f_gen, k)
    d = _pairwise(f_gen, f_real)                                 # [N_gen, N_real]
    precision = float((d <= r_real[None, :]).any(1).mean())
    recall = float((d.T <= r_gen[None, :]).any(1).mean())
    return {"precision": precision, "recall": recall}


def memorisation(x_gen, x_train, x_test, n=500):
    """Median L2 distance (pixels in [0, 1]) from samples and from real test images to their
    nearest training image, and the ratio (samples / test; well below 1 suggests copying)."""
    tr = x_train.reshape(len(x_train), -1).astype(numpy.float64)

    def nn_dist(x):
        x = x[:n].reshape(min(n, len(x)), -1).astype(numpy.float64)
        return _pairwise(x, tr).min(1)
    g, t = numpy.median(nn_dist(x_gen)), numpy.median(nn_dist(x_test))
    return {"nn_train_distance_samples": float(g), "nn_train_distance_test": float(t),
            "memorisation_ratio": float(g / t)}


def score_images(samples, real=None, train=None):
    """Every score of ``samples`` against ``real`` images (default: the 1,000 MNIST-5k test
    images; for 8x8 samples the 297 UCI test digits) and, for memorisation, the ``train``
    images (default: the same data set's training images)."""
    from minigen.data import load_digits, load_mnist

    x = as_digit_images(samples)
    load = load_digits if x.shape[-1] == 8 else load_mnist
    real = as_digit_images(real, "real") if real is not None else load("test")[0].cpu().numpy()
    train = as_digit_images(train, "train") if train is not None else load("train")[0].cpu().numpy()
    if real.shape[-1] != x.shape[-1] or train.shape[-1] != x.shape[-1]:
        raise ValueError(f"score_images: samples of {x.shape[-1]}x{x.shape[-1]} cannot be compared with "
                         f"real images of {real.shape[-1]}x{real.shape[-1]}")
    f_gen, logits = _classify(x)
    f_real, _ = _classify(real)
    out = {"n_samples": int(len(x)), "n_real": int(len(real)), "image_size": int(x.shape[-1]),
           "frechet_distance_digit_classifier": frechet_distance(f_real, f_gen)}
    out.update(class_coverage(logits))
    out.update(precision_recall(f_real, f_gen))
    out.update(memorisation(x, train, real))
    return out


def format_scores(s):
    """The scores as lines for a terminal."""
    hist = " ".join(f"{i}:{100 * p:.0f}%" for i, p in enumerate(s["class_histogram"]))
    return "\n".join([
        f"Frechet distance (digit classifier, not FID): {s['frechet_distance_digit_classifier']:.1f}"
        f"   ({s['n_samples']} samples vs {s['n_real']} real test images"
        + (", 8x8: the UCI digits' judge)" if s.get("image_size") == 8 else ")"),
        f"classes covered (>= 5% of samples): {s['classes_covered']} of 10;  KL from uniform "
        f"{s['kl_from_uniform']:.3f} nats",
        f"predicted classes: {hist}",
        f"precision {s['precision']:.3f}   recall {s['recall']:.3f}   (k-NN manifolds, k = 3)",
        f"nearest training image (median L2): samples {s['nn_train_distance_samples']:.2f}, "
        f"real test images {s['nn_train_distance_test']:.2f}  (ratio {s['memorisation_ratio']:.2f}; "
        "well below 1 suggests copying)",
    ])

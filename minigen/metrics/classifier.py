"""The digit classifiers whose features judge generated digits (``minigen.metrics.images``).

A small CNN trained by minigen itself on the MNIST-5k training split (4,000 images), its
weights shipped inside the package (``minigen/metrics/files/digit_classifier.npz``, 63k
parameters). Retrain them, bit for bit on a CPU, with:

    python -m minigen.metrics.classifier            # under a minute on a 2-core CPU

The network (28x28 inputs in [0, 1]):

    conv 3x3, 16 -> ReLU -> max-pool 2      [16, 14, 14]
    conv 3x3, 32 -> ReLU -> max-pool 2      [32, 7, 7]
    conv 3x3, 64 -> ReLU -> max-pool 2      [64, 3, 3]
    linear 576 -> 64 -> ReLU                the features f(x) the scores use
    linear 64 -> 10                         the class logits

Trained with Adam (1e-3), batch 64, 12 epochs, random shifts of up to 2 pixels; its accuracy
on the 1,000 test images is printed by the command and stored beside the weights.

The 8x8 UCI digits have a judge of their own (``SmallDigitClassifier``: 64 -> 128 -> 64 -> 10,
its 64 hidden features; 40 epochs on the 1,500 training digits, no shifts;
``digit8_classifier.npz``), made by the same command.
"""
from __future__ import annotations

import functools
import json
import os

import numpy

import minigen
from minigen import nn
from minigen.nn import functional as F

__all__ = ["DigitClassifier", "SmallDigitClassifier", "load_classifier", "train_classifier", "WEIGHTS",
           "WEIGHTS_8X8"]

FILES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "files")
WEIGHTS = os.path.join(FILES, "digit_classifier.npz")
WEIGHTS_8X8 = os.path.join(FILES, "digit8_classifier.npz")


class DigitClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.conv3 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc1 = nn.Linear(64 * 3 * 3, 64)
        self.fc2 = nn.Linear(64, 10)

    def features(self, x):
        """The 64 penultimate features of images ``x`` [N, 1, 28, 28] in [0, 1]."""
        h = F.max_pool2d(F.relu(self.conv1(x)), 2)
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)
        h = F.max_pool2d(F.relu(self.conv3(h)), 2)
        return F.relu(self.fc1(h.flatten(1)))

    def forward(self, x):
        return self.fc2(self.features(x))


class SmallDigitClassifier(nn.Module):
    """The judge of 8x8 digits (the UCI set): 64 -> 128 -> 64 (the features) -> 10, ReLU."""

    def __init__(self):
        super().__init__()
        self.fc0 = nn.Linear(64, 128)
        self.fc1 = nn.Linear(128, 64)
        self.fc2 = nn.Linear(64, 10)

    def features(self, x):
        return F.relu(self.fc1(F.relu(self.fc0(x.reshape(x.shape[0], 64)))))

    def forward(self, x):
        return self.fc2(self.features(x))


@functools.lru_cache(maxsize=None)
def load_classifier(size=28):
    """The shipped classifier for ``size`` x ``size`` digits (28: MNIST, 8: the UCI digits),
    on the cpu, in eval mode; a clear error if its weights are missing."""
    path, cls = (WEIGHTS, DigitClassifier) if size == 28 else (WEIGHTS_8X8, SmallDigitClassifier)
    if not os.path.exists(path):
        raise FileNotFoundError(f"minigen.metrics: the digit classifier's weights are missing ({path}); "
                                "retrain them with: python -m minigen.metrics.classifier")
    model = cls()
    model.load_state_dict(minigen.load(path))
    return model.eval()


def _shift(x, rng, max_shift=2):
    """Each image moved by up to ``max_shift`` pixels in x and y (zeros fill in)."""
    n = x.shape[0]
    out = numpy.zeros_like(x)
    dx, dy = rng.integers(-max_shift, max_shift + 1, (2, n))
    for i in range(n):
        src = x[i, 0]
        h = numpy.roll(numpy.roll(src, dy[i], 0), dx[i], 1)
        if dy[i] > 0:
            h[:dy[i]] = 0
        elif dy[i] < 0:
            h[dy[i]:] = 0
        if dx[i] > 0:
            h[:, :dx[i]] = 0
        elif dx[i] < 0:
            h[:, dx[i]:] = 0
        out[i, 0] = h
    return out


def train_classifier(epochs=12, seed=0, out=WEIGHTS, log=print, size=28):
    """Train the classifier on the MNIST-5k training split (``size=8``: the small one on the
    UCI digits' 1,500 training images, 40 epochs, no shifts) and write its
    weights (and a JSON with its test accuracy) to ``out``; returns the accuracy."""
    from minigen.data import load_digits, load_mnist

    minigen.manual_seed(seed)
    rng = numpy.random.default_rng(seed)
    load = load_mnist if size == 28 else load_digits
    x, y = load("train")
    xt, yt = load("test")
    x, y = x.cpu().numpy(), y.cpu().numpy()
    model = DigitClassifier() if size == 28 else SmallDigitClassifier()
    shift = 2 if size == 28 else 0
    opt = minigen.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(epochs):
        order = rng.permutation(len(x))
        total = 0.0
        for s in range(0, len(x), 64):
            i = order[s:s + 64]
            opt.zero_grad()
            loss = F.cross_entropy(model(minigen.tensor(_shift(x[i], rng, shift))), minigen.tensor(y[i]))
            loss.backward()
            opt.step()
            total += loss.item() * len(i)
        acc = accuracy(model, xt, yt)
        log(f"epoch {epoch + 1}/{epochs}: train loss {total / len(x):.4f}, test accuracy {acc:.4f}")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    minigen.save(model.state_dict(), out)
    with open(out[:-4] + ".json", "w") as f:
        json.dump({"test_accuracy": acc, "epochs": epochs, "seed": seed,
                   "trained_on": "MNIST-5k training split (4,000 images)" if size == 28 else
                   "UCI 8x8 digits training split (1,500 images)"}, f, indent=1)
    load_classifier.cache_clear()
    return acc


def accuracy(model, x, y):
    model.eval()
    with minigen.no_grad():
        pred = model(x if isinstance(x, minigen.Tensor) else minigen.tensor(x)).argmax(dim=1).cpu().numpy()
    model.train()
    return float((pred == (y.cpu().numpy() if hasattr(y, "numpy") else y)).mean())


if __name__ == "__main__":
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(1)
    except ImportError:
        pass
    acc = train_classifier()
    print(f"wrote {WEIGHTS} (test accuracy {acc:.4f})")
    acc = train_classifier(epochs=40, out=WEIGHTS_8X8, size=8)
    print(f"wrote {WEIGHTS_8X8} (test accuracy {acc:.4f})")
